package serve_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ign3_4 "github.com/coreos/ignition/v2/config/v3_4"
	ign3_5 "github.com/coreos/ignition/v2/config/v3_5"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/delivery/serve"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/output/fetch"
	"github.com/ksgen/ksgen/generator/output/tree"
)

// fixture renders the ksgen-doc spec with pointer configs for a ksgen serve
// listening on a loopback port, and serves the tree.
type fixture struct {
	bundle *pki.Bundle
	dir    string
	base   string
	files  map[string][]byte
	nodes  []string // nodes whose OS boots Ignition (config.ign)
	ci     []string // nodes whose OS boots cloud-init (user-data)
	client *http.Client
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := plantest.Bundle(t)
	cert, err := fetch.ServeCert(b, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := fetch.NewTokens(b)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{bundle: b, dir: filepath.Join(t.TempDir(), "out"), files: map[string][]byte{}, logs: &syncBuffer{}}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, tree.IndexFile), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := serve.NewHandler(f.dir, tokens, slog.New(slog.NewTextHandler(f.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.Listen("127.0.0.1:0", cert, h)
	if err != nil {
		t.Fatal(err)
	}
	f.base = "https://" + srv.Addr().String()

	s, r, err := spec.LoadFile("../../../testdata/specs/valid-ksgen-doc.yaml")
	if err != nil || r.Err(false) != nil {
		t.Fatalf("load: %v %v", err, r.Err(false))
	}
	out, err := generator.Generate(s, b, generator.Options{ServeURL: f.base})
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Write(f.dir, out); err != nil {
		t.Fatal(err)
	}
	for _, file := range out.Files {
		f.files[file.Path] = file.Content
		if node, ok := strings.CutSuffix(file.Path, "/"+fetch.IgnitionFile); ok {
			f.nodes = append(f.nodes, node)
		}
		if node, ok := strings.CutSuffix(file.Path, "/"+fetch.CloudInitFile); ok {
			f.ci = append(f.ci, node)
		}
	}
	slices.Sort(f.nodes)
	slices.Sort(f.ci)
	if len(f.nodes) < 2 || len(f.ci) < 2 {
		t.Fatalf("the ksgen-doc spec renders Ignition for %v and cloud-init for %v, want two of each", f.nodes, f.ci)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fetch.ServeCA(b).Cert)
	f.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		MaxIdleConnsPerHost: 100,
	}}
	t.Cleanup(f.client.CloseIdleConnections)
	return f
}

func (f *fixture) get(url string) (int, []byte, error) {
	resp, err := f.client.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// A pointer config, followed the way Ignition merges it (its CA, its URL, its
// sha512), fetches exactly the node's full config from ksgen serve.
func TestFollowIgnitionPointer(t *testing.T) {
	f := newFixture(t)
	for _, node := range f.nodes {
		ptr := f.files[node+"/config.ign.pointer"]
		var source, hash, caURL string
		switch fetch.IgnitionVersion(ptr) {
		case "3.5.0":
			c, rpt, err := ign3_5.Parse(ptr)
			if err != nil || len(rpt.Entries) > 0 {
				t.Fatalf("%s: %v %s", node, err, rpt)
			}
			source, hash, caURL = *c.Ignition.Config.Merge[0].Source, *c.Ignition.Config.Merge[0].Verification.Hash, *c.Ignition.Security.TLS.CertificateAuthorities[0].Source
		case "3.4.0":
			c, rpt, err := ign3_4.Parse(ptr)
			if err != nil || len(rpt.Entries) > 0 {
				t.Fatalf("%s: %v %s", node, err, rpt)
			}
			source, hash, caURL = *c.Ignition.Config.Merge[0].Source, *c.Ignition.Config.Merge[0].Verification.Hash, *c.Ignition.Security.TLS.CertificateAuthorities[0].Source
		default:
			t.Fatalf("%s: pointer version %q", node, fetch.IgnitionVersion(ptr))
		}
		ca, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(caURL, "data:;base64,"))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			t.Fatalf("%s: pointer CA is not PEM", node)
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := client.Get(source)
		if err != nil {
			t.Fatalf("%s: fetch %s: %v", node, source, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sum := sha512.Sum512(body)
		if resp.StatusCode != http.StatusOK || hash != "sha512-"+hex.EncodeToString(sum[:]) {
			t.Fatalf("%s: status %d, hash %s does not verify", node, resp.StatusCode, hash)
		}
		if !bytes.Equal(body, f.files[node+"/config.ign"]) {
			t.Errorf("%s: fetched config differs from config.ign", node)
		}
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	tokens, _ := fetch.NewTokens(f.bundle)
	a, b, c := f.nodes[0], f.nodes[1], f.ci[0]
	for name, tc := range map[string]struct {
		path string
		want int
	}{
		"own payload":          {fetch.Path(a, tokens.For(a), "config.ign"), 200},
		"own user-data":        {fetch.Path(c, tokens.For(c), "user-data"), 200},
		"format its OS lacks":  {fetch.Path(a, tokens.For(a), "user-data"), 404},
		"other node's payload": {fetch.Path(b, tokens.For(a), "config.ign"), 403},
		"wrong token":          {fetch.Path(a, strings.Repeat("0", 64), "config.ign"), 403},
		"kubeadm config":       {fetch.Path(a, tokens.For(a), "kubeadm.yaml"), 403},
		"traversal":            {"/" + a + "/" + tokens.For(a) + "/../../index.json", 403},
		"index":                {"/index.json", 403},
		"unknown node":         {fetch.Path("nosuch", tokens.For("nosuch"), "config.ign"), 404},
	} {
		status, _, err := f.get(f.base + tc.path)
		if err != nil || status != tc.want {
			t.Errorf("%s: GET %s: %d %v, want %d", name, tc.path, status, err, tc.want)
		}
	}
	if logs := f.logs.String(); strings.Contains(logs, tokens.For(a)) || !strings.Contains(logs, "path=/"+a+"/<token>/config.ign node="+a+" status=200") {
		t.Errorf("access log leaks the token or lacks the request:\n%s", logs)
	}
}

// TestLoad is the bounded loopback load test: 1,000 concurrent fetches of the
// right payloads all succeed, 100 fetches of another node's payload are all
// refused; the p99 latency is logged.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	f := newFixture(t)
	tokens, _ := fetch.NewTokens(f.bundle)
	const right, wrong = 1000, 100
	type result struct {
		node   string
		status int
		body   []byte
		err    error
		took   time.Duration
	}
	results := make([]result, right+wrong)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range right + wrong {
		wg.Go(func() {
			node := f.nodes[i%len(f.nodes)]
			token := tokens.For(node)
			if i >= right { // another node's payload, with this node's token
				node = f.nodes[(i+1)%len(f.nodes)]
			}
			<-start
			t0 := time.Now()
			status, body, err := f.get(f.base + fetch.Path(node, token, "config.ign"))
			results[i] = result{node, status, body, err, time.Since(t0)}
		})
	}
	close(start)
	wg.Wait()
	var errs, refused int
	var lat []time.Duration
	for i, r := range results {
		if i < right {
			lat = append(lat, r.took)
			if r.err != nil || r.status != http.StatusOK || !bytes.Equal(r.body, f.files[r.node+"/config.ign"]) {
				errs++
				if errs <= 3 {
					t.Errorf("fetch %d (%s): %d %v", i, r.node, r.status, r.err)
				}
			}
		} else if r.err == nil && r.status == http.StatusForbidden {
			refused++
		}
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	t.Logf("%d concurrent fetches: %d errors; %d of %d cross-node fetches refused; latency p50 %s p99 %s max %s",
		right, errs, refused, wrong, p(0.50), p(0.99), lat[len(lat)-1])
	if errs != 0 || refused != wrong {
		t.Fatalf("want 0 errors and %d refusals", wrong)
	}
}

// The cloud-init pointer script, run with sh and the real curl against ksgen
// serve on loopback (cloud-init stubbed, paths moved to a scratch directory),
// fetches the node's full user-data over TLS trusting only the serve CA and
// verifies its sha256 before it hands it to cloud-init.
func TestCloudInitPointerScript(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	f := newFixture(t)
	node := f.ci[0]
	script := string(f.files[node+"/user-data.pointer"])
	scratch := t.TempDir()
	bin := filepath.Join(scratch, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	stub := "#!/bin/sh\necho \"$@\" >>" + scratch + "/cloud-init.log\n"
	if err := os.WriteFile(filepath.Join(bin, "cloud-init"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	for old, repl := range map[string]string{
		"d=/run/ksgen": "d=" + scratch + "/run",
		"sh /var/lib/cloud/instance/scripts/runcmd": "echo runcmd >>" + scratch + "/cloud-init.log",
	} {
		if !strings.Contains(script, old) {
			t.Fatalf("pointer script lacks %q:\n%s", old, script)
		}
		script = strings.ReplaceAll(script, old, repl)
	}
	run := func(script string) error {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := run(script); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(scratch, "run", "user-data"))
	if err != nil || !bytes.Equal(got, f.files[node+"/user-data"]) {
		t.Fatalf("fetched user-data differs from the node's (%v)", err)
	}
	log, _ := os.ReadFile(filepath.Join(scratch, "cloud-init.log"))
	if !strings.Contains(string(log), "--file "+scratch+"/run/user-data single --name write_files --frequency always") || !strings.HasSuffix(string(log), "runcmd\n") {
		t.Errorf("cloud-init calls:\n%s", log)
	}
	// A payload that does not match the pinned sha256 is never applied.
	other := f.ci[1]
	tokens, _ := fetch.NewTokens(f.bundle)
	bad := strings.Replace(script, fetch.Path(node, tokens.For(node), "user-data"), fetch.Path(other, tokens.For(other), "user-data"), 1)
	if err := os.Remove(filepath.Join(scratch, "run", "user-data")); err != nil {
		t.Fatal(err)
	}
	if err := run(bad); err == nil {
		t.Fatal("a payload with the wrong sha256 was accepted")
	}
	if _, err := os.Stat(filepath.Join(scratch, "run", "user-data")); err == nil {
		t.Fatal("a payload with the wrong sha256 was installed")
	}
}
