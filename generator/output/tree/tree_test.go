package tree

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeOutput writes an output of index.json and n1/NAME, which holds NAME.
func writeOutput(t *testing.T, dir, name string) {
	t.Helper()
	tr := &Tree{}
	tr.Add(IndexFile, 0o644, []byte("{}"))
	tr.Add("n1/"+name, 0o600, []byte(name))
	if err := Write(dir, tr); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReplacesAPreviousOutputAtomically(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	writeOutput(t, dir, "old")
	writeOutput(t, dir, "new")
	got := readAll(t, dir)
	if len(got) != 2 || got["n1/new"] != "new" {
		t.Fatalf("after the second write: %v", got)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{"", 0o700}, {"n1", 0o700}, {"n1/new", 0o600}, {IndexFile, 0o644}} {
		st, err := os.Stat(filepath.Join(dir, c.path))
		if err != nil || st.Mode().Perm() != c.mode {
			t.Errorf("%q: mode %v (%v), want %v", c.path, st.Mode().Perm(), err, c.mode)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("temporary directories left beside the output: %v", entries)
	}
}

func TestAFailedWriteLeavesThePreviousTree(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	good := &Tree{}
	good.Add(IndexFile, 0o644, []byte("{}"))
	good.Add("n1/a", 0o600, []byte("a"))
	if err := Write(dir, good); err != nil {
		t.Fatal(err)
	}
	bad := &Tree{}
	bad.Add(IndexFile, 0o644, []byte("{}"))
	bad.Add("n1/a", 0o600, []byte("x"))
	bad.Add("n1/a", 0o600, []byte("y")) // two files at one path
	if err := Write(dir, bad); err == nil || !strings.Contains(err.Error(), "two files at n1/a") {
		t.Fatalf("err = %v, want two files at n1/a", err)
	}
	if got := readAll(t, dir); got["n1/a"] != "a" || len(got) != 2 {
		t.Errorf("previous tree changed: %v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("temporary directories left beside the output: %v", entries)
	}
}

func TestWriteRefusesAForeignDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cluster.yaml"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &Tree{}
	tr.Add(IndexFile, 0o644, []byte("{}"))
	if err := Write(dir, tr); err == nil || !strings.Contains(err.Error(), "not a ksgen output") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cluster.yaml")); string(b) != "mine" {
		t.Errorf("the user's file changed")
	}
}

func TestPutRejectsPathsOutsideTheTree(t *testing.T) {
	t.Parallel()
	w, err := Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x"} {
		if err := w.Put(File{Path: p, Mode: 0o644}); err == nil {
			t.Errorf("Put(%q) accepted", p)
		}
	}
}

func TestWriteNewNeverOverwrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ksgen-secrets.yaml")
	if err := WriteNew(path, 0o600, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(path, 0o600, []byte("second")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v, want already exists", err)
	}
	b, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(b) != "first" || st.Mode().Perm() != 0o600 {
		t.Errorf("content %q mode %v, want the first write with 0600", b, st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// Files get exactly their modes whatever the umask: the chmod after
// creation is skipped only when the umask cleared no bit of the mode. Not
// parallel: the umask is the process's.
func TestPutKeepsModesUnderAnyUmask(t *testing.T) {
	for _, mask := range []int{0o022, 0o077, 0o000, 0o027} {
		old := unix.Umask(mask)
		if got := umask(); got != os.FileMode(mask) {
			t.Errorf("umask() = %o, want %o", got, mask)
		}
		dir := filepath.Join(t.TempDir(), "out")
		tr := &Tree{}
		tr.Add(IndexFile, 0o644, []byte("{}"))
		tr.Add("n1/secret", 0o600, []byte("s"))
		tr.Add("n1/rootfs/usr/bin/run", 0o755, []byte("#!/bin/sh\n"))
		tr.Add("n1/rootfs/etc/open", 0o666, []byte("o"))
		err := Write(dir, tr)
		unix.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range tr.Files {
			st, err := os.Stat(filepath.Join(dir, f.Path))
			if err != nil || st.Mode().Perm() != f.Mode {
				t.Errorf("umask %03o: %s: mode %v (%v), want %v", mask, f.Path, st.Mode().Perm(), err, f.Mode)
			}
		}
	}
}

// Put refuses a second file at one path, and a file under a file, and the
// Writer then leaves nothing behind.
func TestPutRefusesClashes(t *testing.T) {
	t.Parallel()
	for name, second := range map[string]string{"same path": "n1/a", "under a file": "n1/a/b"} {
		dir := filepath.Join(t.TempDir(), "out")
		w, err := Create(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Put(File{Path: "n1/a", Mode: 0o600, Content: []byte("a")}); err != nil {
			t.Fatal(err)
		}
		if err := w.Put(File{Path: second, Mode: 0o600, Content: []byte("b")}); err == nil {
			t.Errorf("%s: no error", name)
		} else if name == "same path" && !strings.Contains(err.Error(), "two files at n1/a") {
			t.Errorf("%s: %v", name, err)
		}
		w.Abort()
		if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 0 {
			t.Errorf("%s: left behind %v", name, entries)
		}
	}
}

func TestRemoveTreeRemovesEverythingButWhatLinksPointTo(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "out")
	tr := &Tree{}
	tr.Add(IndexFile, 0o644, []byte("{}"))
	for i := range 50 { // more entries than CPUs, nested like a node's rootfs
		tr.Add(fmt.Sprintf("node%d/rootfs/etc/kubernetes/pki/ca.crt", i), 0o600, []byte("x"))
		tr.Add(fmt.Sprintf("node%d/user-data", i), 0o600, []byte("x"))
	}
	if err := Write(dir, tr); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "node7", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "top-link")); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", dir, err)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "keep")); err != nil || string(b) != "keep" {
		t.Errorf("a file a link pointed to was touched: %q, %v", b, err)
	}
	// Gone already, or a plain file: as os.RemoveAll.
	if err := removeTree(dir); err != nil {
		t.Errorf("removing a missing tree: %v", err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(file); err != nil {
		t.Errorf("removing a file: %v", err)
	}
	if _, err := os.Lstat(file); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", file, err)
	}
	// A link to a directory: the link goes, the directory stays whole.
	link := filepath.Join(base, "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(link); err != nil {
		t.Errorf("removing a link: %v", err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", link, err)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "keep")); err != nil || string(b) != "keep" {
		t.Errorf("removing a link emptied the directory it points to: %q, %v", b, err)
	}
}

// An output directory that is a symlink to a previous output elsewhere:
// the link is swapped out and removed, and what it pointed to is kept.
func TestWriteOverASymlinkedOutputKeepsItsTarget(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	real := filepath.Join(base, "real")
	writeOutput(t, real, "old")
	dir := filepath.Join(base, "out")
	if err := os.Symlink(real, dir); err != nil {
		t.Fatal(err)
	}
	writeOutput(t, dir, "new")
	if got := readAll(t, dir); len(got) != 2 || got["n1/new"] != "new" {
		t.Errorf("the new output: %v", got)
	}
	if got := readAll(t, real); len(got) != 2 || got["n1/old"] != "old" {
		t.Errorf("the directory the old link pointed to: %v", got)
	}
}
