//go:build linux

package generator_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/internal/render/binaries"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
	"github.com/ksgen/ksgen/images"
)

// downloadServer serves, on loopback, one body per binary ksgen downloads,
// under the file name of its upstream URL, and the ksgen document that
// pins those bodies' sums (binaries.downloads by name: the way a user pins
// a version the pin table lacks). wrong names a binary whose sum is wrong.
type downloadServer struct {
	url    string
	bodies map[string][]byte // URL path → body
	config string
}

func newDownloadServer(t *testing.T, os, wrong string) *downloadServer {
	t.Helper()
	d := &downloadServer{bodies: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := d.bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	d.url = srv.URL
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: %s\n  binaries:\n    source: download\n    downloads:\n", os)
	for _, bin := range images.Binaries(images.Cluster{KubernetesVersion: "v1.36.3", KubeKeyEtcd: true}, os, "amd64") {
		p := "/" + path.Base(bin.URL)
		d.bodies[p] = []byte("#!/bin/sh\necho " + bin.Name + "\n")
		if bin.Archive() {
			d.bodies[p] = archive(t, strings.Repeat("top/", bin.Strip)+bin.Name, d.bodies[p])
		}
		sum := sha256.Sum256(d.bodies[p])
		hexSum := hex.EncodeToString(sum[:])
		if bin.Name == wrong {
			hexSum = strings.Repeat("0", 64)
		}
		fmt.Fprintf(&b, "    - {name: %s, url: '%s%s', sha256: '%s'}\n", bin.Name, srv.URL, p, hexSum)
	}
	d.config = b.String()
	return d
}

// archive is a release-like .tar.gz holding one executable at name.
func archive(t *testing.T, name string, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Uid: 1001, Gid: 1001}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(body)
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// renderDownloads renders node1 of the example with d's ksgen document and
// returns its payload and where each download must land (path → body).
func (d *downloadServer) render(t *testing.T) (payload []byte, want map[string][]byte, rootfs map[string][]byte) {
	t.Helper()
	example, err := os.ReadFile(applySpec)
	if err != nil {
		t.Fatal(err)
	}
	s, r := spec.Load(append(example, "\n---\n"+d.config...))
	if err := r.Err(false); err != nil {
		t.Fatal(err)
	}
	c, err := generator.Validate(s, r)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(applySecrets)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pki.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := generator.Generate(s, b, generator.Options{Nodes: []string{"node1"}})
	if err != nil {
		t.Fatal(err)
	}
	n := c.NodeByName("node1")
	all := files(t, out)
	payload = all["node1/"+map[bool]string{true: "config.ign", false: "user-data"}[osprofile.Of(n.OS).Ignition()]]
	rootfs = map[string][]byte{}
	for p, content := range all {
		if rest, ok := strings.CutPrefix(p, "node1/rootfs"); ok {
			rootfs[rest] = content
		}
	}
	return payload, landing(t, c, n, d), rootfs
}

// landing is where node n's downloads land: binaries at their destination,
// archives in binaries.DownloadDir.
func landing(t *testing.T, c *plan.Cluster, n *plan.Node, d *downloadServer) map[string][]byte {
	t.Helper()
	bins, missing := binaries.Needed(c, n)
	if len(bins) == 0 || len(missing) > 0 {
		t.Fatalf("node1 downloads %d binaries, %d without a sum", len(bins), len(missing))
	}
	want := map[string][]byte{}
	for _, b := range bins {
		body := d.bodies[strings.TrimPrefix(b.URL, d.url)]
		if b.Archive() {
			want[binaries.DownloadDir+"/"+path.Base(b.URL)] = body
		} else {
			want[b.Dest] = body
		}
	}
	return want
}

// TestApplyDownloadsIgnition applies node1's config.ign (os: fcos, a stock
// image) with the real Ignition, its downloads served on loopback: each
// file is fetched, checked against its verification.hash and written. With
// one sum wrong, Ignition fails (the machine never leaves the initramfs)
// and that file is not written.
func TestApplyDownloadsIgnition(t *testing.T) {
	requireApplyPrereqs(t)
	ign, err := consumers.IgnitionBinary()
	if err != nil {
		t.Fatalf("build the real Ignition: %v", err)
	}
	for _, wrong := range []string{"", "kubelet"} {
		t.Run("wrong="+wrong, func(t *testing.T) {
			d := newDownloadServer(t, osprofile.FCOS, wrong)
			config, want, _ := d.render(t)
			ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
			defer cancel()
			res, err := consumers.ApplyIgnitionOnline(ctx, ign, config, filepath.Join(t.TempDir(), "ignition"))
			if wrong != "" {
				if err == nil {
					t.Fatalf("Ignition accepted %s with a wrong sha256", wrong)
				}
				if !strings.Contains(string(res.Log), "hash") {
					t.Errorf("Ignition's log does not name the hash:\n%s", res.Log)
				}
				for p := range want {
					if path.Base(p) == wrong {
						if _, err := os.Stat(filepath.Join(res.Root, p)); !errors.Is(err, os.ErrNotExist) {
							t.Errorf("%s with a wrong sum was written (%v)", p, err)
						}
					}
				}
				return
			}
			if err != nil {
				if res != nil {
					t.Logf("ignition log:\n%s", res.Log)
				}
				t.Fatal(err)
			}
			for p, body := range want {
				got, err := os.ReadFile(filepath.Join(res.Root, p))
				if err != nil || string(got) != string(body) {
					t.Errorf("%s: %v, content %q, want %q", p, err, got, body)
				}
			}
		})
	}
}

// TestApplyDownloadsCloudInit runs node1's rendered cloud-init download
// step (ubuntu, a stock image) with the real curl and sha256sum against
// loopback, its paths moved under a scratch root: every file is installed;
// with one sum wrong, none is.
func TestApplyDownloadsCloudInit(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found, and CI is set", tool)
			}
			t.Skipf("%s not found (set CI=1 to make this a failure)", tool)
		}
	}
	for _, wrong := range []string{"", "kubelet", "containerd"} {
		t.Run("wrong="+wrong, func(t *testing.T) {
			d := newDownloadServer(t, osprofile.Ubuntu, wrong)
			userData, want, rootfs := d.render(t)
			var doc struct {
				Runcmd [][]string `json:"runcmd"`
			}
			if err := yaml.Unmarshal(userData, &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Runcmd) == 0 || len(doc.Runcmd[0]) < 8 || doc.Runcmd[0][0] != "sh" {
				t.Fatalf("runcmd does not start with the download step: %v", doc.Runcmd)
			}
			root := t.TempDir()
			args := doc.Runcmd[0]
			for i := 4; i < len(args); i += 4 {
				args[i] = root + args[i] // path, url, sha256, mode
			}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			if (err != nil) != (wrong != "") {
				t.Fatalf("download step: %v\n%s", err, out)
			}
			for p, body := range want {
				got, err := os.ReadFile(filepath.Join(root, p))
				switch {
				case wrong != "" && !errors.Is(err, os.ErrNotExist):
					t.Errorf("%s installed although %s's sum is wrong", p, wrong)
				case wrong == "" && (err != nil || string(got) != string(body)):
					t.Errorf("%s: %v, content %q", p, err, got)
				}
			}
			if wrong == "" {
				unpack(t, root, rootfs)
			}
		})
	}
}

// unpack runs the rendered ksgen-binaries.service script over the
// downloads under root (its absolute paths moved there): it checks the sums
// again and unpacks each archive into its destination, owned by root.
func unpack(t *testing.T, root string, rootfs map[string][]byte) {
	t.Helper()
	reroot := func(b []byte) string { return strings.ReplaceAll(string(b), " /", " "+root+"/") }
	sums := filepath.Join(root, binaries.SumsFile)
	if err := os.MkdirAll(filepath.Dir(sums), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sums, []byte(reroot(rootfs[binaries.SumsFile])), 0o644); err != nil {
		t.Fatal(err)
	}
	script := reroot(rootfs[binaries.Script])
	if !strings.Contains(script, "tar -C "+root+"/usr/local ") {
		t.Fatalf("the install script does not unpack containerd into /usr/local:\n%s", script)
	}
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("install script: %v\n%s\n%s", err, out, script)
	}
	for _, p := range []string{"/usr/local/containerd", "/opt/cni/bin/cni-plugins", "/usr/bin/crictl", "/var/lib/ksgen/binaries.done"} {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("after the install script: %v", err)
			continue
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && sys.Uid != 0 {
			t.Errorf("%s is owned by %d, want root", p, sys.Uid)
		}
	}
}
