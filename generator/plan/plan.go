package plan

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/version"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"

	"github.com/ksgen/ksgen/generator/input/spec"
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

// LBMode is how the control-plane endpoint is served. Its values are the
// words index.json shows (KubeKey's own for the internal load balancer).
type LBMode string

// LB modes of the control-plane endpoint.
const (
	// LBInternal is KubeKey's internal load balancer (internalLoadbalancer:
	// haproxy): a proxy static pod on every worker; Endpoint.Proxy says
	// which proxy runs.
	LBInternal LBMode = "haproxy"
	LBKubeVip  LBMode = "kube-vip" // VIP announced by kube-vip on the control planes
	LBExternal LBMode = "external" // an address the user runs (cloud LB, F5, keepalived hosts)
	LBNone     LBMode = "none"     // the first control plane's address
)

// LocalLB is the load balancer a node runs as static pods before kubeadm
// does, if any.
type LocalLB string

// Local load balancers.
const (
	NoLocalLB LocalLB = ""
	// LocalProxy is the internal load balancer's proxy on a worker.
	LocalProxy LocalLB = "proxy"
	// LocalKubeVip is kube-vip on a control plane.
	LocalKubeVip LocalLB = "kube-vip"
	// LocalKeepalived is keepalived and the proxy for the VIP: on
	// loadbalancer hosts, or control planes when the ksgen document asks.
	// The endpoint mode is then LBExternal: the cluster sees an address.
	LocalKeepalived LocalLB = "keepalived"
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
	// Arch is the host's architecture (spec.hosts[].arch), amd64 by default.
	Arch string
	// Address is the host's external address; IPv4 and IPv6 its internal ones.
	Address string
	IPv4    string
	IPv6    string
	Labels  map[string]string
	OS      string
	// EndpointIP is what the endpoint domain resolves to on this node ("" when
	// the domain is resolved by external DNS).
	EndpointIP string
	// LocalLB is the load balancer this node runs as static pods before
	// kubeadm does.
	LocalLB LocalLB
	// LoadBalancer is true for hosts of the loadbalancer role: they run no
	// kubeadm, only keepalived and HAProxy under a standalone kubelet.
	LoadBalancer bool
	// Kubelet is true for nodes that run containerd and kubelet (standalone,
	// without an API server, when Action is None).
	Kubelet  bool
	Settings spec.NodeSettings
	// KubeadmPatches are the ksgen document's kubeadm patches of this node,
	// in the order they apply: the cluster's, its roles', its host's.
	KubeadmPatches []KubeadmPatch
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
	Mode   LBMode
	// Proxy is the proxy software of the internal load balancer and of the
	// keepalived pair: ProxyHAProxy or ProxyNginx.
	Proxy string
	// Address is the VIP (kube-vip) or the external LB address.
	Address string
	// KubeVipBGP announces the VIP over BGP instead of ARP (kube-vip).
	KubeVipBGP bool
	// Ports are forwarded from a keepalived pair's VIP to the workers
	// besides the API.
	Ports []spec.LoadBalancerPort
}

// Proxies of Endpoint.Proxy.
const (
	ProxyHAProxy = spec.ProxyHAProxy
	ProxyNginx   = spec.ProxyNginx
)

// HostPort is "domain:port", what kubeconfigs and join configs point at.
func (e Endpoint) HostPort() string { return fmt.Sprintf("%s:%d", e.Domain, e.Port) }

// Cluster is the plan for the whole cluster. It holds every fact the
// renderers read; the spec it was planned from stays inside (Line and
// NearestLine only), so a renderer cannot reach past the plan.
type Cluster struct {
	// Name is the cluster's metadata.name ("" when unset), as index.json
	// and kubeconfigs name it.
	Name string
	// Dir is the spec file's directory: relative file names in the spec
	// (snippets) resolve against it.
	Dir string
	// Budget is the ksgen document's user-data size budget.
	Budget     spec.Budget
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
	// LoadBalancers run keepalived + HAProxy for Endpoint.Address: the
	// loadbalancer hosts, or the control planes when the ksgen document asks,
	// in role-group order. The first is the VRRP MASTER; the others back it
	// up with descending priority.
	LoadBalancers []*Node
	// VirtualRouterID is the VRRP router ID of LoadBalancers.
	VirtualRouterID int
	// APIServerPort is where every kube-apiserver listens: the endpoint's
	// port, since control planes and kube-vip serve the endpoint themselves;
	// kubeadm's 6443 behind an external load balancer, which maps the port.
	APIServerPort int
	PodCIDR       string
	ServiceCIDR   string
	// CNI is the network plugin (spec.network.plugin); Calico and
	// FlannelBackend are their tuning.
	CNI            string
	Calico         Calico
	FlannelBackend string
	// Kubernetes is spec.kubernetes's settings for the kubeadm config.
	Kubernetes Kubernetes
	// APIServerIP is the first address of the service network (the kubernetes service).
	APIServerIP string
	// CgroupDriver is the kubelet's cgroup driver after the spec's
	// overrides and kubeadm patches (kubeadm.CgroupDriver, set by
	// generator.Validate); containerd's SystemdCgroup follows it. ""
	// means systemd, ksgen's default.
	CgroupDriver string
	// ClusterDNS is the kubelet's resolver: NodeLocalDNS's 169.254.25.10
	// when it runs (KubeKey's default), else CoreDNS's service.
	ClusterDNS string
	// CoreDNSIP is the address of CoreDNS's service, kube-dns: the one
	// kubeadm gives it, the 10th of the service network. KubeKey deploys its
	// own CoreDNS service on the 3rd; ksgen keeps kubeadm's CoreDNS, which
	// kubeadm upgrades, and pods resolve through NodeLocalDNS either way.
	CoreDNSIP string
	// NodeLocalDNS is true when every node runs KubeKey's DNS cache;
	// DNSZones are its extra zones.
	NodeLocalDNS bool
	DNSZones     []DNSZone
	CertSANs     []string
	// Binaries says where nodes get kubeadm, kubelet and friends: baked into
	// the image or downloaded (the ksgen document's binaries).
	Binaries spec.Binaries
	// Registry is where nodes pull images from: the private registry,
	// mirrors, insecure registries and their credentials (spec.registry).
	Registry spec.Registry
	// DNSDomain is the cluster's DNS domain; EtcHosts the user's extra
	// /etc/hosts lines (spec.dns).
	DNSDomain string
	EtcHosts  spec.DNS
	// NTPServers and Timezone are spec.system's.
	NTPServers []string
	Timezone   string
	// Users get SSH access to every node (the ksgen document's users).
	Users []spec.User
	// KubeProxy is false when the spec disables kube-proxy (a CNI replaces it).
	KubeProxy bool
	// CRISocket is the container runtime's endpoint, as kubelet and kubeadm
	// name it (spec.kubernetes.containerRuntimeEndpoint).
	CRISocket string
	// AutoRenewCerts renews the control planes' certificates on a timer.
	AutoRenewCerts bool
	// BootstrapTokenTTL is the bootstrap token's lifetime at init; JoinWindow
	// how long the control planes keep it valid after that, unless JoinAlways
	// keeps it valid for as long as one runs.
	BootstrapTokenTTL time.Duration
	JoinWindow        time.Duration
	JoinAlways        bool
	// Addons are applied after the CNI, in order (spec.addons).
	Addons []Addon
	// OpenEBS is the local PV storage the init node installs, if enabled.
	OpenEBS OpenEBS
	// KubeSphere is nil when the spec has no ClusterConfiguration document.
	KubeSphere *KubeSphere
	// KubeadmPatches are all of the ksgen document's kubeadm patches, in
	// the order of its sections; each node's are on the node.
	KubeadmPatches []KubeadmPatch

	memo sync.Map // key -> *shared
	// lines is the spec the plan was made from, for Line and NearestLine.
	lines *spec.Spec

	// Etcd is where etcd runs and how kube-apiserver reaches it.
	Etcd Etcd
}

// Etcd types (spec.etcd.type).
const (
	EtcdKubeKey  = "kubekey"  // a systemd service on the etcd hosts, certificates issued by ksgen
	EtcdKubeadm  = "kubeadm"  // stacked: kubeadm runs etcd as a static pod on each control plane
	EtcdExternal = "external" // a cluster the user runs
)

// EtcdCertDir is where KubeKey keeps etcd's certificates, and so does ksgen;
// EtcdCAFile is the etcd CA certificate there, on members and control planes;
// DefaultEtcdDataDir is KubeKey's and kubeadm's etcd data directory.
const (
	EtcdCertDir        = "/etc/ssl/etcd/ssl"
	EtcdCAFile         = EtcdCertDir + "/ca.pem"
	DefaultEtcdDataDir = "/var/lib/etcd"
)

// EtcdMemberCert is a kubekey member's certificate, under EtcdCertDir in
// KubeKey's name: the etcd renderer places it, the renewal script watches it.
func EtcdMemberCert(host string) string { return EtcdCertDir + "/member-" + host + ".pem" }

// Etcd is the cluster's etcd topology and kube-apiserver's client settings
// for it: the kubeadm config names the files and the etcd renderer places
// them, both from here.
type Etcd struct {
	Type      string
	Port      int // client port of the kubekey members
	PeerPort  int
	DataDir   string   // of a kubekey member or a stacked etcd
	Endpoints []string // kube-apiserver's etcd endpoints (kubekey, external)
	CAFile    string   // on every control plane (kubekey, external)
	CertFile  string
	KeyFile   string
	// Settings is spec.etcd as written: the backup schedule and the
	// members' tuning and extraArgs, which the etcd renderer writes out.
	Settings spec.Etcd
	// BackupCalendar is the backup timer's OnCalendar for
	// Settings.BackupPeriod ("" for a period validation refuses).
	BackupCalendar string
	// External is the user's external etcd client material, read once by
	// ReadExternalEtcd (nil until then, and for the other types).
	External *EtcdFiles
}

// ClientURL is a kubekey member's client URL: https://internalAddress:port.
func (e Etcd) ClientURL(n *Node) string { return etcdURL(n.IPv4, e.Port) }

// PeerURL is a kubekey member's peer URL: https://internalAddress:peerPort.
func (e Etcd) PeerURL(n *Node) string { return etcdURL(n.IPv4, e.PeerPort) }

func etcdURL(ip string, port int) string {
	return "https://" + net.JoinHostPort(ip, strconv.Itoa(port))
}

// etcd plans the etcd topology from spec.etcd and the etcd members.
func (c *Cluster) etcd(se spec.Etcd) Etcd {
	e := Etcd{Type: se.Type, Port: *se.Port, PeerPort: *se.PeerPort, DataDir: DefaultEtcdDataDir, Settings: se}
	e.BackupCalendar, _ = spec.BackupCalendar(se.BackupPeriod)
	if se.DataDir != nil && *se.DataDir != "" {
		e.DataDir = *se.DataDir
	}
	switch e.Type {
	case EtcdExternal:
		// Only the files the spec gives: an http:// etcd needs none.
		e.Endpoints = slices.Clone(se.External.Endpoints)
		if se.External.CAFile != "" {
			e.CAFile = EtcdCertDir + "/external-ca.pem"
		}
		if se.External.CertFile != "" {
			e.CertFile = EtcdCertDir + "/external-client.pem"
		}
		if se.External.KeyFile != "" {
			e.KeyFile = EtcdCertDir + "/external-client-key.pem"
		}
	case EtcdKubeKey:
		for _, m := range c.EtcdMembers {
			e.Endpoints = append(e.Endpoints, e.ClientURL(m))
		}
		e.CAFile = EtcdCAFile
		e.CertFile = EtcdCertDir + "/apiserver-etcd-client.pem"
		e.KeyFile = EtcdCertDir + "/apiserver-etcd-client-key.pem"
	}
	return e
}

// Line is the line of the spec field at path, 0 when the file does not
// write it: where a renderer's finding points. Lines are positions in the
// file, not facts of the cluster.
func (c *Cluster) Line(path string) int { return c.lines.Line(path) }

// NearestLine is the line of the spec field at path or of its nearest
// parent the file writes.
func (c *Cluster) NearestLine(path string) int { return c.lines.NearestLine(path) }

// KubernetesVersion is Version as the spec writes it (v1.36.3; the spec
// accepts no other form): what kubeadm, images and asset pins take.
func (c *Cluster) KubernetesVersion() string { return "v" + c.Version.String() }

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
		Name:           s.Cluster.Metadata.Name,
		Dir:            s.Dir,
		Budget:         s.Config.Spec.Budget,
		lines:          s,
		Version:        ver,
		KubeadmAPI:     "kubeadm.k8s.io/v1beta3",
		PodCIDR:        cs.Network.KubePodsCIDR,
		ServiceCIDR:    cs.Network.KubeServiceCIDR,
		CNI:            cs.Network.Plugin,
		Calico:         calico(cs.Network.Calico),
		FlannelBackend: cs.Network.Flannel.BackendMode,
		Kubernetes:     kubernetes(cs.Kubernetes),
	}
	if ver.AtLeast(version.MustParseSemantic(images.V1Beta4Since)) {
		c.KubeadmAPI = "kubeadm.k8s.io/v1beta4"
	}
	svc, err := netip.ParsePrefix(strings.Split(cs.Network.KubeServiceCIDR, ",")[0])
	if err != nil {
		return nil, fmt.Errorf("service network: %w", err)
	}
	c.APIServerIP = svc.Addr().Next().String()
	dns, err := kubeadmconstants.GetDNSIP(cs.Network.KubeServiceCIDR)
	if err != nil {
		return nil, fmt.Errorf("CoreDNS service IP: %w", err)
	}
	c.CoreDNSIP, c.ClusterDNS = dns.String(), dns.String()
	if c.NodeLocalDNS = cs.Kubernetes.NodeLocalDNSEnabled(); c.NodeLocalDNS {
		c.ClusterDNS = images.NodeLocalDNSAddress
	}
	for _, z := range cs.DNS.NodeLocalDNS.ExternalZones {
		c.DNSZones = append(c.DNSZones, DNSZone{Zones: z.Zones, Nameservers: z.Nameservers, Cache: z.Cache, Rewrite: z.Rewrite})
	}

	patches := newPatchSections(s.Config.Spec)
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
		n := &Node{Name: h.Name, Index: i, Roles: roles[h.Name], Address: h.Address, Labels: h.Labels, Arch: h.Arch}
		if n.Arch == "" {
			n.Arch = "amd64"
		}
		slices.Sort(n.Roles)
		n.ControlPlane = n.Has(spec.RoleControlPlane)
		n.Worker = n.Has(spec.RoleWorker)
		n.Etcd = n.Has(spec.RoleEtcd)
		n.LoadBalancer = n.Has(spec.RoleLoadBalancer)
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
		n.Kubelet = n.Action != None || n.LoadBalancer
		n.KubeadmPatches = patches.of(n)
	}
	c.KubeadmPatches = patches.all()
	for _, name := range s.Roles[spec.RoleLoadBalancer] {
		c.LoadBalancers = append(c.LoadBalancers, c.NodeByName(name))
	}
	if len(c.LoadBalancers) == 0 && s.Config.Spec.LoadBalancer.ControlPlanes {
		c.LoadBalancers = c.ControlPlanes
	}
	c.VirtualRouterID = virtualRouterID(s)
	c.Endpoint = endpoint(cs.ControlPlaneEndpoint, s.Config.Spec.LoadBalancer)
	c.APIServerPort = c.Endpoint.Port
	if c.Endpoint.Mode == LBExternal {
		c.APIServerPort = 6443
	}
	for _, n := range c.Nodes {
		n.EndpointIP = c.endpointIP(n, cs.ControlPlaneEndpoint)
		switch {
		case slices.Contains(c.LoadBalancers, n):
			n.LocalLB = LocalKeepalived
		case c.Endpoint.Mode == LBInternal && n.Action == Join:
			n.LocalLB = LocalProxy
		case c.Endpoint.Mode == LBKubeVip && n.ControlPlane:
			n.LocalLB = LocalKubeVip
		}
	}
	c.CertSANs = c.certSANs(cs.Kubernetes)
	c.KubeProxy = !cs.Kubernetes.DisableKubeProxy
	c.Registry = cs.Registry
	c.DNSDomain = cs.Kubernetes.DNSDomain
	c.EtcHosts = cs.DNS
	c.NTPServers = cs.System.NtpServers
	c.Timezone = cs.System.Timezone
	c.Users = s.Config.Spec.Users
	c.Binaries = s.Config.Spec.Binaries
	c.CRISocket = cs.Kubernetes.ContainerRuntimeEndpoint
	c.AutoRenewCerts = cs.Kubernetes.AutoRenewCertsEnabled()
	if c.JoinWindow, c.JoinAlways, err = s.Config.Spec.JoinWindowDuration(); err != nil {
		return nil, err
	}
	// JoinWindowDuration has checked it.
	c.BootstrapTokenTTL, _ = time.ParseDuration(s.Config.Spec.BootstrapTokenTTL)
	c.Etcd = c.etcd(cs.Etcd)
	c.Addons = addons(cs.Addons)
	c.OpenEBS = OpenEBS{Enabled: s.OpenEBSEnabled(), Default: s.OpenEBSDefault(), BasePath: cs.Storage.OpenEBS.BasePath}
	c.KubeSphere = kubeSphere(s.KubeSphere)
	return c, nil
}

// Image is the reference a node pulls name (images' "repo/name:tag") by:
// from the spec's private registry, in its namespace, when it names one.
func (c *Cluster) Image(name string) string {
	return images.Image(name, c.Registry.PrivateRegistry, c.Registry.NamespaceOverride)
}

// virtualRouterID is the ksgen document's VRRP router ID, or one derived
// from the cluster's name (1 to 255), so that clusters on one network differ.
func virtualRouterID(s *spec.Spec) int {
	if id := s.Config.Spec.LoadBalancer.VirtualRouterID; id != 0 {
		return id
	}
	name := s.Cluster.Metadata.Name
	if name == "" {
		name = s.Cluster.Spec.Kubernetes.ClusterName
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32()%255) + 1
}

func endpoint(ep spec.ControlPlaneEndpoint, lb spec.LoadBalancer) Endpoint {
	e := Endpoint{Domain: ep.Domain, Port: ep.Port, Address: ep.Address, Mode: LBNone, Proxy: lb.ProxyName(),
		KubeVipBGP: ep.KubeVip.Mode == "BGP", Ports: lb.PortList()}
	switch {
	case ep.InternalLoadbalancer == string(LBInternal):
		e.Mode = LBInternal
	case ep.InternalLoadbalancer == string(LBKubeVip):
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
func (c *Cluster) endpointIP(n *Node, ep spec.ControlPlaneEndpoint) string {
	if ep.ExternalDNS != nil && *ep.ExternalDNS {
		return ""
	}
	switch c.Endpoint.Mode {
	case LBInternal:
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
func (c *Cluster) certSANs(k spec.Kubernetes) []string {
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

// shared memoises what renderers compute identically for many nodes.
type shared struct {
	once sync.Once
	val  any
	err  error
}

// Shared returns make(key), computed once per cluster for each distinct
// key: renderers use it for files that are the same on every node of a
// kind (the workers' HAProxy, containerd's config), so a render costs per
// node only what differs per node. The key is everything make reads beyond
// the cluster — the template data itself, or an empty struct type of the
// renderer's own for a file that depends on the cluster alone — so two
// nodes share a result only when all of its inputs are equal, and two
// renderers never share one (keys of different types are never equal).
func Shared[K comparable, V any](c *Cluster, key K, make func(K) (V, error)) (V, error) {
	v, _ := c.memo.LoadOrStore(any(key), &shared{})
	s := v.(*shared)
	s.once.Do(func() { s.val, s.err = make(key) })
	if s.err != nil {
		var zero V
		return zero, s.err
	}
	return s.val.(V), nil
}
