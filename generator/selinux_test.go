package generator

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
)

// TestSELinuxIsLeftEnforcing states what ksgen does with SELinux on Fedora
// CoreOS and RHEL-family hosts: nothing. KubeKey runs `setenforce 0` and
// writes SELINUX=disabled; ksgen leaves the OS's enforcing policy in place
// and relies on its labels (containerd runs containers in its own domain,
// without per-container labels, since its CRI enable_selinux is off). No
// payload file may switch SELinux off or turn containerd's labelling on.
func TestSELinuxIsLeftEnforcing(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../testdata/config-sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	if strings.Contains(doc, "ksgen.io/v1alpha1") {
		t.Fatal("config-sample.yaml has a ksgen document; this test adds its own")
	}
	doc += "\n---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: fcos\n  roles:\n    worker: {os: rhel}\n"
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s, r, err := spec.LoadFile(path)
	if err != nil || r.Err(false) != nil {
		t.Fatalf("load: %v %v", err, r.Err(false))
	}
	out, err := Generate(s, fixedBundle(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	oses := map[string]bool{}
	for _, f := range out.Files {
		for _, bad := range []string{"setenforce", "SELINUX=", "selinux/config", "enable_selinux"} {
			if bytes.Contains(f.Content, []byte(bad)) {
				t.Errorf("%s contains %q", f.Path, bad)
			}
		}
		if strings.HasSuffix(f.Path, "/config.ign") {
			oses["fcos"] = true
		}
		if strings.HasSuffix(f.Path, "/user-data") && strings.HasPrefix(f.Path, "node") {
			oses["rhel"] = true
		}
	}
	if !oses["fcos"] || !oses["rhel"] {
		t.Errorf("rendered payloads for %v, want fcos and rhel", oses)
	}
}
