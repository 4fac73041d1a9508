package images

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"

	"github.com/ksgen/ksgen/internal/upstream"
)

// TestPairingsCoverEveryMinor: one row per minor ksgen renders for, in
// order; every Calico release is one ksgen knows the operator of, and the
// newest row is the linked kubeadm's own pins.
func TestPairingsCoverEveryMinor(t *testing.T) {
	lo := minorOf(MinKubernetesVersion)
	if len(pairings) != int(MaxKubernetesMinor-lo+1) {
		t.Fatalf("%d rows for v1.%d–v1.%d", len(pairings), lo, MaxKubernetesMinor)
	}
	for i, p := range pairings {
		if p.Minor != lo+uint(i) {
			t.Errorf("row %d is v1.%d, want v1.%d", i, p.Minor, lo+uint(i))
		}
		if !slices.ContainsFunc(calicoReleases, func(r CalicoRelease) bool { return r.Version == p.Calico }) {
			t.Errorf("v1.%d: Calico %s has no release entry", p.Minor, p.Calico)
		}
		if _, err := Download("etcd", p.Etcd, "amd64"); err != nil {
			t.Errorf("v1.%d: etcd %s: %v", p.Minor, p.Etcd, err)
		}
		for _, b := range [][2]string{{"containerd", p.Runtime.Containerd}, {"runc", p.Runtime.Runc}} {
			if _, err := Download(b[0], b[1], "amd64"); err != nil || p.Runtime.Source == "" {
				t.Errorf("v1.%d: %s %s: %v (source %q)", p.Minor, b[0], b[1], err, p.Runtime.Source)
			}
		}
	}
	last := pairings[len(pairings)-1]
	if last.Pause != kubeadmconstants.PauseVersion || last.CoreDNS != kubeadmconstants.CoreDNSVersion || last.KubeadmEtcd != kubeadmconstants.DefaultEtcdVersion {
		t.Errorf("v1.%d: %+v, not the linked kubeadm's pins", last.Minor, last)
	}
	if got := KubeKeyEtcdVersion(DefaultKubernetesVersion); got != EtcdVersion {
		t.Errorf("EtcdVersion %s, the default Kubernetes pairs %s", EtcdVersion, got)
	}
	if rt := ContainerdFor(DefaultKubernetesVersion); rt.Containerd != ContainerdVersion || rt.Runc != RuncVersion {
		t.Errorf("ContainerdVersion %s, RuncVersion %s: the default Kubernetes pairs %+v", ContainerdVersion, RuncVersion, rt)
	}
	if _, err := PairingFor(21); err == nil {
		t.Error("v1.21: want an error")
	}
}

// TestContainerdFollowsTheCRI: v1.22's kubelet speaks CRI v1alpha2 only,
// which containerd 2.0 removed, so it keeps a 1.x (config version 2); the
// minors containerd's support table gives a 2.x get one (version 3), as does
// the default Kubernetes, whose kubeadm warns about a containerd without
// the RuntimeConfig call.
func TestContainerdFollowsTheCRI(t *testing.T) {
	for _, tc := range []struct {
		version    string
		containerd string
		config     int
	}{
		{"v1.22.10", "1.7.22", 2},
		{"v1.30.8", "1.7.22", 2},
		{"v1.31.4", "1.7.22", 2},
		{"v1.32.0", "2.3.4", 3},
		{"v1.34.4", "2.3.4", 3},
		{DefaultKubernetesVersion, "2.3.4", 3},
	} {
		rt := ContainerdFor(tc.version)
		if rt.Containerd != tc.containerd || rt.ConfigVersion() != tc.config {
			t.Errorf("%s: containerd %s (config version %d), want %s (%d)", tc.version, rt.Containerd, rt.ConfigVersion(), tc.containerd, tc.config)
		}
	}
}

// calicoListed is the "Calico docs 3.NN (1.A–1.B)" range a row cites.
var calicoListed = regexp.MustCompile(`Calico docs 3\.(\d+) \(1\.(\d+)–1\.(\d+)\)`)

// TestCalicoPairingFollowsTheDocs: each row's Calico is of the minor its
// source names, whose documented range holds the row's Kubernetes minor,
// and no newer Calico release ksgen knows also lists it (compat/COMPAT.md's
// ranges, by Calico minor).
func TestCalicoPairingFollowsTheDocs(t *testing.T) {
	// Final "Supported versions" lists, compat/COMPAT.md.
	docs := map[uint][2]uint{24: {22, 25}, 26: {24, 28}, 28: {27, 30}, 29: {29, 32}, 30: {31, 35}, 31: {32, 35}, 32: {34, 36}}
	for _, p := range pairings {
		m := calicoListed.FindStringSubmatch(p.Source)
		if m == nil {
			t.Errorf("v1.%d: source %q cites no Calico docs range", p.Minor, p.Source)
			continue
		}
		n := func(s string) uint { v, _ := strconv.Atoi(s); return uint(v) }
		cm, lo, hi := n(m[1]), n(m[2]), n(m[3])
		if docs[cm] != [2]uint{lo, hi} || p.Minor < lo || p.Minor > hi || !strings.HasPrefix(p.Calico, fmt.Sprintf("v3.%d.", cm)) {
			t.Errorf("v1.%d: Calico %s, source %q", p.Minor, p.Calico, p.Source)
		}
		for newer, r := range docs {
			if newer > cm && p.Minor >= r[0] && p.Minor <= r[1] {
				t.Errorf("v1.%d: Calico 3.%d also lists it and is newer than %s", p.Minor, newer, p.Calico)
			}
		}
	}
}

// TestAssetPinsMatchUpstream recomputes every asset pin from the stored
// upstream file, and checks that each Calico release's operator tag is the
// image its tigera-operator.yaml runs and that its CRDs are where
// SeparateCRDs says.
func TestAssetPinsMatchUpstream(t *testing.T) {
	for path, pin := range assetPins {
		b, err := os.ReadFile(upstream.File(t, upstream.AssetFile(path)))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != pin {
			t.Errorf("%s: pin %s, the upstream file's sha256 is %x", path, pin, sum)
		}
	}
	for _, r := range calicoReleases {
		b, err := os.ReadFile(upstream.File(t, upstream.AssetFile("calico/"+r.Version+"/tigera-operator.yaml")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "image: quay.io/tigera/operator:"+r.Operator+"\n") {
			t.Errorf("Calico %s: its operator manifest does not run operator %s", r.Version, r.Operator)
		}
		if crds := strings.Contains(string(b), "\nkind: CustomResourceDefinition\n"); crds == r.SeparateCRDs {
			t.Errorf("Calico %s: tigera-operator.yaml carries CRDs: %v, SeparateCRDs %v", r.Version, crds, r.SeparateCRDs)
		}
	}
}
