package firstboot_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/delivery/fleet"
	"github.com/ksgen/ksgen/generator/delivery/serve"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/output/fetch"
	"github.com/ksgen/ksgen/generator/output/tree"
)

// loopbackServe runs ksgen serve's handler on a loopback port over a tree
// whose index lists master1 and node1, and returns its base URL and a
// reader of the fleet's JSON.
func loopbackServe(t *testing.T) (*pki.Bundle, *fetch.Tokens, string, func() fleet.View) {
	t.Helper()
	b := plantest.Bundle(t)
	tokens, err := fetch.NewTokens(b)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := fetch.ServeCert(b, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	index := `{"cluster":"sample","nodes":[{"name":"master1","roles":["control-plane","etcd"],"action":"init"},{"name":"node1","roles":["worker"],"action":"join"}]}`
	if err := os.WriteFile(filepath.Join(dir, tree.IndexFile), []byte(index), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := serve.NewHandler(dir, tokens, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.Listen("127.0.0.1:0", cert, h)
	if err != nil {
		t.Fatal(err)
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
	base := "https://" + srv.Addr().String()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fetch.ServeCA(b).Cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	view := func() fleet.View {
		t.Helper()
		resp, err := client.Get(base + serve.FleetPath(tokens.Operator()) + serve.FleetJSON)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var v fleet.View
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil {
			t.Fatalf("fleet JSON: %d %s", resp.StatusCode, body)
		}
		return v
	}
	return b, tokens, base, view
}

// reportTo writes the files render adds with --serve-url into the sandbox.
func (sb *sandbox) reportTo(url string, ca []byte) {
	files, err := firstboot.Reporting(url, ca)
	if err != nil {
		sb.t.Fatal(err)
	}
	for _, f := range files {
		sb.write("hooks/"+strings.TrimPrefix(f.Path, firstboot.Dir+"/"), string(f.Content), f.Mode)
	}
}

// The real bootstrap script of a worker, with a kubeadm join that fails
// once and a post step that fails once, reports every phase to a real
// ksgen serve on loopback through the real curl; serve shows the node's
// phases in order, the retry, the failure with its log, and the end. The
// journal lines are the same as without reports.
func TestBootstrapReportsToServe(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/bin/curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is not installed (CI installs it)")
		}
		t.Skip("curl is not installed")
	}
	b, tokens, base, view := loopbackServe(t)
	sb := newSandbox(t, "config-sample.yaml", "node1")
	sb.reportTo(base+fetch.Path("node1", tokens.For("node1"), fetch.ReportFile), fetch.ServeCA(b).Cert)
	sb.write("bin/kubeadm-fail", "1", 0o644)
	sb.write("hooks/post.d/50-cni", `#!/bin/bash
if [ ! -e "$FAKE_DIR/cni-ran" ]; then touch "$FAKE_DIR/cni-ran"; echo "cni: calico manifest: connection refused" >&2; exit 3; fi
echo "cni: applied"`, 0o755)

	out, err := sb.run()
	if err == nil || !strings.Contains(out, "phase post-50-cni failed (exit 3)") {
		t.Fatalf("first run: want the cni step to fail (err %v):\n%s", err, out)
	}
	v := view()
	node := nodeOf(t, v, "node1")
	if node.Phase() != "post-50-cni: failed (exit 3)" || !strings.Contains(node.LastError(), "calico manifest: connection refused") {
		t.Errorf("after the failure serve shows %q, last error %q", node.Phase(), node.LastError())
	}
	if out, err = sb.run(); err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	for _, line := range []string{"phase prep: done", "phase kubeadm: done", "phase post-50-cni: done", "done: every phase finished"} {
		if !strings.Contains(out, line) {
			t.Errorf("the journal lacks %q:\n%s", line, out)
		}
	}
	if strings.Contains(out, "not delivered") {
		t.Errorf("a report was dropped:\n%s", out)
	}

	v = view()
	var got []string
	for _, e := range v.History {
		if e.Node != "node1" {
			t.Errorf("report for %s", e.Node)
		}
		got = append(got, fmt.Sprintf("%s %s %d %d", e.Phase, e.Event, e.Attempt, e.Status))
	}
	want := []string{
		"prep start 1 0", "prep done 1 0",
		"kubeadm start 1 0", "kubeadm retry 1 1", "kubeadm done 1 0",
		"post-50-cni start 1 0", "post-50-cni failed 1 3",
		"post-50-cni start 2 0", "post-50-cni done 2 0",
		"bootstrapped done 0 0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("serve holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	node = nodeOf(t, v, "node1")
	if node.Phase() != fleet.PhaseBootstrapped || node.LastFailure == nil || node.LastFailure.Phase != "post-50-cni" {
		t.Errorf("node1 shows %q, last failure %+v", node.Phase(), node.LastFailure)
	}
	if retry := v.History[3]; !strings.Contains(retry.Log, "attempt 1: kubeadm join failed") || strings.Count(retry.Log, "\n") >= fleet.MaxLogLines {
		t.Errorf("the retry's log tail lacks the failed attempt or is not bounded:\n%s", retry.Log)
	}
	if m := nodeOf(t, v, "master1"); m.Last != nil || m.Phase() != "no report yet" {
		t.Errorf("master1, which never reported, shows %q", m.Phase())
	}
}

// A report that cannot be delivered costs the node a journal line, not a
// phase: the bootstrap finishes with ksgen serve down.
func TestBootstrapWithServeDown(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/bin/curl"); err != nil {
		t.Skip("curl is not installed")
	}
	sb := newSandbox(t, "config-sample.yaml", "node1")
	// Port 1 on loopback: nothing listens, the connection is refused.
	sb.reportTo("https://127.0.0.1:1/node1/x/report", []byte("not a certificate"))
	start := time.Now()
	out, err := sb.run()
	if err != nil {
		t.Fatalf("bootstrap failed with serve down: %v\n%s", err, out)
	}
	if !strings.Contains(out, "report of prep start not delivered to ksgen serve (dropped)") || !strings.Contains(out, "done: every phase finished") {
		t.Errorf("want the dropped reports in the journal and the bootstrap done:\n%s", out)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the bootstrap took %s with serve down", d)
	}
	if _, err := exec.LookPath("shellcheck"); err == nil {
		if out, err := exec.Command("shellcheck", sb.script, filepath.Join(sb.dir, "hooks/report")).CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, out)
		}
	}
}

func nodeOf(t *testing.T, v fleet.View, name string) fleet.Node {
	t.Helper()
	for _, n := range v.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("%s is not on the fleet page", name)
	return fleet.Node{}
}
