package lb_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The live failover tests run the generated haproxy.cfg or nginx.conf with
// the real HAProxy or nginx on loopback only (127.0.0.0/8; every bind and
// server address is checked first), in front of in-process TLS
// "apiservers" answering /healthz and /readyz. A bounded stream of
// requests, each on a new connection, goes through the proxy while one
// backend and then a second is killed (listener and every connection
// closed); afterwards both come back. Each test is bounded by
// failoverDeadline and stops the proxy by PID.
const (
	failoverRequests = 400
	failoverInterval = 25 * time.Millisecond
	failoverTimeout  = 2 * time.Second // per request
	failoverDeadline = 60 * time.Second
)

// TestFailoverInternal runs a worker's internal load balancer
// (internalLoadbalancer: haproxy, with each proxy): control planes
// 127.0.0.2-4, frontend 127.0.0.1:port, where the spec's port is one that
// is free on all four addresses (test runs in parallel must not collide).
func TestFailoverInternal(t *testing.T) {
	t.Parallel()
	for _, p := range failoverProxies {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			p.need(t)
			port := freePortOn(t, "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
			c := loadPlan(t, cluster{
				controlPlanes: addrs("127.0.0.", 2, 3),
				workers:       []string{"127.0.0.5"},
				endpoint:      fmt.Sprintf("internalLoadbalancer: haproxy, port: %d", port),
				ksgen:         "  loadBalancer:\n" + p.ksgen(),
			}.yaml())
			cfg := render(t, c, "w1").files[p.config]
			failover(t, p, cfg, failoverOpts{})
		})
	}
}

// TestFailoverHarnessSeesFailures is the control: the same run (one kill)
// with a config that does not retry a failed connect on another server
// must see requests fail between the kill and the mark-down, or the tests
// above prove nothing.
func TestFailoverHarnessSeesFailures(t *testing.T) {
	t.Parallel()
	for _, p := range failoverProxies {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			p.need(t)
			net24 := fmt.Sprintf("127.%d.%d.", 1+mrand.IntN(254), 1+mrand.IntN(254))
			port := freePortOn(t, "127.0.0.1", net24+"2", net24+"3", net24+"4")
			c := loadPlan(t, cluster{
				controlPlanes: addrs(net24, 2, 3),
				workers:       []string{net24 + "5"},
				endpoint:      fmt.Sprintf("internalLoadbalancer: haproxy, port: %d", port),
				ksgen:         "  loadBalancer:\n" + p.ksgen(),
			}.yaml())
			cfg := render(t, c, "w1").files[p.config]
			failover(t, p, p.blind(t, cfg), failoverOpts{control: true})
		})
	}
}

// TestFailoverLoadBalancerHosts runs a load-balancer host's proxy in a
// random 127.x.y.0/24 (the apiservers' port is kubeadm's 6443 here, so test
// runs in parallel need their own addresses): VIP .10 (the endpoint's port
// 16444, ks-console 30880, http 18080), control planes .12-.14:6443, a
// worker .15 whose ks-console answers.
func TestFailoverLoadBalancerHosts(t *testing.T) {
	t.Parallel()
	for _, p := range failoverProxies {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			p.need(t)
			net24 := fmt.Sprintf("127.%d.%d.", 1+mrand.IntN(254), 1+mrand.IntN(254))
			c := loadPlan(t, cluster{
				name:          "failover",
				controlPlanes: addrs(net24, 12, 3),
				workers:       []string{net24 + "15"},
				loadBalancers: addrs(net24, 16, 2),
				endpoint:      "address: " + net24 + "10, port: 16444",
				ksgen:         "  loadBalancer:\n" + p.ksgen() + "    ports:\n    - {name: ks-console, port: 30880}\n    - {name: http, port: 18080}\n",
			}.yaml())
			cfg := render(t, c, "lb2").files[p.config]
			console := startTCPBanner(t, net24+"15:30880", "ks-console")
			defer console.Close()
			failover(t, p, cfg, failoverOpts{extra: func(t *testing.T) {
				// The worker port is forwarded too.
				conn, err := net.DialTimeout("tcp", net24+"10:30880", failoverTimeout)
				if err != nil {
					t.Errorf("ks-console through the VIP: %v", err)
					return
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(failoverTimeout))
				b, err := io.ReadAll(conn)
				if err != nil || string(b) != "ks-console" {
					t.Errorf("ks-console through the VIP: read %q, %v", b, err)
				}
			}})
		})
	}
}

// failoverOpts vary a failover run.
type failoverOpts struct {
	// extra runs once every server is up, before the stream.
	extra func(*testing.T)
	// control marks a config known to lose requests: the run kills one
	// backend, sends fewer requests and must see some fail between the kill
	// and the mark-down; nothing else is asserted.
	control bool
}

// failover runs cfg with the proxy p and proves it: every backend of the
// kube-apiserver backend is killed in turn but the last, no request fails
// once the proxy takes its backend out, at least 99% succeed overall, and
// the killed backends rejoin.
func failover(t *testing.T, p proxyKind, cfg []byte, opts failoverOpts) {
	ctx, cancel := context.WithTimeout(context.Background(), failoverDeadline)
	defer cancel()

	// A free health port, so that runs in parallel do not collide; the rest
	// of the file is used as rendered.
	cfg = p.rebindHealth(t, cfg, freePort(t))
	parsed := p.parse(cfg)
	for name, bind := range parsed.binds {
		loopbackOnly(t, "frontend "+name, bind)
	}
	for name, servers := range parsed.servers {
		for _, s := range servers {
			loopbackOnly(t, "backend "+name, s)
		}
	}
	front := parsed.binds["kube-apiserver"]
	var backends []*apiserver
	servers := map[string]string{}
	for i, addr := range parsed.servers["kube-apiserver"] {
		name := parsed.names["kube-apiserver"][i]
		servers[name] = addr
		backends = append(backends, startAPIServer(t, name, addr))
	}
	defer func() {
		for _, b := range backends {
			b.stop()
		}
	}()
	if len(backends) < 3 {
		t.Fatalf("%d apiserver backends, want 3", len(backends))
	}

	client := newClient()
	url := "https://" + front + "/"
	run := p.start(t, ctx, cfg, url, servers)
	defer run.stop(t)

	if err := run.waitAll(ctx, 15*time.Second); err != nil {
		t.Fatalf("before the test: %v\n%s", err, run.output())
	}
	if opts.extra != nil {
		opts.extra(t)
	}

	requests, victims := failoverRequests, backends[:2]
	if opts.control {
		requests, victims = 240, backends[:1]
	}
	results := make([]result, requests)
	streamDone := make(chan struct{})
	t0 := time.Now()
	go func() {
		defer close(streamDone)
		for i := range results {
			if ctx.Err() != nil {
				results[i] = result{start: time.Now(), err: ctx.Err()}
				continue
			}
			results[i] = client.get(url)
			time.Sleep(failoverInterval)
		}
	}()

	// Kill the first backend, then, once the proxy has taken it out, the
	// second. The third stays.
	type kill struct {
		victim     *apiserver
		killed     time.Time
		markedDown time.Time
	}
	var kills []kill
	time.Sleep(2 * time.Second)
	for _, victim := range victims {
		k := kill{victim: victim, killed: time.Now()}
		victim.stop()
		down, err := run.waitDown(ctx, victim.name, 15*time.Second)
		if err != nil {
			t.Errorf("%s killed: %v", victim.name, err)
		}
		k.markedDown = down
		kills = append(kills, k)
		time.Sleep(500 * time.Millisecond)
	}
	<-streamDone
	elapsed := time.Since(t0)

	failed := 0
	var slowest time.Duration
	for _, r := range results {
		if r.err != nil {
			failed++
		}
		slowest = max(slowest, r.took)
	}
	t.Logf("%d requests through %s in %s: %d failed (%.2f%% succeeded); the slowest took %s", len(results), front, elapsed.Round(time.Millisecond), failed, 100*float64(len(results)-failed)/float64(len(results)), slowest.Round(time.Millisecond))
	for _, r := range results {
		if r.err != nil && failed <= 20 {
			t.Logf("  failed at +%s: %v", r.start.Sub(t0).Round(time.Millisecond), r.err)
		}
	}
	for _, k := range kills {
		if !k.markedDown.IsZero() {
			t.Logf("%s killed at +%s, taken out %s later", k.victim.name, k.killed.Sub(t0).Round(time.Millisecond), k.markedDown.Sub(k.killed).Round(time.Millisecond))
		}
	}
	if opts.control {
		seen := 0
		for _, k := range kills {
			for _, r := range results {
				if r.err != nil && r.start.After(k.killed) && r.start.Before(k.markedDown) {
					seen++
				}
			}
		}
		t.Logf("control: %d requests failed between a kill and its mark-down", seen)
		if seen == 0 {
			t.Errorf("the control config lost no request between a kill and the mark-down: the harness cannot see failures")
		}
		return
	}
	if ok := len(results) - failed; ok*100 < 99*len(results) {
		t.Errorf("%d of %d requests succeeded, want at least 99%%", ok, len(results))
	}
	// inFlight says whether r was under way when a backend was killed: no
	// TCP proxy saves a connection whose server dies under it.
	inFlight := func(r result) bool {
		for _, k := range kills {
			if !r.start.After(k.killed) && r.start.Add(r.took).After(k.killed) {
				return true
			}
		}
		return false
	}
	for _, k := range kills {
		if k.markedDown.IsZero() {
			continue
		}
		for _, r := range results {
			if r.err != nil && !r.start.Before(k.markedDown) && !inFlight(r) {
				t.Errorf("a request started %s after %s took %s out failed: %v", r.start.Sub(k.markedDown).Round(time.Millisecond), p.name, k.victim.name, r.err)
			}
			if r.err == nil && r.backend == k.victim.name && r.start.After(k.killed) {
				t.Errorf("%s answered a request after it was killed", k.victim.name)
			}
		}
	}

	// Both come back and serve again.
	restarted := time.Now()
	for _, k := range kills {
		k.victim.start(t)
	}
	for _, k := range kills {
		up, err := run.waitUp(ctx, k.victim.name, 20*time.Second)
		if err != nil {
			t.Fatalf("%s restarted: %v\n%s", k.victim.name, err, run.output())
		}
		t.Logf("%s restarted, served again %s later", k.victim.name, up.Sub(restarted).Round(time.Millisecond))
	}
	served := map[string]int{}
	for range 30 {
		r := client.get(url)
		if r.err != nil {
			t.Errorf("after the restart: %v", r.err)
			continue
		}
		served[r.backend]++
	}
	for _, b := range backends {
		if served[b.name] == 0 {
			t.Errorf("after the restart %s served none of 30 requests (served: %v)", b.name, served)
		}
	}
	if t.Failed() {
		t.Logf("%s output:\n%s", p.name, run.output())
	}
}

// loopbackOnly stops the test unless addr (ip:port) is on 127.0.0.0/8.
func loopbackOnly(t *testing.T, what, addr string) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() || !netip.MustParsePrefix("127.0.0.0/8").Contains(ap.Addr()) {
		t.Fatalf("%s: %q is not on 127.0.0.0/8; the live test runs on loopback only", what, addr)
	}
}

var healthBind = regexp.MustCompile(`(?m)^(frontend healthz\n    bind )\S+$`)

// rebindHealth moves HAProxy's health frontend to 127.0.0.1:port.
func rebindHealth(t *testing.T, cfg []byte, port int) []byte {
	t.Helper()
	if !healthBind.Match(cfg) {
		t.Fatalf("no `frontend healthz` bind in\n%s", cfg)
	}
	return healthBind.ReplaceAll(cfg, fmt.Appendf(nil, "${1}127.0.0.1:%d", port))
}

// freePortOn returns a port that is free on every address.
func freePortOn(t *testing.T, addrs ...string) int {
	t.Helper()
next:
	for range 20 {
		port := freePort(t)
		for _, a := range addrs {
			l, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				continue next
			}
			l.Close()
		}
		return port
	}
	t.Fatalf("no port free on all of %v", addrs)
	return 0
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// apiserver is a TLS server that answers like a healthy kube-apiserver's
// health endpoints, and with its name on every other path.
type apiserver struct {
	name, addr string
	mu         sync.Mutex
	srv        *http.Server
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
)

// selfSigned is one certificate for every test server (HAProxy checks with
// verify none, nginx's stream proxy does not look into TLS, the client does
// not verify either: kubeadm's HA guide).
func selfSigned() (tls.Certificate, error) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "kube-apiserver"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return cert, certErr
}

func startAPIServer(t *testing.T, name, addr string) *apiserver {
	a := &apiserver{name: name, addr: addr}
	a.start(t)
	return a
}

// start listens on a's address (again).
func (a *apiserver) start(t *testing.T) {
	t.Helper()
	crt, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		t.Fatalf("apiserver %s: %v", a.name, err)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/healthz", "/readyz", "/livez"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, a.name) })
	srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second}
	a.mu.Lock()
	a.srv = srv
	a.mu.Unlock()
	go func() { _ = srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{crt}})) }()
}

// stop closes the listener and every connection: the backend is dead.
func (a *apiserver) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		_ = a.srv.Close()
		a.srv = nil
	}
}

// startTCPBanner serves text to every connection on addr.
func startTCPBanner(t *testing.T, addr, text string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, text)
			_ = c.Close()
		}
	}()
	return ln
}

// result is one request through the proxy.
type result struct {
	start   time.Time
	took    time.Duration
	backend string // who answered
	err     error
}

type client struct{ c *http.Client }

// newClient makes a new TLS connection for every request.
func newClient() client {
	return client{&http.Client{
		Timeout: failoverTimeout,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a self-signed test server
		},
	}}
}

func (c client) get(url string) (r result) {
	r.start = time.Now()
	defer func() { r.took = time.Since(r.start) }()
	resp, err := c.c.Get(url)
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		r.err = err
	case resp.StatusCode != http.StatusOK:
		r.err = fmt.Errorf("status %s", resp.Status)
	default:
		r.backend = string(b)
	}
	return r
}

// haproxyProcess is HAProxy in the foreground; stop kills it by PID.
type haproxyProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

func startHAProxy(t *testing.T, ctx context.Context, haproxy string, cfgs ...string) *haproxyProcess {
	t.Helper()
	args := []string{"-db"}
	for _, c := range cfgs {
		args = append(args, "-f", c)
	}
	// CommandContext kills it by PID if the test outlives its deadline.
	cmd := exec.CommandContext(ctx, haproxy, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	p := &haproxyProcess{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *haproxyProcess) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Errorf("haproxy (pid %d) did not exit after SIGKILL", p.cmd.Process.Pid)
	}
	p.done <- nil // later stops return at once
}

func (p *haproxyProcess) output() string { return p.out.String() }

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

// haproxyStats reads server states from HAProxy's stats socket.
type haproxyStats struct{ sock string }

// status returns the status (UP, DOWN, …) of every server of a backend.
func (s *haproxyStats) status(backend string) (map[string]string, error) {
	conn, err := net.DialTimeout("unix", s.sock, time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(conn)
	var col map[string]int
	out := map[string]string{}
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if strings.HasPrefix(sc.Text(), "# ") {
			col = map[string]int{}
			f[0] = strings.TrimPrefix(f[0], "# ")
			for i, name := range f {
				col[name] = i
			}
			continue
		}
		if col == nil || len(f) <= col["status"] || f[col["pxname"]] != backend {
			continue
		}
		if sv := f[col["svname"]]; sv != "BACKEND" && sv != "FRONTEND" {
			out[sv] = f[col["status"]]
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no servers of backend %s in the stats (%v)", backend, sc.Err())
	}
	return out, nil
}

// waitServer polls until server has the status (its first word: "DOWN 1/2"
// is still going down) and returns when it saw it.
func (s *haproxyStats) waitServer(ctx context.Context, backend, server, want string, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	var last map[string]string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st, err := s.status(backend)
		if err == nil {
			last = st
			if st[server] == want {
				return time.Now(), nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("server %s not %s within %s (last: %v)", server, want, limit, last)
}

// waitAll polls until every server of the backend has the status.
func (s *haproxyStats) waitAll(ctx context.Context, backend, want string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last map[string]string
	var lastErr error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st, err := s.status(backend)
		last, lastErr = st, err
		if err == nil {
			all := true
			for _, v := range st {
				all = all && v == want
			}
			if all {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.Join(fmt.Errorf("backend %s: not every server %s within %s (last: %v)", backend, want, limit, last), lastErr)
}
