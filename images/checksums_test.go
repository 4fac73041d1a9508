package images

import (
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/version"
)

// TestSHA256TableIsWellFormed catches copying slips: every pin is 64 lower-case
// hex digits, every architecture of a version is there, and no two files
// share a sum (a value pasted into the wrong row).
func TestSHA256TableIsWellFormed(t *testing.T) {
	seen := map[string]string{}
	for component, versions := range sha256Sums {
		for v, arches := range versions {
			for _, arch := range Arches {
				sum, ok := arches[arch]
				where := fmt.Sprintf("%s %s %s", component, v, arch)
				if !ok {
					t.Errorf("%s: no pin", where)
					continue
				}
				if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 || sum != hex.EncodeToString(b) {
					t.Errorf("%s: %q is not a lower-case sha256", where, sum)
				}
				if other, dup := seen[sum]; dup {
					t.Errorf("%s and %s have the same sum %s", where, other, sum)
				}
				seen[sum] = where
			}
			if len(arches) != len(Arches) {
				t.Errorf("%s %s: pins for %d architectures, want %v", component, v, len(arches), Arches)
			}
		}
	}
}

// TestEveryVersionKsgenPicksIsPinned: what ksgen chooses by itself (the
// binary versions above and the Kubernetes of `create config
// --with-kubesphere`) bakes without a --sha256 flag, for every architecture.
// etcd is the one download without a public pin (see checksums.go).
func TestEveryVersionKsgenPicksIsPinned(t *testing.T) {
	var k8s []string
	for _, r := range kubesphere {
		v, ok := KubernetesFor(r)
		if !ok {
			t.Errorf("KubeSphere %s: no pinned Kubernetes v1.%d–v1.%d", r.Version, r.MinMinor, r.MaxMinor)
			continue
		}
		if m := minorOf(v); m < r.MinMinor || m > r.MaxMinor {
			t.Errorf("KubeSphere %s picks %s, outside v1.%d–v1.%d", r.Version, v, r.MinMinor, r.MaxMinor)
		}
		k8s = append(k8s, v)
	}
	for _, v := range k8s {
		for _, arch := range Arches {
			for _, b := range Binaries(Cluster{KubernetesVersion: v, KubeKeyEtcd: true}, "debian", arch) {
				switch {
				case b.Name == "etcd" && b.SHA256 != "":
					t.Errorf("etcd %s has a pin now: drop the exception here and in the README", b.Version)
				case b.Name != "etcd" && b.SHA256 == "":
					t.Errorf("%s %s linux/%s: no pin", b.Name, b.Version, arch)
				}
			}
		}
	}
}

// TestPinnedKubernetesCoversEveryMinor: each minor ksgen renders for has a
// pinned patch, except the newest (v1.36), which no public table lists yet.
func TestPinnedKubernetesCoversEveryMinor(t *testing.T) {
	pinned := PinnedKubernetesVersions()
	if !slices.IsSortedFunc(pinned, compareVersions) {
		t.Errorf("not sorted: %v", pinned)
	}
	lo := version.MustParseSemantic(MinKubernetesVersion).Minor()
	var unpinned []uint
	for m := lo; m <= MaxKubernetesMinor; m++ {
		if !slices.ContainsFunc(pinned, func(v string) bool { return minorOf(v) == m }) {
			unpinned = append(unpinned, m)
		}
	}
	if !slices.Equal(unpinned, []uint{MaxKubernetesMinor}) {
		t.Errorf("minors without a pinned Kubernetes: %v, want only %d (pinned: %v)", unpinned, MaxKubernetesMinor, pinned)
	}
	if SHA256("kubeadm", DefaultKubernetesVersion, "amd64") != "" {
		t.Errorf("%s is pinned now: update this test and the README", DefaultKubernetesVersion)
	}
}

func TestBinariesCarryEtcdOnlyForKubeKeyEtcd(t *testing.T) {
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
	bins := Binaries(Cluster{KubernetesVersion: "v1.26.15", KubeKeyEtcd: true}, "flatcar", "arm64")
	i := slices.IndexFunc(bins, func(b Binary) bool { return b.Name == "etcd" })
	if i < 0 || bins[i].Dest != "/opt/bin" || bins[i].URL != "https://github.com/etcd-io/etcd/releases/download/"+EtcdVersion+"/etcd-"+EtcdVersion+"-linux-arm64.tar.gz" {
		t.Errorf("kubekey etcd on flatcar/arm64: %+v", bins)
	}
	if bins[0].SHA256 != "881a76cc98da0fe91394cb26f909186d0dcbf378262d11803ccf76f2a84a9039" {
		t.Errorf("kubeadm v1.26.15 arm64 pin: %q", bins[0].SHA256)
	}
}
