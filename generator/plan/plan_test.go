package plan_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/plan"
)

// cluster describes a test spec in a few fields; yaml() writes it out the
// way a KubeKey user would.
type cluster struct {
	controlPlanes int
	workers       int
	etcdOnly      int    // extra hosts with only the etcd role
	version       string // "" keeps ksgen's default
	lb            string // controlPlaneEndpoint lines, indented by 4
	kubernetes    string // extra spec.kubernetes lines, indented by 4
	etcd          string // spec.etcd lines, indented by 4
	dualStack     bool
	extra         string // further documents, each starting with "---"
}

func (c cluster) yaml() string {
	var b strings.Builder
	b.WriteString("apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Cluster\nmetadata:\n  name: test\nspec:\n  hosts:\n")
	host := func(name string, ip int) {
		v4 := fmt.Sprintf("10.1.%d.%d", ip/250, ip%250+1)
		internal := v4
		if c.dualStack {
			internal += fmt.Sprintf(",fd00:1::%x", ip+1)
		}
		fmt.Fprintf(&b, "  - {name: %s, address: %s, internalAddress: \"%s\"}\n", name, v4, internal)
	}
	ip := 0
	for i := 1; i <= c.controlPlanes; i++ {
		host(fmt.Sprintf("cp%d", i), ip)
		ip++
	}
	for i := 1; i <= c.etcdOnly; i++ {
		host(fmt.Sprintf("etcd%d", i), ip)
		ip++
	}
	for i := 1; i <= c.workers; i++ {
		host(fmt.Sprintf("worker%d", i), ip)
		ip++
	}
	b.WriteString("  roleGroups:\n")
	fmt.Fprintf(&b, "    control-plane: [\"cp[1:%d]\"]\n", c.controlPlanes)
	switch {
	case c.etcdOnly > 0:
		fmt.Fprintf(&b, "    etcd: [\"etcd[1:%d]\"]\n", c.etcdOnly)
	case !strings.Contains(c.etcd, "type:"):
		fmt.Fprintf(&b, "    etcd: [\"cp[1:%d]\"]\n", c.controlPlanes)
	}
	if c.workers > 0 {
		fmt.Fprintf(&b, "    worker: [\"worker[1:%d]\"]\n", c.workers)
	}
	b.WriteString("  controlPlaneEndpoint:\n    domain: lb.kubesphere.local\n    port: 6443\n")
	b.WriteString(c.lb)
	b.WriteString("  kubernetes:\n    clusterName: cluster.local\n")
	if c.version != "" {
		fmt.Fprintf(&b, "    version: %s\n", c.version)
	}
	b.WriteString(c.kubernetes)
	if c.etcd != "" {
		b.WriteString("  etcd:\n" + c.etcd)
	}
	b.WriteString("  network:\n    plugin: calico\n")
	if c.dualStack {
		b.WriteString("    kubePodsCIDR: \"10.233.64.0/18,fd00:10:233::/56\"\n    kubeServiceCIDR: \"10.233.0.0/18,fd00:10:96::/112\"\n")
	}
	b.WriteString(c.extra)
	return b.String()
}

const haproxy = "    internalLoadbalancer: haproxy\n"

func newPlan(t *testing.T, c cluster) *plan.Cluster {
	t.Helper()
	src := c.yaml()
	s, r := spec.Load([]byte(src))
	if err := r.Err(false); err != nil || s == nil {
		t.Fatalf("spec does not load: %v\n%s", err, src)
	}
	p, err := plan.New(s)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func node(t *testing.T, c *plan.Cluster, name string) *plan.Node {
	t.Helper()
	n := c.NodeByName(name)
	if n == nil {
		t.Fatalf("no node %s", name)
	}
	return n
}

func TestActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cluster cluster
		want    map[string]plan.Action
	}{
		{
			name:    "ha",
			cluster: cluster{controlPlanes: 3, workers: 2, lb: haproxy},
			want: map[string]plan.Action{
				"cp1": plan.Init, "cp2": plan.JoinControlPlane, "cp3": plan.JoinControlPlane,
				"worker1": plan.Join, "worker2": plan.Join,
			},
		},
		{
			name:    "etcd-only hosts run no kubeadm",
			cluster: cluster{controlPlanes: 1, etcdOnly: 3, workers: 1},
			want:    map[string]plan.Action{"cp1": plan.Init, "etcd1": plan.None, "etcd2": plan.None, "etcd3": plan.None, "worker1": plan.Join},
		},
		{
			name:    "single host in every role",
			cluster: cluster{controlPlanes: 1},
			want:    map[string]plan.Action{"cp1": plan.Init},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newPlan(t, tt.cluster)
			if len(c.Nodes) != len(tt.want) {
				t.Errorf("%d nodes, want %d", len(c.Nodes), len(tt.want))
			}
			for name, want := range tt.want {
				if got := node(t, c, name).Action; got != want {
					t.Errorf("%s: action %s, want %s", name, got, want)
				}
			}
			if c.Init == nil || c.Init.Name != "cp1" || c.Init.Action != plan.Init {
				t.Errorf("init node %+v, want cp1", c.Init)
			}
			inits := 0
			for _, n := range c.Nodes {
				if n.Action == plan.Init {
					inits++
				}
			}
			if inits != 1 {
				t.Errorf("%d init nodes, want exactly 1", inits)
			}
		})
	}
}

// A host that is both control plane and worker joins as a control plane.
func TestControlPlaneWorkerJoinsAsControlPlane(t *testing.T) {
	t.Parallel()
	src := cluster{controlPlanes: 3, lb: haproxy}.yaml()
	src = strings.Replace(src, "  controlPlaneEndpoint:", "    worker: [cp2, cp3]\n  controlPlaneEndpoint:", 1)
	s, r := spec.Load([]byte(src))
	if err := r.Err(false); err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	n := node(t, c, "cp2")
	if n.Action != plan.JoinControlPlane || !n.ControlPlane || !n.Worker || !n.Etcd {
		t.Errorf("cp2: action %s controlPlane=%t worker=%t etcd=%t, want a control-plane join with all three roles", n.Action, n.ControlPlane, n.Worker, n.Etcd)
	}
	if !slices.IsSorted(n.Roles) || !slices.Equal(n.Roles, []string{spec.RoleControlPlane, spec.RoleEtcd, spec.RoleWorker}) {
		t.Errorf("cp2 roles %v, want sorted control-plane, etcd, worker", n.Roles)
	}
}

func TestEndpointPerLoadBalancerMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		lb         string
		mode       plan.LBMode
		cpIP       func(n *plan.Node) string // what the domain resolves to on a control plane
		workerIP   string
		wantAddr   string
		controlPls int
	}{
		{
			name: "haproxy", lb: haproxy, mode: plan.LBInternal, controlPls: 3,
			cpIP:     func(n *plan.Node) string { return n.IPv4 },
			workerIP: "127.0.0.1",
		},
		{
			name: "kube-vip", lb: "    internalLoadbalancer: kube-vip\n    address: 10.1.9.100\n", mode: plan.LBKubeVip, controlPls: 3,
			cpIP:     func(*plan.Node) string { return "10.1.9.100" },
			workerIP: "10.1.9.100", wantAddr: "10.1.9.100",
		},
		{
			name: "external", lb: "    address: 10.1.9.200\n", mode: plan.LBExternal, controlPls: 3,
			cpIP:     func(*plan.Node) string { return "10.1.9.200" },
			workerIP: "10.1.9.200", wantAddr: "10.1.9.200",
		},
		{
			name: "none", mode: plan.LBNone, controlPls: 1,
			cpIP:     func(*plan.Node) string { return "10.1.0.1" },
			workerIP: "10.1.0.1",
		},
		{
			name: "external DNS", lb: haproxy + "    externalDNS: true\n", mode: plan.LBInternal, controlPls: 3,
			cpIP:     func(*plan.Node) string { return "" },
			workerIP: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newPlan(t, cluster{controlPlanes: tt.controlPls, workers: 2, lb: tt.lb})
			if c.Endpoint.Mode != tt.mode {
				t.Errorf("mode %q, want %q", c.Endpoint.Mode, tt.mode)
			}
			if c.Endpoint.Address != tt.wantAddr {
				t.Errorf("address %q, want %q", c.Endpoint.Address, tt.wantAddr)
			}
			if got := c.Endpoint.HostPort(); got != "lb.kubesphere.local:6443" {
				t.Errorf("HostPort %q, want lb.kubesphere.local:6443", got)
			}
			for _, n := range c.Nodes {
				want := tt.workerIP
				if n.ControlPlane {
					want = tt.cpIP(n)
				}
				if n.EndpointIP != want {
					t.Errorf("%s: endpoint resolves to %q, want %q", n.Name, n.EndpointIP, want)
				}
			}
		})
	}
}

func TestCertSANs(t *testing.T) {
	t.Parallel()
	c := newPlan(t, cluster{controlPlanes: 3, workers: 3, lb: "    internalLoadbalancer: kube-vip\n    address: 10.1.9.100\n",
		kubernetes: "    apiserverCertExtraSans: [api.example.com, 192.0.2.7]\n"})
	for _, want := range []string{
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
		"localhost", "127.0.0.1", "lb.kubesphere.local", "10.1.9.100", "10.233.0.1",
		"cp1", "cp2", "cp3", "cp1.cluster.local", "10.1.0.1", "10.1.0.2", "10.1.0.3",
		"api.example.com", "192.0.2.7",
	} {
		if !slices.Contains(c.CertSANs, want) {
			t.Errorf("CertSANs %v lack %q", c.CertSANs, want)
		}
	}
	for _, n := range c.Nodes {
		if n.ControlPlane {
			continue
		}
		for _, bad := range []string{n.Name, n.IPv4, n.Address} {
			if slices.Contains(c.CertSANs, bad) {
				t.Errorf("CertSANs %v contain worker %s's %q", c.CertSANs, n.Name, bad)
			}
		}
	}
	if sorted := slices.Compact(slices.Sorted(slices.Values(c.CertSANs))); len(sorted) != len(c.CertSANs) {
		t.Errorf("CertSANs %v hold duplicates", c.CertSANs)
	}
	if c.APIServerIP != "10.233.0.1" {
		t.Errorf("APIServerIP %q, want 10.233.0.1", c.APIServerIP)
	}
}

// The apiserver certificate and every file that carries it must not grow
// with the cluster: 300 workers give the same SANs as 3.
func TestCertSANsDoNotGrowWithWorkers(t *testing.T) {
	t.Parallel()
	small := newPlan(t, cluster{controlPlanes: 3, workers: 3, lb: haproxy})
	large := newPlan(t, cluster{controlPlanes: 3, workers: 300, lb: haproxy})
	if len(large.Nodes) != 303 {
		t.Fatalf("%d nodes, want 303", len(large.Nodes))
	}
	if !slices.Equal(small.CertSANs, large.CertSANs) {
		t.Errorf("SANs differ:\n3 workers:   %v\n300 workers: %v", small.CertSANs, large.CertSANs)
	}
}

func TestClusterDNS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		kubernetes string
		want       string
	}{
		{name: "NodeLocalDNS by default, as KubeKey", want: "169.254.25.10"},
		{name: "NodeLocalDNS asked for", kubernetes: "    nodelocaldns: true\n", want: "169.254.25.10"},
		{name: "kubeadm's CoreDNS service without NodeLocalDNS", kubernetes: "    nodelocaldns: false\n", want: "10.233.0.10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newPlan(t, cluster{controlPlanes: 1, workers: 1, kubernetes: tt.kubernetes})
			if c.ClusterDNS != tt.want || c.CoreDNSIP != "10.233.0.10" {
				t.Errorf("ClusterDNS %q CoreDNSIP %q, want %q and kubeadm's 10.233.0.10", c.ClusterDNS, c.CoreDNSIP, tt.want)
			}
		})
	}
}

func TestKubeadmAPIByVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version string
		want    string
	}{
		{"v1.22.0", "kubeadm.k8s.io/v1beta3"},
		{"v1.22.10", "kubeadm.k8s.io/v1beta3"},
		{"v1.30.14", "kubeadm.k8s.io/v1beta3"},
		{"v1.31.0", "kubeadm.k8s.io/v1beta4"},
		{"v1.33.5", "kubeadm.k8s.io/v1beta4"},
		{"v1.36.3", "kubeadm.k8s.io/v1beta4"},
		{"", "kubeadm.k8s.io/v1beta4"}, // ksgen's default version
	}
	for _, tt := range tests {
		t.Run("version "+tt.version, func(t *testing.T) {
			t.Parallel()
			c := newPlan(t, cluster{controlPlanes: 1, version: tt.version})
			if c.KubeadmAPI != tt.want {
				t.Errorf("KubeadmAPI %q for %s, want %q", c.KubeadmAPI, c.Version, tt.want)
			}
			if tt.version != "" && "v"+c.Version.String() != tt.version {
				t.Errorf("Version %s, want %s", c.Version, tt.version)
			}
		})
	}
}

func TestDualStack(t *testing.T) {
	t.Parallel()
	c := newPlan(t, cluster{controlPlanes: 1, workers: 1, dualStack: true})
	n := node(t, c, "worker1")
	if n.IPv4 != "10.1.0.2" || n.IPv6 != "fd00:1::2" || n.NodeIP() != "10.1.0.2,fd00:1::2" {
		t.Errorf("worker1 IPv4 %q IPv6 %q NodeIP %q", n.IPv4, n.IPv6, n.NodeIP())
	}
	if c.APIServerIP != "10.233.0.1" {
		t.Errorf("APIServerIP %q, want the IPv4 family's 10.233.0.1", c.APIServerIP)
	}
	if c.PodCIDR != "10.233.64.0/18,fd00:10:233::/56" || c.ServiceCIDR != "10.233.0.0/18,fd00:10:96::/112" {
		t.Errorf("PodCIDR %q ServiceCIDR %q", c.PodCIDR, c.ServiceCIDR)
	}
	cp := node(t, c, "cp1")
	if !slices.Contains(c.CertSANs, cp.IPv6) {
		t.Errorf("CertSANs %v lack cp1's IPv6 %s", c.CertSANs, cp.IPv6)
	}
	if got := (&plan.Node{IPv4: "10.0.0.1"}).NodeIP(); got != "10.0.0.1" {
		t.Errorf("single-stack NodeIP %q", got)
	}
}

func TestEtcdMembers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cluster cluster
		want    []string
	}{
		{name: "kubekey on the control planes", cluster: cluster{controlPlanes: 3, lb: haproxy}, want: []string{"cp1", "cp2", "cp3"}},
		{name: "kubekey on dedicated hosts", cluster: cluster{controlPlanes: 1, etcdOnly: 3}, want: []string{"etcd1", "etcd2", "etcd3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newPlan(t, tt.cluster)
			var got []string
			for _, m := range c.EtcdMembers {
				got = append(got, m.Name)
				if !m.Etcd {
					t.Errorf("member %s lacks the etcd role", m.Name)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("etcd members %v, want %v", got, tt.want)
			}
		})
	}
}

// Settings merge: a host beats its role, which beats the cluster; SSH keys add up.
func TestNodeSettings(t *testing.T) {
	t.Parallel()
	c := newPlan(t, cluster{controlPlanes: 1, workers: 2, extra: `---
apiVersion: ksgen.io/v1alpha1
kind: Config
spec:
  os: flatcar
  roles:
    worker:
      os: ubuntu
      sshAuthorizedKeys: [ssh-ed25519 AAAArole role@example.com]
  hosts:
    worker2:
      os: rhel
      sshAuthorizedKeys: [ssh-ed25519 AAAAhost host@example.com]
`})
	tests := []struct {
		node string
		os   string
		keys []string
	}{
		{"cp1", "flatcar", nil},
		{"worker1", "ubuntu", []string{"ssh-ed25519 AAAArole role@example.com"}},
		{"worker2", "rhel", []string{"ssh-ed25519 AAAArole role@example.com", "ssh-ed25519 AAAAhost host@example.com"}},
	}
	for _, tt := range tests {
		n := node(t, c, tt.node)
		if n.OS != tt.os || n.Settings.OS != tt.os {
			t.Errorf("%s: OS %q (settings %q), want %q", tt.node, n.OS, n.Settings.OS, tt.os)
		}
		if !slices.Equal(n.Settings.SSHAuthorizedKeys, tt.keys) {
			t.Errorf("%s: keys %v, want %v", tt.node, n.Settings.SSHAuthorizedKeys, tt.keys)
		}
	}
}

// Hosts in no role group are not planned, as KubeKey ignores them.
func TestHostsWithoutRoleAreSkipped(t *testing.T) {
	t.Parallel()
	src := cluster{controlPlanes: 1}.yaml()
	src = strings.Replace(src, "  roleGroups:", "  - {name: spare, address: 10.1.5.5, internalAddress: 10.1.5.5}\n  roleGroups:", 1)
	s, r := spec.Load([]byte(src))
	if err := r.Err(false); err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeByName("spare") != nil || len(c.Nodes) != 1 {
		t.Errorf("nodes %d (spare planned: %t), want only cp1", len(c.Nodes), c.NodeByName("spare") != nil)
	}
}

// Shared computes once per distinct key; a key of another type, even with
// the same value, is another entry.
func TestSharedIsKeyedByItsInputs(t *testing.T) {
	t.Parallel()
	c := newPlan(t, cluster{controlPlanes: 1, workers: 1})
	type a struct{ Dir string }
	type b struct{ Dir string }
	calls := 0
	get := func(k a) (string, error) { calls++; return "a:" + k.Dir, nil }
	for range 3 {
		if v, err := plan.Shared(c, a{"/usr/bin"}, get); err != nil || v != "a:/usr/bin" {
			t.Fatalf("got %q, %v", v, err)
		}
	}
	if v, _ := plan.Shared(c, a{"/usr/local/bin"}, get); v != "a:/usr/local/bin" || calls != 2 {
		t.Errorf("another input gave %q after %d computations, want its own result", v, calls)
	}
	if v, _ := plan.Shared(c, b{"/usr/bin"}, func(k b) (string, error) { return "b:" + k.Dir, nil }); v != "b:/usr/bin" {
		t.Errorf("a key of another type shared a's result: %q", v)
	}
	boom := errors.New("boom")
	if _, err := plan.Shared(c, b{"x"}, func(b) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("error %v, want boom", err)
	}
}
