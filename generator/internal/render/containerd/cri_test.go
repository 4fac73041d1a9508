package containerd_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/containerd"
	"github.com/ksgen/ksgen/images"
)

// TestCRIRunsTheRenderedConfig starts the pinned containerd 2.x with the
// config.toml and hosts.toml ksgen renders for the default Kubernetes and
// asks its CRI plugin, as the kubelet does (crictl), what it made of them:
//   - the runtime is ready, on containerd's root from registry.containerdDataDir,
//     with runc's SystemdCgroup as the kubelet's cgroup driver says;
//   - the sandbox image (a private registry's pause, served on loopback by a
//     registry that answers only to the spec's credentials and speaks only
//     plain HTTP) pulls with no credentials on the command line: containerd
//     took the auth from config.toml and the plain-HTTP host from certs.d
//     through config_path; and CRI reports it pinned, as it does the images
//     of the config's pinned_images (TestContainerdReadsItsConfig checks it
//     is the one under the sandbox key, which the pod sandbox runs).
//
// Only what ties containerd to this machine changes: its state directory,
// socket, opt and CNI config directories (CRI makes the one it watches),
// config_path, which points at a copy of the rendered certs.d, and NRI, off
// (its socket is machine-wide). containerd
// is stopped by its PID.
func TestCRIRunsTheRenderedConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real containerd")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("containerd needs root (CI runs as root)")
		}
		t.Skip("containerd needs root")
	}
	ctrd, err := consumers.ContainerdBinaries()
	if err == nil {
		_, err = consumers.CrictlBinary()
	}
	if err != nil {
		if consumers.IsMissing(err) && os.Getenv("CI") == "" {
			t.Skipf("cannot build containerd or crictl here: %v", err)
		}
		t.Fatal(err)
	}
	crictlBin, _ := consumers.CrictlBinary()

	const user, password = "kk", "Harbor12345"
	reg := newRegistry(t, user, password)
	dir := t.TempDir()
	root := filepath.Join(dir, "data")
	c := plantest.Plan(t, plantest.HA(fmt.Sprintf(`  registry:
    privateRegistry: %[1]s
    namespaceOverride: kubesphereio
    containerdDataDir: %[2]s
    auths:
      %[1]s: {username: %[3]s, password: %[4]s, plainHTTP: true}
`, reg.host, root, user, password)))
	_, files := plantest.Render(t, c, "w1", containerd.Render)
	if v := images.ContainerdFor(c.KubernetesVersion()); v.ConfigVersion() != 3 || v.Containerd != consumers.ContainerdVersion {
		t.Fatalf("the default Kubernetes pairs containerd %s: this test runs %s", v.Containerd, consumers.ContainerdVersion)
	}

	certs := filepath.Join(dir, "certs.d")
	for path, f := range files {
		if rel, ok := strings.CutPrefix(path, containerd.CertsDir+"/"); ok {
			if err := os.MkdirAll(filepath.Join(certs, filepath.Dir(rel)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(certs, rel), f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := string(files["/etc/containerd/config.toml"].Content)
	socket := filepath.Join(dir, "containerd.sock")
	adapted := strings.Replace(cfg, `config_path = "/etc/containerd/certs.d"`, fmt.Sprintf("config_path = %q", certs), 1)
	adapted = strings.Replace(adapted, "\n\n", fmt.Sprintf("\nstate = %q\n\n[grpc]\n  address = %q\n\n", filepath.Join(dir, "state"), socket), 1)
	adapted += fmt.Sprintf(`
[plugins."io.containerd.cri.v1.runtime".cni]
  conf_dir = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.nri.v1.nri"]
  disable = true
`, filepath.Join(dir, "net.d"), filepath.Join(dir, "opt"))
	if strings.Count(adapted, dir) != 6 {
		t.Fatalf("config.toml changed shape; adapt the test:\n%s", cfg)
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(adapted), 0o600); err != nil {
		t.Fatal(err)
	}

	log, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	daemon := exec.Command(ctrd.Containerd, "--config", cfgPath)
	daemon.Env = append(os.Environ(), "PATH="+ctrd.Dir+":"+os.Getenv("PATH"))
	daemon.Stdout, daemon.Stderr = log, log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		stopped := make(chan struct{})
		go func() { _ = daemon.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			_ = daemon.Process.Kill()
			<-stopped
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("containerd's log:\n%s", tail(b, 40))
		}
	})
	crictl := func(args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, crictlBin, append([]string{"--runtime-endpoint", "unix://" + socket, "--image-endpoint", "unix://" + socket, "--timeout", "30s"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, fmt.Errorf("crictl %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return out, nil
	}

	var info struct {
		Status struct {
			Conditions []struct {
				Type   string
				Status bool
			}
		}
		Config struct {
			ContainerdRootDir string
			Containerd        struct {
				Runtimes map[string]struct {
					RuntimeType string
					Options     struct{ SystemdCgroup bool }
				}
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := crictl("info")
		if err == nil {
			err = json.Unmarshal(out, &info)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd's CRI does not answer: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ready := false
	for _, cond := range info.Status.Conditions {
		ready = ready || cond.Type == "RuntimeReady" && cond.Status
	}
	runc := info.Config.Containerd.Runtimes["runc"]
	if !ready || info.Config.ContainerdRootDir != root || runc.RuntimeType != "io.containerd.runc.v2" || !runc.Options.SystemdCgroup {
		t.Errorf("CRI: runtime ready %t, root %q (want %q), runc %+v (want SystemdCgroup, as the kubelet's systemd driver)", ready, info.Config.ContainerdRootDir, root, runc)
	}

	sandbox := reg.host + "/kubesphereio/pause:" + images.PauseTag(c.Version.Minor())
	if _, err := crictl("pull", sandbox); err != nil {
		t.Fatalf("pull the sandbox image with the config's credentials: %v", err)
	}
	if reg.authorized.Load() == 0 || reg.refused.Load() == 0 {
		t.Errorf("registry: %d authorized and %d refused requests; containerd should have met the challenge with the config's credentials", reg.authorized.Load(), reg.refused.Load())
	}
	out, err := crictl("inspecti", "-o", "json", sandbox)
	if err != nil {
		t.Fatal(err)
	}
	var img struct{ Status struct{ Pinned bool } }
	if err := json.Unmarshal(out, &img); err != nil || !img.Status.Pinned {
		t.Errorf("CRI does not treat %s as the sandbox image (pinned): %v\n%s", sandbox, err, out)
	}
}

// registry is a loopback OCI registry serving one image under any name, over
// plain HTTP, to basic auth with one user.
type registry struct {
	host                string
	authorized, refused atomic.Int64
	manifest, config    []byte
	layer               []byte
	manifestD, configD  string
	layerD              string
}

func newRegistry(t *testing.T, user, password string) *registry {
	t.Helper()
	r := &registry{}
	r.layer = gzipTar(t, map[string]string{"pause": "ksgen test image\n"})
	diff := sha256.Sum256(gunzip(t, r.layer))
	r.config, _ = json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/pause"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{fmt.Sprintf("sha256:%x", diff)}},
	})
	r.configD, r.layerD = digest(r.config), digest(r.layer)
	r.manifest, _ = json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": r.configD, "size": len(r.config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": r.layerD, "size": len(r.layer)}},
	})
	r.manifestD = digest(r.manifest)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.host = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != user || p != password {
			r.refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="ksgen-test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r.authorized.Add(1)
		path := req.URL.Path
		var body []byte
		var mediaType string
		switch {
		case path == "/v2/":
			w.WriteHeader(http.StatusOK)
			return
		case strings.Contains(path, "/manifests/"):
			body, mediaType = r.manifest, "application/vnd.oci.image.manifest.v1+json"
			w.Header().Set("Docker-Content-Digest", r.manifestD)
		case strings.HasSuffix(path, "/blobs/"+r.configD):
			body, mediaType = r.config, "application/octet-stream"
		case strings.HasSuffix(path, "/blobs/"+r.layerD):
			body, mediaType = r.layer, "application/octet-stream"
		default:
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", mediaType)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if req.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func gzipTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gb bytes.Buffer
	gw := gzip.NewWriter(&gb)
	if _, err := gw.Write(tb.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return gb.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// tail is the last n lines of b.
func tail(b []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}
