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
// image's checksum file, an AMI id).
func TestPackerTemplateValidates(t *testing.T) {
	t.Parallel()
	packer := need(t, "packer")
	for _, tc := range imageCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := ksgen(t, "images", "packer-vars", "-f", tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			vars := filepath.Join(t.TempDir(), "cluster.pkrvars.hcl")
			if err := os.WriteFile(vars, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"validate", "-syntax-only", "-var-file=" + vars, "."},
				{"validate", "-var-file=" + vars, "-var", "aws_source_ami=ami-0123456789abcdef0",
					"-var", "qemu_source_checksum=sha512:" + strings.Repeat("a", 128), "."},
			} {
				cmd := exec.Command(packer, args...)
				cmd.Dir = "../../images/packer"
				cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "PACKER_CONFIG_DIR="+t.TempDir())
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("packer %s: %v\n%s\nvars:\n%s", strings.Join(args, " "), err, b, out)
				}
			}
		})
	}
}

func TestPackerVarsCarryTheImageList(t *testing.T) {
	t.Parallel()
	vars, _, err := ksgen(t, "images", "packer-vars", "-f", "../../testdata/images/kubesphere-private-registry.yaml")
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
	for _, want := range []string{`kubernetes_version = "v1.26.15"`, "kubesphere/v3.4.1/kubesphere-installer.yaml", "flannel/v0.25.5/kube-flannel.yml", "/bin/linux/amd64/kubeadm"} {
		if !strings.Contains(vars, want) {
			t.Errorf("packer vars lack %s:\n%s", want, vars)
		}
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
