// Package images pins the versions ksgen renders for and lists the images a
// cluster runs. The Packer templates beside it bake those into an image.
package images

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"

	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"

	"github.com/ksgen/ksgen/generator/osprofile"
)

// Kubernetes versions ksgen renders for. kubeadm's v1beta3 API starts at
// v1.22; the newest supported minor is the one of the kubeadm library ksgen
// is built with, so configs are always checked by a kubeadm that knows them.
const (
	DefaultKubernetesVersion = "v1.36.3"
	MinKubernetesVersion     = "v1.22.0"
	MaxKubernetesMinor       = 36
	// V1Beta4Since is the first Kubernetes version whose kubeadm reads v1beta4.
	V1Beta4Since = "v1.31.0"
)

// pauseByMinor is the pause image tag each kubeadm release pins (its
// constants.PauseVersion); the sandbox image containerd uses must match it.
var pauseByMinor = map[uint]string{
	22: "3.5", 23: "3.6", 24: "3.7", 25: "3.8", 26: "3.9", 27: "3.9", 28: "3.9",
	29: "3.9", 30: "3.9", 31: "3.10", 32: "3.10", 33: "3.10", 34: "3.10.1", 35: "3.10.1",
	36: kubeadmconstants.PauseVersion,
}

// PauseTag returns the pause image tag for a Kubernetes minor version.
func PauseTag(minor uint) string {
	if t, ok := pauseByMinor[minor]; ok {
		return t
	}
	return kubeadmconstants.PauseVersion
}

// DefaultRegistry is where kubeadm pulls from when no private registry is set.
const DefaultRegistry = "registry.k8s.io"

// Repository returns the repository kubeadm's images come from: the private
// registry (with its namespace override) when the spec sets one.
func Repository(privateRegistry, namespaceOverride string) string {
	if privateRegistry == "" {
		return DefaultRegistry
	}
	repo := strings.TrimSuffix(privateRegistry, "/")
	if namespaceOverride != "" {
		repo += "/" + namespaceOverride
	}
	return repo
}

// BinDir is where kubeadm, kubelet and kubectl live on a target OS: Flatcar's
// /usr is read-only, so its binaries go to /opt/bin, as Flatcar documents.
func BinDir(os string) string { return osprofile.Of(os).BinDir }

// Images ksgen's own static pods run, pinned. KubeKey runs the same HAProxy
// (as kubesphere/haproxy); the upstream image is used here. Keepalived is
// the image kubeadm's HA guide runs as a static pod (keepalived 2.0.20 at
// /usr/local/sbin/keepalived, with curl for the track script). nginx, when
// the ksgen document selects it instead of HAProxy, is the official image's
// stable release, whose stream module is built in.
const (
	HAProxyImage    = "docker.io/library/haproxy:2.9.6-alpine"
	NginxImage      = "docker.io/library/nginx:1.30.6-alpine"
	KubeVipImage    = "ghcr.io/kube-vip/kube-vip:v0.8.9"
	KeepalivedImage = "docker.io/osixia/keepalived:2.0.20"
)

// Image returns ref as pulled through the private registry when the spec has
// one: registry[/namespaceOverride]/<last path element>:<tag>, which is how
// KubeKey lays out a mirrored image set.
func Image(ref, privateRegistry, namespaceOverride string) string {
	if privateRegistry == "" {
		return ref
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	ns := namespaceOverride
	if ns == "" {
		ns = "kubesphereio"
	}
	return strings.TrimSuffix(privateRegistry, "/") + "/" + ns + "/" + name
}

// EtcdVersion is the etcd ksgen's kubekey-type members are built and tested
// with (a baked image ships it; KubeKey runs 3.5, kubeadm 1.36 expects 3.6).
const EtcdVersion = "v3.6.8"

// EtcdBinDir is where a kubekey-type etcd host finds etcd and etcdctl:
// KubeKey's /usr/local/bin, or /opt/bin on Flatcar, whose /usr is read-only.
func EtcdBinDir(os string) string { return osprofile.Of(os).EtcdBinDir }

// etcdByMinor and corednsByMinor are the etcd and CoreDNS tags each kubeadm
// release pins (its constants.SupportedEtcdVersion and CoreDNSVersion at the
// release's .0). The kubeadm library ksgen links only knows the versions near
// its own release, so older minors are pinned here; the image names come from
// kubeadm's own images code (see List).
var etcdByMinor = map[uint8]string{
	22: "3.5.0-0", 23: "3.5.1-0", 24: "3.5.3-0", 25: "3.5.4-0", 26: "3.5.6-0", 27: "3.5.7-0",
	28: "3.5.9-0", 29: "3.5.10-0", 30: "3.5.12-0", 31: "3.5.15-0", 32: "3.5.16-0", 33: "3.5.21-0",
	34: "3.6.4-0", 35: "3.6.5-0",
	36: kubeadmconstants.DefaultEtcdVersion,
}

var corednsByMinor = map[uint]string{
	22: "v1.8.4", 23: "v1.8.6", 24: "v1.8.6", 25: "v1.9.3", 26: "v1.9.3", 27: "v1.10.1",
	28: "v1.10.1", 29: "v1.11.1", 30: "v1.11.1", 31: "v1.11.3", 32: "v1.11.3", 33: "v1.12.0",
	34: "v1.12.1", 35: "v1.12.1",
	36: kubeadmconstants.CoreDNSVersion,
}

// CoreDNSTag returns the CoreDNS tag kubeadm deploys for a Kubernetes minor.
func CoreDNSTag(minor uint) string {
	if t, ok := corednsByMinor[minor]; ok {
		return t
	}
	return kubeadmconstants.CoreDNSVersion
}

// EtcdTag returns the etcd image tag kubeadm runs for a Kubernetes minor
// (stacked etcd only; KubeKey's etcd runs the etcd binary).
func EtcdTag(minor uint) string {
	if t, ok := etcdByMinor[uint8(minor)]; ok {
		return t
	}
	return kubeadmconstants.DefaultEtcdVersion
}

// CNI plugins ksgen deploys, their pinned versions and the images they run.
// The manifests or charts of exactly these versions are baked into the image
// by images/packer (AssetDir) or fetched from the pinned URLs.
//
// Tigera operator v1.32.7 is the one Calico v3.27.3 ships
// (stevehipwell/helm-charts charts/tigera-operator/CHANGELOG.md, v2.9.3).
// flannel v0.25.5 with flannel-cni-plugin v1.5.1-flannel1 is the pair
// published install guides pull for v0.25.5; no stored copy of upstream's
// v0.25.5 kube-flannel.yml confirms it (see README).
const (
	CalicoVersion         = "v3.27.3"
	TigeraOperatorVersion = "v1.32.7"
	FlannelVersion        = "v0.25.5"
	FlannelCNIPlugin      = "v1.5.1-flannel1"
	CiliumVersion         = "1.15.7"
)

// AssetDir is where the image keeps versioned manifests and charts:
// AssetDir/<component>/<version>/<file>.
const AssetDir = "/opt/ksgen/assets"

// CNIImages lists the images a CNI plugin runs ("none": none).
func CNIImages(plugin string) []string {
	switch plugin {
	case "calico":
		out := []string{"quay.io/tigera/operator:" + TigeraOperatorVersion}
		for _, name := range []string{"cni", "node", "kube-controllers", "typha", "pod2daemon-flexvol", "csi", "node-driver-registrar"} {
			out = append(out, "docker.io/calico/"+name+":"+CalicoVersion)
		}
		return out
	case "flannel":
		return []string{"docker.io/flannel/flannel:" + FlannelVersion, "docker.io/flannel/flannel-cni-plugin:" + FlannelCNIPlugin}
	case "cilium":
		return []string{"quay.io/cilium/cilium:v" + CiliumVersion, "quay.io/cilium/operator-generic:v" + CiliumVersion}
	}
	return nil
}

// KubeSphereRelease is one KubeSphere version ksgen installs: how, on which
// Kubernetes minors, and its core images.
type KubeSphereRelease struct {
	Version string
	// Helm is true for v4 (the ks-core chart); v3 installs through ks-installer.
	Helm bool
	// MinMinor and MaxMinor bound the supported Kubernetes v1.<minor>.
	MinMinor, MaxMinor uint
	Images             []string
}

// kubesphere's supported Kubernetes minors for v3 are KubeKey's own table
// (kubesphere/kubekey cmd/kk/pkg/version/kubesphere/ks_installer.go,
// K8sSupportVersions: v3.3.0 v1.19–v1.23, v3.3.1/v3.3.2 v1.19–v1.24, v3.4.0
// v1.19–v1.26, v3.4.1 v1.21–v1.26). The v3 images are those of ks-installer's
// images-list.txt (ks-installer, ks-apiserver, ks-console,
// ks-controller-manager at the release tag, kubesphere/kubectl:v1.22.0).
// v4.1.3: ks-core renders ks-apiserver, ks-console, ks-controller-manager at
// the app version and kubesphere/kubectl:v1.27.16 (`helm template` of ks-core
// 1.1.3 shows v4.1.2 and v1.27.16); its v1.21–v1.30 range is not confirmed
// by a stored source.
var kubesphere = []KubeSphereRelease{
	ksInstaller("v3.3.0", 19, 23),
	ksInstaller("v3.3.1", 19, 24),
	ksInstaller("v3.3.2", 19, 24),
	ksInstaller("v3.4.0", 19, 26),
	ksInstaller("v3.4.1", 21, 26),
	{Version: "v4.1.3", Helm: true, MinMinor: 21, MaxMinor: 30, Images: []string{
		"docker.io/kubesphere/ks-apiserver:v4.1.3",
		"docker.io/kubesphere/ks-console:v4.1.3",
		"docker.io/kubesphere/ks-controller-manager:v4.1.3",
		"docker.io/kubesphere/kubectl:v1.27.16",
	}},
}

func ksInstaller(v string, minMinor, maxMinor uint) KubeSphereRelease {
	return KubeSphereRelease{Version: v, MinMinor: minMinor, MaxMinor: maxMinor, Images: []string{
		"docker.io/kubesphere/ks-installer:" + v,
		"docker.io/kubesphere/ks-apiserver:" + v,
		"docker.io/kubesphere/ks-console:" + v,
		"docker.io/kubesphere/ks-controller-manager:" + v,
		"docker.io/kubesphere/kubectl:v1.22.0",
	}}
}

// KubeSphere returns the release for a KubeSphere version, or false when
// ksgen does not install that version.
func KubeSphere(version string) (KubeSphereRelease, bool) {
	for _, r := range kubesphere {
		if r.Version == version {
			return r, true
		}
	}
	return KubeSphereRelease{}, false
}

// KubeSphereVersions lists the KubeSphere versions ksgen installs.
func KubeSphereVersions() []string {
	out := make([]string, len(kubesphere))
	for i, r := range kubesphere {
		out[i] = r.Version
	}
	return out
}

// Asset is a versioned manifest or chart the image bakes under AssetDir,
// downloaded at build time from its pinned URL. No public table that ksgen
// could copy lists the sha256 of these files, so they carry no pin:
// `ksgen images packer-vars --sha256 PATH=SUM` supplies one.
type Asset struct {
	URL  string
	Path string // under AssetDir
}

// Assets lists what the image needs for the cluster's CNI plugin, storage
// and KubeSphere version: the files the first-boot script applies.
func Assets(c Cluster) []Asset {
	var out []Asset
	switch c.CNI {
	case "calico":
		out = append(out, Asset{"https://raw.githubusercontent.com/projectcalico/calico/" + CalicoVersion + "/manifests/tigera-operator.yaml", "calico/" + CalicoVersion + "/tigera-operator.yaml"})
	case "flannel":
		out = append(out, Asset{"https://github.com/flannel-io/flannel/releases/download/" + FlannelVersion + "/kube-flannel.yml", "flannel/" + FlannelVersion + "/kube-flannel.yml"})
	case "cilium":
		out = append(out, Asset{"https://helm.cilium.io/cilium-" + CiliumVersion + ".tgz", "cilium/" + CiliumVersion + "/cilium-" + CiliumVersion + ".tgz"})
	}
	if c.OpenEBS {
		out = append(out, openEBSAsset())
	}
	if r, ok := KubeSphere(c.KubeSphere); ok {
		if r.Helm {
			out = append(out, Asset{"https://charts.kubesphere.io/main/ks-core-" + KSCoreChart + ".tgz", "kubesphere/" + r.Version + "/ks-core.tgz"})
		} else {
			out = append(out, Asset{"https://github.com/kubesphere/ks-installer/releases/download/" + r.Version + "/kubesphere-installer.yaml", "kubesphere/" + r.Version + "/kubesphere-installer.yaml"})
		}
	}
	return out
}

// KSCoreChart is the ks-core chart version that installs KubeSphere v4.1.3:
// the chart KubeSphere's v4.1 quick start installs; ks-core 1.1.3 carries
// v4.1.2 (see above), 1.1.4 the next release.
const KSCoreChart = "1.1.4"

// Binary versions the Packer template installs (images/packer), each with
// pins in checksums.go. CNI plugins and crictl moved to the nearest releases
// with a published pin (from v1.5.1 and v1.31.1): crictl talks CRI v1 to
// containerd whatever the Kubernetes minor.
const (
	ContainerdVersion = "1.7.22"
	RuncVersion       = "v1.1.14"
	CNIPluginsVersion = "v1.6.2"
	CrictlVersion     = "v1.35.0"
	HelmVersion       = "v3.16.2"
)

// Binary is one download the Packer template installs.
type Binary struct {
	Name, Version, URL, Dest string
	// Strip is the number of leading path elements to drop from an archive.
	Strip int
	// SHA256 is the pin from checksums.go, "" when ksgen has none.
	SHA256 string
}

// Binaries lists the node binaries for a cluster, target OS and architecture
// (amd64, arm64), from their upstream release URLs, with their pins. etcd is
// there only when KubeKey's etcd runs it (spec.etcd.type kubekey).
func Binaries(c Cluster, os, arch string) []Binary {
	bin := BinDir(os)
	k8s := "https://dl.k8s.io/release/" + c.KubernetesVersion + "/bin/linux/" + arch + "/"
	out := []Binary{
		{Name: "kubeadm", Version: c.KubernetesVersion, URL: k8s + "kubeadm", Dest: bin + "/kubeadm"},
		{Name: "kubelet", Version: c.KubernetesVersion, URL: k8s + "kubelet", Dest: bin + "/kubelet"},
		{Name: "kubectl", Version: c.KubernetesVersion, URL: k8s + "kubectl", Dest: bin + "/kubectl"},
		{Name: "containerd", Version: ContainerdVersion, URL: "https://github.com/containerd/containerd/releases/download/v" + ContainerdVersion + "/containerd-" + ContainerdVersion + "-linux-" + arch + ".tar.gz", Dest: "/usr/local"},
		{Name: "runc", Version: RuncVersion, URL: "https://github.com/opencontainers/runc/releases/download/" + RuncVersion + "/runc." + arch, Dest: "/usr/local/sbin/runc"},
		{Name: "cni-plugins", Version: CNIPluginsVersion, URL: "https://github.com/containernetworking/plugins/releases/download/" + CNIPluginsVersion + "/cni-plugins-linux-" + arch + "-" + CNIPluginsVersion + ".tgz", Dest: "/opt/cni/bin"},
		{Name: "crictl", Version: CrictlVersion, URL: "https://github.com/kubernetes-sigs/cri-tools/releases/download/" + CrictlVersion + "/crictl-" + CrictlVersion + "-linux-" + arch + ".tar.gz", Dest: bin},
	}
	if c.KubeKeyEtcd {
		out = append(out, Binary{Name: "etcd", Version: EtcdVersion, URL: "https://github.com/etcd-io/etcd/releases/download/" + EtcdVersion + "/etcd-" + EtcdVersion + "-linux-" + arch + ".tar.gz", Dest: EtcdBinDir(os), Strip: 1})
	}
	out = append(out, Binary{Name: "helm", Version: HelmVersion, URL: "https://get.helm.sh/helm-" + HelmVersion + "-linux-" + arch + ".tar.gz", Dest: "/usr/local/bin", Strip: 1})
	for i := range out {
		out[i].SHA256 = SHA256(out[i].Name, out[i].Version, arch)
	}
	return out
}

// BinaryNames are the names Binaries gives, in its order.
var BinaryNames = []string{"kubeadm", "kubelet", "kubectl", "containerd", "runc", "cni-plugins", "crictl", "etcd", "helm"}

// Archive reports whether the download is an archive to unpack into Dest
// rather than the binary itself.
func (b Binary) Archive() bool {
	return strings.HasSuffix(b.URL, ".tar.gz") || strings.HasSuffix(b.URL, ".tgz")
}

// Mirrored is an upstream URL as a mirror serves it: MIRROR/HOST/PATH, the
// layout `wget -x URL` writes, so one directory serves every upstream.
func Mirrored(mirror, upstream string) string {
	rest := upstream[strings.Index(upstream, "://")+3:]
	return strings.TrimSuffix(mirror, "/") + "/" + rest
}

// KubernetesFor returns the newest Kubernetes version a KubeSphere release
// supports among those with pinned binaries, as `kk create config
// --with-kubesphere` picks one: the Kubernetes binaries of a config ksgen
// writes need no --sha256 to bake.
func KubernetesFor(r KubeSphereRelease) (string, bool) {
	pinned := PinnedKubernetesVersions()
	for _, v := range slices.Backward(pinned) {
		if m := minorOf(v); m >= r.MinMinor && m <= r.MaxMinor {
			return v, true
		}
	}
	return "", false
}

// minorOf returns the minor of a vMAJOR.MINOR.PATCH version, 0 if malformed.
func minorOf(v string) uint {
	ver, err := version.ParseSemantic(v)
	if err != nil {
		return 0
	}
	return ver.Minor()
}

// compareVersions orders Kubernetes versions; malformed ones sort first.
func compareVersions(a, b string) int {
	va, errA := version.ParseSemantic(a)
	vb, errB := version.ParseSemantic(b)
	switch {
	case errA != nil || errB != nil:
		return strings.Compare(a, b)
	case va.LessThan(vb):
		return -1
	case vb.LessThan(va):
		return 1
	}
	return 0
}
