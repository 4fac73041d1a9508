package plan

import (
	"fmt"
	"maps"
	"slices"

	"github.com/ksgen/ksgen/generator/input/spec"
)

// Kubernetes is what spec.kubernetes says beyond the plan's addresses and
// networks: the settings the kubeadm config and the KubeletConfiguration and
// KubeProxyConfiguration it uploads carry, as the spec writes them.
type Kubernetes struct {
	// ClusterName is kubeadm's clusterName (spec.kubernetes.clusterName).
	ClusterName string
	// MaxPods, PodPidsLimit, ProxyMode and MasqueradeAll are KubeKey's
	// component settings; NodeCIDRMaskSize the controller manager's.
	MaxPods          int
	PodPidsLimit     int
	NodeCIDRMaskSize int
	ProxyMode        string
	MasqueradeAll    bool
	// FeatureGates go to every control-plane component, the kubelet and
	// kube-proxy.
	FeatureGates map[string]bool
	// APIServerArgs, ControllerManagerArgs, SchedulerArgs and KubeletArgs
	// are KubeKey's "name=value" overrides of each component's flags.
	APIServerArgs         []string
	ControllerManagerArgs []string
	SchedulerArgs         []string
	KubeletArgs           []string
	// KubeletConfiguration and KubeProxyConfiguration are the user's raw
	// overrides of those documents, merged over ksgen's.
	KubeletConfiguration   map[string]any
	KubeProxyConfiguration map[string]any
}

func kubernetes(k spec.Kubernetes) Kubernetes {
	return Kubernetes{
		ClusterName:            k.ClusterName,
		MaxPods:                k.MaxPods,
		PodPidsLimit:           k.PodPidsLimit,
		NodeCIDRMaskSize:       k.NodeCidrMaskSize,
		ProxyMode:              k.ProxyMode,
		MasqueradeAll:          k.MasqueradeAll,
		FeatureGates:           k.FeatureGates,
		APIServerArgs:          k.ApiServerArgs,
		ControllerManagerArgs:  k.ControllerManagerArgs,
		SchedulerArgs:          k.SchedulerArgs,
		KubeletArgs:            k.KubeletArgs,
		KubeletConfiguration:   k.KubeletConfiguration,
		KubeProxyConfiguration: k.KubeProxyConfiguration,
	}
}

// Calico is Calico's tuning (spec.network.calico): the addons step hands it
// to Tigera's operator, the firewall opens IP-in-IP when IPIPMode asks.
type Calico struct {
	IPIPMode  string // "" when unset
	VXLANMode string
	VethMTU   int
	// NATOutgoing is false only when the spec turns ipv4NatOutgoing off.
	NATOutgoing bool
}

func calico(c spec.Calico) Calico {
	return Calico{IPIPMode: c.IPIPMode, VXLANMode: c.VXLANMode, VethMTU: c.VethMTU,
		NATOutgoing: c.Ipv4NatOutgoing == nil || *c.Ipv4NatOutgoing}
}

// DNSZone is one of NodeLocalDNS's extra zones
// (spec.dns.nodelocaldns.externalZones), served in front of CoreDNS.
type DNSZone struct {
	Zones       []string
	Nameservers []string
	Cache       int // seconds; 0 when unset
	Rewrite     []string
}

// Addon is one of spec.addons: yaml sources and a Helm chart applied after
// the CNI, with its retries.
type Addon struct {
	Name      string
	Namespace string
	Retries   int // 0 when unset
	Delay     int // seconds; 0 when unset
	Yaml      []string
	Chart     Chart
}

// Chart is an addon's Helm chart; Name and Path are both empty when it has none.
type Chart struct {
	Name, Repo, Path, Version, ValuesFile string
	Values                                []string
	Wait                                  bool
}

func addons(list []spec.Addon) []Addon {
	out := make([]Addon, len(list))
	for i, a := range list {
		ch := a.Sources.Chart
		out[i] = Addon{Name: a.Name, Namespace: a.Namespace, Retries: a.Retries, Delay: a.Delay, Yaml: a.Sources.Yaml.Path,
			Chart: Chart{Name: ch.Name, Repo: ch.Repo, Path: ch.Path, Version: ch.Version, ValuesFile: ch.ValuesFile, Values: ch.Values, Wait: ch.Wait}}
	}
	return out
}

// OpenEBS is OpenEBS local PV, which the init node installs when Enabled
// (the ksgen document's storage.openebs; by default with KubeSphere).
type OpenEBS struct {
	Enabled bool
	// Default marks its class the cluster's default: the ksgen document
	// names no other default class.
	Default  bool
	BasePath string // spec.storage.openebs.basePath
}

// KubeSphere is KubeSphere as the init node installs it, from the
// ClusterConfiguration document.
type KubeSphere struct {
	Version string // metadata.labels.version
	// Components are the pluggable components it turns on (images.Component*).
	Components []string
	// EtcdMonitoring is spec.etcd.monitoring of the document.
	EtcdMonitoring bool
	// ClusterConfiguration is the user's document, applied as written but for
	// the etcd endpoints KubeKey fills in.
	ClusterConfiguration *spec.KubeSphere
}

func kubeSphere(ks *spec.KubeSphere) *KubeSphere {
	if ks == nil {
		return nil
	}
	return &KubeSphere{Version: ks.Version(), Components: ks.Components(), EtcdMonitoring: ks.EtcdMonitoring(), ClusterConfiguration: ks}
}

// Kinds of the kubeadm configuration documents a kubeadm patch targets.
const (
	KindInitConfiguration      = spec.KindInitConfiguration
	KindClusterConfiguration   = spec.KindClusterConfiguration
	KindJoinConfiguration      = spec.KindJoinConfiguration
	KindKubeletConfiguration   = spec.KindKubeletConfiguration
	KindKubeProxyConfiguration = spec.KindKubeProxyConfiguration
)

// KubeadmPatch is one of the ksgen document's kubeadm patches: a strategic
// merge Patch or RFC 6902 JSONPatch operations on the document of Kind.
type KubeadmPatch struct {
	Path      string // its field path: ksgen.spec.hosts.node2.kubeadmPatches[0]
	Kind      string
	Patch     map[string]any
	JSONPatch []spec.JSONPatchOp
}

func kubeadmPatches(path string, list []spec.KubeadmPatch) []KubeadmPatch {
	out := make([]KubeadmPatch, len(list))
	for i, p := range list {
		out[i] = KubeadmPatch{Path: fmt.Sprintf("%s[%d]", path, i), Kind: p.Target.Kind, Patch: p.Patch, JSONPatch: p.JSONPatch}
	}
	return out
}

// patchSections are the ksgen document's kubeadm patches by section, each
// converted once: the cluster's, each role's and each host's.
type patchSections struct {
	cluster      []KubeadmPatch
	roles, hosts map[string][]KubeadmPatch
}

func newPatchSections(cfg spec.ConfigSpec) patchSections {
	ps := patchSections{
		cluster: kubeadmPatches("ksgen.spec.kubeadmPatches", cfg.KubeadmPatches),
		roles:   map[string][]KubeadmPatch{},
		hosts:   map[string][]KubeadmPatch{},
	}
	for role, r := range cfg.Roles {
		ps.roles[role] = kubeadmPatches("ksgen.spec.roles."+role+".kubeadmPatches", r.KubeadmPatches)
	}
	for host, h := range cfg.Hosts {
		ps.hosts[host] = kubeadmPatches("ksgen.spec.hosts."+host+".kubeadmPatches", h.KubeadmPatches)
	}
	return ps
}

// all lists every patch in the order of the file's sections: the
// cluster's, the roles', the hosts'.
func (ps patchSections) all() []KubeadmPatch {
	out := slices.Clone(ps.cluster)
	for _, role := range slices.Sorted(maps.Keys(ps.roles)) {
		out = append(out, ps.roles[role]...)
	}
	for _, host := range slices.Sorted(maps.Keys(ps.hosts)) {
		out = append(out, ps.hosts[host]...)
	}
	return out
}

// of lists node n's patches in the order they apply: the cluster's, then
// its roles' (spec.PatchRoles' order), then its host's. Nodes that run no
// kubeadm have none.
func (ps patchSections) of(n *Node) []KubeadmPatch {
	if n.Action == None {
		return nil
	}
	lists := [][]KubeadmPatch{ps.cluster}
	for _, role := range spec.PatchRoles {
		if n.Has(role) {
			lists = append(lists, ps.roles[role])
		}
	}
	return slices.Concat(append(lists, ps.hosts[n.Name])...)
}
