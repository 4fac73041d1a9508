package spec_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/images"
)

// mustLoad loads a spec that must have no findings at all.
func mustLoad(t *testing.T, src string) *spec.Spec {
	t.Helper()
	s, r := spec.Load([]byte(src))
	for _, e := range r.Entries {
		t.Errorf("unexpected finding: %s", e)
	}
	if s == nil {
		t.Fatal("Load returned no spec")
	}
	return s
}

const minimal = `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
metadata:
  name: minimal
spec:
  hosts:
  - {name: master1, address: 192.168.0.2, internalAddress: 192.168.0.2}
  - {name: node1, internalAddress: 192.168.0.3}
  roleGroups:
    etcd: [master1]
    control-plane: [master1]
    worker: [node1]
`

// withRuntime is minimal as kk create config writes it, with the runtime
// named: tests that do not look at containerManager start from it.
const withRuntime = minimal + `  kubernetes: {containerManager: containerd}
`

func TestDefaults(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, withRuntime)
	c := s.Cluster.Spec
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"controlPlaneEndpoint.domain", c.ControlPlaneEndpoint.Domain, "lb.kubesphere.local"},
		{"controlPlaneEndpoint.port", c.ControlPlaneEndpoint.Port, 6443},
		{"controlPlaneEndpoint.internalLoadbalancer", c.ControlPlaneEndpoint.InternalLoadbalancer, ""},
		{"etcd.type", c.Etcd.Type, "kubekey"},
		{"etcd.port", *c.Etcd.Port, 2379},
		{"etcd.peerPort", *c.Etcd.PeerPort, 2380},
		{"kubernetes.version", c.Kubernetes.Version, images.DefaultKubernetesVersion},
		{"kubernetes.type", c.Kubernetes.Type, "kubernetes"},
		{"kubernetes.clusterName", c.Kubernetes.ClusterName, "cluster.local"},
		{"kubernetes.dnsDomain", c.Kubernetes.DNSDomain, "cluster.local"},
		{"kubernetes.proxyMode", c.Kubernetes.ProxyMode, "ipvs"},
		{"kubernetes.maxPods", c.Kubernetes.MaxPods, 110},
		{"kubernetes.podPidsLimit", c.Kubernetes.PodPidsLimit, 10000},
		{"kubernetes.nodeCidrMaskSize", c.Kubernetes.NodeCidrMaskSize, 24},
		{"kubernetes.containerManager", c.Kubernetes.ContainerManager, "containerd"},
		{"kubernetes.containerRuntimeEndpoint", c.Kubernetes.ContainerRuntimeEndpoint, "unix:///run/containerd/containerd.sock"},
		{"kubernetes.nodelocaldns", c.Kubernetes.NodeLocalDNSEnabled(), true},
		{"kubernetes.autoRenewCerts (ksgen renews unless false)", c.Kubernetes.AutoRenewCertsEnabled(), true},
		{"network.plugin", c.Network.Plugin, "calico"},
		{"network.kubePodsCIDR", c.Network.KubePodsCIDR, "10.233.64.0/18"},
		{"network.kubeServiceCIDR", c.Network.KubeServiceCIDR, "10.233.0.0/18"},
		{"network.calico.ipipMode", c.Network.Calico.IPIPMode, "Always"},
		{"network.calico.vxlanMode", c.Network.Calico.VXLANMode, "Never"},
		{"storage.openebs.basePath", c.Storage.OpenEBS.BasePath, "/var/openebs/local"},
		{"hosts[1].address (from internalAddress)", c.Hosts[1].Address, "192.168.0.3"},
		{"hosts[0].arch", c.Hosts[0].Arch, "amd64"},
		{"ksgen os", s.Config.Spec.OS, "ubuntu"},
		{"ksgen binaries.source", s.Config.Spec.Binaries.Source, "image"},
		{"ksgen bootstrapTokenTTL", s.Config.Spec.BootstrapTokenTTL, "24h0m0s"},
		{"ksgen joinWindow", s.Config.Spec.JoinWindow, "always"},
		{"kubesphere", s.KubeSphere == nil, true},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// TestDefaultsKeepExplicitValues checks that defaults only fill what is absent.
func TestDefaultsKeepExplicitValues(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, minimal+`  controlPlaneEndpoint:
    domain: api.example.com
    port: 8443
  etcd:
    type: kubeadm
    port: 12379
  kubernetes:
    version: v1.30.4
    containerManager: containerd
    proxyMode: iptables
    maxPods: 200
    nodeCidrMaskSize: 26
    nodelocaldns: false
  network:
    plugin: cilium
    kubePodsCIDR: 10.10.0.0/16
    kubeServiceCIDR: 10.20.0.0/16
`)
	c := s.Cluster.Spec
	if c.ControlPlaneEndpoint.Domain != "api.example.com" || c.ControlPlaneEndpoint.Port != 8443 ||
		c.Etcd.Type != "kubeadm" || *c.Etcd.Port != 12379 || c.Kubernetes.Version != "v1.30.4" ||
		c.Kubernetes.ProxyMode != "iptables" || c.Kubernetes.MaxPods != 200 || c.Kubernetes.NodeCidrMaskSize != 26 ||
		c.Kubernetes.NodeLocalDNSEnabled() || c.Network.Plugin != "cilium" ||
		c.Network.KubePodsCIDR != "10.10.0.0/16" || c.Network.KubeServiceCIDR != "10.20.0.0/16" {
		t.Errorf("explicit values were overwritten: %+v", c)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
spec:
  kubernetes: {containerManager: containerd}
  hosts:
  - {name: master1, address: 192.168.0.2, internalAddress: 192.168.0.2}
  - {name: node1, address: 192.168.0.11, internalAddress: 192.168.0.11}
  - {name: node2, address: 192.168.0.12, internalAddress: 192.168.0.12}
  - {name: node3, address: 192.168.0.13, internalAddress: 192.168.0.13}
  - {name: node4, address: 192.168.0.14, internalAddress: 192.168.0.14}
  - {name: lb-node5-a, address: 192.168.0.15, internalAddress: 192.168.0.15}
  roleGroups:
    etcd: [master1]
    master: [master1]
    control-plane: [master1]
    worker:
    - node1
    - node[2:4]
    - lb-node[5:5]-a
`)
	want := map[string][]string{
		spec.RoleEtcd:         {"master1"},
		spec.RoleControlPlane: {"master1"},
		spec.RoleWorker:       {"node1", "node2", "node3", "node4", "lb-node5-a"},
	}
	if !reflect.DeepEqual(s.Roles, want) {
		t.Errorf("Roles = %v, want %v", s.Roles, want)
	}
	if _, ok := s.Roles[spec.RoleMaster]; ok {
		t.Error(`"master" was not folded into "control-plane"`)
	}
}

func TestMasterOnly(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
spec:
  kubernetes: {containerManager: containerd}
  hosts:
  - {name: m1, internalAddress: 10.0.0.1}
  - {name: m2, internalAddress: 10.0.0.2}
  - {name: m3, internalAddress: 10.0.0.3}
  roleGroups:
    etcd: ["m[1:3]"]
    master: ["m[1:3]"]
    worker: [m1, m2, m3]
  controlPlaneEndpoint:
    internalLoadbalancer: haproxy
`)
	if got := s.Roles[spec.RoleControlPlane]; !reflect.DeepEqual(got, []string{"m1", "m2", "m3"}) {
		t.Errorf("control-plane = %v", got)
	}
}

func TestDualStackAndLabels(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
spec:
  kubernetes: {containerManager: containerd}
  hosts:
  - name: master1
    address: 192.168.0.2
    internalAddress: 192.168.0.2,fd00::2
    labels:
      topology.kubernetes.io/zone: zone-a
      node-role.kubernetes.io/infra: ""
  - name: node1
    internalAddress: "192.168.0.3,fd00::3"
    labels: {tier: edge}
  roleGroups:
    etcd: [master1]
    control-plane: [master1]
    worker: [node1]
  network:
    kubePodsCIDR: 10.233.64.0/18,fd85:ee78:d8a6:8700::/56
    kubeServiceCIDR: 10.233.0.0/18,fd85:ee78:d8a6:8607::1000/116
`)
	h := s.Cluster.Spec.Hosts
	if h[0].InternalAddress != "192.168.0.2,fd00::2" {
		t.Errorf("internalAddress = %q", h[0].InternalAddress)
	}
	if h[1].Address != "192.168.0.3" {
		t.Errorf("address defaulted to %q, want the IPv4 internalAddress", h[1].Address)
	}
	want := map[string]string{"topology.kubernetes.io/zone": "zone-a", "node-role.kubernetes.io/infra": ""}
	if !reflect.DeepEqual(h[0].Labels, want) {
		t.Errorf("labels = %v, want %v", h[0].Labels, want)
	}
	if h[1].Labels["tier"] != "edge" {
		t.Errorf("labels = %v", h[1].Labels)
	}
}

const withDocs = `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
metadata:
  name: sample
spec:
  hosts:
  - {name: master1, address: 172.16.0.2, internalAddress: 172.16.0.2}
  - {name: node1, address: 172.16.0.5, internalAddress: 172.16.0.5}
  roleGroups:
    etcd: [master1]
    control-plane: [master1]
    worker:
    - node1
  kubernetes:
    version: v1.26.15
    containerManager: containerd
---
apiVersion: installer.kubesphere.io/v1alpha1
kind: ClusterConfiguration
metadata:
  name: ks-installer
  namespace: kubesphere-system
  labels:
    version: v3.4.1
spec:
  persistence:
    storageClass: ""
  devops:
    enabled: false
---
apiVersion: ksgen.io/v1alpha1
kind: Config
spec:
  os: ubuntu
  users:
  - name: core
    sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE core@example"]
  roles:
    worker: {os: flatcar}
  hosts:
    node1:
      mac: "52:54:00:12:34:56"
      network:
        addresses: [172.16.0.5/24]
        gateway: 172.16.0.1
  bootstrapTokenTTL: 2h
  budget: {cloud: aws}
`

func TestDocuments(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, withDocs)
	if s.KubeSphere == nil {
		t.Fatal("the ClusterConfiguration document did not turn KubeSphere on")
	}
	if v := s.KubeSphere.Version(); v != "v3.4.1" {
		t.Errorf("KubeSphere version = %q", v)
	}
	if got := s.KubeSphere.Spec["devops"]; !reflect.DeepEqual(got, map[string]any{"enabled": false}) {
		t.Errorf("KubeSphere spec.devops = %#v, want it verbatim", got)
	}
	cfg := s.Config
	if cfg.Kind != "Config" || cfg.Spec.OS != "ubuntu" || cfg.Spec.Roles["worker"].OS != "flatcar" ||
		cfg.Spec.Hosts["node1"].MAC != "52:54:00:12:34:56" || cfg.Spec.Hosts["node1"].Network.Gateway != "172.16.0.1" ||
		cfg.Spec.BootstrapTokenTTL != "2h" || cfg.Spec.Budget.Cloud != "aws" || len(cfg.Spec.Users) != 1 {
		t.Errorf("ksgen document not loaded as written: %+v", cfg.Spec)
	}
}

func TestLine(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, withDocs)
	for path, want := range map[string]int{
		"apiVersion":                         1,
		"metadata.name":                      4,
		"spec":                               5,
		"spec.hosts":                         6,
		"spec.hosts[0]":                      7,
		"spec.hosts[1].internalAddress":      8,
		"spec.roleGroups.etcd":               10,
		"spec.roleGroups.worker":             12,
		"spec.roleGroups.worker[0]":          13,
		"spec.kubernetes.version":            15,
		"kubesphere":                         18,
		"kubesphere.metadata.labels.version": 24,
		"kubesphere.spec":                    25,
		"kubesphere.spec.devops":             28, // passed through verbatim, lines kept for findings
		"ksgen.spec.os":                      34,
		"ksgen.spec.users[0].name":           36,
		"ksgen.spec.roles.worker.os":         39,
		"ksgen.spec.hosts.node1.mac":         42,
		"ksgen.spec.bootstrapTokenTTL":       46,
		"spec.network":                       0, // absent: defaulted
		"spec.kubernetes.maxPods":            0,
		"nonsense":                           0,
	} {
		if got := s.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
}

// TestConfigSample loads the sample the repository ships, as kk writes it:
// valid, with one warning per SSH password.
func TestConfigSample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../../testdata/config-sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, r := spec.Load(data)
	if err := r.Err(false); err != nil {
		t.Fatalf("config-sample.yaml does not validate: %v", err)
	}
	if s.Cluster.Spec.ControlPlaneEndpoint.InternalLoadbalancer != "haproxy" || len(s.Roles[spec.RoleControlPlane]) != 3 ||
		len(s.Roles[spec.RoleEtcd]) != 3 || len(s.Roles[spec.RoleWorker]) != 3 {
		t.Errorf("unexpected roles or endpoint: %v %+v", s.Roles, s.Cluster.Spec.ControlPlaneEndpoint)
	}
	w := r.Warnings()
	if len(w) != 1 || !errors.Is(w[0].Err, spec.ErrSSHPassword) || w[0].Line != 9 ||
		!strings.Contains(w[0].Err.Error(), "6 hosts have SSH passwords (master1, master2, master3, node1, node2, node3)") {
		t.Fatalf("warnings %v, want one SSH password warning naming the 6 hosts, at the first (line 9)", w)
	}
	if r.Err(true) == nil {
		t.Error("--strict accepts SSH passwords")
	}
}

// TestNamedCauses checks that findings match their named error values, so
// callers never parse message text.
func TestNamedCauses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(string) string
		want error
	}{
		{"unknown host", func(s string) string { return strings.Replace(s, "    - node1\n", "    - node9\n", 1) }, spec.ErrUnknownHost},
		{"unknown field", func(s string) string {
			return strings.Replace(s, "    version: v1.26.15\n", "    versoin: v1.26.15\n", 1)
		}, spec.ErrUnknownField},
		{"version", func(s string) string { return strings.Replace(s, "v1.26.15", "v1.19.0", 1) }, spec.ErrVersion},
		{"syntax", func(s string) string { return strings.Replace(s, "[master1]", "[master1", 1) }, spec.ErrSyntax},
		{"type", func(s string) string { return strings.Replace(s, "version: v1.26.15", "version: [v1.26.15]", 1) }, spec.ErrType},
		{"missing cluster", func(s string) string { return s[strings.Index(s, "---\n")+4:] }, spec.ErrMissingCluster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, r := spec.Load([]byte(tc.edit(withDocs)))
			err := r.Err(false)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Err() = %v, want it to match %v", err, tc.want)
			}
			var ee *spec.EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("Err() = %v carries no EntryError", err)
			}
		})
	}
}

// TestSyntaxErrorLines pins the line of YAML syntax errors to the line of
// the file: yaml.v3 counts parser errors from 0 and names the line a scalar
// began rather than the line of a stray tab.
func TestSyntaxErrorLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src, msg string
		line           int
	}{
		{"unclosed flow sequence", "apiVersion: a\nkind: [b\n", "did not find expected ',' or ']'", 2},
		{"unclosed flow mapping", "a: b\nkind: {b: c\nd: e\n", "did not find expected ',' or '}'", 2},
		{"tab after a plain scalar", "a: b\n\tc: d\n", "found a tab character that violates indentation", 2},
		{"tab on the first line", "\ta: b\n", "found character that cannot start any token", 1},
		{"tab in a block scalar", "a: |\n  x\n\ty\n", "found a tab character where an indentation space is expected", 3},
		{"bad indentation", "a:\n  b: c\n    d: e\n", "mapping values are not allowed in this context", 3},
		{"dedented key", "a:\n  b: c\n d: e\n", "did not find expected key", 3},
		{"two values on the first line", "a: b: c\n", "mapping values are not allowed in this context", 1},
		{"unknown anchor", "a: b\nc: *nope\n", "unknown anchor 'nope' referenced", 2},
		{"undefined tag handle", "a: b\nc: !foo!bar x\n", "found undefined tag handle", 2},
		{"in a later document", "a: b\n---\nc: d\n  e: f\n", "mapping values are not allowed in this context", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, r := spec.Load([]byte(tc.src))
			var got *spec.Entry
			for i, e := range r.Entries {
				if errors.Is(e.Err, spec.ErrSyntax) {
					got = &r.Entries[i]
				}
			}
			if got == nil {
				t.Fatalf("no syntax error in %v", r.Entries)
			}
			if got.Err.Error() != tc.msg || got.Line != tc.line {
				t.Errorf("got %q at line %d, want %q at line %d", got.Err, got.Line, tc.msg, tc.line)
			}
		})
	}
}

// TestReportOrderIsStable checks that findings about map entries (labels)
// come out in the same order every time.
func TestReportOrderIsStable(t *testing.T) {
	t.Parallel()
	src := strings.Replace(withRuntime, "  - {name: node1, internalAddress: 192.168.0.3}\n",
		"  - name: node1\n    internalAddress: 192.168.0.3\n    labels: {\"z z\": a, \"b b\": a, \"m m\": a, \"a a\": a}\n", 1)
	_, first := spec.Load([]byte(src))
	if len(first.Entries) != 4 {
		t.Fatalf("want 4 findings, got %v", first.Entries)
	}
	for i := 0; i < 20; i++ {
		_, r := spec.Load([]byte(src))
		if !reflect.DeepEqual(r.Entries, first.Entries) {
			t.Fatalf("report order changed:\n%v\n%v", first.Entries, r.Entries)
		}
	}
}

// TestMergeKeys loads YAML merge keys as KubeKey's YAML library does: a
// mapping's own keys win over merged ones, earlier merges over later ones.
func TestMergeKeys(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
spec:
  kubernetes: {containerManager: containerd}
  hosts:
  - &master {name: master1, address: 192.168.0.2, internalAddress: 192.168.0.2, user: ubuntu, labels: {tier: control}}
  - <<: *master
    name: node1
    address: 192.168.0.3
    internalAddress: 192.168.0.3
  - <<: [{labels: {tier: edge}}, *master]
    name: node2
    address: 192.168.0.4
    internalAddress: 192.168.0.4
  roleGroups:
    etcd: [master1]
    control-plane: [master1]
    worker: [node1, node2]
`)
	h := s.Cluster.Spec.Hosts
	if h[1].Name != "node1" || h[1].User != "ubuntu" || h[1].Labels["tier"] != "control" || h[1].InternalAddress != "192.168.0.3" {
		t.Errorf("host 1 = %+v", h[1])
	}
	if h[2].Name != "node2" || h[2].User != "ubuntu" || h[2].Labels["tier"] != "edge" {
		t.Errorf("host 2 = %+v", h[2])
	}
	if got := s.Line("spec.hosts[1].user"); got != 6 {
		t.Errorf("a merged field's line = %d, want 6 (where it is written)", got)
	}

	_, r := spec.Load([]byte("apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Cluster\nspec:\n  <<: [a]\n"))
	if err := r.Err(false); err == nil || !errors.Is(err, spec.ErrType) || !strings.Contains(err.Error(), "merge key") {
		t.Errorf("merging a scalar: %v", err)
	}
}

// TestAliasExpansionIsBounded checks that a small file whose aliases name
// millions of values is refused quickly instead of being expanded.
func TestAliasExpansionIsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Cluster\nspec:\n  addons:\n  - &a {name: x, sources: {chart: {values: [")
	for i := 0; i < 2000; i++ {
		b.WriteString("v,")
	}
	b.WriteString("v]}}}\n")
	for i := 0; i < 2000; i++ {
		b.WriteString("  - *a\n")
	}
	_, r := spec.Load([]byte(b.String()))
	if err := r.Err(false); err == nil || !errors.Is(err, spec.ErrSyntax) || !strings.Contains(err.Error(), "aliases expand") {
		t.Fatalf("alias bomb: %v", err)
	}
}

// TestRanges covers host ranges beyond the corpus: one finding per range,
// however many of its hosts are missing, and a bound on its size.
func TestRanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ entry, want string }{
		{"node[1:3]", ""},
		{"node[3:3]", ""},
		{"node[0:4]", `spec.roleGroups.worker[0]: range "node[0:4]" names 2 hosts that are not in spec.hosts (node0, node4)`},
		{"node[1:10000]", `spec.roleGroups.worker[0]: range "node[1:10000]" names 9997 hosts that are not in spec.hosts (node4, node5, node6, …)`},
		{"node[0:10000]", `spec.roleGroups.worker[0]: range "node[0:10000]" names more than 10000 hosts`},
		{"node[3:1]", `spec.roleGroups.worker[0]: range "node[3:1]" must go from a smaller to a larger number`},
		{"node[1:3", `spec.roleGroups.worker[0]: "node[1:3" is not a host name or a range like node[2:10]`},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			t.Parallel()
			_, r := spec.Load([]byte(`apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
spec:
  kubernetes: {containerManager: containerd}
  hosts:
  - {name: node1, internalAddress: 10.0.0.1}
  - {name: node2, internalAddress: 10.0.0.2}
  - {name: node3, internalAddress: 10.0.0.3}
  roleGroups:
    etcd: [node1]
    control-plane: [node1]
    worker: ["` + tc.entry + `"]
`))
			var got []string
			for _, e := range r.Entries {
				got = append(got, strings.TrimSuffix(e.String(), " (line 12)"))
			}
			if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
