package plan

import (
	"github.com/ksgen/ksgen/generator/input/spec"
)

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
