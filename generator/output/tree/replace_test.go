package tree

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bundle.yaml")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Replace(path, 0o600, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("content %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("left behind: %v", got)
	}

	// Through a symlink: the target is replaced, the link stays.
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink("bundle.yaml", link); err != nil {
		t.Fatal(err)
	}
	if err := Replace(link, 0o600, []byte("newer")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a file")
	}
	if b, _ := os.ReadFile(path); string(b) != "newer" {
		t.Errorf("target content %q", b)
	}

	// Missing files and directories are refused, and nothing is created.
	if err := Replace(filepath.Join(dir, "missing.yaml"), 0o600, []byte("x")); err == nil {
		t.Error("replaced a missing file")
	}
	if err := Replace(dir, 0o600, []byte("x")); err == nil {
		t.Error("replaced a directory")
	}
	if got := names(t, dir); len(got) != 2 {
		t.Errorf("directory holds %v", got)
	}
}

func TestReplaceFailureKeepsTheFile(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bundle.yaml")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	if err := Replace(path, 0o600, []byte("new")); err == nil {
		t.Fatal("wrote into a read-only directory")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("content %q", b)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.Name())
	}
	return out
}
