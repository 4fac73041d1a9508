package images

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmimages "k8s.io/kubernetes/cmd/kubeadm/app/images"
)

// Cluster is what decides a cluster's images. The generator fills it from a
// plan; images does not import the spec (the spec imports images).
type Cluster struct {
	KubernetesVersion string
	PrivateRegistry   string
	NamespaceOverride string
	// StackedEtcd is true when kubeadm runs etcd as a static pod.
	StackedEtcd bool
	// KubeKeyEtcd is true when KubeKey's etcd (the etcd binary as a
	// systemd service) runs on the etcd hosts.
	KubeKeyEtcd      bool
	DisableKubeProxy bool
	HAProxy          bool // KubeKey's internal HAProxy (or nginx) static pod
	KubeVip          bool
	Keepalived       bool   // keepalived + HAProxy (or nginx) static pods for a VIP
	Proxy            string // the proxy of HAProxy and Keepalived: "nginx", else HAProxy
	CNI              string // calico, flannel, cilium or none
	// KubeSphere is the KubeSphere version, "" when KubeSphere is off.
	KubeSphere string
	// KubeSphereComponents are the enabled pluggable components (Component*).
	KubeSphereComponents []string
	// OpenEBS is true when the init node installs the OpenEBS local PV provisioner.
	OpenEBS bool
	// NodeLocalDNS is true when every node runs KubeKey's NodeLocalDNS cache.
	NodeLocalDNS bool
}

// List returns every image the cluster runs, with exact tags, sorted and
// deduplicated. kubeadm's images come from kubeadm's own images code with
// the etcd and CoreDNS tags of the cluster's Kubernetes minor; every other
// image goes through the private registry the way KubeKey mirrors it.
func List(c Cluster) ([]string, error) {
	ver, err := version.ParseSemantic(c.KubernetesVersion)
	if err != nil {
		return nil, fmt.Errorf("kubernetes version %q: %w", c.KubernetesVersion, err)
	}
	out := KubeadmImages(c, ver)
	var extra []string
	proxy := HAProxyImage
	if c.Proxy == "nginx" {
		proxy = NginxImage
	}
	if c.HAProxy {
		extra = append(extra, proxy)
	}
	if c.KubeVip {
		extra = append(extra, KubeVipImage)
	}
	if c.Keepalived {
		extra = append(extra, KeepalivedImage, proxy)
	}
	extra = append(extra, CNIImages(c)...)
	if c.KubeSphere != "" {
		r, ok := KubeSphere(c.KubeSphere)
		if !ok {
			return nil, fmt.Errorf("KubeSphere %s: ksgen installs %s", c.KubeSphere, strings.Join(KubeSphereVersions(), ", "))
		}
		extra = append(extra, r.Images...)
		extra = append(extra, KubeSphereComponentImages(r.Version, c.KubeSphereComponents)...)
	}
	if c.OpenEBS {
		extra = append(extra, OpenEBSImages()...)
	}
	if c.NodeLocalDNS {
		extra = append(extra, NodeLocalDNSImage)
	}
	for _, ref := range extra {
		out = append(out, Image(ref, c.PrivateRegistry, c.NamespaceOverride))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// KubeadmImages is kubeadm's control-plane image list for the cluster
// (GetControlPlaneImages), with the pause tag the kubelet and containerd use.
func KubeadmImages(c Cluster, ver *version.Version) []string {
	cfg := &kubeadmapi.ClusterConfiguration{
		KubernetesVersion: "v" + ver.String(),
		ImageRepository:   Repository(c.PrivateRegistry, c.NamespaceOverride),
	}
	cfg.DNS.ImageRepository = DNSRepository(c.PrivateRegistry)
	cfg.DNS.ImageTag = CoreDNSTag(ver.Minor())
	cfg.Proxy.Disabled = c.DisableKubeProxy
	if c.StackedEtcd {
		cfg.Etcd.Local = &kubeadmapi.LocalEtcd{}
		cfg.Etcd.Local.ImageTag = EtcdTag(ver.Minor())
	}
	var out []string
	pause := kubeadmimages.GetPauseImage(cfg)
	for _, img := range kubeadmimages.GetControlPlaneImages(cfg) {
		if img == pause {
			// kubeadm's library knows its own pause tag only.
			img = kubeadmimages.GetGenericImage(cfg.ImageRepository, "pause", PauseTag(ver.Minor()))
		}
		out = append(out, img)
	}
	return out
}
