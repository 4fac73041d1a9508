package addons

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ksgen/ksgen/generator/internal/render/manifest"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
)

// NodeLocalDNSFile is NodeLocalDNS's manifest on the init node.
const NodeLocalDNSFile = "/etc/kubernetes/addons/nodelocaldns.yaml"

// nodeLocalDNS names KubeKey's objects (cmd/kk/pkg/plugins/dns/templates):
// the ServiceAccount, ConfigMap and DaemonSet are all "nodelocaldns" in
// kube-system.
const (
	nodeLocalDNS   = "nodelocaldns"
	kubeSystem     = "kube-system"
	metricsPort    = 9253
	healthPort     = 9254
	dnsPort        = 53
	upstreamDNSSvc = "kube-dns" // kubeadm's CoreDNS service
)

// NodeLocalDNS is KubeKey's NodeLocalDNS as typed objects, one YAML stream:
// a DNS cache on every node answering on 169.254.25.10 (the kubelet's
// clusterDNS), forwarding the cluster domain and reverse zones to CoreDNS
// over TCP and the rest to the node's resolv.conf, with KubeKey's
// nodelocaldns.externalZones in front.
func NodeLocalDNS(c *plan.Cluster) ([]byte, error) {
	reg := c.Registry
	meta := metav1.ObjectMeta{Name: nodeLocalDNS, Namespace: kubeSystem}
	sa := corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta}
	cm := corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta,
		Data:       map[string]string{"Corefile": corefile(c)},
	}
	labels := map[string]string{"k8s-app": nodeLocalDNS}
	privileged := true
	zero := int64(0)
	unavailable := intstr.FromString("20%")
	probe := &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Host: images.NodeLocalDNSAddress, Path: "/health", Port: intstr.FromInt32(healthPort), Scheme: corev1.URISchemeHTTP,
		}},
		TimeoutSeconds: 5, SuccessThreshold: 1, FailureThreshold: 10,
	}
	fileOrCreate := corev1.HostPathFileOrCreate
	ds := appsv1.DaemonSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: nodeLocalDNS, Namespace: kubeSystem,
			Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &unavailable}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(metricsPort)}},
				Spec: corev1.PodSpec{
					NodeSelector:       map[string]string{"kubernetes.io/os": "linux"},
					PriorityClassName:  "system-node-critical",
					ServiceAccountName: nodeLocalDNS,
					HostNetwork:        true,
					DNSPolicy:          corev1.DNSDefault, // not itself
					Tolerations: []corev1.Toleration{
						{Effect: corev1.TaintEffectNoSchedule, Operator: corev1.TolerationOpExists},
						{Effect: corev1.TaintEffectNoExecute, Operator: corev1.TolerationOpExists},
						{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists},
					},
					Containers: []corev1.Container{{
						Name:  "node-cache",
						Image: images.Image(images.NodeLocalDNSImage, reg.PrivateRegistry, reg.NamespaceOverride),
						Args:  []string{"-localip", images.NodeLocalDNSAddress, "-conf", "/etc/coredns/Corefile", "-upstreamsvc", upstreamDNSSvc},
						Resources: corev1.ResourceRequirements{
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("200Mi")},
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("70Mi")},
						},
						// It adds its address to a dummy interface and iptables rules.
						SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
						Ports: []corev1.ContainerPort{
							{Name: "dns", ContainerPort: dnsPort, Protocol: corev1.ProtocolUDP},
							{Name: "dns-tcp", ContainerPort: dnsPort, Protocol: corev1.ProtocolTCP},
							{Name: "metrics", ContainerPort: metricsPort, Protocol: corev1.ProtocolTCP},
						},
						LivenessProbe:  probe,
						ReadinessProbe: probe,
						VolumeMounts: []corev1.VolumeMount{
							{Name: "config-volume", MountPath: "/etc/coredns"},
							{Name: "xtables-lock", MountPath: "/run/xtables.lock"},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "config-volume", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: nodeLocalDNS},
							Items:                []corev1.KeyToPath{{Key: "Corefile", Path: "Corefile"}},
						}}},
						{Name: "xtables-lock", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
							Path: "/run/xtables.lock", Type: &fileOrCreate}}},
					},
					// A replaced pod lets go of the address at once.
					TerminationGracePeriodSeconds: &zero,
				},
			},
		},
	}
	var out bytes.Buffer
	for _, obj := range []any{&sa, &cm, &ds} {
		b, err := manifest.YAML(obj)
		if err != nil {
			return nil, fmt.Errorf("NodeLocalDNS: %w", err)
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes(), nil
}

// corefile is KubeKey's NodeLocalDNS Corefile: the user's external zones
// first, then the cluster domain (large cache) and reverse zones to CoreDNS
// over TCP, and everything else to the node's own resolvers.
func corefile(c *plan.Cluster) string {
	var b strings.Builder
	server := func(zones []string, cache string, forward []string, tcp bool, rewrite []string, health bool) {
		for i, z := range zones {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s:%d", z, dnsPort)
		}
		b.WriteString(" {\n    errors\n")
		b.WriteString(cache)
		fmt.Fprintf(&b, "    reload\n    loop\n    bind %s\n", images.NodeLocalDNSAddress)
		for _, r := range rewrite {
			fmt.Fprintf(&b, "    rewrite %s\n", r)
		}
		fmt.Fprintf(&b, "    forward . %s", strings.Join(forward, " "))
		if tcp {
			b.WriteString(" {\n        force_tcp\n    }")
		}
		fmt.Fprintf(&b, "\n    prometheus :%d\n", metricsPort)
		if health {
			fmt.Fprintf(&b, "    health %s:%d\n", images.NodeLocalDNSAddress, healthPort)
		}
		b.WriteString("}\n")
	}
	cache := func(seconds int) string { return fmt.Sprintf("    cache %d\n", seconds) }
	for _, z := range c.DNSZones {
		seconds := z.Cache
		if seconds <= 0 {
			seconds = 300
		}
		server(z.Zones, cache(seconds), z.Nameservers, false, z.Rewrite, false)
	}
	coredns := []string{c.CoreDNSIP}
	server([]string{c.DNSDomain}, "    cache {\n        success 9984 30\n        denial 9984 5\n    }\n", coredns, true, nil, true)
	server([]string{"in-addr.arpa"}, cache(30), coredns, true, nil, false)
	server([]string{"ip6.arpa"}, cache(30), coredns, true, nil, false)
	server([]string{"."}, cache(30), []string{"/etc/resolv.conf"}, false, nil, false)
	return b.String()
}
