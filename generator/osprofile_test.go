package generator_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ignconfig "github.com/coreos/ignition/v2/config"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/render/binaries"
	"github.com/ksgen/ksgen/generator/output/tree"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
	"github.com/ksgen/ksgen/images"
)

// etcdSum stands for a sum the user supplies for etcd, which has no pin.
const etcdSum = "1111111111111111111111111111111111111111111111111111111111111111"

// loadSample is the bundled example at a Kubernetes version and with a
// ksgen document.
func loadSample(t *testing.T, version, config string) (*spec.Spec, *spec.Report) {
	t.Helper()
	raw, err := os.ReadFile("../testdata/config-sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.Replace(string(raw), "version: v1.36.3", "version: "+version, 1))
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, append(raw, "\n---\n"+config...), 0o644); err != nil {
		t.Fatal(err)
	}
	s, r, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

// TestOSProfiles renders the example for each OS from a stock image
// (binaries.source: download) and checks what a user of that OS would: the
// node boots the one payload its OS reads, in a form that OS's reader
// accepts; the kubelet runs from the directory the downloads fill; the
// downloads carry the pin table's URLs and sums for the spec's version,
// with the pinned containerd and runc run in place of any the stock image
// ships; the baked image (images/packer) puts the
// binaries where the payload looks for them.
func TestOSProfiles(t *testing.T) {
	t.Parallel()
	const version = "v1.35.1"
	for _, name := range osprofile.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			prof := osprofile.Of(name)
			s, r := loadSample(t, version, "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: "+name+
				"\n  binaries:\n    source: download\n    downloads:\n    - {name: etcd, url: 'https://mirror.example/etcd.tar.gz', sha256: '"+etcdSum+"'}\n")
			if err := r.Err(false); err != nil {
				t.Fatal(err)
			}
			out, err := generator.Generate(s, testBundle(t), generator.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := files(t, out)
			var idx generator.Index
			if err := json.Unmarshal(got[tree.IndexFile], &idx); err != nil {
				t.Fatal(err)
			}
			for _, n := range idx.Nodes {
				want, other := "user-data", "config.ign"
				if prof.Ignition() {
					want, other = other, want
				}
				if n.OS != name || n.Format != prof.Format || n.Payload != want {
					t.Errorf("%s: index says os %s, format %s, payload %s; want %s, %s, %s", n.Name, n.OS, n.Format, n.Payload, name, prof.Format, want)
				}
				if got[n.Name+"/"+other] != nil || got[n.Name+"/"+want] == nil {
					t.Errorf("%s: wants %s only", n.Name, want)
				}
			}
			payload := got["master1/"+idx.Nodes[0].Payload]
			if prof.Ignition() {
				if _, rpt, err := ignconfig.Parse(payload); err != nil || len(rpt.Entries) > 0 {
					t.Errorf("Ignition's parser: %v %s", err, rpt)
				}
				if bu := string(got["master1/config.bu"]); !strings.Contains(bu, "\nvariant: "+prof.IgnitionVariant+"\n") {
					t.Errorf("config.bu is not variant %s:\n%.80s", prof.IgnitionVariant, bu)
				}
			} else if !strings.HasPrefix(string(payload), "#cloud-config\n") {
				t.Errorf("user-data is not a #cloud-config")
			}

			dropIn := string(got["master1/rootfs/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"])
			if !strings.Contains(dropIn, "ExecStart="+prof.BinDir+"/kubelet ") {
				t.Errorf("the kubelet does not run from %s:\n%s", prof.BinDir, dropIn)
			}
			// The downloads: the pin table's, where the payload runs them.
			sums := string(got["master1/rootfs"+binaries.SumsFile])
			for _, b := range []string{"kubeadm", "kubelet", "kubectl"} {
				line := pinSum(t, b, version, "amd64") + "  " + prof.BinDir + "/" + b + "\n"
				if !strings.Contains(sums, line) || !strings.Contains(string(payload), "https://dl.k8s.io/release/"+version+"/bin/linux/amd64/"+b) {
					t.Errorf("payload lacks the pinned %s download (%q):\n%s", b, line, sums)
				}
			}
			// containerd and runc are the pinned pair on every OS, the
			// stock image's replaced: its version is not known.
			rt := images.ContainerdFor(version)
			for b, at := range map[string]string{
				"containerd": binaries.DownloadDir + "/containerd-" + rt.Containerd + "-linux-amd64.tar.gz",
				"runc":       prof.RuncPath,
			} {
				pinned := pinSum(t, b, map[string]string{"containerd": rt.Containerd, "runc": rt.Runc}[b], "amd64")
				if !strings.Contains(sums, pinned+"  "+at+"\n") {
					t.Errorf("%s is not downloaded to %s:\n%s", b, at, sums)
				}
			}
			unpack := string(got["master1/rootfs"+binaries.Script])
			if !strings.Contains(unpack, "tar -C "+prof.RuntimePrefix+" ") {
				t.Errorf("containerd's archive is not unpacked under %s:\n%s", prof.RuntimePrefix, unpack)
			}
			unit := string(got["master1/rootfs/etc/systemd/system/containerd.service"])
			if !strings.Contains(unit, "ExecStart="+prof.RuntimePrefix+"/bin/containerd\n") {
				t.Errorf("containerd.service does not run the downloaded containerd:\n%s", unit)
			}
			// The shim and runc are found through PATH, which systemd's
			// default has /usr/local/{sbin,bin} in but not /opt/bin.
			if onPath := prof.RuntimePrefix == "/usr/local"; onPath == strings.Contains(unit, "Environment=PATH="+prof.RuntimePrefix+"/bin:") {
				t.Errorf("containerd.service's PATH (prefix %s on systemd's default PATH: %t):\n%s", prof.RuntimePrefix, onPath, unit)
			}
			if !strings.Contains(sums, etcdSum+"  "+binaries.DownloadDir+"/etcd.tar.gz\n") {
				t.Errorf("etcd's named download is not used:\n%s", sums)
			}
			// The baked image puts kubeadm, kubelet and kubectl where the
			// payload runs them.
			if prof.Bake {
				for _, b := range images.Binaries(images.Cluster{KubernetesVersion: version}, name, "amd64")[:3] {
					if b.Dest != prof.BinDir+"/"+b.Name {
						t.Errorf("images/packer installs %s at %s, the payload runs %s", b.Name, b.Dest, prof.BinDir+"/"+b.Name)
					}
				}
			}
		})
	}
}

// With binaries from the image, an OS whose stock image ships containerd
// keeps it: no containerd or runc download and no unit of ksgen's in place
// of the image's; Flatcar's is pointed at ksgen's config.toml.
func TestStockContainerdKept(t *testing.T) {
	t.Parallel()
	for _, name := range []string{osprofile.FCOS, osprofile.Flatcar} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, r := loadSample(t, "v1.35.1", "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: "+name+"\n  binaries: {source: image}\n")
			if err := r.Err(false); err != nil {
				t.Fatal(err)
			}
			out, err := generator.Generate(s, testBundle(t), generator.Options{Nodes: []string{"node1"}})
			if err != nil {
				t.Fatal(err)
			}
			got := files(t, out)
			if unit, ok := got["node1/rootfs/etc/systemd/system/containerd.service"]; ok {
				t.Errorf("ksgen writes containerd.service over the image's:\n%s", unit)
			}
			if sums, ok := got["node1/rootfs"+binaries.SumsFile]; ok {
				t.Errorf("node1 downloads with binaries from the image:\n%s", sums)
			}
			dropIn, ok := got["node1/rootfs/etc/systemd/system/containerd.service.d/10-ksgen.conf"]
			if want := osprofile.Of(name).ContainerdEnv; ok != want || want && !strings.Contains(string(dropIn), "CONTAINERD_CONFIG=/etc/containerd/config.toml") {
				t.Errorf("drop-in %q, want one naming the config: %t", dropIn, want)
			}
		})
	}
}

// A version with no pin is an error naming the binary, its version, the
// hosts and the way out, at binaries.source's line; a mirror moves every
// URL under it and keeps the pinned sums.
func TestDownloadPinsAndMirror(t *testing.T) {
	t.Parallel()
	// v1.33.1 has no pin (the table pins v1.33's newest patch only).
	_, r := loadSample(t, "v1.33.1", "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  binaries: {source: download}\n")
	s, _ := loadSample(t, "v1.33.1", "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  binaries: {source: download}\n")
	if _, err := generator.Validate(s, r); err != nil {
		t.Fatal(err)
	}
	err := r.Err(false)
	for _, want := range []string{
		"ksgen.spec.binaries.source: kubeadm v1.33.1 (linux/amd64), which hosts master1, master2, master3, node1, node2, node3 download, has no sha256",
		"{name: kubeadm, url: URL, sha256: SUM} to ksgen.spec.binaries.downloads",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err != nil && !strings.Contains(err.Error(), "(line ") {
		t.Errorf("error %v names no line", err)
	}

	s, r = loadSample(t, "v1.35.1", "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  binaries:\n    source: download\n    mirror: http://10.0.0.9:8080/k8s/\n    downloads:\n    - {name: etcd, url: 'http://10.0.0.9:8080/etcd.tar.gz', sha256: '"+etcdSum+"'}\n")
	if err := r.Err(false); err != nil {
		t.Fatal(err)
	}
	out, err := generator.Generate(s, testBundle(t), generator.Options{Nodes: []string{"node1"}})
	if err != nil {
		t.Fatal(err)
	}
	ud := string(files(t, out)["node1/user-data"])
	ctrd := images.ContainerdFor("v1.35.1").Containerd
	for _, want := range []string{
		"http://10.0.0.9:8080/k8s/dl.k8s.io/release/v1.35.1/bin/linux/amd64/kubelet",
		"http://10.0.0.9:8080/k8s/github.com/containerd/containerd/releases/download/v" + ctrd + "/containerd-" + ctrd + "-linux-amd64.tar.gz",
		pinSum(t, "kubelet", "v1.35.1", "amd64"),
	} {
		if !strings.Contains(ud, want) {
			t.Errorf("node1's user-data lacks %s", want)
		}
	}
	if strings.Contains(ud, "https://dl.k8s.io") {
		t.Errorf("node1's user-data still downloads from upstream")
	}
}

// The kubelet's cgroup driver and containerd's SystemdCgroup agree
// whichever sets the driver: ksgen's default, the spec's raw
// kubeletConfiguration, or a kubeadm patch (strategic or JSON).
func TestCgroupDriverAgreesWithContainerd(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		config, driver, systemd string
	}{
		"default":         {"", "systemd", "true"},
		"strategic patch": {"  kubeadmPatches:\n  - target: {kind: KubeletConfiguration}\n    patch: {cgroupDriver: cgroupfs}\n", "cgroupfs", "false"},
		"json patch":      {"  kubeadmPatches:\n  - target: {kind: KubeletConfiguration}\n    jsonPatch: [{op: replace, path: /cgroupDriver, value: cgroupfs}]\n", "cgroupfs", "false"},
		"patched back":    {"  kubeadmPatches:\n  - target: {kind: KubeletConfiguration}\n    patch: {cgroupDriver: cgroupfs}\n  - target: {kind: KubeletConfiguration}\n    patch: {cgroupDriver: systemd}\n", "systemd", "true"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, r := loadSample(t, "v1.36.3", "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: ubuntu\n"+tc.config)
			if err := r.Err(false); err != nil {
				t.Fatal(err)
			}
			out, err := generator.Generate(s, testBundle(t), generator.Options{Formats: []string{generator.FormatNone}})
			if err != nil {
				t.Fatal(err)
			}
			got := files(t, out)
			if kcfg := string(got["master1/kubeadm.yaml"]); !strings.Contains(kcfg, "\ncgroupDriver: "+tc.driver+"\n") {
				t.Errorf("master1's kubeadm.yaml does not set cgroupDriver: %s", tc.driver)
			}
			for _, node := range []string{"master1", "node1"} {
				if toml := string(got[node+"/rootfs/etc/containerd/config.toml"]); !strings.Contains(toml, "SystemdCgroup = "+tc.systemd+"\n") {
					t.Errorf("%s's containerd config.toml lacks SystemdCgroup = %s:\n%s", node, tc.systemd, toml)
				}
			}
		})
	}
}

// pinSum is the pin table's sha256 of a download.
func pinSum(t *testing.T, component, version, arch string) string {
	t.Helper()
	p, err := images.Download(component, version, arch)
	if err != nil {
		t.Fatal(err)
	}
	return p.SHA256
}
