package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// ksgen runs the CLI the way main does and returns stdout, stderr and the error.
func ksgen(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// corpusFile is one spec of testdata/invalid and the finding its header names.
type corpusFile struct {
	name, path, want string
	strict           bool // the finding is a warning: only --strict fails
}

// wantIn is the header's finding as ksgen prints it for the file at path:
// the header names the file as in testdata/invalid, ksgen names it as given
// (path:LINE: …).
func (c corpusFile) wantIn(path string) string {
	return strings.TrimSuffix(path, filepath.Base(path)) + c.want
}

// fatalIn is the finding as it stops a run: a warning, under --strict,
// reads as an error that says why it is fatal.
func (c corpusFile) fatalIn(path string) string {
	if c.strict {
		return strings.Replace(c.wantIn(path), ": warning: ", ": ", 1) + " [a warning, fatal under --strict]"
	}
	return c.wantIn(path)
}

func invalidCorpus(t *testing.T) []corpusFile {
	t.Helper()
	files, err := filepath.Glob("../../testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("invalid corpus has %d files, want at least 30", len(files))
	}
	var out []corpusFile
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(data), "\n")
		c := corpusFile{name: strings.TrimSuffix(filepath.Base(f), ".yaml"), path: f}
		switch {
		case strings.HasPrefix(first, "# want: "):
			c.want = strings.TrimPrefix(first, "# want: ")
		case strings.HasPrefix(first, "# want-strict: "):
			c.want, c.strict = strings.TrimPrefix(first, "# want-strict: "), true
		default:
			t.Fatalf("%s has no want header", f)
		}
		if !strings.HasPrefix(c.want, filepath.Base(f)+":") {
			t.Fatalf("%s: header %q does not start with the file's name", f, c.want)
		}
		out = append(out, c)
	}
	return out
}

// copyInto copies src into dir and returns the copy's path.
func copyInto(t *testing.T, src, dir string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// entries lists a directory's names, sorted.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestValidateInvalidCorpus(t *testing.T) {
	t.Parallel()
	for _, c := range invalidCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, err := ksgen(t, "validate", "-f", c.path)
			if c.strict {
				if err != nil {
					t.Fatalf("validate without --strict failed on a warning: %v", err)
				}
				if !strings.Contains(stderr, c.wantIn(c.path)+"\n") {
					t.Errorf("stderr %q does not show the warning %q", stderr, c.wantIn(c.path))
				}
				if !strings.Contains(stdout, "valid") {
					t.Errorf("stdout %q does not say valid", stdout)
				}
				_, _, err = ksgen(t, "validate", "--strict", "-f", c.path)
			}
			if err == nil {
				t.Fatalf("validate passed; want %q", c.want)
			}
			if want := c.fatalIn(c.path); !strings.Contains(err.Error()+"\n", "\n"+want+"\n") {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, want)
			}
			if !strings.Contains(err.Error(), c.path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestRenderInvalidCorpusWritesNothing renders every invalid spec, with an
// existing bundle given by --secrets and with the default path (no bundle
// yet), and checks that the render fails with the finding and leaves the
// directory as it was: no output, no new bundle, no temporary files.
func TestRenderInvalidCorpusWritesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range invalidCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			spec := copyInto(t, c.path, dir)
			bundle := copyInto(t, "../../testdata/test-secrets.yaml", dir)
			out := filepath.Join(dir, "out")
			var strict []string
			if c.strict {
				strict = []string{"--strict"}
			}
			for _, args := range [][]string{
				{"render", "-f", spec, "-o", out, "--secrets", bundle},
				{"render", "-f", spec, "-o", out},
			} {
				_, _, err := ksgen(t, append(args, strict...)...)
				if want := c.fatalIn(spec); err == nil || !strings.Contains(err.Error()+"\n", "\n"+want+"\n") {
					t.Errorf("%v: error %v, want a line %q", args, err, want)
				}
				want := []string{filepath.Base(spec), filepath.Base(bundle)}
				sort.Strings(want)
				if got := entries(t, dir); !reflect.DeepEqual(got, want) {
					t.Errorf("%v: the directory holds %v after a failed render, want only %v", args, got, want)
				}
			}
		})
	}
}

// snapshot reads a tree: slash path → mode and content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			files[rel+"/"] = info.Mode().String()
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[rel] = info.Mode().String() + "\n" + string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRenderSample(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out := filepath.Join(dir, "out")
	bundle := filepath.Join(dir, "ksgen-secrets.yaml")

	stdout, stderr, err := ksgen(t, "render", "-f", spec, "-o", out)
	if err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "rendered") {
		t.Errorf("stdout = %q", stdout)
	}
	if !strings.Contains(stderr, "created secrets bundle") || !strings.Contains(stderr, "SSH password") {
		t.Errorf("stderr does not tell about the new bundle and the ignored passwords:\n%s", stderr)
	}
	bi, err := os.Stat(bundle)
	if err != nil {
		t.Fatalf("no bundle beside the spec: %v", err)
	}
	if bi.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode %v, want 0600", bi.Mode().Perm())
	}
	bundleBytes, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := entries(t, dir), []string{"config-sample.yaml", "ksgen-secrets.yaml", "out"}; !reflect.DeepEqual(got, want) {
		t.Errorf("directory holds %v, want %v (temporary files left behind?)", got, want)
	}

	first := snapshot(t, out)
	if _, ok := first["index.json"]; !ok {
		t.Error("no index.json")
	}
	keys := 0
	for path, v := range first {
		mode, content, _ := strings.Cut(v, "\n")
		switch {
		case strings.HasSuffix(path, "/"):
			if mode != "drwx------" {
				t.Errorf("directory %s has mode %s, want drwx------", path, mode)
			}
		case strings.HasSuffix(path, ".key"):
			keys++
			if mode != "-rw-------" {
				t.Errorf("key %s has mode %s, want -rw-------", path, mode)
			}
		}
		if strings.Contains(content, "Qcloud@123") {
			t.Errorf("%s carries the SSH password", path)
		}
	}
	if keys == 0 {
		t.Error("the output holds no .key file")
	}

	// Render again with the same bundle: over the previous output, and into a new directory.
	time.Sleep(10 * time.Millisecond) // a rewritten bundle would get a new mtime
	if _, stderr, err := ksgen(t, "render", "-f", spec, "-o", out); err != nil {
		t.Fatalf("second render: %v\n%s", err, stderr)
	} else if strings.Contains(stderr, "created secrets bundle") {
		t.Error("the second render created a new bundle")
	}
	out2 := filepath.Join(dir, "out2")
	if _, stderr, err := ksgen(t, "render", "-f", spec, "-o", out2, "--secrets", bundle); err != nil {
		t.Fatalf("render into a second directory: %v\n%s", err, stderr)
	}
	for name, again := range map[string]map[string]string{"re-render": snapshot(t, out), "second directory": snapshot(t, out2)} {
		if len(again) != len(first) {
			t.Errorf("%s: %d entries, first render %d", name, len(again), len(first))
		}
		for path, v := range first {
			if again[path] != v {
				t.Errorf("%s: %s differs from the first render", name, path)
			}
		}
	}
	bi2, err := os.Stat(bundle)
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, bundleBytes) || !bi2.ModTime().Equal(bi.ModTime()) || bi2.Mode() != bi.Mode() {
		t.Error("the bundle changed on the second render")
	}
	if got, want := entries(t, dir), []string{"config-sample.yaml", "ksgen-secrets.yaml", "out", "out2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("directory holds %v, want %v (temporary files left behind?)", got, want)
	}
}

func TestRenderRefusesForeignDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(out, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	foreign := map[string]string{"notes.txt": "mine\n", "sub/data": "also mine\n"}
	for name, content := range foreign {
		if err := os.WriteFile(filepath.Join(out, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := ksgen(t, "render", "-f", spec, "-o", out)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("render into a foreign directory: error %v, want a refusal", err)
	}
	for name, content := range foreign {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(got) != content {
			t.Errorf("%s: %q, %v; want it untouched", name, got, err)
		}
	}
	if got, want := entries(t, out), []string{"notes.txt", "sub"}; !reflect.DeepEqual(got, want) {
		t.Errorf("output directory holds %v, want %v", got, want)
	}
	// Nothing else either: no bundle, no temporary directory.
	if got, want := entries(t, dir), []string{"config-sample.yaml", "out"}; !reflect.DeepEqual(got, want) {
		t.Errorf("directory holds %v after a refused render, want %v", got, want)
	}
}

func TestSecretsGen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	if _, _, err := ksgen(t, "secrets", "gen", "-o", path); err != nil {
		t.Fatalf("secrets gen: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode %v, want 0600", info.Mode().Perm())
	}

	existing := filepath.Join(dir, "existing.yaml")
	if err := os.WriteFile(existing, []byte("keep me\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ksgen(t, "secrets", "gen", "-o", existing); err == nil {
		t.Error("secrets gen overwrote an existing file")
	}
	if got, err := os.ReadFile(existing); err != nil || string(got) != "keep me\n" {
		t.Errorf("existing file is now %q, %v", got, err)
	}
	if got, want := entries(t, dir), []string{"existing.yaml", "s.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func TestCreateConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default", nil},
		{"kubesphere", []string{"--with-kubernetes", "v1.26.15", "--with-kubesphere", "v3.4.1"}},
		{"kubesphere picks its kubernetes", []string{"--with-kubesphere", "v3.3.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "cluster.yaml")
			if _, _, err := ksgen(t, append([]string{"create", "config", "-f", path}, tc.args...)...); err != nil {
				t.Fatalf("create config: %v", err)
			}
			written, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, stderr, err := ksgen(t, "validate", "-f", path); err != nil {
				t.Errorf("the created file does not validate: %v\n%s", err, stderr)
			}
			if tc.name == "kubesphere" && !bytes.Contains(written, []byte("kind: ClusterConfiguration")) {
				t.Error("--with-kubesphere wrote no ClusterConfiguration")
			}
			if _, _, err := ksgen(t, "create", "config", "-f", path); err == nil {
				t.Error("create config overwrote an existing file")
			}
			if again, _ := os.ReadFile(path); !bytes.Equal(again, written) {
				t.Error("the existing file changed")
			}
		})
	}
	if _, _, err := ksgen(t, "create", "config", "-f", filepath.Join(t.TempDir(), "c.yaml"), "--with-kubernetes", "v1.19.0"); err == nil {
		t.Error("create config accepted an unsupported Kubernetes version")
	}
}

func TestHelpShowsExamples(t *testing.T) {
	t.Parallel()
	for _, cmd := range [][]string{{"create", "config"}, {"secrets", "gen"}, {"validate"}, {"render"}, {"kubeconfig"}, {"status"}, {"version"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			t.Parallel()
			stdout, _, err := ksgen(t, append(cmd, "--help")...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "ksgen "+strings.Join(cmd, " ")) {
				t.Errorf("help has no example:\n%s", stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	stdout, _, err := ksgen(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout, "ksgen ") || !strings.Contains(stdout, "kubernetes") {
		t.Errorf("version printed %q", stdout)
	}
}

func TestCompletionBash(t *testing.T) {
	t.Parallel()
	stdout, _, err := ksgen(t, "completion", "bash")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "bash completion") || !strings.Contains(stdout, "ksgen") {
		t.Errorf("completion bash printed no bash completion script:\n%.300s", stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"validate"}, // -f is required
		{"render"},   // -f is required
		{"validate", "-f", "/nonexistent/spec.yaml"},   // no such file
		{"validate", "-f", "x.yaml", "extra-argument"}, // no arguments
		{"no-such-command"},
	} {
		if _, _, err := ksgen(t, args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
