package spec

import (
	"strings"

	"github.com/ksgen/ksgen/generator/profile/osprofile"
	"github.com/ksgen/ksgen/images"
)

// KubeKey's defaults (cmd/kk/apis/kubekey/v1alpha2/default.go), applied so a
// kk user's file means the same here as there. One deliberate difference:
// containerManager defaults to containerd, the only runtime ksgen configures.
const (
	DefaultDomain           = "lb.kubesphere.local"
	DefaultPort             = 6443
	DefaultKubeVipMode      = "ARP"
	DefaultPodsCIDR         = "10.233.64.0/18"
	DefaultServiceCIDR      = "10.233.0.0/18"
	DefaultClusterName      = "cluster.local"
	DefaultDNSDomain        = "cluster.local"
	DefaultMaxPods          = 110
	DefaultPodPidsLimit     = 10000
	DefaultNodeCidrMaskSize = 24
	DefaultProxyMode        = "ipvs"
	DefaultPlugin           = "calico"
	DefaultContainerManager = "containerd"
	DefaultCRISocket        = "unix:///run/containerd/containerd.sock"
	// DefaultContainerdRoot is containerd's own root, where a baked image's
	// images are.
	DefaultContainerdRoot = "/var/lib/containerd"
	DefaultEtcdType       = "kubekey"
	DefaultEtcdPort       = 2379
	DefaultEtcdPeerPort   = 2380
	DefaultOS             = osprofile.Default
	DefaultTokenTTL       = "24h0m0s"
	DefaultJoinWindow     = JoinWindowAlways
)

func (s *Spec) setDefaults() {
	c := &s.Cluster.Spec
	for i := range c.Hosts {
		h := &c.Hosts[i]
		if h.Address == "" {
			// A dual-stack internalAddress is "v4,v6"; address is one IP.
			h.Address, _, _ = strings.Cut(h.InternalAddress, ",")
		}
		if h.InternalAddress == "" {
			h.InternalAddress = h.Address
		}
		if h.Arch == "" {
			h.Arch = "amd64"
		}
	}
	ep := &c.ControlPlaneEndpoint
	setString(&ep.Domain, DefaultDomain)
	setInt(&ep.Port, DefaultPort)
	setString(&ep.KubeVip.Mode, DefaultKubeVipMode)

	e := &c.Etcd
	setString(&e.Type, DefaultEtcdType)
	setString(&e.BackupDir, "/var/backups/kube_etcd")
	setInt(&e.BackupPeriod, DefaultBackupPeriod)
	setInt(&e.KeepBackupNumber, 5)
	setString(&e.BackupScriptDir, "/usr/local/bin/kube-scripts")
	if e.Port == nil {
		e.Port = ptr(DefaultEtcdPort)
	}
	if e.PeerPort == nil {
		e.PeerPort = ptr(DefaultEtcdPeerPort)
	}

	k := &c.Kubernetes
	setString(&k.Version, images.DefaultKubernetesVersion)
	if v, typ, ok := strings.Cut(k.Version, "-"); ok {
		k.Version, k.Type = v, typ
	}
	setString(&k.Type, "kubernetes")
	setString(&k.ClusterName, DefaultClusterName)
	setString(&k.DNSDomain, DefaultDNSDomain)
	setInt(&k.MaxPods, DefaultMaxPods)
	setInt(&k.PodPidsLimit, DefaultPodPidsLimit)
	setInt(&k.NodeCidrMaskSize, DefaultNodeCidrMaskSize)
	setString(&k.ProxyMode, DefaultProxyMode)
	s.noContainerManager = k.ContainerManager == ""
	setString(&k.ContainerManager, DefaultContainerManager)
	if k.ContainerManager == DefaultContainerManager {
		setString(&k.ContainerRuntimeEndpoint, DefaultCRISocket)
	}

	n := &c.Network
	setString(&n.Plugin, DefaultPlugin)
	setString(&n.KubePodsCIDR, DefaultPodsCIDR)
	setString(&n.KubeServiceCIDR, DefaultServiceCIDR)
	setString(&n.Calico.IPIPMode, "Always")
	setString(&n.Calico.VXLANMode, "Never")
	setString(&n.Flannel.BackendMode, "vxlan")

	setString(&c.Storage.OpenEBS.BasePath, "/var/openebs/local")

	cfg := &s.Config.Spec
	setString(&cfg.OS, DefaultOS)
	setString(&cfg.Binaries.Source, "image")
	setString(&cfg.BootstrapTokenTTL, DefaultTokenTTL)
	setString(&cfg.JoinWindow, DefaultJoinWindow)
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func ptr[T any](v T) *T { return &v }

// AutoRenewCertsEnabled reports whether the control planes renew their
// kubeadm certificates. KubeKey renews only when the field is true (its
// EnableAutoRenewCerts treats a missing field as false,
// cmd/kk/apis/kubekey/v1alpha2/kubernetes_types.go) and `kk create config`
// always writes true; ksgen renews unless the field is false, since nobody
// runs `kk certs renew` against a cluster that configured itself.
func (k *Kubernetes) AutoRenewCertsEnabled() bool {
	return k.AutoRenewCerts == nil || *k.AutoRenewCerts
}

// NodeLocalDNSEnabled reports whether NodeLocalDNS runs (KubeKey's default: yes).
func (k *Kubernetes) NodeLocalDNSEnabled() bool { return k.Nodelocaldns == nil || *k.Nodelocaldns }
