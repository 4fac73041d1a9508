package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/delivery/fleet"
	"github.com/ksgen/ksgen/generator/delivery/serve"
	"github.com/ksgen/ksgen/generator/output/fetch"
	"github.com/ksgen/ksgen/generator/output/tree"
)

// node2Stuck is node2's last report: its join retries because the API does
// not answer.
const node2Stuck = `ksgen-bootstrap: phase kubeadm: starting
ksgen-bootstrap: attempt 6: the API at lb.kubesphere.local:6443 does not answer yet
ksgen-bootstrap: attempt 6 failed; next in 160s`

// fleetOf is what ksgen serve shows for statusSpec with every host
// bootstrapped but node2, whose join retries.
func fleetOf(at time.Time) *fleet.View {
	done := &fleet.Report{Phase: fleet.PhaseBootstrapped, Event: fleet.EventDone, Time: at}
	retry := &fleet.Report{Phase: "kubeadm", Event: fleet.EventRetry, Attempt: 1, Status: 1, Log: node2Stuck, Time: at}
	return &fleet.View{Cluster: "status", Nodes: []fleet.Node{
		{Name: "lb1", Roles: []string{"loadbalancer"}},
		{Name: "master1", Bootstraps: true, Reports: 9, Last: done},
		{Name: "master2", Bootstraps: true, Reports: 7, Last: done},
		{Name: "master3", Bootstraps: true},
		{Name: "node1", Bootstraps: true, Reports: 7, Last: done},
		{Name: "node2", Bootstraps: true, Reports: 9, Last: retry, LastFailure: retry},
	}}
}

// TestStatusWithReports merges the reports with the API view: the table
// gets a BOOTSTRAP column, and what is failing names each host's last
// reported phase and error.
func TestStatusWithReports(t *testing.T) {
	t.Parallel()
	c := statusPlan(t)
	cl := completeCluster()
	delete(cl.ready, "node2")
	cl.ready["master3"] = false
	cl.calicoUp = 3
	sc := cl.fakeChecker()
	sc.reports = func(context.Context) (*fleet.View, error) { return fleetOf(time.Now()), nil }
	st, err := sc.check(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"master3 (NotReady: KubeletNotReady container runtime network not ready: NetworkReady=false rea…; no report yet)",
		"node2 (not registered; last reported phase kubeadm: retry (exit 1): attempt 6: the API at lb.kubesphere.local:6443 does not answer yet)",
		"cni calico (3/4 ready (DaemonSet calico-system/calico-node))",
	}
	if got := st.Failing(); !slices.Equal(got, want) {
		t.Errorf("failing:\n%q\nwant\n%q", got, want)
	}
	var out bytes.Buffer
	if err := printStatus(&out, st); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status-reports.golden", out.String())

	// Reports that cannot be read are said, and the API view stands.
	sc.reports = func(context.Context) (*fleet.View, error) {
		return nil, fmt.Errorf("ksgen serve at https://x: connection refused")
	}
	st, err = sc.check(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := printStatus(&out, st); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "BOOTSTRAP") || !strings.Contains(out.String(), "first-boot reports unavailable: ksgen serve at https://x: connection refused") {
		t.Errorf("unreadable reports:\n%s", out.String())
	}
}

// loopbackServe runs ksgen serve's handler for statusSpec's hosts on
// loopback and posts reports into it as the nodes' bootstraps do.
func loopbackServe(t *testing.T) (base string, post func(node string, form url.Values)) {
	t.Helper()
	b := loadTestBundle(t)
	tokens, err := fetch.NewTokens(b)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := fetch.ServeCert(b, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var hosts []string
	for _, n := range statusPlan(t).Nodes {
		hosts = append(hosts, fmt.Sprintf(`{"name":%q,"roles":["%s"],"action":%q}`, n.Name, strings.Join(n.Roles, `","`), n.Action))
	}
	index := `{"cluster":"status","nodes":[` + strings.Join(hosts, ",") + `]}`
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
	base = "https://" + srv.Addr().String()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fetch.ServeCA(b).Cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	return base, func(node string, form url.Values) {
		t.Helper()
		resp, err := client.PostForm(base+fetch.Path(node, tokens.For(node), fetch.ReportFile), form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("report of %s: %s", node, resp.Status)
		}
	}
}

// TestStatusWaitNamesTheHeldBackNode runs ksgen status --wait --serve-url
// against a loopback API where node2 never registers and a real ksgen
// serve that holds the nodes' reports: it fails naming node2 and its last
// reported phase. With no API at all, the reports still name it.
func TestStatusWaitNamesTheHeldBackNode(t *testing.T) {
	t.Parallel()
	base, post := loopbackServe(t)
	for _, n := range []string{"master1", "master2", "master3", "node1"} {
		post(n, url.Values{"phase": {"bootstrapped"}, "event": {"done"}, "attempt": {"0"}, "status": {"0"}})
	}
	post("node2", url.Values{"phase": {"kubeadm"}, "event": {"retry"}, "attempt": {"1"}, "status": {"1"}, "log": {node2Stuck}})

	partial := completeCluster()
	delete(partial.ready, "node2")
	partial.calicoUp = 4
	api := fakeAPIServer(t, loadTestBundle(t), apiObjects(t, partial))
	stdout, stderr, err := ksgen(t, "status", "-f", statusSpec, "--secrets", testBundle, "--server", api.URL,
		"--serve-url", base, "--wait", "--timeout", "400ms", "--interval", "50ms")
	want := "node2 (not registered; last reported phase kubeadm: retry (exit 1): attempt 6: the API at lb.kubesphere.local:6443 does not answer yet)"
	if err == nil || !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), want) {
		t.Fatalf("status --wait: error %v, want a timeout naming %s\n%s", err, want, stderr)
	}
	if !strings.Contains(stdout, "BOOTSTRAP") || !strings.Contains(stdout, "kubeadm: retry (exit 1)") || !strings.Contains(stdout, "bootstrapped") {
		t.Errorf("the table does not show the reported phases:\n%s", stdout)
	}

	// No API ever answers: the error still names node2's last phase.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "https://" + ln.Addr().String()
	ln.Close()
	stdout, _, err = ksgen(t, "status", "-f", statusSpec, "--secrets", testBundle, "--server", dead,
		"--serve-url", base, "--wait", "--timeout", "400ms", "--interval", "50ms")
	node2 := ""
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "node2 ") {
			node2 = l
		}
	}
	if f := strings.Fields(node2); len(f) < 4 || f[2] != "?" || f[3] != "?" || !strings.Contains(node2, "kubeadm: retry (exit 1)") {
		t.Errorf("with no API the table does not show node2's report with its registration unknown:\n%s", stdout)
	}
	if err == nil || !strings.Contains(err.Error(), "never answered") || !strings.Contains(err.Error(), "node2 (registration unknown; last reported phase kubeadm: retry (exit 1)") {
		t.Fatalf("status --wait with no API: %v, want node2's last reported phase", err)
	}
	if strings.Contains(err.Error(), "master1 (") {
		t.Errorf("a bootstrapped host is named as failing: %v", err)
	}

	// A serve URL that is not https://HOST:PORT is refused before any look.
	if _, _, err := ksgen(t, "status", "-f", statusSpec, "--secrets", testBundle, "--server", api.URL, "--serve-url", "http://x/y"); err == nil || !strings.Contains(err.Error(), "--serve-url") {
		t.Errorf("bad --serve-url: %v", err)
	}
}
