// Package images pins the versions ksgen renders for and lists the images a
// cluster runs. The Packer templates beside it bake those into an image.
package images

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/ksgen/ksgen/generator/profile/osprofile"
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

// DNSRepository is kubeadm's dns.imageRepository. CoreDNS is published as
// registry.k8s.io/coredns/coredns, and kubeadm adds that /coredns only when
// imageRepository is its own default, which before v1.25 is k8s.gcr.io: so
// ksgen names the repository outright. With a private registry CoreDNS is
// mirrored like every other image ("": kubeadm uses imageRepository).
func DNSRepository(privateRegistry string) string {
	if privateRegistry != "" {
		return ""
	}
	return DefaultRegistry + "/coredns"
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

// EtcdVersion is the etcd of etcd.type kubekey with the default Kubernetes
// (its Pairing.Etcd): the one the tests build and run ksgen's members with.
const EtcdVersion = "v3.6.14"

// EtcdBinDir is where a kubekey-type etcd host finds etcd and etcdctl:
// KubeKey's /usr/local/bin, or /opt/bin on Flatcar, whose /usr is read-only.
func EtcdBinDir(os string) string { return osprofile.Of(os).EtcdBinDir }

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

// Binary versions the Packer template installs (images/packer), each with
// pins in checksums.go. containerd and runc follow the Kubernetes minor
// (ContainerdFor); ContainerdVersion and RuncVersion are those of the
// default Kubernetes, the ones the tests build and run. CNI plugins and
// crictl moved to the nearest releases with a published pin (from v1.5.1 and
// v1.31.1): crictl talks CRI v1 to containerd whatever the Kubernetes minor.
const (
	ContainerdVersion = "2.3.4"
	RuncVersion       = "v1.4.3"
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
// (amd64, arm64), from their upstream release URLs, with their pins (see
// Download). etcd is there only when KubeKey's etcd runs it (spec.etcd.type
// kubekey), at the release paired with the Kubernetes minor, as are
// containerd and runc.
func Binaries(c Cluster, os, arch string) []Binary {
	bin, prof := BinDir(os), osprofile.Of(os)
	rt := ContainerdFor(c.KubernetesVersion)
	out := []Binary{
		{Name: "kubeadm", Version: c.KubernetesVersion, Dest: bin + "/kubeadm"},
		{Name: "kubelet", Version: c.KubernetesVersion, Dest: bin + "/kubelet"},
		{Name: "kubectl", Version: c.KubernetesVersion, Dest: bin + "/kubectl"},
		{Name: "containerd", Version: rt.Containerd, Dest: prof.RuntimePrefix},
		{Name: "runc", Version: rt.Runc, Dest: prof.RuncPath},
		{Name: "cni-plugins", Version: CNIPluginsVersion, Dest: "/opt/cni/bin"},
		{Name: "crictl", Version: CrictlVersion, Dest: bin},
	}
	if c.KubeKeyEtcd {
		out = append(out, Binary{Name: "etcd", Version: KubeKeyEtcdVersion(c.KubernetesVersion), Dest: EtcdBinDir(os), Strip: 1})
	}
	out = append(out, Binary{Name: "helm", Version: HelmVersion, Dest: "/usr/local/bin", Strip: 1})
	for i, b := range out {
		// Every name above is a Download component: only a missing pin errs.
		p, _ := Download(b.Name, b.Version, arch)
		out[i].URL, out[i].SHA256 = p.URL, p.SHA256
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
