package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/delivery/serve"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/output/fetch"
)

// renderDelivery renders the matchbox spec with the test bundle and the
// given extra flags, returning the output directory and stderr.
func renderDelivery(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/matchbox/cluster.yaml", dir)
	secrets := copyInto(t, "../../testdata/test-secrets.yaml", dir)
	out := filepath.Join(dir, "out")
	args := append([]string{"render", "-f", spec, "--secrets", secrets, "-o", out}, extra...)
	_, stderr, err := ksgen(t, args...)
	if err != nil {
		t.Fatalf("ksgen %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out, stderr
}

// --cloud aws writes the exact user-data: base64 of gzip for cloud-init,
// base64 of the raw config for Ignition.
func TestRenderCloudAWS(t *testing.T) {
	t.Parallel()
	// node3 runs Ubuntu, which boots cloud-init.
	out, _ := renderDelivery(t, "--cloud", "aws", "--format", "cloud-init", "--node", "node3")
	raw, err := os.ReadFile(filepath.Join(out, "node3", "user-data.aws"))
	if err != nil {
		t.Fatal(err)
	}
	z, err := base64.StdEncoding.DecodeString(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	want, _ := os.ReadFile(filepath.Join(out, "node3", "user-data"))
	if len(want) == 0 || !bytes.Equal(got, want) || len(z) > 16384 {
		t.Errorf("user-data.aws does not decode to user-data within 16384 bytes (%d gzipped)", len(z))
	}
}

// Without a serve URL, a payload over the cloud's limit is an error that
// says what to do.
func TestRenderCloudOverLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/matchbox/cluster.yaml", dir)
	secrets := copyInto(t, "../../testdata/test-secrets.yaml", dir)
	_, _, err := ksgen(t, "render", "-f", spec, "--secrets", secrets, "-o", filepath.Join(dir, "out"), "--cloud", "aws", "--format", "ignition")
	if err == nil || !strings.Contains(err.Error(), "render node master1: config.ign is") || !strings.Contains(err.Error(), "--serve-url") || !strings.Contains(err.Error(), "os: ubuntu") {
		t.Fatalf("err = %v", err)
	}
}

func TestRenderMatchbox(t *testing.T) {
	t.Parallel()
	mb := filepath.Join(t.TempDir(), "matchbox")
	out, stderr := renderDelivery(t, "--matchbox", mb, "--matchbox-url", "http://10.0.0.2:8080")
	for _, want := range []string{"\nwarning: 2 hosts get no matchbox group (master2, node2): no MAC address in the ksgen document (spec.hosts.NAME.mac)\n", "\nwarning: host node3 gets no matchbox group: OS ubuntu has no PXE boot (matchbox boots Fedora CoreOS and Flatcar)\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if got := entries(t, filepath.Join(mb, "groups")); strings.Join(got, " ") != "master1.json master3.json node1.json" {
		t.Errorf("groups: %v", got)
	}
	ign, _ := os.ReadFile(filepath.Join(mb, "ignition", "node1.ign"))
	want, _ := os.ReadFile(filepath.Join(out, "node1", "config.ign"))
	if len(ign) == 0 || !bytes.Equal(ign, want) {
		t.Error("ignition/node1.ign is not node1's config.ign")
	}
	// export matchbox from the tree gives the same directory.
	mb2 := filepath.Join(t.TempDir(), "matchbox")
	if _, stderr, err := ksgen(t, "export", "matchbox", "-d", out, "-o", mb2, "--matchbox-url", "http://10.0.0.2:8080"); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	a, _ := os.ReadFile(filepath.Join(mb, "profiles", "flatcar-worker-node1.json"))
	b, _ := os.ReadFile(filepath.Join(mb2, "profiles", "flatcar-worker-node1.json"))
	if len(a) == 0 || !bytes.Equal(a, b) || !bytes.Contains(a, []byte("ignition.config.url=http://10.0.0.2:8080/ignition?mac=${mac:hexhyp}")) {
		t.Errorf("profiles differ or lack the ignition URL:\n%s\n%s", a, b)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ksgen serve serves a node its own payload, refuses another's, logs both,
// and stops cleanly when its context ends (SIGINT/SIGTERM in main).
func TestServeCommand(t *testing.T) {
	t.Parallel()
	out, _ := renderDelivery(t, "--format", "ignition")
	secrets := filepath.Join(filepath.Dir(out), "test-secrets.yaml")
	var stdout, stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveTree(ctx, &serveFlags{dir: out, listen: "127.0.0.1:0", secrets: secrets, sans: []string{"127.0.0.1"}, grace: 5 * time.Second}, &stdout, &stderr)
	}()
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, a, ok := strings.Cut(stdout.String(), " on https://"); ok && strings.Contains(a, "ksgen status") {
			addr, _, _ = strings.Cut(a, "\n")
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("serve did not start: %v %s", <-done, stderr.String())
	}
	raw, _ := os.ReadFile(secrets)
	b, err := pki.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := fetch.NewTokens(b)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fetch.ServeCA(b).Cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	// The fleet page's URL, as serve prints it, opens the page.
	page := "https://" + addr + serve.FleetPath(tokens.Operator())
	if !strings.Contains(stdout.String(), "fleet page (operator token from the secrets bundle; keep the URL private): "+page+"\n") {
		t.Errorf("serve does not print the fleet page %s:\n%s", page, stdout.String())
	}
	for path, want := range map[string]int{
		fetch.Path("node1", tokens.For("node1"), "config.ign"):   200,
		fetch.Path("master1", tokens.For("node1"), "config.ign"): 403,
		serve.FleetPath(tokens.Operator()):                       200,
		serve.FleetPath(tokens.For("node1")):                     403,
	} {
		resp, err := client.Get("https://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	client.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	logs := stderr.String()
	if !strings.Contains(logs, "path=/master1/<token>/config.ign node=master1 status=403") || strings.Contains(logs, tokens.For("node1")) {
		t.Errorf("access log:\n%s", logs)
	}
}
