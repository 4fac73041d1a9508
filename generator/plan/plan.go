// Package plan derives per-node facts from a validated spec: roles, whether
// a node runs kubeadm init or join, its addresses, what the control-plane
// endpoint resolves to on it, and the cluster-wide values every renderer
// shares. Renderers read a plan; they never look at the spec's raw form.
package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/ksgen/ksgen/generator/spec"
	"github.com/ksgen/ksgen/images"
)

// Action is what kubeadm does on a node at first boot.
type Action string

// Actions.
const (
	Init             Action = "init"
	JoinControlPlane Action = "join-control-plane"
	Join             Action = "join"
	None             Action = "none" // etcd-only, registry or load-balancer hosts
)

// LB modes of the control-plane endpoint.
const (
	LBHAProxy  = "haproxy"  // KubeKey's internal HAProxy static pod on workers
	LBKubeVip  = "kube-vip" // VIP announced by kube-vip on the control planes
	LBExternal = "external" // an address the user runs (cloud LB, F5, keepalived hosts)
	LBNone     = "none"     // the first control plane's address
)

// Node is one machine of the cluster.
type Node struct {
	Name  string
	Roles []string // sorted
	// Index is the position of the host in spec.hosts.
	Index        int
	ControlPlane bool
	Worker       bool
	Etcd         bool
	Action       Action
	// Address is the host's external address; IPv4 and IPv6 its internal ones.
	Address string
	IPv4    string
	IPv6    string
	Labels  map[string]string
	OS      string
	// EndpointIP is what the endpoint domain resolves to on this node ("" when
	// the domain is resolved by external DNS).
	EndpointIP string
	// LocalLB is the load balancer this node runs as a static pod before
	// kubeadm does (LBHAProxy on workers, LBKubeVip on control planes), or "".
	LocalLB string
	// Kubelet is true for nodes that run containerd and kubelet.
	Kubelet  bool
	Settings spec.NodeSettings
}

// NodeIP is the kubelet --node-ip value: "v4" or "v4,v6".
func (n *Node) NodeIP() string {
	if n.IPv6 != "" {
		return n.IPv4 + "," + n.IPv6
	}
	return n.IPv4
}

// Has reports whether the node has a role.
func (n *Node) Has(role string) bool { return slices.Contains(n.Roles, role) }

// Endpoint is the control-plane endpoint.
type Endpoint struct {
	Domain string
	Port   int
	Mode   string
	// Address is the VIP (kube-vip) or the external LB address.
	Address string
}

// HostPort is "domain:port", what kubeconfigs and join configs point at.
func (e Endpoint) HostPort() string { return fmt.Sprintf("%s:%d", e.Domain, e.Port) }

// Cluster is the plan for the whole cluster.
type Cluster struct {
	Spec       *spec.Spec
	Version    *version.Version
	KubeadmAPI string // kubeadm.k8s.io/v1beta3 or kubeadm.k8s.io/v1beta4
	Nodes      []*Node
	Init       *Node
	// ControlPlanes and EtcdMembers are in role-group order.
	ControlPlanes []*Node
	EtcdMembers   []*Node
	// Infrastructure is every control-plane, etcd and registry host, in
	// spec order: the hosts every node's /etc/hosts names.
	Infrastructure []*Node
	Endpoint       Endpoint
	// APIServerPort is where every kube-apiserver listens: the endpoint's
	// port, since control planes and kube-vip serve the endpoint themselves;
	// kubeadm's 6443 behind an external load balancer, which maps the port.
	APIServerPort int
	PodCIDR       string
	ServiceCIDR   string
	// APIServerIP is the first address of the service network (the kubernetes service).
	APIServerIP string
	// ClusterDNS is the kubelet's resolver: NodeLocalDNS's 169.254.25.10, or CoreDNS's service IP.
	ClusterDNS string
	CertSANs   []string
}

// NodeByName returns the named node or nil.
func (c *Cluster) NodeByName(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// New plans a validated spec.
func New(s *spec.Spec) (*Cluster, error) {
	cs := &s.Cluster.Spec
	ver, err := spec.KubernetesVersion(cs.Kubernetes.Version)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Spec:        s,
		Version:     ver,
		KubeadmAPI:  "kubeadm.k8s.io/v1beta3",
		PodCIDR:     cs.Network.KubePodsCIDR,
		ServiceCIDR: cs.Network.KubeServiceCIDR,
	}
	if ver.AtLeast(version.MustParseSemantic(images.V1Beta4Since)) {
		c.KubeadmAPI = "kubeadm.k8s.io/v1beta4"
	}
	svc, err := netip.ParsePrefix(strings.Split(cs.Network.KubeServiceCIDR, ",")[0])
	if err != nil {
		return nil, fmt.Errorf("service network: %w", err)
	}
	c.APIServerIP = svc.Addr().Next().String()
	c.ClusterDNS = svc.Addr().Next().Next().Next().String()
	if cs.Kubernetes.NodeLocalDNSEnabled() {
		c.ClusterDNS = "169.254.25.10"
	}

	roles := map[string][]string{}
	for role, hosts := range s.Roles {
		for _, h := range hosts {
			roles[h] = append(roles[h], role)
		}
	}
	for i, h := range cs.Hosts {
		if len(roles[h.Name]) == 0 {
			continue // KubeKey ignores hosts in no role group; so does ksgen
		}
		n := &Node{Name: h.Name, Index: i, Roles: roles[h.Name], Address: h.Address, Labels: h.Labels}
		slices.Sort(n.Roles)
		n.ControlPlane = n.Has(spec.RoleControlPlane)
		n.Worker = n.Has(spec.RoleWorker)
		n.Etcd = n.Has(spec.RoleEtcd)
		addrs := strings.Split(h.InternalAddress, ",")
		n.IPv4 = strings.TrimSpace(addrs[0])
		if len(addrs) > 1 {
			n.IPv6 = strings.TrimSpace(addrs[1])
		}
		n.Settings = settings(s, n)
		n.OS = n.Settings.OS
		c.Nodes = append(c.Nodes, n)
	}
	for _, name := range s.Roles[spec.RoleControlPlane] {
		c.ControlPlanes = append(c.ControlPlanes, c.NodeByName(name))
	}
	for _, name := range s.Roles[spec.RoleEtcd] {
		c.EtcdMembers = append(c.EtcdMembers, c.NodeByName(name))
	}
	c.Init = c.ControlPlanes[0]
	for _, n := range c.Nodes {
		if n.ControlPlane || n.Etcd || n.Has(spec.RoleRegistry) {
			c.Infrastructure = append(c.Infrastructure, n)
		}
	}
	for _, n := range c.Nodes {
		switch {
		case n == c.Init:
			n.Action = Init
		case n.ControlPlane:
			n.Action = JoinControlPlane
		case n.Worker:
			n.Action = Join
		default:
			n.Action = None
		}
		n.Kubelet = n.Action != None
	}
	c.Endpoint = endpoint(cs.ControlPlaneEndpoint)
	c.APIServerPort = c.Endpoint.Port
	if c.Endpoint.Mode == LBExternal {
		c.APIServerPort = 6443
	}
	for _, n := range c.Nodes {
		n.EndpointIP = c.endpointIP(n)
		switch {
		case c.Endpoint.Mode == LBHAProxy && n.Action == Join:
			n.LocalLB = LBHAProxy
		case c.Endpoint.Mode == LBKubeVip && n.ControlPlane:
			n.LocalLB = LBKubeVip
		}
	}
	c.CertSANs = c.certSANs()
	return c, nil
}

func endpoint(ep spec.ControlPlaneEndpoint) Endpoint {
	e := Endpoint{Domain: ep.Domain, Port: ep.Port, Address: ep.Address, Mode: LBNone}
	switch {
	case ep.InternalLoadbalancer == LBHAProxy:
		e.Mode = LBHAProxy
	case ep.InternalLoadbalancer == LBKubeVip:
		e.Mode = LBKubeVip
	case ep.Address != "":
		e.Mode = LBExternal
	}
	return e
}

// endpointIP is KubeKey's end state for the LB domain in /etc/hosts: with the
// internal HAProxy, control planes use their own apiserver and every other
// node its local HAProxy; otherwise the VIP, the LB address, or (no LB) the
// first control plane.
func (c *Cluster) endpointIP(n *Node) string {
	ep := c.Spec.Cluster.Spec.ControlPlaneEndpoint
	if ep.ExternalDNS != nil && *ep.ExternalDNS {
		return ""
	}
	switch c.Endpoint.Mode {
	case LBHAProxy:
		if n.ControlPlane {
			return n.IPv4
		}
		return "127.0.0.1"
	case LBKubeVip, LBExternal:
		return c.Endpoint.Address
	}
	return c.Init.IPv4
}

// certSANs is KubeKey's apiserver SAN list, limited to the control-plane
// hosts so that no node's files grow with the number of workers.
func (c *Cluster) certSANs() []string {
	k := c.Spec.Cluster.Spec.Kubernetes
	sans := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc." + k.DNSDomain, "localhost", "127.0.0.1", c.Endpoint.Domain}
	if c.Endpoint.Address != "" {
		sans = append(sans, c.Endpoint.Address)
	}
	for _, n := range c.ControlPlanes {
		sans = append(sans, n.Name, n.Name+"."+k.DNSDomain, n.Address, n.IPv4)
		if n.IPv6 != "" {
			sans = append(sans, n.IPv6)
		}
	}
	sans = append(sans, c.APIServerIP)
	sans = append(sans, k.ApiserverCertExtraSans...)
	out := sans[:0]
	seen := map[string]bool{}
	for _, s := range sans {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// settings merges the ksgen document's cluster, role and host settings for a
// node: host beats role beats cluster; SSH keys add up.
func settings(s *spec.Spec, n *Node) spec.NodeSettings {
	cfg := s.Config.Spec
	out := spec.NodeSettings{OS: cfg.OS}
	layers := make([]spec.NodeSettings, 0, len(n.Roles)+1)
	for _, r := range n.Roles {
		if rs, ok := cfg.Roles[r]; ok {
			layers = append(layers, rs)
		}
	}
	if hs, ok := cfg.Hosts[n.Name]; ok {
		layers = append(layers, hs)
	}
	for _, l := range layers {
		if l.OS != "" {
			out.OS = l.OS
		}
		if l.MAC != "" {
			out.MAC = l.MAC
		}
		if l.Interface != "" {
			out.Interface = l.Interface
		}
		if l.Network != nil {
			out.Network = l.Network
		}
		if l.Snippets.Butane != "" {
			out.Snippets.Butane = l.Snippets.Butane
		}
		if l.Snippets.CloudConfig != "" {
			out.Snippets.CloudConfig = l.Snippets.CloudConfig
		}
		out.SSHAuthorizedKeys = append(out.SSHAuthorizedKeys, l.SSHAuthorizedKeys...)
	}
	return out
}
