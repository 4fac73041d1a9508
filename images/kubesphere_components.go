package images

import (
	"slices"
	"strings"
)

// KubeSphere v3 pluggable components, by the name ksgen gives the switch
// that turns each on (see spec.KubeSphere.Components). Monitoring is not a
// switch: ks-installer installs it with every v3 cluster.
const (
	ComponentMonitoring    = "monitoring"
	ComponentAlerting      = "alerting"
	ComponentAuditing      = "auditing"
	ComponentDevOps        = "devops"
	ComponentEvents        = "events"
	ComponentLogging       = "logging"
	ComponentMetricsServer = "metrics_server"
	ComponentMulticluster  = "multicluster"
	ComponentNetworkPolicy = "networkpolicy"
	ComponentIPPool        = "ippool"
	ComponentTopology      = "topology"
	ComponentOpenPitrix    = "openpitrix"
	ComponentServiceMesh   = "servicemesh"
	ComponentEdgeRuntime   = "edgeruntime"
	ComponentGatekeeper    = "gatekeeper"
	ComponentRedisHA       = "redis"
	ComponentOpenLDAP      = "openldap"
	// ComponentLogStore is the in-cluster Elasticsearch/OpenSearch that
	// logging, events and auditing share unless an external one is set.
	ComponentLogStore = "logstore"
	// ComponentFluentBit is the log agent logging, events and auditing share.
	ComponentFluentBit = "fluentbit"
)

// componentImages are the image lists of ks-installer's images-list.txt,
// split by the switch that makes ks-installer deploy them. The groups carry
// over ks-installer's own sections (kubesphere-monitoring-images,
// kubesphere-logging-images, kubesphere-devops-images, istio-images,
// kubeedge-images, gatekeeper-images, openpitrix-images, weave-scope-images
// and the optional part of kubesphere-images). Sources: KubeSphere's
// air-gapped installation guides, which print the list of v3.3.0, v3.3.1
// and v3.4.0; v3.3.2 and v3.4.1 change only the tags of KubeSphere's own
// images (devops "ks-<version>", openpitrix-jobs), as KubeKey's v3.3.2/v3.4.1
// artifact manifests show. Images ks-installer never deploys from a
// ClusterConfiguration switch (the examples, the gateway's
// nginx-ingress-controller, created from the console) are not listed.
var componentImages = map[string]map[string][]string{
	"v3.3.0": v330Images(),
	"v3.3.1": v331Images("v3.3.1", "v3.3.1"),
	"v3.3.2": v331Images("ks-v3.3.2", "v3.3.2"),
	"v3.4.0": v34Images("ks-v3.4.0"),
	"v3.4.1": v34Images("ks-v3.4.1"),
}

// KubeSphereComponentImages returns the images the given components need in
// a KubeSphere version, sorted and deduplicated; components with no images
// of their own add none (network policies and IP pools use the CNI's,
// alerting's Thanos Ruler the thanos image of monitoring). Monitoring is always
// included for v3; v4 installs components as extensions from its own
// marketplace, so none are listed there.
func KubeSphereComponentImages(version string, components []string) []string {
	groups, ok := componentImages[version]
	if !ok {
		return nil
	}
	out := slices.Clone(groups[ComponentMonitoring])
	for _, c := range components {
		out = append(out, groups[c]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// hub qualifies Docker Hub references the way images-list.txt writes them
// ("redis:5.0.14-alpine", "kubesphere/ks-jenkins:…") as docker.io/….
func hub(refs ...string) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		if strings.Count(r, "/") == 0 {
			r = "library/" + r
		}
		if !strings.Contains(r[:strings.Index(r, "/")], ".") {
			r = "docker.io/" + r
		}
		out[i] = r
	}
	return out
}

var (
	minio = hub("minio/minio:RELEASE.2019-08-07T01-59-21Z", "minio/mc:RELEASE.2019-08-07T23-14-43Z")
	scope = hub("weaveworks/scope:1.13.0")
	gk    = hub("openpolicyagent/gatekeeper:v3.5.2")
	ldap  = hub("osixia/openldap:1.3.0")
	redis = hub("redis:5.0.14-alpine", "haproxy:2.0.25-alpine")
	ms    = hub("kubesphere/metrics-server:v0.4.2")
	aud   = hub("kubesphere/kube-auditing-operator:v0.2.0", "kubesphere/kube-auditing-webhook:v0.2.0")
)

// devops322 are the S2I/B2I builder and runtime images of KubeSphere v3.3.1 and later.
func devops322() []string {
	var out []string
	for _, b := range []string{"base:v3.2.2", "nodejs:v3.2.0", "maven:v3.2.0", "maven:v3.2.1-jdk11", "python:v3.2.0",
		"go:v3.2.0", "go:v3.2.2-1.16", "go:v3.2.2-1.17", "go:v3.2.2-1.18"} {
		out = append(out, "kubesphere/builder-"+b, "kubesphere/builder-"+b+"-podman")
	}
	out = append(out, "kubesphere/s2ioperator:v3.2.1")
	return append(hub(out...), s2iRuntimes()...)
}

func s2iRuntimes() []string {
	var out []string
	for _, r := range []string{"s2irun", "s2i-binary", "tomcat85-java11-centos7", "tomcat85-java11-runtime",
		"tomcat85-java8-centos7", "tomcat85-java8-runtime", "java-11-centos7", "java-8-centos7", "java-8-runtime",
		"java-11-runtime", "nodejs-8-centos7", "nodejs-6-centos7", "nodejs-4-centos7", "python-36-centos7",
		"python-35-centos7", "python-34-centos7", "python-27-centos7"} {
		out = append(out, "kubesphere/"+r+":v3.2.0")
	}
	return hub(out...)
}

func v330Images() map[string][]string {
	var builders []string
	for _, b := range []string{"base", "nodejs", "maven", "python", "go"} {
		builders = append(builders, "kubesphere/builder-"+b+":v3.2.0", "kubesphere/builder-"+b+":v3.2.0-podman")
	}
	return map[string][]string{
		ComponentMonitoring: hub("jimmidyson/configmap-reload:v0.3.0", "prom/prometheus:v2.26.0",
			"kubesphere/prometheus-config-reloader:v0.43.2", "kubesphere/prometheus-operator:v0.43.2",
			"kubesphere/kube-rbac-proxy:v0.8.0", "kubesphere/kube-state-metrics:v1.9.7", "prom/node-exporter:v0.18.1",
			"kubesphere/k8s-prometheus-adapter-amd64:v0.6.0", "prom/alertmanager:v0.21.0", "thanosio/thanos:v0.18.0",
			"grafana/grafana:7.4.3", "kubesphere/notification-manager-operator:v1.4.0",
			"kubesphere/notification-manager:v1.4.0", "kubesphere/notification-tenant-sidecar:v3.2.0"),
		ComponentLogStore:  hub("kubesphere/elasticsearch-curator:v5.7.6", "kubesphere/elasticsearch-oss:6.7.0-1"),
		ComponentFluentBit: hub("kubesphere/fluentbit-operator:v0.11.0", "kubesphere/fluent-bit:v1.8.3"),
		ComponentLogging:   hub("docker:19.03", "kubesphere/log-sidecar-injector:1.1", "elastic/filebeat:6.7.0"),
		ComponentEvents: hub("kubesphere/kube-events-operator:v0.3.0", "kubesphere/kube-events-exporter:v0.3.0",
			"kubesphere/kube-events-ruler:v0.3.0"),
		ComponentAuditing: aud,
		ComponentDevOps: append(append(hub(append([]string{"kubesphere/devops-apiserver:v3.3.0",
			"kubesphere/devops-controller:v3.3.0", "kubesphere/devops-tools:v3.3.0",
			"kubesphere/ks-jenkins:v3.2.0-2.249.1", "jenkins/jnlp-slave:3.27-1", "kubesphere/s2ioperator:v3.2.0"},
			builders...)...), s2iRuntimes()...), minio...),
		ComponentServiceMesh: istio("1.11.1", "1.27", "v1.38.1", "v1.38"),
		ComponentEdgeRuntime: hub("kubeedge/cloudcore:v1.7.2", "kubesphere/edge-watcher:v0.1.1",
			"kubesphere/edge-watcher-agent:v0.1.0"),
		ComponentGatekeeper:    gk,
		ComponentOpenPitrix:    append(hub("kubesphere/openpitrix-jobs:v3.3.0"), minio...),
		ComponentTopology:      scope,
		ComponentMetricsServer: ms,
		ComponentMulticluster:  hub("kubesphere/kubefed:v0.8.1", "kubesphere/tower:v0.2.0"),
		ComponentRedisHA:       redis,
		ComponentOpenLDAP:      ldap,
	}
}

// v331Images is the v3.3.1 list; v3.3.2 differs in KubeSphere's own tags.
func v331Images(devops, pitrix string) map[string][]string {
	return map[string][]string{
		ComponentMonitoring: hub("jimmidyson/configmap-reload:v0.5.0", "prom/prometheus:v2.34.0",
			"kubesphere/prometheus-config-reloader:v0.55.1", "kubesphere/prometheus-operator:v0.55.1",
			"kubesphere/kube-rbac-proxy:v0.11.0", "kubesphere/kube-state-metrics:v2.5.0", "prom/node-exporter:v1.3.1",
			"prom/alertmanager:v0.23.0", "thanosio/thanos:v0.25.2", "grafana/grafana:8.3.3",
			"kubesphere/kube-rbac-proxy:v0.8.0", "kubesphere/notification-manager-operator:v1.4.0",
			"kubesphere/notification-manager:v1.4.0", "kubesphere/notification-tenant-sidecar:v3.2.0"),
		ComponentLogStore:  hub("kubesphere/elasticsearch-curator:v5.7.6", "kubesphere/elasticsearch-oss:6.8.22"),
		ComponentFluentBit: hub("kubesphere/fluentbit-operator:v0.13.0", "kubesphere/fluent-bit:v1.8.11"),
		ComponentLogging:   hub("docker:19.03", "kubesphere/log-sidecar-injector:1.1", "elastic/filebeat:6.7.0"),
		ComponentEvents: hub("kubesphere/kube-events-operator:v0.4.0", "kubesphere/kube-events-exporter:v0.4.0",
			"kubesphere/kube-events-ruler:v0.4.0"),
		ComponentAuditing:    aud,
		ComponentDevOps:      append(append(devopsCommon(devops, "v3.3.0-2.319.1"), devops322()...), minio...),
		ComponentServiceMesh: istio("1.11.1", "1.27", "v1.38.1", "v1.38"),
		ComponentEdgeRuntime: hub("kubeedge/cloudcore:v1.9.2", "kubeedge/iptables-manager:v1.9.2",
			"kubesphere/edgeservice:v0.2.0"),
		ComponentGatekeeper:    gk,
		ComponentOpenPitrix:    append(hub("kubesphere/openpitrix-jobs:"+pitrix), minio...),
		ComponentTopology:      scope,
		ComponentMetricsServer: ms,
		ComponentMulticluster:  hub("kubesphere/kubefed:v0.8.1", "kubesphere/tower:v0.2.0"),
		ComponentRedisHA:       redis,
		ComponentOpenLDAP:      ldap,
	}
}

// v34Images is the v3.4.0 list; v3.4.1 differs in the DevOps tags.
func v34Images(devops string) map[string][]string {
	return map[string][]string{
		ComponentMonitoring: hub("jimmidyson/configmap-reload:v0.7.1", "prom/prometheus:v2.39.1",
			"kubesphere/prometheus-config-reloader:v0.55.1", "kubesphere/prometheus-operator:v0.55.1",
			"kubesphere/kube-rbac-proxy:v0.11.0", "kubesphere/kube-state-metrics:v2.6.0", "prom/node-exporter:v1.3.1",
			"prom/alertmanager:v0.23.0", "thanosio/thanos:v0.31.0", "grafana/grafana:8.3.3",
			"kubesphere/notification-manager-operator:v2.3.0", "kubesphere/notification-manager:v2.3.0",
			"kubesphere/notification-tenant-sidecar:v3.2.0"),
		ComponentLogStore: hub("kubesphere/elasticsearch-curator:v5.7.6", "kubesphere/elasticsearch-oss:6.8.22",
			"opensearchproject/opensearch:2.6.0", "opensearchproject/opensearch-dashboards:2.6.0",
			"kubesphere/opensearch-curator:v0.0.5"),
		ComponentFluentBit: hub("kubesphere/fluentbit-operator:v0.14.0", "kubesphere/fluent-bit:v1.9.4"),
		ComponentLogging:   hub("docker:19.03", "kubesphere/log-sidecar-injector:v1.2.0", "elastic/filebeat:6.7.0"),
		ComponentEvents: hub("kubesphere/kube-events-operator:v0.6.0", "kubesphere/kube-events-exporter:v0.6.0",
			"kubesphere/kube-events-ruler:v0.6.0"),
		ComponentAuditing:    aud,
		ComponentDevOps:      append(append(devopsCommon(devops, "v3.4.0-2.319.3-1"), devops322()...), minio...),
		ComponentServiceMesh: istio("1.14.6", "1.29", "v1.50.1", "v1.50"),
		ComponentEdgeRuntime: hub("kubeedge/cloudcore:v1.13.0", "kubeedge/iptables-manager:v1.13.0",
			"kubesphere/edgeservice:v0.3.0"),
		ComponentGatekeeper:    gk,
		ComponentOpenPitrix:    append(hub("kubesphere/openpitrix-jobs:v3.3.2"), minio...),
		ComponentTopology:      scope,
		ComponentMetricsServer: ms,
		ComponentMulticluster:  hub("kubesphere/kubefed:v0.8.1", "kubesphere/tower:v0.2.1"),
		ComponentRedisHA:       redis,
		ComponentOpenLDAP:      ldap,
	}
}

// devopsCommon is DevOps' own services, Jenkins and the Argo CD it ships.
func devopsCommon(tag, jenkins string) []string {
	return append(hub("kubesphere/devops-apiserver:"+tag, "kubesphere/devops-controller:"+tag,
		"kubesphere/devops-tools:"+tag, "kubesphere/ks-jenkins:"+jenkins, "jenkins/inbound-agent:4.10-2",
		"redis:6.2.6-alpine"),
		"quay.io/argoproj/argocd:v2.3.3", "quay.io/argoproj/argocd-applicationset:v0.4.1", "ghcr.io/dexidp/dex:v2.30.2")
}

func istio(version, jaeger, kialiOperator, kiali string) []string {
	return hub("istio/pilot:"+version, "istio/proxyv2:"+version,
		"jaegertracing/jaeger-operator:"+jaeger, "jaegertracing/jaeger-agent:"+jaeger,
		"jaegertracing/jaeger-collector:"+jaeger, "jaegertracing/jaeger-query:"+jaeger,
		"jaegertracing/jaeger-es-index-cleaner:"+jaeger,
		"kubesphere/kiali-operator:"+kialiOperator, "kubesphere/kiali:"+kiali)
}
