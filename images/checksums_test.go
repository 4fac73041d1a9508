package images

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/internal/upstream"
)

// TestPinTableIsWellFormed catches copying slips: every pin is 64 lower-case
// hex digits, every row names a source and a component Download knows, no
// release has two rows, and no two files share a sum (a value pasted into
// the wrong row).
func TestPinTableIsWellFormed(t *testing.T) {
	seen := map[string]string{}
	rows := map[string]bool{}
	for _, r := range pins {
		key := r.component + " " + r.version
		if rows[key] {
			t.Errorf("%s: two rows", key)
		}
		rows[key] = true
		if _, ok := downloadURL[r.component]; !ok || r.source == "" {
			t.Errorf("%s: unknown component or no source", key)
		}
		for arch, sum := range map[string]string{"amd64": r.amd64, "arm64": r.arm64} {
			where := key + " " + arch
			if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 || sum != hex.EncodeToString(b) {
				t.Errorf("%s: %q is not a lower-case sha256", where, sum)
			}
			if other, dup := seen[sum]; dup {
				t.Errorf("%s and %s have the same sum %s", where, other, sum)
			}
			seen[sum] = where
		}
	}
}

// TestPinsMatchTheirSources reads the stored copies of the public tables the
// rows cite (../shared/upstream/checksums) and checks every row against its
// own source, and against pinned-sha256.tsv where that lists the release.
// Rows citing kubespray@005bdce7 (v1.33.8) have no stored copy to check.
func TestPinsMatchTheirSources(t *testing.T) {
	var ks map[string]map[string]map[string]any
	b, err := os.ReadFile(upstream.File(t, "checksums/kubespray-46dbdd39-checksums.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ks); err != nil {
		t.Fatal(err)
	}
	var kk map[string]map[string]map[string]string
	b, err = os.ReadFile(upstream.File(t, "checksums/kubekey-3.x-44214fea-components.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &kk); err != nil {
		t.Fatal(err)
	}
	kubesprayKey := map[string]string{
		"kubeadm": "kubeadm_checksums", "kubelet": "kubelet_checksums", "kubectl": "kubectl_checksums",
		"etcd": "etcd_binary_checksums", "containerd": "containerd_archive_checksums", "runc": "runc_checksums",
		"cni-plugins": "cni_binary_checksums", "crictl": "crictl_checksums", "helm": "helm_archive_checksums",
	}
	source := func(r pinRow, arch string) string {
		switch r.source {
		case kubespray:
			sum, _ := ks[kubesprayKey[r.component]][arch][strings.TrimPrefix(r.version, "v")].(string)
			return strings.TrimPrefix(sum, "sha256:")
		case kubekey:
			return kk[r.component][arch][r.version]
		}
		return "unchecked"
	}
	checked := 0
	for _, r := range pins {
		for arch, sum := range map[string]string{"amd64": r.amd64, "arm64": r.arm64} {
			switch want := source(r, arch); want {
			case "unchecked":
			case sum:
				checked++
			default:
				t.Errorf("%s %s %s: pin %s, %s says %q", r.component, r.version, arch, sum, r.source, want)
			}
		}
	}
	f, err := os.Open(upstream.File(t, "checksums/pinned-sha256.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(col[0], "#") || len(col) < 5 {
			continue
		}
		for _, v := range []string{col[1], "v" + col[1]} {
			if p, err := Download(col[0], v, col[2]); err == nil && p.SHA256 != col[4] {
				t.Errorf("%s %s %s: pin %s, pinned-sha256.tsv says %s", col[0], v, col[2], p.SHA256, col[4])
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d sums checked against a stored table", checked)
	}
}

func TestDownload(t *testing.T) {
	p, err := Download("kubeadm", "v1.36.3", "arm64")
	if err != nil || p.URL != "https://dl.k8s.io/release/v1.36.3/bin/linux/arm64/kubeadm" ||
		p.SHA256 != "276cfbdc43b10fef663288cc1ed76abf77b1b7f700e9f1c053cb5dc3115484de" || p.Source != kubespray {
		t.Errorf("kubeadm v1.36.3 arm64: %+v, %v", p, err)
	}
	p, err = Download("etcd", "v3.4.13", "amd64")
	if err != nil || p.URL != "https://github.com/etcd-io/etcd/releases/download/v3.4.13/etcd-v3.4.13-linux-amd64.tar.gz" ||
		p.SHA256 != "2ac029e47bab752dacdb7b30032f230f49e2f457cbc32e8f555c2210bb5ff107" {
		t.Errorf("etcd v3.4.13 amd64: %+v, %v", p, err)
	}
	// No pin: the URL, and an error a caller can tell apart.
	p, err = Download("kubelet", "v1.36.99", "amd64")
	if !errors.Is(err, ErrNoPin) || p.URL != "https://dl.k8s.io/release/v1.36.99/bin/linux/amd64/kubelet" || p.SHA256 != "" {
		t.Errorf("unpinned kubelet: %+v, %v", p, err)
	}
	for _, c := range [][3]string{{"kubeproxy", "v1.36.3", "amd64"}, {"kubeadm", "v1.36.3", "s390x"}} {
		if p, err := Download(c[0], c[1], c[2]); err == nil || errors.Is(err, ErrNoPin) || p.URL != "" {
			t.Errorf("%v: %+v, %v", c, p, err)
		}
	}
}

// TestEveryVersionKsgenPicksIsPinned: what ksgen chooses by itself bakes
// without a --sha256 flag, for every architecture: every binary (etcd of
// the minor's pairing included) for the newest pinned patch of every minor
// and for the default version, and every asset of each minor's Calico,
// flannel, OpenEBS and KubeSphere v3.3.1.
func TestEveryVersionKsgenPicksIsPinned(t *testing.T) {
	newest := map[uint]string{}
	for _, v := range PinnedKubernetesVersions() {
		newest[minorOf(v)] = v
	}
	k8s := []string{DefaultKubernetesVersion}
	for _, p := range pairings {
		k8s = append(k8s, newest[p.Minor])
	}
	for _, v := range k8s {
		for _, arch := range Arches {
			for _, b := range Binaries(Cluster{KubernetesVersion: v, KubeKeyEtcd: true}, "debian", arch) {
				if b.SHA256 == "" || b.URL == "" {
					t.Errorf("Kubernetes %s: %s %s linux/%s has no pin", v, b.Name, b.Version, arch)
				}
			}
		}
		for _, cni := range []string{"calico", "flannel"} {
			for _, a := range Assets(Cluster{KubernetesVersion: v, CNI: cni, OpenEBS: true, KubeSphere: "v3.3.1"}) {
				if a.SHA256 == "" {
					t.Errorf("Kubernetes %s: asset %s has no pin", v, a.Path)
				}
			}
		}
	}
}

// TestPinnedKubernetesCoversEveryMinor: each minor ksgen renders for has a
// pinned patch, the default version among them, and every KubeSphere
// release gets a pinned Kubernetes from create config.
func TestPinnedKubernetesCoversEveryMinor(t *testing.T) {
	pinned := PinnedKubernetesVersions()
	if !slices.IsSortedFunc(pinned, compareVersions) {
		t.Errorf("not sorted: %v", pinned)
	}
	lo := version.MustParseSemantic(MinKubernetesVersion).Minor()
	for m := lo; m <= MaxKubernetesMinor; m++ {
		if !slices.ContainsFunc(pinned, func(v string) bool { return minorOf(v) == m }) {
			t.Errorf("v1.%d: no pinned Kubernetes (pinned: %v)", m, pinned)
		}
	}
	if !slices.Contains(pinned, DefaultKubernetesVersion) {
		t.Errorf("the default %s is not pinned", DefaultKubernetesVersion)
	}
	for _, r := range kubesphere {
		v, ok := KubernetesFor(r)
		if m := minorOf(v); !ok || m < r.MinMinor || m > r.MaxMinor {
			t.Errorf("KubeSphere %s picks %q, outside v1.%d–v1.%d", r.Version, v, r.MinMinor, r.MaxMinor)
		}
	}
}

func TestBinariesCarryThePairedEtcdOnlyForKubeKeyEtcd(t *testing.T) {
	names := func(c Cluster) []string {
		var out []string
		for _, b := range Binaries(c, "flatcar", "arm64") {
			out = append(out, b.Name)
		}
		return out
	}
	if got := names(Cluster{KubernetesVersion: "v1.26.15"}); slices.Contains(got, "etcd") {
		t.Errorf("stacked etcd cluster downloads etcd: %v", got)
	}
	for v, etcd := range map[string]string{"v1.22.10": "v3.4.13", "v1.26.15": "v3.5.24", "v1.34.11": "v3.5.33", "v1.36.3": "v3.6.14"} {
		bins := Binaries(Cluster{KubernetesVersion: v, KubeKeyEtcd: true}, "flatcar", "arm64")
		i := slices.IndexFunc(bins, func(b Binary) bool { return b.Name == "etcd" })
		if i < 0 || bins[i].Dest != "/opt/bin" || bins[i].Version != etcd || bins[i].Strip != 1 ||
			bins[i].URL != fmt.Sprintf("https://github.com/etcd-io/etcd/releases/download/%s/etcd-%s-linux-arm64.tar.gz", etcd, etcd) {
			t.Errorf("Kubernetes %s, kubekey etcd on flatcar/arm64: %+v", v, bins)
		}
	}
}
