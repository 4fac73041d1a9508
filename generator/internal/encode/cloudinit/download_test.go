package cloudinit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/fileset"
)

// The download step runs for real, with the real curl and sha256sum,
// against files served on loopback: every file is installed when every sum
// matches, and when one does not, nothing is installed at all.
func TestDownloadScriptChecksEverySumBeforeInstalling(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sh", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found, and CI is set", tool)
			}
			t.Skipf("%s not found (set CI=1 to make this a failure)", tool)
		}
	}
	bodies := map[string][]byte{
		"/release/kubeadm":          []byte("#!/bin/sh\necho kubeadm\n"),
		"/release/kubelet":          []byte("#!/bin/sh\necho kubelet\n"),
		"/downloads/containerd.tgz": []byte("not really an archive\n"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	sum := func(p string) string { s := sha256.Sum256(bodies[p]); return hex.EncodeToString(s[:]) }

	tests := []struct {
		name    string
		wrong   string // the URL path served with a sum that does not match
		wantErr bool
	}{
		{name: "every sum matches: all installed"},
		{name: "one wrong sum: nothing installed", wrong: "/release/kubelet", wantErr: true},
		{name: "one missing file: nothing installed", wrong: "/release/absent", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{ // target → URL path
				filepath.Join(dir, "usr/bin/kubeadm"):                        "/release/kubeadm",
				filepath.Join(dir, "usr/bin/kubelet"):                        "/release/kubelet",
				filepath.Join(dir, "var/lib/ksgen/downloads/containerd.tgz"): "/downloads/containerd.tgz",
			}
			n := &fileset.Set{Name: "n"}
			for target, p := range files {
				s := sum(p)
				if p == tt.wrong {
					s = "00" + s[2:]
				}
				if tt.wrong == "/release/absent" && p == "/release/kubelet" {
					p = tt.wrong
				}
				n.AddFile(fileset.File{Path: target, Mode: 0o755, Source: srv.URL + p, SHA256: s})
			}
			steps := downloads(n).Content
			if len(steps) != 1 {
				t.Fatalf("%d download steps, want 1 for every file", len(steps))
			}
			var args []string
			for _, a := range steps[0].Content {
				args = append(args, a.Value)
			}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v\n%s", err, tt.wantErr, out)
			}
			for target := range files {
				st, statErr := os.Stat(target)
				if _, partial := os.Stat(target + ".ksgen-download"); partial == nil {
					t.Errorf("%s.ksgen-download left behind", target)
				}
				if tt.wantErr {
					if statErr == nil {
						t.Errorf("%s installed although a download was refused", target)
					}
					continue
				}
				if statErr != nil || st.Mode().Perm() != 0o755 {
					t.Errorf("%s: %v %v", target, st, statErr)
				}
			}
		})
	}
}
