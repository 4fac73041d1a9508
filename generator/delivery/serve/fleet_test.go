package serve_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/delivery/fleet"
	"github.com/ksgen/ksgen/generator/delivery/serve"
	"github.com/ksgen/ksgen/generator/output/fetch"
	"github.com/ksgen/ksgen/generator/output/tree"
)

// post sends one report as the bootstrap does: a URL-encoded form.
func (f *fixture) post(node, token string, form url.Values) (int, error) {
	resp, err := f.client.PostForm(f.base+fetch.Path(node, token, fetch.ReportFile), form)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

func report(phase, event string, attempt, status int, log string) url.Values {
	return url.Values{"phase": {phase}, "event": {event}, "attempt": {fmt.Sprint(attempt)}, "status": {fmt.Sprint(status)}, "log": {log}}
}

// fleetView reads the fleet's JSON with the operator token.
func (f *fixture) fleetView(t *testing.T) fleet.View {
	t.Helper()
	tokens, _ := fetch.NewTokens(f.bundle)
	status, body, err := f.get(f.base + serve.FleetPath(tokens.Operator()) + serve.FleetJSON)
	if err != nil || status != http.StatusOK {
		t.Fatalf("fleet JSON: %d %v %s", status, err, body)
	}
	var v fleet.View
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) hosts(t *testing.T) []fleet.Host {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(f.dir, tree.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct{ Nodes []fleet.Host }
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	return idx.Nodes
}

// A node's payload carries its own report URL; serve takes a report with
// that node's token and refuses one with another node's token, a wrong
// method, an oversized body or a malformed field; the page and the JSON
// need the operator token.
func TestReportRefusals(t *testing.T) {
	f := newFixture(t)
	tokens, _ := fetch.NewTokens(f.bundle)
	a, b := f.nodes[0], f.nodes[1]
	if got, want := string(f.files[a+"/rootfs/opt/ksgen/report-url"]), f.base+fetch.Path(a, tokens.For(a), "report")+"\n"; got != want {
		t.Errorf("%s's payload reports to %q, want %q", a, got, want)
	}
	ok := report("kubeadm", "failed", 2, 1, "ksgen-bootstrap: phase kubeadm failed (exit 1)")
	big := report("kubeadm", "failed", 2, 1, strings.Repeat("x", fleet.MaxBody))
	for name, tc := range map[string]struct {
		node, token string
		form        url.Values
		want        int
	}{
		"another node's token": {a, tokens.For(b), ok, http.StatusForbidden},
		"operator token":       {a, tokens.Operator(), ok, http.StatusForbidden},
		"no token":             {a, "", ok, http.StatusForbidden},
		"too large":            {a, tokens.For(a), big, http.StatusRequestEntityTooLarge},
		"bad event":            {a, tokens.For(a), report("kubeadm", "exploded", 1, 0, ""), http.StatusBadRequest},
		"bad phase":            {a, tokens.For(a), report("../x", "start", 1, 0, ""), http.StatusBadRequest},
		"bad status":           {a, tokens.For(a), report("kubeadm", "failed", 1, 300, ""), http.StatusBadRequest},
	} {
		if status, err := f.post(tc.node, tc.token, tc.form); err != nil || status != tc.want {
			t.Errorf("%s: %d %v, want %d", name, status, err, tc.want)
		}
	}
	if v := f.fleetView(t); v.History != nil {
		t.Fatalf("refused reports were kept: %+v", v.History)
	}
	if status, err := f.post(a, tokens.For(a), ok); err != nil || status != http.StatusNoContent {
		t.Fatalf("own report: %d %v", status, err)
	}
	if status, _, _ := f.get(f.base + fetch.Path(a, tokens.For(a), "report")); status != http.StatusMethodNotAllowed {
		t.Errorf("GET of the report path: %d, want 405", status)
	}
	for name, path := range map[string]string{
		"page with a node token": serve.FleetPath(tokens.For(a)),
		"JSON with a node token": serve.FleetPath(tokens.For(a)) + serve.FleetJSON,
		"page without a token":   "/" + serve.FleetPrefix + "//",
		"other file":             serve.FleetPath(tokens.Operator()) + "index.json",
	} {
		if status, body, _ := f.get(f.base + path); status != http.StatusForbidden || strings.Contains(string(body), a) {
			t.Errorf("%s: %d, want 403 and nothing about the nodes", name, status)
		}
	}
	v := f.fleetView(t)
	if len(v.History) != 1 || v.History[0].Node != a {
		t.Fatalf("history %+v, want the one report of %s", v.History, a)
	}
	for _, n := range v.Nodes {
		switch {
		case n.Name == a && (n.Last == nil || n.Last.Phase != "kubeadm" || n.Phase() != "kubeadm: failed (exit 1)"):
			t.Errorf("%s: %+v", a, n)
		case n.Name != a && n.Last != nil:
			t.Errorf("%s has a report it never sent", n.Name)
		}
	}
	if logs := f.logs.String(); strings.Contains(logs, tokens.For(a)) || strings.Contains(logs, tokens.Operator()) {
		t.Errorf("the access log holds a token:\n%s", logs)
	}
}

// 50 simulated nodes send 10 reports each, all at once: every report is
// taken, none waits long, and each node's last report is its tenth.
func TestConcurrentReports(t *testing.T) {
	f := newFixture(t)
	tokens, _ := fetch.NewTokens(f.bundle)
	const nodes, each = 50, 10
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	var slowest time.Duration
	t0 := time.Now()
	for i := range nodes {
		node := fmt.Sprintf("sim%02d", i)
		wg.Go(func() {
			<-start
			for n := 1; n <= each; n++ {
				began := time.Now()
				status, err := f.post(node, tokens.For(node), report("post-50-cni", "retry", n, 1, fmt.Sprintf("%s try %d\n", node, n)))
				took := time.Since(began)
				mu.Lock()
				slowest = max(slowest, took)
				if err != nil || status != http.StatusNoContent {
					failures = append(failures, fmt.Sprintf("%s #%d: %d %v", node, n, status, err))
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	t.Logf("%d reports from %d nodes in %s; slowest report %s", nodes*each, nodes, elapsed, slowest)
	if len(failures) > 0 {
		t.Fatalf("%d reports failed: %v", len(failures), failures[:min(5, len(failures))])
	}
	// The bootstrap gives a report 5 s (curl --max-time 5).
	if slowest > 5*time.Second {
		t.Errorf("a report took %s: a node would have dropped it", slowest)
	}
	v := f.fleetView(t)
	if len(v.History) != nodes*each {
		t.Errorf("history holds %d reports, want %d", len(v.History), nodes*each)
	}
	got := 0
	for _, n := range v.Nodes {
		if !strings.HasPrefix(n.Name, "sim") {
			continue
		}
		got++
		if n.Reports != each || n.Last == nil || n.Last.Attempt != each || n.LastFailure == nil || !strings.Contains(n.LastFailure.Log, fmt.Sprintf("try %d", each)) {
			t.Errorf("%s: %d reports, last %+v", n.Name, n.Reports, n.Last)
		}
	}
	if got != nodes {
		t.Errorf("%d simulated nodes on the page, want %d", got, nodes)
	}
}

// The fleet page in a real browser: headless chromium loads it from
// loopback with the operator token, trusting only the serve certificate's
// key, and the DOM it built has one row per host of the cluster with the
// phase each reported. A screenshot is kept.
func TestFleetPageInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (CI installs it)")
		}
		t.Skip("chromium is not installed")
	}
	f := newFixture(t)
	tokens, _ := fetch.NewTokens(f.bundle)
	hosts := f.hosts(t)
	if len(hosts) < 3 {
		t.Fatalf("want at least 3 hosts in the index, got %d", len(hosts))
	}
	want := map[string]string{}
	for i, h := range hosts {
		switch {
		case h.Action == "none":
			want[h.Name] = "no bootstrap"
		case i == 0:
			want[h.Name] = "bootstrapped"
			if status, err := f.post(h.Name, tokens.For(h.Name), report(fleet.PhaseBootstrapped, "done", 1, 0, "")); err != nil || status != http.StatusNoContent {
				t.Fatal(status, err)
			}
		case i == 1:
			want[h.Name] = "kubeadm: retry (exit 1)"
			log := "ksgen-bootstrap: attempt 4: the API at lb.kubesphere.local:6443 does not answer yet\nksgen-bootstrap: attempt 4 failed; next in 40s"
			if status, err := f.post(h.Name, tokens.For(h.Name), report("kubeadm", "retry", 1, 1, log)); err != nil || status != http.StatusNoContent {
				t.Fatal(status, err)
			}
		default:
			want[h.Name] = "no report yet"
		}
	}

	// Pin the certificate serve presents: chromium trusts that key alone.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(f.base, "https://"), &tls.Config{RootCAs: pool(f)})
	if err != nil {
		t.Fatal(err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)

	dir := os.Getenv("KSGEN_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "fleet-page.png")
	page := f.base + serve.FleetPath(tokens.Operator())
	run := func(extra ...string) string {
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--user-data-dir=" + t.TempDir(), "--ignore-certificate-errors-spki-list=" + base64.StdEncoding.EncodeToString(spki[:]),
			"--window-size=1280,800"}, extra...)
		out, err := runBounded(t, chromium, append(args, page)...)
		if err != nil {
			t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, out)
		}
		return out
	}
	dom := run("--dump-dom")
	rows := regexp.MustCompile(`<tr data-node="([^"]+)" data-phase="([^"]*)"`).FindAllStringSubmatch(dom, -1)
	got := map[string]string{}
	for _, r := range rows {
		if _, dup := got[r[1]]; dup {
			t.Errorf("two rows for %s", r[1])
		}
		got[r[1]] = r[2]
	}
	if len(rows) != len(hosts) {
		t.Errorf("%d rows, want one per host (%d):\n%s", len(rows), len(hosts), dom)
	}
	for name, phase := range want {
		if got[name] != phase {
			t.Errorf("%s: row phase %q, want %q", name, got[name], phase)
		}
	}
	if !strings.Contains(dom, "does not answer yet") {
		t.Errorf("the retrying node's last error is not on the page")
	}
	run("--screenshot=" + shot)
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 5000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("fleet page screenshot: %s (%d bytes)", shot, st.Size())
}

func pool(f *fixture) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(fetch.ServeCA(f.bundle).Cert)
	return p
}

// runBounded runs a browser in a process group of its own and kills the
// group by its id when it is done or after a minute.
func runBounded(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	var errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		return "", err
	}
	pgid := cmd.Process.Pid
	defer func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String() + errOut.String(), err
		}
		return out.String(), nil
	case <-time.After(time.Minute):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
		return errOut.String(), fmt.Errorf("%s did not finish in a minute: killed", name)
	}
}
