package generator

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/output/tree"
	"github.com/ksgen/ksgen/generator/plan"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/ from the current output")

const (
	goldenSpecs   = "../testdata/specs"
	goldenDir     = "../testdata/golden"
	goldenSecrets = "../testdata/test-secrets.yaml"
	// modesFile lists "mode path" for every file of a golden tree: git keeps
	// no file modes beyond the executable bit.
	modesFile = "MODES"
	// decodedSuffix names the readable golden of an Ignition or Butane
	// payload: YAML with every file's contents decoded in place.
	decodedSuffix = ".decoded.yaml"
)

// payloadCases keep their encoded payloads in the golden tree, decoded so a
// diff shows the changed line. The other cases keep rootfs/, kubeadm.yaml
// and index.json, whose sha256 and sizes still pin every payload byte for
// byte; the encoders are proved by the round-trip and real-consumer tests.
var payloadCases = map[string]bool{"ha-haproxy": true, "ksgen-doc": true}

// goldenFile is how a rendered file is kept in a case's golden tree: its
// path there and its content, or ok false when only index.json pins it.
func goldenFile(name string, f tree.File) (path string, content []byte, ok bool, err error) {
	_, base, _ := strings.Cut(f.Path, "/")
	switch {
	case !slices.Contains([]string{"config.ign", "config.bu", "user-data"}, base):
		return f.Path, f.Content, true, nil
	case !payloadCases[name]:
		return "", nil, false, nil
	case base == "config.ign" || base == "config.bu":
		readable, err := decodedPayload(f.Content)
		return f.Path + decodedSuffix, readable, true, err
	}
	return f.Path, f.Content, true, nil
}

// decodedPayload is an Ignition config or a Butane source as YAML, with
// each file's data URL (gzip or not) replaced by its text.
func decodedPayload(raw []byte) ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var walk func(v any) error
	walk = func(v any) error {
		switch v := v.(type) {
		case map[string]any:
			if src, ok := v["source"].(string); ok && strings.HasPrefix(src, "data:") {
				text, err := decodeDataURL(src, v["compression"] == "gzip")
				if err != nil {
					return err
				}
				delete(v, "source")
				delete(v, "compression")
				v["decoded"] = text
			}
			for _, c := range v {
				if err := walk(c); err != nil {
					return err
				}
			}
		case []any:
			for _, c := range v {
				if err := walk(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(doc); err != nil {
		return nil, err
	}
	return yaml.Marshal(doc)
}

func decodeDataURL(src string, gzipped bool) (string, error) {
	meta, data, ok := strings.Cut(strings.TrimPrefix(src, "data:"), ",")
	if !ok {
		return "", fmt.Errorf("data URL without a comma")
	}
	var raw []byte
	if strings.HasSuffix(meta, ";base64") {
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return "", err
		}
		raw = b
	} else {
		s, err := url.PathUnescape(data)
		if err != nil {
			return "", err
		}
		raw = []byte(s)
	}
	if gzipped {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return "", err
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return "", err
		}
	}
	return string(raw), nil
}

var goldenBundle = sync.OnceValues(func() (*pki.Bundle, error) {
	raw, err := os.ReadFile(goldenSecrets)
	if err != nil {
		return nil, err
	}
	return pki.Parse(raw)
})

func fixedBundle(t *testing.T) *pki.Bundle {
	t.Helper()
	b, err := goldenBundle()
	if err != nil {
		t.Fatalf("test bundle %s: %v", goldenSecrets, err)
	}
	return b
}

// goldenCases maps each case name ("ha-haproxy") to its spec file
// (testdata/specs/valid-ha-haproxy.yaml).
func goldenCases(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenSpecs, "valid-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no valid-*.yaml in %s", goldenSpecs)
	}
	cases := map[string]string{}
	for _, f := range files {
		cases[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "valid-"), ".yaml")] = f
	}
	return cases
}

func loadValidSpec(t *testing.T, path string) *spec.Spec {
	t.Helper()
	s, r, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Valid specs are valid even under --strict: no warnings either.
	if err := r.Err(true); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

func render(t *testing.T, path string, opts Options) *tree.Tree {
	t.Helper()
	out, err := Generate(loadValidSpec(t, path), fixedBundle(t), opts)
	if err != nil {
		t.Fatalf("generate %s: %v", path, err)
	}
	return out
}

var renders sync.Map // spec path -> *tree.Tree rendered with Options{}

// renderOnce renders a spec with Options{} once per test binary, for the
// tests that only read the tree (TestDeterministic renders afresh).
func renderOnce(t *testing.T, path string) *tree.Tree {
	t.Helper()
	if out, ok := renders.Load(path); ok {
		return out.(*tree.Tree)
	}
	out, _ := renders.LoadOrStore(path, render(t, path, Options{}))
	return out.(*tree.Tree)
}

// modes is the MODES file of a tree: "0600 path" per file, sorted by path.
func modes(files []tree.File) []byte {
	lines := make([]string, 0, len(files))
	for _, f := range files {
		lines = append(lines, fmt.Sprintf("%04o %s", f.Mode.Perm(), f.Path))
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[5:], b[5:]) })
	return []byte(strings.Join(lines, "\n") + "\n")
}

// TestGolden renders every valid spec with the fixed test bundle and compares
// each file's path, mode and content with testdata/golden/<case>/.
// go test ./generator -run TestGolden -update rewrites them.
func TestGolden(t *testing.T) {
	cases := goldenCases(t)
	if *update {
		removeStaleGolden(t, cases)
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := renderOnce(t, path)
			dir := filepath.Join(goldenDir, name)
			if *update {
				writeGolden(t, name, dir, out)
				return
			}
			compareGolden(t, name, dir, out)
		})
	}
}

func removeStaleGolden(t *testing.T, cases map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(goldenDir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := cases[e.Name()]; !ok && e.IsDir() {
			if err := os.RemoveAll(filepath.Join(goldenDir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func writeGolden(t *testing.T, name, dir string, out *tree.Tree) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Files {
		path, content, ok, err := goldenFile(name, f)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if !ok {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// Golden copies are plain 0644 files; MODES records the real modes.
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, modesFile), modes(out.Files), 0o644); err != nil {
		t.Fatal(err)
	}
}

func compareGolden(t *testing.T, name, dir string, out *tree.Tree) {
	t.Helper()
	const hint = "(go test ./generator -run TestGolden -update rewrites the golden files)"
	wantModes, err := os.ReadFile(filepath.Join(dir, modesFile))
	if err != nil {
		t.Fatalf("%v %s", err, hint)
	}
	if got := modes(out.Files); !bytes.Equal(got, wantModes) {
		t.Errorf("%s differs %s:\n%s", modesFile, hint, firstDiff(wantModes, got))
	}

	rendered := map[string]bool{}
	for _, f := range out.Files {
		path, content, ok, err := goldenFile(name, f)
		if err != nil {
			t.Errorf("%s: %v", f.Path, err)
			continue
		}
		if !ok {
			continue
		}
		rendered[path] = true
		want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("%s: new file, not in %s %s", path, dir, hint)
			continue
		}
		if !bytes.Equal(content, want) {
			t.Errorf("%s differs %s:\n%s", path, hint, firstDiff(want, content))
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != modesFile && !rendered[rel] {
			t.Errorf("%s: in %s but no longer rendered %s", rel, dir, hint)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// firstDiff shows the first line where want and got part, with its number.
func firstDiff(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return fmt.Sprintf("  line %d:\n    want: %q\n    got:  %q", i+1, wl, gl)
		}
	}
	return "  (same lines, different bytes)"
}

// TestDeterministic: the same spec and bundle give byte-identical trees, and
// a node's files do not depend on which other nodes are rendered with it.
func TestDeterministic(t *testing.T) {
	for name, path := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			first := renderOnce(t, path) // possibly rendered by another test
			second := render(t, path, Options{})
			if len(first.Files) != len(second.Files) {
				t.Fatalf("%d files, then %d", len(first.Files), len(second.Files))
			}
			all := map[string]tree.File{}
			for i, f := range first.Files {
				g := second.Files[i]
				if f.Path != g.Path || f.Mode != g.Mode || !bytes.Equal(f.Content, g.Content) {
					t.Errorf("file %d: %s (%o, %d bytes), then %s (%o, %d bytes)", i, f.Path, f.Mode, len(f.Content), g.Path, g.Mode, len(g.Content))
				}
				all[f.Path] = f
			}

			// A node rendered alone gets exactly the files it gets in the full
			// tree; checked for one node of each action, to keep the test fast.
			s := loadValidSpec(t, path)
			c, err := plan.New(s)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[plan.Action]bool{}
			for _, n := range c.Nodes {
				if seen[n.Action] {
					continue
				}
				seen[n.Action] = true
				alone, err := Generate(s, fixedBundle(t), Options{Nodes: []string{n.Name}})
				if err != nil {
					t.Fatalf("generate --node %s: %v", n.Name, err)
				}
				for _, f := range alone.Files {
					if f.Path == tree.IndexFile {
						continue
					}
					full, ok := all[f.Path]
					if !ok || full.Mode != f.Mode || !bytes.Equal(full.Content, f.Content) {
						t.Errorf("--node %s: %s differs from the full render", n.Name, f.Path)
					}
				}
			}
		})
	}
}

// caCertHash is the discovery pin computed here from first principles:
// sha256 of the CA certificate's SubjectPublicKeyInfo, as kubeadm documents it.
func caCertHash(t *testing.T, b *pki.Bundle) string {
	t.Helper()
	block, _ := pem.Decode(b.CA.Cert)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatal("test bundle: ca.cert is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// joinDiscovery is the part of a JoinConfiguration (v1beta3 and v1beta4 alike)
// this test reads, decoded without kubeadm's code.
type joinDiscovery struct {
	Kind      string `json:"kind"`
	Discovery struct {
		BootstrapToken *struct {
			APIServerEndpoint        string   `json:"apiServerEndpoint"`
			CACertHashes             []string `json:"caCertHashes"`
			UnsafeSkipCAVerification *bool    `json:"unsafeSkipCAVerification"`
		} `json:"bootstrapToken"`
	} `json:"discovery"`
	ControlPlane *struct {
		CertificateKey string `json:"certificateKey"`
	} `json:"controlPlane"`
}

func joinConfiguration(t *testing.T, content []byte) *joinDiscovery {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(content)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		var j joinDiscovery
		if err := yaml.Unmarshal(doc, &j); err != nil {
			t.Fatal(err)
		}
		if j.Kind == "JoinConfiguration" {
			return &j
		}
	}
}

// TestJoinPinsTheBundleCA: every joining node pins the CA of the bundle it
// was rendered with, and no node is told to skip CA verification.
func TestJoinPinsTheBundleCA(t *testing.T) {
	want := caCertHash(t, fixedBundle(t))
	if got, err := fixedBundle(t).CACertHash(); err != nil || got != want {
		t.Errorf("Bundle.CACertHash() = %q, %v; computed %q", got, err, want)
	}
	for name, path := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := loadValidSpec(t, path)
			c, err := plan.New(s)
			if err != nil {
				t.Fatal(err)
			}
			out := renderOnce(t, path)
			files := map[string][]byte{}
			for _, f := range out.Files {
				files[f.Path] = f.Content
				if bytes.Contains(bytes.ToLower(f.Content), []byte("unsafeskipcaverification")) {
					t.Errorf("%s mentions unsafeSkipCAVerification", f.Path)
				}
			}
			workers := 0
			for _, n := range c.Nodes {
				if n.Action != plan.Join && n.Action != plan.JoinControlPlane {
					continue
				}
				content, ok := files[n.Name+"/kubeadm.yaml"]
				if !ok {
					t.Errorf("%s joins but has no kubeadm.yaml", n.Name)
					continue
				}
				j := joinConfiguration(t, content)
				if j == nil || j.Discovery.BootstrapToken == nil {
					t.Errorf("%s: no JoinConfiguration with bootstrap-token discovery", n.Name)
					continue
				}
				bt := j.Discovery.BootstrapToken
				if !slices.Equal(bt.CACertHashes, []string{want}) {
					t.Errorf("%s: caCertHashes %v, want [%s]", n.Name, bt.CACertHashes, want)
				}
				if bt.UnsafeSkipCAVerification != nil {
					t.Errorf("%s: unsafeSkipCAVerification is set", n.Name)
				}
				if (j.ControlPlane != nil) != (n.Action == plan.JoinControlPlane) {
					t.Errorf("%s: action %s but controlPlane set = %t", n.Name, n.Action, j.ControlPlane != nil)
				}
				if n.Action == plan.Join {
					workers++
				}
			}
			if want := pureWorkers(s); workers != want {
				t.Errorf("%d worker joins, want %d", workers, want)
			}
		})
	}
}

// pureWorkers counts the workers that are not also control planes (those
// join as control planes).
func pureWorkers(s *spec.Spec) int {
	n := 0
	for _, w := range s.Roles[spec.RoleWorker] {
		if !slices.Contains(s.Roles[spec.RoleControlPlane], w) {
			n++
		}
	}
	return n
}

// TestWorkersGetNoCAKey: a worker receives the CA hash and a token, never a
// CA or service-account private key, in any file it is given.
func TestWorkersGetNoCAKey(t *testing.T) {
	b := fixedBundle(t)
	secrets := map[string][]byte{
		"ca.key": b.CA.Key, "front-proxy-ca.key": b.FrontProxyCA.Key,
		"etcd/ca.key": b.EtcdCA.Key, "sa.key": b.ServiceAccount.Key,
	}
	for name, path := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := plan.New(loadValidSpec(t, path))
			if err != nil {
				t.Fatal(err)
			}
			out := renderOnce(t, path)
			for _, f := range out.Files {
				host, _, _ := strings.Cut(f.Path, "/")
				n := c.NodeByName(host)
				if n == nil || n.ControlPlane || !n.Worker {
					continue
				}
				for what, key := range secrets {
					if bytes.Contains(f.Content, bytes.TrimSpace(key)) {
						t.Errorf("worker file %s holds the bundle's %s", f.Path, what)
					}
				}
			}
		})
	}
}
