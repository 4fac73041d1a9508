package spec_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
)

// storageSpec is two workers and a control plane; extra goes into the
// Cluster's spec (indented by 2), ks is the ClusterConfiguration's spec
// ("" leaves KubeSphere off; indented by 2), ksgen the ksgen document's spec.
func storageSpec(extra, ks, ksgen string) string {
	doc := `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
metadata: {name: storage}
spec:
  hosts:
  - {name: cp1, address: 10.0.0.1, internalAddress: 10.0.0.1}
  - {name: w1, address: 10.0.0.11, internalAddress: 10.0.0.11}
  - {name: w2, address: 10.0.0.12, internalAddress: 10.0.0.12}
  roleGroups: {etcd: [cp1], control-plane: [cp1], worker: [w1, w2]}
  kubernetes: {version: v1.26.15, containerManager: containerd}
` + extra
	if ks != "" {
		doc += `---
apiVersion: installer.kubesphere.io/v1alpha1
kind: ClusterConfiguration
metadata: {name: ks-installer, namespace: kubesphere-system, labels: {version: v3.4.1}}
spec:
` + ks
	}
	if ksgen != "" {
		doc += "---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n" + ksgen
	}
	return doc
}

const nfsAddon = `  addons:
  - name: csi-driver-nfs
    namespace: kube-system
    sources:
      chart: {name: csi-driver-nfs, repo: "https://raw.githubusercontent.com/kubernetes-csi/csi-driver-nfs/master/charts", version: v4.9.0}
`

func TestOpenEBSIsTheDefaultOnlyWhenNoOtherDefaultIsConfigured(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                 string
		extra, ks, ksgen     string
		installed, defaultSC bool
	}{
		{"no KubeSphere: KubeKey installs none", "", "", "", false, false},
		{"KubeSphere: KubeKey's default", "", "  devops: {enabled: false}\n", "", true, true},
		{"asked for without KubeSphere", "", "", "  storage: {openebs: {enabled: true}}\n", true, true},
		{"turned off", nfsAddon, "  devops: {enabled: false}\n", "  storage: {openebs: {enabled: false}, defaultStorageClass: nfs-csi}\n", false, false},
		{"an addon brings the default", nfsAddon, "  devops: {enabled: false}\n", "  storage: {defaultStorageClass: nfs-csi}\n", true, false},
		{"named as the default", "", "  devops: {enabled: false}\n", "  storage: {defaultStorageClass: local}\n", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, r := spec.Load([]byte(storageSpec(tc.extra, tc.ks, tc.ksgen)))
			if err := r.Err(true); err != nil {
				t.Fatal(err)
			}
			if got := s.OpenEBSEnabled(); got != tc.installed {
				t.Errorf("OpenEBSEnabled = %v, want %v", got, tc.installed)
			}
			if got := s.OpenEBSDefault(); got != tc.defaultSC {
				t.Errorf("OpenEBSDefault = %v, want %v", got, tc.defaultSC)
			}
		})
	}
}

func TestKubeSphereComponentsFromTheClusterConfiguration(t *testing.T) {
	t.Parallel()
	ks := `  alerting: {enabled: true}
  auditing: {enabled: false}
  devops: {enabled: true}
  events: {enabled: true}
  logging: {enabled: false}
  metrics_server: {enabled: true}
  multicluster: {clusterRole: host}
  network:
    networkpolicy: {enabled: true}
    ippool: {type: none}
    topology: {type: weave-scope}
  openpitrix: {store: {enabled: true}}
  servicemesh: {enabled: false}
  edgeruntime: {enabled: true, kubeedge: {enabled: true}}
  gatekeeper: {enabled: true}
  common: {redis: {enabled: false}, es: {externalElasticsearchHost: ""}}
`
	s, r := spec.Load([]byte(storageSpec("", ks, "")))
	if err := r.Err(true); err != nil {
		t.Fatal(err)
	}
	want := []string{"alerting", "devops", "edgeruntime", "events", "fluentbit", "gatekeeper", "logstore", "metrics_server",
		"multicluster", "networkpolicy", "openpitrix", "topology"}
	if got := s.KubeSphere.Components(); !reflect.DeepEqual(got, want) {
		t.Errorf("Components() = %v\nwant %v", got, want)
	}
	// An external Elasticsearch replaces the in-cluster log store.
	s, _ = spec.Load([]byte(storageSpec("", "  events: {enabled: true}\n  common: {es: {externalElasticsearchHost: es.example.com}}\n", "")))
	if got := s.KubeSphere.Components(); !reflect.DeepEqual(got, []string{"events", "fluentbit"}) {
		t.Errorf("with an external Elasticsearch: %v", got)
	}
}

// TestComponentWarnings checks each storage and size warning: its message,
// path and line, and that --strict makes it fatal.
func TestComponentWarnings(t *testing.T) {
	t.Parallel()
	sizes := func(cpu, mem string) string {
		return "  roles:\n    worker:\n      resources: {cpu: " + cpu + ", memory: " + mem + "}\n"
	}
	for _, tc := range []struct {
		name             string
		extra, ks, ksgen string
		want             string // "" = no finding
		cause            error
	}{
		{"fits", "", "  devops: {enabled: true}\n", sizes("8", "16Gi"), "", nil},
		{"a host's size wins over its role's", "", "  servicemesh: {enabled: true}\n",
			sizes("1", "2Gi") + "  hosts:\n    w1: {resources: {cpu: 8, memory: 16Gi}}\n    w2: {resources: {cpu: 8, memory: 16Gi}}\n", "", nil},
		{"one worker without a size: no check", "", "  servicemesh: {enabled: true}\n",
			"  hosts:\n    w1: {resources: {cpu: 1, memory: 1Gi}}\n", "", nil},
		{"sizes not declared: no check", "", "  servicemesh: {enabled: true}\n  logging: {enabled: true}\n", "", "", nil},
		{"too small", "", "  servicemesh: {enabled: true}\n", sizes("1", "2Gi"),
			"kubesphere.spec: KubeSphere with monitoring, servicemesh requests 3.00 cores and 7.0 GiB; the 2 worker hosts declare 2.00 cores and 4.0 GiB (line 15)", spec.ErrTooSmall},
		{"devops needs one big node", "", "  devops:\n    enabled: true\n", sizes("8", "7Gi"),
			"kubesphere.spec.devops.enabled: DevOps needs one worker with more than 8 GB of memory; the largest declares 7.0 GiB (line 17)", spec.ErrTooSmall},
		{"no default class", "", "  devops: {enabled: true}\n", "  storage: {openebs: {enabled: false}}\n",
			"kubesphere.spec.persistence.storageClass: KubeSphere's monitoring, devops need a default StorageClass and none will exist: OpenEBS is off (ksgen.spec.storage.openebs.enabled) and ksgen.spec.storage.defaultStorageClass names none from spec.addons (line 15)", spec.ErrNoStorage},
		{"an addon's default class", nfsAddon, "  devops: {enabled: true}\n", "  storage: {openebs: {enabled: false}, defaultStorageClass: nfs-csi}\n", "", nil},
		{"local without OpenEBS", nfsAddon, "  monitoring:\n    storageClass: local\n", "  storage: {openebs: {enabled: false}, defaultStorageClass: nfs-csi}\n",
			`kubesphere.spec.monitoring.storageClass: KubeSphere's monitoring need StorageClass "local" and nothing in the spec creates it (line 22)`, spec.ErrNoStorage},
		{"default class with no addon", "", "  devops: {enabled: false}\n", "  storage: {defaultStorageClass: nfs-csi}\n",
			`ksgen.spec.storage.defaultStorageClass: defaultStorageClass "nfs-csi": spec.addons is empty, so nothing creates it (line 21)`, spec.ErrNoStorage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, r := spec.Load([]byte(storageSpec(tc.extra, tc.ks, tc.ksgen)))
			if err := r.Err(false); err != nil {
				t.Fatalf("warnings must not fail without --strict: %v", err)
			}
			var got []string
			for _, w := range r.Warnings() {
				got = append(got, strings.TrimPrefix(w.String(), "warning: "))
			}
			if tc.want == "" {
				if len(got) > 0 || r.Err(true) != nil {
					t.Fatalf("want no finding, got %q", got)
				}
				return
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("warnings %q\nwant      %q", got, tc.want)
			}
			err := r.Err(true)
			if err == nil || !errors.Is(err, tc.cause) {
				t.Errorf("--strict: %v, want an error matching %v", err, tc.cause)
			}
		})
	}
}
