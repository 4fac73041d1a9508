package spec

import (
	"fmt"
	"time"
)

// Config is the optional ksgen.io/v1alpha1 document: what a KubeKey file
// cannot say about machines that configure themselves at first boot.
type Config struct {
	APIVersion string `json:"apiVersion"` // ksgen.io/v1alpha1
	Kind       string `json:"kind"`       // Config
	// Metadata is accepted and unused.
	Metadata ObjectMeta `json:"metadata,omitempty"`
	Spec     ConfigSpec `json:"spec,omitempty"`
}

// ConfigSpec holds cluster-wide settings, then per-role and per-host ones;
// a host setting wins over its role's, which wins over the cluster's.
type ConfigSpec struct {
	// OS is the default target OS: fcos, flatcar, ubuntu, debian or rhel.
	OS string `json:"os,omitempty"`
	// Users get SSH access to every machine (keys only; never passwords).
	Users []User `json:"users,omitempty"`
	// Roles are keyed by role: control-plane, worker, etcd, loadbalancer.
	Roles map[string]NodeSettings `json:"roles,omitempty"`
	// Hosts are keyed by host name from spec.hosts.
	Hosts map[string]NodeSettings `json:"hosts,omitempty"`
	// Binaries says where kubeadm, kubelet and friends come from.
	Binaries Binaries `json:"binaries,omitempty"`
	// BootstrapTokenTTL is the bootstrap token's lifetime: what kubeadm init
	// gives it, and what the control planes' join-window keeper renews it to
	// while the join window is open ("24h"; "0s": never expires).
	BootstrapTokenTTL string `json:"bootstrapTokenTTL,omitempty"`
	// JoinWindow is how long nodes rendered from the bundle can join:
	// "always" (JoinWindowAlways, the default), "never" (JoinWindowNever:
	// the token's TTL after it is first installed), or a duration ("720h")
	// from that moment.
	JoinWindow string `json:"joinWindow,omitempty"`
	// Budget is the user-data size limit every payload must fit.
	Budget Budget `json:"budget,omitempty"`
	// LoadBalancer configures keepalived + HAProxy (or nginx) for the
	// endpoint's VIP, and which proxy the workers' internal LB runs.
	LoadBalancer LoadBalancer `json:"loadBalancer,omitempty"`
	// Storage decides the default StorageClass.
	Storage StorageSettings `json:"storage,omitempty"`
	// KubeadmPatches change the kubeadm configuration of every node that
	// renders a document of their target kind; role and host patches follow.
	KubeadmPatches []KubeadmPatch `json:"kubeadmPatches,omitempty"`
}

// User is an SSH login user.
type User struct {
	// Name is the login name, created on every machine.
	Name string `json:"name"`
	// Groups the user joins besides the OS's admin group.
	Groups []string `json:"groups,omitempty"`
	// SSHAuthorizedKeys are the user's public keys ("ssh-ed25519 AAAA…").
	SSHAuthorizedKeys []string `json:"sshAuthorizedKeys,omitempty"`
}

// NodeSettings apply to a role or one host.
type NodeSettings struct {
	// OS is the target OS of these machines (see ConfigSpec.OS).
	OS string `json:"os,omitempty"`
	// MAC is the host's boot interface address, for PXE (matchbox groups).
	MAC string `json:"mac,omitempty"`
	// Interface names the network interface Network configures.
	Interface string `json:"interface,omitempty"`
	// Network is a static address instead of DHCP, written into Ignition
	// payloads for the OS's network daemon (Interface or MAC required);
	// cloud-init OSes take it from their datasource instead.
	Network *StaticNetwork `json:"network,omitempty"`
	// SSHAuthorizedKeys are public keys for the OS's login user.
	SSHAuthorizedKeys []string `json:"sshAuthorizedKeys,omitempty"`
	// Snippets are the user's Butane and cloud-config files, merged into
	// the generated payload.
	Snippets Snippets `json:"snippets,omitempty"`
	// Resources declares the machine's size, for validation only.
	Resources *HostResources `json:"resources,omitempty"`
	// KubeadmPatches apply after the cluster's (role) or the roles' (host)
	// patches, to node-local kinds only: InitConfiguration, JoinConfiguration.
	KubeadmPatches []KubeadmPatch `json:"kubeadmPatches,omitempty"`
}

// KubeadmPatch changes one document of a node's rendered kubeadm
// configuration, like kind's kubeadmConfigPatches: a strategic merge patch
// (Patch) or RFC 6902 operations (JSONPatch), exactly one of them.
type KubeadmPatch struct {
	// Target is the document the patch changes.
	Target KubeadmPatchTarget `json:"target"`
	// Patch is a strategic merge patch of the document.
	Patch map[string]any `json:"patch,omitempty"`
	// JSONPatch are RFC 6902 operations on the document.
	JSONPatch []JSONPatchOp `json:"jsonPatch,omitempty"`
}

// KubeadmPatchTarget selects the document by kind; the API version is the
// one ksgen renders for the cluster's Kubernetes version.
type KubeadmPatchTarget struct {
	Kind string `json:"kind"` // a kind of kubeadm's configuration documents
}

// JSONPatchOp is one RFC 6902 operation.
type JSONPatchOp struct {
	Op    string `json:"op"`             // add, remove, replace, move, copy or test
	Path  string `json:"path"`           // a JSON pointer: /nodeRegistration/kubeletExtraArgs
	From  string `json:"from,omitempty"` // the source pointer of move and copy
	Value any    `json:"value"`          // the value of add, replace and test
}

// Kubeadm document kinds a patch may target.
const (
	KindInitConfiguration      = "InitConfiguration"
	KindClusterConfiguration   = "ClusterConfiguration"
	KindJoinConfiguration      = "JoinConfiguration"
	KindKubeletConfiguration   = "KubeletConfiguration"
	KindKubeProxyConfiguration = "KubeProxyConfiguration"
)

// PatchKinds are the kinds a kubeadm patch may target.
var PatchKinds = []string{KindInitConfiguration, KindClusterConfiguration, KindJoinConfiguration, KindKubeletConfiguration, KindKubeProxyConfiguration}

// ClusterWideKind reports whether kubeadm uploads documents of kind at init
// for every node, so that only a cluster-level patch can change them.
func ClusterWideKind(kind string) bool {
	return kind == KindClusterConfiguration || kind == KindKubeletConfiguration || kind == KindKubeProxyConfiguration
}

// PatchRoles are the roles whose kubeadmPatches apply, in the order they do.
var PatchRoles = []string{RoleControlPlane, RoleWorker}

// StaticNetwork is a static address for one interface.
type StaticNetwork struct {
	Addresses   []string `json:"addresses,omitempty"`   // CIDR form, e.g. 192.168.1.10/24
	Gateway     string   `json:"gateway,omitempty"`     // the default route's next hop
	Nameservers []string `json:"nameservers,omitempty"` // DNS servers' addresses
}

// Snippets are user files merged as children of the generated configs.
type Snippets struct {
	Butane      string `json:"butane,omitempty"`      // path to a Butane file
	CloudConfig string `json:"cloudConfig,omitempty"` // path to a #cloud-config fragment
}

// Binaries selects baked binaries (the image built by images/) or downloads
// pinned by sha256.
type Binaries struct {
	Source string `json:"source,omitempty"` // image (default) or download
	// Mirror, with source download, replaces every upstream URL
	// https://HOST/PATH by MIRROR/HOST/PATH (the layout `wget -x` makes),
	// for sites without internet access. The pinned sums stay.
	Mirror string `json:"mirror,omitempty"`
	// Downloads are extra files, or, with a name, a binary's URL and sum
	// for a version the pin table lacks.
	Downloads []Download `json:"downloads,omitempty"`
}

// Download is one file fetched at first boot and checked against its sha256.
type Download struct {
	// Name, when set, replaces the pinned download of that binary (kubeadm,
	// kubelet, kubectl, containerd, runc, cni-plugins, crictl, etcd, helm);
	// Path is then optional.
	Name   string `json:"name,omitempty"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Path   string `json:"path,omitempty"`
}

// Budget is a user-data size limit, by cloud name or in bytes.
type Budget struct {
	Cloud string `json:"cloud,omitempty"` // the cloud whose documented limit applies
	Bytes int    `json:"bytes,omitempty"` // a limit of your own, instead of a cloud's
}

// LoadBalancer configures the keepalived + HAProxy pair that serves
// controlPlaneEndpoint.address (the VIP): on the hosts of the loadbalancer
// role group, or, with ControlPlanes, on the control planes themselves.
type LoadBalancer struct {
	// Proxy is the TCP proxy ksgen runs wherever it runs a load balancer
	// (the workers' internal LB and the keepalived pair): ProxyHAProxy
	// ("haproxy", the default) or ProxyNginx ("nginx").
	Proxy string `json:"proxy,omitempty"`
	// ControlPlanes runs the pair as static pods on the control planes when
	// there are no loadbalancer hosts. The endpoint's port must then differ
	// from 6443, where the apiservers listen on the same hosts.
	ControlPlanes bool `json:"controlPlanes,omitempty"`
	// VirtualRouterID is the VRRP router ID (1 to 255); 0 derives one from
	// the Cluster's metadata.name, so two clusters on one network differ.
	VirtualRouterID int `json:"virtualRouterID,omitempty"`
	// Ports are forwarded from the VIP to the workers besides the API.
	// Absent: KubeKey's ks-console 30880, http 80 and https 443
	// (DefaultLoadBalancerPorts); an empty list forwards none.
	Ports []LoadBalancerPort `json:"ports,omitempty"`
}

// Proxies ksgen can run as the load balancer.
const (
	ProxyHAProxy = "haproxy"
	ProxyNginx   = "nginx"
)

// ProxyName returns the proxy, ProxyHAProxy when the document sets none.
func (l LoadBalancer) ProxyName() string {
	if l.Proxy == "" {
		return ProxyHAProxy
	}
	return l.Proxy
}

// LoadBalancerPort is one TCP port forwarded from the VIP to every worker.
type LoadBalancerPort struct {
	// Name names the HAProxy frontend and backend, or nginx's upstream (a DNS label).
	Name string `json:"name"`
	// Port is the VIP's port.
	Port int `json:"port"`
	// TargetPort is the workers' port; 0 means Port.
	TargetPort int `json:"targetPort,omitempty"`
}

// DefaultLoadBalancerPorts are the ports the seed's load-balancer table
// lists besides the API: ks-console's NodePort and the ingress ports.
var DefaultLoadBalancerPorts = []LoadBalancerPort{
	{Name: "ks-console", Port: 30880},
	{Name: "http", Port: 80},
	{Name: "https", Port: 443},
}

// PortList returns the forwarded ports, DefaultLoadBalancerPorts when the
// document sets none.
func (l LoadBalancer) PortList() []LoadBalancerPort {
	if l.Ports == nil {
		return DefaultLoadBalancerPorts
	}
	return l.Ports
}

// Join windows besides a duration.
const (
	// JoinWindowAlways keeps the bundle's token valid for as long as a
	// control plane runs: a node joins whenever it boots.
	JoinWindowAlways = "always"
	// JoinWindowNever lets the token expire BootstrapTokenTTL after it is
	// first installed: the machines of the initial boot join, later ones need
	// a rotated token.
	JoinWindowNever = "never"
)

// JoinWindowDuration is how long after a token is first installed nodes can
// join with it; always is true when the window never closes. It reports an
// error for a value validation refuses.
func (c ConfigSpec) JoinWindowDuration() (d time.Duration, always bool, err error) {
	ttl, err := time.ParseDuration(c.BootstrapTokenTTL)
	if err != nil || ttl < 0 {
		return 0, false, fmt.Errorf("bootstrapTokenTTL %q is not a duration like 24h", c.BootstrapTokenTTL)
	}
	switch c.JoinWindow {
	case JoinWindowAlways, "":
		return 0, true, nil
	case JoinWindowNever:
		if ttl == 0 {
			return 0, false, fmt.Errorf("joinWindow %q needs a bootstrapTokenTTL above 0s, which never expires", JoinWindowNever)
		}
		return ttl, false, nil
	}
	d, err = time.ParseDuration(c.JoinWindow)
	if err != nil || d <= 0 {
		return 0, false, fmt.Errorf("joinWindow %q is not %q, %q or a positive duration like 720h", c.JoinWindow, JoinWindowAlways, JoinWindowNever)
	}
	return d, false, nil
}
