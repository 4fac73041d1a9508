// Package upstream finds the reference copies of upstream files (manifests,
// pin tables) that tests check ksgen's pins and renderers against. They live
// in ../shared/upstream beside the repository, never inside it; CI has them.
package upstream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dir returns the absolute path of ../shared/upstream (relative to the
// repository root). It skips the test when the folder is absent, unless CI
// is set: there it must be present.
func Dir(t testing.TB) string {
	t.Helper()
	// Tests run in their package's directory: the root is the first
	// directory above it with a go.mod.
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil; _, err = os.Stat(filepath.Join(root, "go.mod")) {
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatal("upstream: no go.mod above the test's directory")
		}
		root = parent
	}
	dir := filepath.Join(root, "..", "shared", "upstream")
	if _, err := os.Stat(filepath.Join(dir, "PROVENANCE.md")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("upstream reference files: %v (CI must have ../shared/upstream beside the repository)", err)
		}
		t.Skipf("upstream reference files are absent (%v): ../shared/upstream beside the repository holds them", err)
	}
	return dir
}

// File returns the path of a file under Dir, failing the test if it is missing.
func File(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("upstream file %s: %v", rel, err)
	}
	return p
}

// assetFiles are the stored copies of assets outside manifests/calico/.
var assetFiles = map[string]string{
	"flannel/v0.28.9/kube-flannel.yml":            "manifests/flannel-v0.28.9-kube-flannel.yml",
	"openebs/3.3.0/hostpath-operator.yaml":        "manifests/openebs-3.3.0-hostpath-operator.yaml",
	"kubesphere/v3.3.1/kubesphere-installer.yaml": "ks-installer-v3.3.1/kubesphere-installer.yaml",
}

// AssetFile names, relative to Dir, the stored copy of an asset the image
// bakes, by its path under images.AssetDir ("calico/v3.32.1/operator-crds.yaml"),
// or "" when the folder keeps none.
func AssetFile(path string) string {
	if rest, ok := strings.CutPrefix(path, "calico/"); ok {
		if v, file, ok := strings.Cut(rest, "/"); ok {
			return "manifests/calico/calico-" + v + "-" + file
		}
	}
	return assetFiles[path]
}
