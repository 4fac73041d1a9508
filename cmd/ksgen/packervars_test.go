package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/images"
)

// need returns the path of a tool the test runs; it skips when the tool is
// missing, unless CI is set (CI installs it: .ci/run).
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it)", tool)
		}
		t.Skipf("%s is not installed", tool)
	}
	return p
}

// TestPackerTemplateValidates runs packer validate on images/packer with the
// variables packer-vars writes for every image case: -syntax-only, then a
// full validation with the two values that would otherwise need the network
// (the qemu base image's checksum file, an AMI id). Cases with a download
// ksgen has no pin for (KubeSphere v3.4.1's installer) are written with
// --allow-unpinned; TestPackerVarsFullyPinned covers the pinned form.
func TestPackerTemplateValidates(t *testing.T) {
	t.Parallel()
	packer := need(t, "packer")
	for _, tc := range imageCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"images", "packer-vars", "-f", tc.spec}
			if !slices.Contains(fullyPinned, tc.spec) {
				args = append(args, "--allow-unpinned")
			}
			out, stderr, err := ksgen(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			packerValidate(t, packer, out)
		})
	}
}

func packerValidate(t *testing.T, packer, vars string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "cluster.pkrvars.hcl")
	if err := os.WriteFile(file, []byte(vars), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"validate", "-syntax-only", "-var-file=" + file, "."},
		{"validate", "-var-file=" + file, "-var", "aws_source_ami=ami-0123456789abcdef0",
			"-var", "qemu_source_checksum=sha512:" + strings.Repeat("a", 128), "."},
	} {
		cmd := exec.Command(packer, args...)
		cmd.Dir = "../../images/packer"
		cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "PACKER_CONFIG_DIR="+t.TempDir())
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("packer %s: %v\n%s\nvars:\n%s", strings.Join(args, " "), err, b, vars)
		}
	}
}

// fullyPinned are the specs whose every download ksgen pins by itself: the
// bundled example (v1.36.3, Calico, KubeKey's etcd), the seed's KubeSphere
// v3.3.1 on v1.22.10 as create config writes it, a v1.36 cluster with
// flannel, OpenEBS and a private registry, and v1.22.10 with Calico.
var fullyPinned = []string{
	"../../testdata/config-sample.yaml",
	"../../testdata/images/seed-kubesphere-v3.3.1.yaml",
	"../../testdata/images/v1.36-private-registry.yaml",
	"../../testdata/specs/valid-v1.22.yaml",
}

// fullyPinnedContainerd is the containerd each of fullyPinned bakes: the
// one its Kubernetes minor pairs (CRI v1alpha2's 1.7 for v1.22).
var fullyPinnedContainerd = map[string]string{
	"config-sample.yaml":          images.ContainerdFor("v1.36.3").Containerd,
	"seed-kubesphere-v3.3.1.yaml": images.ContainerdFor("v1.22.10").Containerd,
	"v1.36-private-registry.yaml": images.ContainerdFor("v1.36.3").Containerd,
	"valid-v1.22.yaml":            images.ContainerdFor("v1.22.10").Containerd,
}

// TestPackerVarsFullyPinned: for those specs, on both architectures,
// packer-vars succeeds with no --sha256 and no --allow-unpinned, every
// binary and asset carries ksgen's pin, and packer validate accepts it.
func TestPackerVarsFullyPinned(t *testing.T) {
	t.Parallel()
	packer, err := exec.LookPath("packer")
	if err != nil && os.Getenv("CI") != "" {
		t.Fatal("packer is not installed (.ci/run installs it)")
	}
	for _, spec := range fullyPinned {
		for _, arch := range images.Arches {
			t.Run(filepath.Base(spec)+"/"+arch, func(t *testing.T) {
				t.Parallel()
				vars, stderr, err := ksgen(t, "images", "packer-vars", "-f", spec, "--arch", arch)
				if err != nil {
					t.Fatalf("%v\n%s", err, stderr)
				}
				if strings.Contains(vars, `sha256 = ""`) || strings.Contains(vars, "allow_unpinned") {
					t.Errorf("fully pinned vars leave a download unpinned:\n%s", vars)
				}
				for _, want := range []string{"/bin/linux/" + arch + "/kubeadm", "containerd-" + fullyPinnedContainerd[filepath.Base(spec)] + "-linux-" + arch} {
					if !strings.Contains(vars, want) {
						t.Errorf("vars lack %s:\n%s", want, vars)
					}
				}
				if packer != "" {
					packerValidate(t, packer, vars)
				}
			})
		}
	}
	// The seed's vars: KubeKey's pins for v1.22.10, KubeKey's etcd v3.4.13,
	// Calico v3.24.6 and ks-installer v3.3.1 with the upstream files' sums.
	vars, _, err := ksgen(t, "images", "packer-vars", "-f", "../../testdata/images/seed-kubesphere-v3.3.1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`url = "https://dl.k8s.io/release/v1.22.10/bin/linux/amd64/kubeadm", dest = "/usr/bin/kubeadm", strip = 0, sha256 = "df5e090a3c0e24b92b26f22f1d7689b6ea860099ea89b97edf5d4c19fa6da0ca"`,
		`url = "https://github.com/etcd-io/etcd/releases/download/v3.4.13/etcd-v3.4.13-linux-amd64.tar.gz", dest = "/usr/local/bin", strip = 1, sha256 = "2ac029e47bab752dacdb7b30032f230f49e2f457cbc32e8f555c2210bb5ff107"`,
		`path = "calico/v3.24.6/tigera-operator.yaml", sha256 = "4f5c9eb0cd0022fe3511d1e23a0412f54cbfcd9ec32f3c0b862c36a28d47f323"`,
		`path = "kubesphere/v3.3.1/kubesphere-installer.yaml", sha256 = "4a4d361358a2632389c5e0b79c5ac6f195e45389efaccf1d401b2b4cc6644fc4"`,
		`path = "openebs/3.3.0/hostpath-operator.yaml", sha256 = "1e2634b86470cb57a11e00ba96121e72f8319a8e8bb5851fd50e7e1499852b75"`,
	} {
		if !strings.Contains(vars, want) {
			t.Errorf("seed vars lack %s:\n%s", want, vars)
		}
	}
}

// unpinnedSpec is the bundled example at a Kubernetes patch no table pins.
func unpinnedSpec(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/config-sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "unpinned.yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), "version: v1.36.3", "version: v1.36.1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPackerVarsNamesWhatIsUnpinned: without a pin packer-vars writes
// nothing and names each download, so a user knows which sums to supply.
func TestPackerVarsNamesWhatIsUnpinned(t *testing.T) {
	t.Parallel()
	out, _, err := ksgen(t, "images", "packer-vars", "-f", unpinnedSpec(t, t.TempDir()))
	if err == nil || out != "" {
		t.Fatalf("v1.36.1 cluster: err %v, output %q", err, out)
	}
	for _, want := range []string{
		"no sha256 pin for 3 downloads (linux/amd64)",
		"kubeadm", "v1.36.1", "https://dl.k8s.io/release/v1.36.1/bin/linux/amd64/kubelet",
		"--sha256 NAME=SUM", "--allow-unpinned", "v1.35.8",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// KubeSphere v3.4.1's installer has no stored copy to pin from.
	_, _, err = ksgen(t, "images", "packer-vars", "-f", "../../testdata/images/kubesphere-private-registry.yaml")
	if err == nil || !strings.Contains(err.Error(), "no sha256 pin for 1 downloads") || !strings.Contains(err.Error(), "kubesphere/v3.4.1/kubesphere-installer.yaml") {
		t.Errorf("KubeSphere v3.4.1: err %v", err)
	}
	for _, args := range [][]string{
		{"--sha256", "kubeadm=abc"},
		{"--sha256", "kubeadmin=" + strings.Repeat("a", 64)},
		{"--arch", "s390x"},
	} {
		base := []string{"images", "packer-vars", "-f", "../../testdata/images/kubesphere-private-registry.yaml"}
		if _, _, err := ksgen(t, append(base, args...)...); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: err %v", args, err)
		}
	}
	// A --sha256 pins what ksgen cannot.
	vars, _, err := ksgen(t, "images", "packer-vars", "-f", "../../testdata/images/kubesphere-private-registry.yaml",
		"--sha256", "kubesphere/v3.4.1/kubesphere-installer.yaml="+strings.Repeat("2e", 32))
	if err != nil || !strings.Contains(vars, `path = "kubesphere/v3.4.1/kubesphere-installer.yaml", sha256 = "`+strings.Repeat("2e", 32)+`"`) {
		t.Errorf("--sha256 for the installer: %v\n%s", err, vars)
	}
}

func TestPackerVarsCarryTheImageList(t *testing.T) {
	t.Parallel()
	vars, stderr, err := ksgen(t, "images", "packer-vars", "-f", "../../testdata/images/kubesphere-private-registry.yaml", "--allow-unpinned")
	if err != nil {
		t.Fatal(err)
	}
	list, _, err := ksgen(t, "images", "list", "-f", "../../testdata/images/kubesphere-private-registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range strings.Fields(list) {
		if !strings.Contains(vars, `"`+img+`"`) {
			t.Errorf("packer vars lack image %s", img)
		}
	}
	for _, want := range []string{`kubernetes_version = "v1.26.15"`, "allow_unpinned = true", "kubesphere/v3.4.1/kubesphere-installer.yaml", "flannel/v0.28.9/kube-flannel.yml", "openebs/3.3.0/hostpath-operator.yaml", "/bin/linux/amd64/kubeadm"} {
		if !strings.Contains(vars, want) {
			t.Errorf("packer vars lack %s:\n%s", want, vars)
		}
	}
	if !strings.Contains(stderr, "1 downloads are unpinned") {
		t.Errorf("no warning for the unpinned manifests: %q", stderr)
	}
}

func TestPackerScriptsPassShellcheck(t *testing.T) {
	t.Parallel()
	sc := need(t, "shellcheck")
	scripts, err := filepath.Glob("../../images/packer/scripts/*.sh")
	if err != nil || len(scripts) == 0 {
		t.Fatal("no provisioning scripts", err)
	}
	if out, err := exec.Command(sc, scripts...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// With -o, nothing is written unless every download is pinned: no empty
// or partial file is left behind, as a shell redirect would leave.
func TestPackerVarsOutputOnlyWhenComplete(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := unpinnedSpec(t, dir)
	out := filepath.Join(dir, "cluster.pkrvars.hcl")
	if _, _, err := ksgen(t, "images", "packer-vars", "-f", spec, "-o", out); err == nil {
		t.Fatal("an unpinned Kubernetes was written")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed packer-vars left %s behind (%v)", out, err)
	}
	if _, _, err := ksgen(t, "images", "packer-vars", "-f", spec, "-o", out, "--allow-unpinned"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), "kubernetes_version") {
		t.Fatalf("-o wrote %q, %v", b, err)
	}
}

// The image's OS comes from the spec (the ksgen document's os): it decides
// where the binaries go; an OS images/packer does not bake is refused with
// what to do instead.
func TestPackerVarsTakesTheOSFromTheSpec(t *testing.T) {
	t.Parallel()
	base, err := os.ReadFile("../../testdata/images/kubesphere-private-registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		config string
		want   []string
		warn   string
		err    string
	}{
		{config: "", want: []string{`dest = "/usr/bin/kubeadm"`, `name = "crictl", url = "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.35.0/crictl-v1.35.0-linux-amd64.tar.gz", dest = "/usr/bin"`}},
		{config: "spec: {os: rhel}", want: []string{`dest = "/usr/bin/kubelet"`}},
		{config: "spec: {roles: {worker: {os: flatcar}}}", want: []string{`dest = "/usr/bin/kubeadm"`}, warn: "hosts worker1 (flatcar) run an OS images/packer does not bake (it bakes ubuntu, debian, rhel): this image is not theirs"},
		{config: "spec: {os: flatcar}", err: "run an OS images/packer does not bake (it bakes ubuntu, debian, rhel): this image is not theirs; give them binaries.source: download"},
	} {
		dir := t.TempDir()
		spec := filepath.Join(dir, "cluster.yaml")
		doc := string(base)
		if tc.config != "" {
			doc += "\n---\napiVersion: ksgen.io/v1alpha1\nkind: Config\n" + tc.config + "\n"
		}
		if err := os.WriteFile(spec, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		vars, stderr, err := ksgen(t, "images", "packer-vars", "-f", spec, "--allow-unpinned")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.config, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.config, err, stderr)
		}
		for _, want := range tc.want {
			if !strings.Contains(vars, want) {
				t.Errorf("%q: vars lack %s:\n%s", tc.config, want, vars)
			}
		}
		if !strings.Contains(stderr, tc.warn) {
			t.Errorf("%q: stderr lacks the warning %q:\n%s", tc.config, tc.warn, stderr)
		}
	}
}
