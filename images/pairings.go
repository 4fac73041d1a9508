package images

import (
	"fmt"
	"slices"
	"strings"

	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
)

// Pairing is what ksgen installs with one Kubernetes minor besides
// Kubernetes itself. It is the one table `ksgen images list`, `packer-vars`
// and the addons renderer read; each row names where its values come from.
type Pairing struct {
	Minor uint
	// Pause, CoreDNS and KubeadmEtcd are the tags kubeadm v1.<Minor>.0 pins
	// itself (constants.PauseVersion, CoreDNSVersion, DefaultEtcdVersion):
	// the images it pulls, which the image must hold.
	Pause, CoreDNS, KubeadmEtcd string
	// Calico is the Calico release ksgen's Tigera operator install uses.
	Calico string
	// Etcd is the etcd release of spec.etcd.type kubekey (the etcd binary
	// as a systemd service on the etcd hosts).
	Etcd string
	// Source says where Calico and Etcd come from.
	Source string
	// Runtime is the containerd and runc a node installs (Runtime.Source
	// says where they come from).
	Runtime ContainerRuntime
}

// ContainerRuntime is a containerd release and the runc paired with it.
type ContainerRuntime struct {
	// Containerd is the release without its "v" (the archive's name has none).
	Containerd string
	Runc       string
	Source     string
}

// ConfigVersion is the config.toml version the containerd reads natively:
// 3 from containerd 2.0 (which renamed the CRI plugins), 2 before it.
func (r ContainerRuntime) ConfigVersion() int {
	if strings.HasPrefix(r.Containerd, "1.") {
		return 2
	}
	return 3
}

// The two container runtimes, chosen by containerd's own Kubernetes support
// table (containerd/containerd RELEASES.md, "Kubernetes Support", at
// 301026e5, 2026-08-22):
//   - containerd 2.3.4 with runc v1.4.3, kubespray's pairing (kubespray
//     @46dbdd39 roles/kubespray_defaults/defaults/main/download.yml, with
//     Kubernetes 1.34–1.36; ../shared/upstream/compat/COMPAT.md), for
//     v1.32–v1.36: the table recommends a 2.x for each of them (1.32 and
//     1.33 "2.1.0+", 1.34 "2.1.3+", 1.35 "2.2.0+", 1.36 "2.3.0+" and no 1.7
//     at all), and 2.3 is an LTS release (to April 2028). 2.3.4 answers the
//     CRI RuntimeConfig call (internal/cri/server/runtime_config.go; 1.7.22
//     has no such handler), without which kubeadm v1.36 warns that the
//     kubelet of v1.37 will not run.
//   - containerd 1.7.22 with runc v1.1.14 (kubespray's sums) for v1.22–v1.31,
//     whose configs stay as they were: the table's older rows give 1.7 for
//     Kubernetes 1.26+ over CRI v1, and only 1.x keeps CRI v1alpha2, the one
//     API v1.22's kubelet speaks (the table's v1.5 row: "v1 (1.23+)");
//     containerd 2.0 removed it ("CRI v1alpha2 is deprecated in v1.7 and is
//     not present in containerd v2.0"). v1.32–v1.35 would need 1.7.24+ or
//     1.7.28+.
var (
	containerd17 = ContainerRuntime{Containerd: "1.7.22", Runc: "v1.1.14", Source: "containerd RELEASES.md (v1.7: Kubernetes 1.26+, CRI v1alpha2 for v1.22)"}
	containerd23 = ContainerRuntime{Containerd: "2.3.4", Runc: "v1.4.3", Source: "containerd RELEASES.md (v1.32–1.36: 2.x); kubespray 46dbdd39"}
)

// Sources of the pairings, as recorded in ../shared/upstream/compat/COMPAT.md.
const (
	// calicoDocs: each Calico minor's "Supported versions" list, final form:
	// projectcalico/calico calico/getting-started/kubernetes/requirements.md
	// @ v3.24.6 (f5ea15dc), tigera/docs calico_versioned_docs/version-3.26 …
	// 3.28 requirements.mdx @ 16d9d44c, version-3.29 … 3.32
	// _includes/partials/_system-requirements.mdx @ f2a27624. The release is
	// the newest patch of the newest minor whose list holds the Kubernetes
	// minor (projectcalico/calico tags, snapshot 87c15906).
	calicoDocs = "Calico docs"
	// kubekey30: kubesphere/kubekey v3.0.0–v3.0.7 DefaultEtcdVersion v3.4.13
	// (cmd/kk/apis/kubekey/v1alpha2/default.go), the etcd kk installs with
	// KubeSphere v3.3.1 on v1.22.10.
	kubekey30 = "KubeKey v3.0.x"
	// kubekey3x: kubesphere/kubekey branch 3.x (44214fea) and v3.1.12 pair
	// etcd v3.5.24 with the Kubernetes versions they install (up to v1.34.0).
	kubekey3x = "KubeKey 3.x"
	// kubespray: kubernetes-sigs/kubespray @46dbdd39
	// roles/kubespray_defaults/vars/main/main.yml etcd_supported_versions:
	// v1.34 the newest 3.5.x (3.5.33), v1.35 and v1.36 the newest 3.6.x (3.6.14).
	kubesprayPairing = "kubespray 46dbdd39"
)

// pairings, one row per Kubernetes minor ksgen renders for. kubeadm's tags
// for v1.22–v1.35 are those releases' constants (the kubeadm library ksgen
// links knows only its own); v1.36 reads them from that library.
var pairings = []Pairing{
	{22, "3.5", "v1.8.4", "3.5.0-0", "v3.24.6", "v3.4.13", calicoDocs + " 3.24 (1.22–1.25); " + kubekey30, containerd17},
	{23, "3.6", "v1.8.6", "3.5.1-0", "v3.24.6", "v3.5.24", calicoDocs + " 3.24 (1.22–1.25); " + kubekey3x, containerd17},
	{24, "3.7", "v1.8.6", "3.5.3-0", "v3.26.5", "v3.5.24", calicoDocs + " 3.26 (1.24–1.28); " + kubekey3x, containerd17},
	{25, "3.8", "v1.9.3", "3.5.4-0", "v3.26.5", "v3.5.24", calicoDocs + " 3.26 (1.24–1.28); " + kubekey3x, containerd17},
	{26, "3.9", "v1.9.3", "3.5.6-0", "v3.26.5", "v3.5.24", calicoDocs + " 3.26 (1.24–1.28); " + kubekey3x, containerd17},
	{27, "3.9", "v1.10.1", "3.5.7-0", "v3.28.5", "v3.5.24", calicoDocs + " 3.28 (1.27–1.30); " + kubekey3x, containerd17},
	{28, "3.9", "v1.10.1", "3.5.9-0", "v3.28.5", "v3.5.24", calicoDocs + " 3.28 (1.27–1.30); " + kubekey3x, containerd17},
	{29, "3.9", "v1.11.1", "3.5.10-0", "v3.29.7", "v3.5.24", calicoDocs + " 3.29 (1.29–1.32); " + kubekey3x, containerd17},
	{30, "3.9", "v1.11.1", "3.5.12-0", "v3.29.7", "v3.5.24", calicoDocs + " 3.29 (1.29–1.32); " + kubekey3x, containerd17},
	{31, "3.10", "v1.11.3", "3.5.15-0", "v3.30.7", "v3.5.24", calicoDocs + " 3.30 (1.31–1.35); " + kubekey3x, containerd17},
	{32, "3.10", "v1.11.3", "3.5.16-0", "v3.31.7", "v3.5.24", calicoDocs + " 3.31 (1.32–1.35); " + kubekey3x, containerd23},
	{33, "3.10", "v1.12.0", "3.5.21-0", "v3.31.7", "v3.5.24", calicoDocs + " 3.31 (1.32–1.35); " + kubekey3x, containerd23},
	{34, "3.10.1", "v1.12.1", "3.6.4-0", "v3.32.1", "v3.5.33", calicoDocs + " 3.32 (1.34–1.36); " + kubesprayPairing, containerd23},
	{35, "3.10.1", "v1.12.1", "3.6.5-0", "v3.32.1", "v3.6.14", calicoDocs + " 3.32 (1.34–1.36); " + kubesprayPairing, containerd23},
	{36, kubeadmconstants.PauseVersion, kubeadmconstants.CoreDNSVersion, kubeadmconstants.DefaultEtcdVersion, "v3.32.1", "v3.6.14", calicoDocs + " 3.32 (1.34–1.36); " + kubesprayPairing, containerd23},
}

// PairingFor returns the pairing of a Kubernetes minor.
func PairingFor(minor uint) (Pairing, error) {
	i := slices.IndexFunc(pairings, func(p Pairing) bool { return p.Minor == minor })
	if i < 0 {
		return Pairing{}, fmt.Errorf("no pairing for Kubernetes v1.%d: ksgen pairs v1.%d to v1.%d", minor, pairings[0].Minor, pairings[len(pairings)-1].Minor)
	}
	return pairings[i], nil
}

// pairing is PairingFor for a version the spec has validated; outside the
// table (a malformed version) it answers with the newest row.
func pairing(kubernetesVersion string) Pairing {
	p, err := PairingFor(minorOf(kubernetesVersion))
	if err != nil {
		return pairings[len(pairings)-1]
	}
	return p
}

// PauseTag returns the pause image tag for a Kubernetes minor version; the
// sandbox image containerd uses must match it.
func PauseTag(minor uint) string {
	if p, err := PairingFor(minor); err == nil {
		return p.Pause
	}
	return kubeadmconstants.PauseVersion
}

// CoreDNSTag returns the CoreDNS tag kubeadm deploys for a Kubernetes minor.
func CoreDNSTag(minor uint) string {
	if p, err := PairingFor(minor); err == nil {
		return p.CoreDNS
	}
	return kubeadmconstants.CoreDNSVersion
}

// EtcdTag returns the etcd image tag kubeadm runs for a Kubernetes minor
// (stacked etcd only; KubeKey's etcd runs the etcd binary, see Pairing.Etcd).
func EtcdTag(minor uint) string {
	if p, err := PairingFor(minor); err == nil {
		return p.KubeadmEtcd
	}
	return kubeadmconstants.DefaultEtcdVersion
}

// CalicoRelease is one Calico release ksgen installs with the Tigera operator.
type CalicoRelease struct {
	Version string
	// Operator is the quay.io/tigera/operator tag its tigera-operator.yaml runs.
	Operator string
	// SeparateCRDs is true from v3.30, whose tigera-operator.yaml carries no
	// CRDs: operator-crds.yaml is applied first.
	SeparateCRDs bool
	// Registry is where that operator pulls Calico's images from by default.
	Registry string
}

// calicoReleases: the operator image of each release's
// manifests/tigera-operator.yaml (projectcalico/calico at the tag; see
// ../shared/upstream/PROVENANCE.md), and that operator's default Calico
// registry (tigera/operator pkg/components/images.go CalicoRegistry at the
// operator's tag: docker.io up to v1.36, quay.io from v1.38).
var calicoReleases = []CalicoRelease{
	{"v3.24.6", "v1.28.5", false, "docker.io"},
	{"v3.26.5", "v1.30.11", false, "docker.io"},
	{"v3.28.5", "v1.34.13", false, "docker.io"},
	{"v3.29.7", "v1.36.16", false, "docker.io"},
	{"v3.30.7", "v1.38.13", true, "quay.io"},
	{"v3.31.7", "v1.40.15", true, "quay.io"},
	{"v3.32.1", "v1.42.3", true, "quay.io"},
}

// Calico returns the Calico release paired with a Kubernetes version.
func Calico(kubernetesVersion string) CalicoRelease {
	v := pairing(kubernetesVersion).Calico
	i := slices.IndexFunc(calicoReleases, func(r CalicoRelease) bool { return r.Version == v })
	return calicoReleases[i]
}

// ContainerdFor returns the containerd and runc paired with a Kubernetes
// version.
func ContainerdFor(kubernetesVersion string) ContainerRuntime {
	return pairing(kubernetesVersion).Runtime
}

// KubeKeyEtcdVersion returns the etcd release of etcd.type kubekey for a
// Kubernetes version.
func KubeKeyEtcdVersion(kubernetesVersion string) string {
	return pairing(kubernetesVersion).Etcd
}
