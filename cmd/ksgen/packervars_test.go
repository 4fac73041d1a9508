package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
// variables packer-vars writes: -syntax-only, then a full validation with
// the two values that would otherwise need the network (the qemu base
// image's checksum file, an AMI id). Every case has some download without a
// public pin (v1.36 binaries, etcd, manifests), so the vars are written with
// --allow-unpinned; TestPackerVarsFullyPinned covers the pinned form.
func TestPackerTemplateValidates(t *testing.T) {
	t.Parallel()
	packer := need(t, "packer")
	for _, tc := range imageCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := ksgen(t, "images", "packer-vars", "-f", tc.spec, "--allow-unpinned")
			if err != nil {
				t.Fatal(err)
			}
			packerValidate(t, packer, out)
		})
	}
	t.Run("fully pinned", func(t *testing.T) {
		t.Parallel()
		packerValidate(t, packer, fullyPinnedVars(t))
	})
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

// assetSums stand in for the sums a user copies from the flannel, OpenEBS
// and ks-installer releases (ksgen has no pin for manifests); they only need to
// be well-formed here.
var assetSums = []string{
	"--sha256", "flannel/v0.25.5/kube-flannel.yml=" + strings.Repeat("1f", 32),
	"--sha256", "kubesphere/v3.4.1/kubesphere-installer.yaml=" + strings.Repeat("2e", 32),
	"--sha256", "openebs/3.3.0/hostpath-operator.yaml=" + strings.Repeat("3d", 32),
}

// fullyPinnedVars: v1.26.15 with flannel, KubeSphere v3.4.1 and stacked etcd
// on arm64; the binaries' pins come from images/checksums.go.
func fullyPinnedVars(t *testing.T) string {
	t.Helper()
	args := append([]string{"images", "packer-vars", "-f", "../../testdata/images/kubesphere-private-registry.yaml", "--arch", "arm64"}, assetSums...)
	out, stderr, err := ksgen(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	return out
}

func TestPackerVarsFullyPinned(t *testing.T) {
	t.Parallel()
	vars := fullyPinnedVars(t)
	if strings.Contains(vars, `sha256 = ""`) || strings.Contains(vars, "allow_unpinned") {
		t.Errorf("fully pinned vars leave a download unpinned:\n%s", vars)
	}
	// Pins as KubeKey's components.json and Kubespray's checksums.yml list them.
	for _, want := range []string{
		`url = "https://dl.k8s.io/release/v1.26.15/bin/linux/arm64/kubeadm", dest = "/usr/bin/kubeadm", strip = 0, sha256 = "881a76cc98da0fe91394cb26f909186d0dcbf378262d11803ccf76f2a84a9039"`,
		`url = "https://github.com/containerd/containerd/releases/download/v1.7.22/containerd-1.7.22-linux-arm64.tar.gz", dest = "/usr/local", strip = 0, sha256 = "48d0a8461ae829b12b07c3663b14b70287d0607a0792719c51b4e4dd700b02ce"`,
		`path = "flannel/v0.25.5/kube-flannel.yml", sha256 = "` + strings.Repeat("1f", 32) + `"`,
	} {
		if !strings.Contains(vars, want) {
			t.Errorf("vars lack %s:\n%s", want, vars)
		}
	}
	if strings.Contains(vars, `name = "etcd"`) {
		t.Errorf("stacked etcd cluster bakes the etcd binary:\n%s", vars)
	}
}

// TestPackerVarsNamesWhatIsUnpinned: without a pin packer-vars writes
// nothing and names each download, so a user knows which sums to supply.
func TestPackerVarsNamesWhatIsUnpinned(t *testing.T) {
	t.Parallel()
	out, _, err := ksgen(t, "images", "packer-vars", "-f", "../../testdata/config-sample.yaml")
	if err == nil || out != "" {
		t.Fatalf("default v1.36.3 cluster: err %v, output %q", err, out)
	}
	for _, want := range []string{
		"no sha256 pin for 5 downloads (linux/amd64)",
		"kubeadm", "v1.36.3", "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubelet",
		"https://github.com/etcd-io/etcd/releases/download/v3.6.8/etcd-v3.6.8-linux-amd64.tar.gz",
		"calico/v3.27.3/tigera-operator.yaml",
		"--sha256 NAME=SUM", "--allow-unpinned", "v1.35.1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
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
	for _, want := range []string{`kubernetes_version = "v1.26.15"`, "allow_unpinned = true", "kubesphere/v3.4.1/kubesphere-installer.yaml", "flannel/v0.25.5/kube-flannel.yml", "openebs/3.3.0/hostpath-operator.yaml", "/bin/linux/amd64/kubeadm"} {
		if !strings.Contains(vars, want) {
			t.Errorf("packer vars lack %s:\n%s", want, vars)
		}
	}
	if !strings.Contains(stderr, "3 downloads are unpinned") {
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
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out := filepath.Join(dir, "cluster.pkrvars.hcl")
	if _, _, err := ksgen(t, "images", "packer-vars", "-f", spec, "-o", out); err == nil {
		t.Skip("every download of the sample is pinned: nothing to refuse")
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
		err    string
	}{
		{config: "", want: []string{`dest = "/usr/bin/kubeadm"`, `name = "crictl", url = "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.35.0/crictl-v1.35.0-linux-amd64.tar.gz", dest = "/usr/bin"`}},
		{config: "spec: {os: rhel}", want: []string{`dest = "/usr/bin/kubelet"`}},
		{config: "spec: {roles: {worker: {os: flatcar}}}", err: "hosts worker1 run flatcar, whose image images/packer does not bake (it bakes ubuntu, debian, rhel): give them binaries.source: download"},
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
	}
}
