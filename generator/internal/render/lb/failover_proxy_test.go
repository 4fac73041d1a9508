package lb_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/internal/render/lb"
)

// proxyKind is what the failover harness knows of one proxy.
type proxyKind struct {
	name   string // the program, and the ksgen document's loadBalancer.proxy
	config string // the config's path in a node's payload
	// need skips or fails the test when the proxy is not installed.
	need  func(t *testing.T)
	parse func([]byte) proxyCfg
	// rebindHealth moves the health listener to 127.0.0.1:port.
	rebindHealth func(t *testing.T, cfg []byte, port int) []byte
	// blind is the control config: a connect a dead server refuses is not
	// passed to another server.
	blind func(t *testing.T, cfg []byte) []byte
	// start runs cfg; url is the apiserver frontend's, servers are its
	// servers' addresses by name.
	start func(t *testing.T, ctx context.Context, cfg []byte, url string, servers map[string]string) proxyRun
}

// ksgen is the ksgen document's loadBalancer.proxy line, indented by 4.
func (p proxyKind) ksgen() string { return "    proxy: " + p.name + "\n" }

// proxyRun is a running proxy.
type proxyRun interface {
	// waitAll returns once every apiserver serves through the proxy.
	waitAll(ctx context.Context, limit time.Duration) error
	// waitDown returns when the proxy took the server out: HAProxy's
	// checks mark it DOWN, nginx logs that it disabled it.
	waitDown(ctx context.Context, server string, limit time.Duration) (time.Time, error)
	// waitUp returns when the proxy uses the server again.
	waitUp(ctx context.Context, server string, limit time.Duration) (time.Time, error)
	output() string
	stop(t *testing.T)
}

var failoverProxies = []proxyKind{
	{
		name:         "haproxy",
		config:       lb.HAProxyConfigDir + "/haproxy.cfg",
		need:         func(t *testing.T) { tool(t, "haproxy") },
		parse:        parseHAProxy,
		rebindHealth: rebindHealth,
		blind: func(t *testing.T, cfg []byte) []byte {
			// retries 0 and no redispatch.
			blind := strings.Replace(strings.Replace(string(cfg), "    option redispatch\n", "", 1), "    retries 3\n", "    retries 0\n", 1)
			if blind == string(cfg) || strings.Contains(blind, "redispatch") {
				t.Fatalf("cannot make the control config from\n%s", cfg)
			}
			return []byte(blind)
		},
		start: startHAProxyRun,
	},
	{
		name:         "nginx",
		config:       nginxConf,
		need:         func(t *testing.T) { nginxTool(t) },
		parse:        parseNginx,
		rebindHealth: rebindNginxHealth,
		blind: func(t *testing.T, cfg []byte) []byte {
			blind := bytes.Replace(cfg, []byte("    proxy_next_upstream on;\n"), []byte("    proxy_next_upstream off;\n"), 1)
			if bytes.Equal(blind, cfg) {
				t.Fatalf("cannot make the control config from\n%s", cfg)
			}
			return blind
		},
		start: startNginxRun,
	},
}

// haproxyRun is HAProxy with its stats socket, which tells server states.
type haproxyRun struct {
	*haproxyProcess
	stats *haproxyStats
}

func startHAProxyRun(t *testing.T, ctx context.Context, cfg []byte, _ string, _ map[string]string) proxyRun {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	sock := filepath.Join(dir, "admin.sock")
	statsPath := filepath.Join(dir, "stats.cfg")
	for path, content := range map[string][]byte{cfgPath: cfg, statsPath: fmt.Appendf(nil, "global\n    stats socket %s mode 600 level admin\n", sock)} {
		must(t, os.WriteFile(path, content, 0o600))
	}
	return haproxyRun{startHAProxy(t, ctx, tool(t, "haproxy"), cfgPath, statsPath), &haproxyStats{sock: sock}}
}

func (h haproxyRun) waitAll(ctx context.Context, limit time.Duration) error {
	return h.stats.waitAll(ctx, "kube-apiserver", "UP", limit)
}

func (h haproxyRun) waitDown(ctx context.Context, server string, limit time.Duration) (time.Time, error) {
	return h.stats.waitServer(ctx, "kube-apiserver", server, "DOWN", limit)
}

func (h haproxyRun) waitUp(ctx context.Context, server string, limit time.Duration) (time.Time, error) {
	return h.stats.waitServer(ctx, "kube-apiserver", server, "UP", limit)
}

// rebindNginxHealth moves nginx's health server to 127.0.0.1:port.
func rebindNginxHealth(t *testing.T, cfg []byte, port int) []byte {
	t.Helper()
	old := fmt.Appendf(nil, "        listen 127.0.0.1:%d;\n", lb.HealthPort)
	if bytes.Count(cfg, old) != 1 {
		t.Fatalf("not one %q in\n%s", old, cfg)
	}
	return bytes.Replace(cfg, old, fmt.Appendf(nil, "        listen 127.0.0.1:%d;\n", port), 1)
}

// nginxRun is nginx (master and workers) in the foreground, in a process
// group of its own. Open-source nginx has no API that tells server states:
// its error log says when it disables a server, and a server is in use
// again when it answers through it.
type nginxRun struct {
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan error
	url     string
	servers map[string]string
	client  client
}

func startNginxRun(t *testing.T, ctx context.Context, cfg []byte, url string, servers map[string]string) proxyRun {
	t.Helper()
	n := nginxTool(t)
	dir := t.TempDir()
	// Only the harness's: the http module's temporary files in the test's
	// directory, not the package's /var/lib/nginx.
	var temp strings.Builder
	for _, kind := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&temp, "    %s_temp_path %s;\n", kind, filepath.Join(dir, kind))
	}
	if bytes.Count(cfg, []byte("\nhttp {\n")) != 1 {
		t.Fatalf("no http block in\n%s", cfg)
	}
	cfg = bytes.Replace(cfg, []byte("\nhttp {\n"), []byte("\nhttp {\n"+temp.String()), 1)
	path := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(path, append(slices.Clone(n.prelude), cfg...), 0o600))
	cmd := exec.CommandContext(ctx, n.path, "-e", "stderr", "-c", path, "-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+";")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Past the deadline, the whole group (the master and its workers) goes.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	r := &nginxRun{cmd: cmd, out: out, done: make(chan error, 1), url: url, servers: servers, client: newClient()}
	go func() { r.done <- cmd.Wait() }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop asks the master to stop (SIGTERM: it stops its workers), then
// kills what is left of its process group.
func (r *nginxRun) stop(t *testing.T) {
	select {
	case <-r.done:
		r.done <- nil
	default:
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Errorf("nginx (pid %d) did not stop on SIGTERM", r.cmd.Process.Pid)
		}
		r.done <- nil // later stops return at once
	}
	if syscall.Kill(-r.cmd.Process.Pid, 0) == nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (r *nginxRun) output() string { return r.out.String() }

func (r *nginxRun) waitAll(ctx context.Context, limit time.Duration) error {
	seen := map[string]bool{}
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil && len(seen) < len(r.servers) {
		res := r.client.get(r.url)
		if last = res.err; res.err == nil {
			seen[res.backend] = true
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(seen) < len(r.servers) {
		return fmt.Errorf("not every server answered through nginx within %s (answered: %v, last error: %v)", limit, seen, last)
	}
	return nil
}

var nginxDisabled = regexp.MustCompile(`upstream server temporarily disabled while connecting to upstream, .* upstream: "([^"]+)"`)

// waitDown waits for nginx's log to say it disabled the server (max_fails
// failed connects within fail_timeout), from now on.
func (r *nginxRun) waitDown(ctx context.Context, server string, limit time.Duration) (time.Time, error) {
	from := len(r.out.String())
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, m := range nginxDisabled.FindAllStringSubmatch(r.out.String()[from:], -1) {
			if m[1] == r.servers[server] {
				return time.Now(), nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("nginx did not disable %s (%s) within %s", server, r.servers[server], limit)
}

// waitUp waits until the server answers through nginx, which tries a
// disabled server again after fail_timeout.
func (r *nginxRun) waitUp(ctx context.Context, server string, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if res := r.client.get(r.url); res.err == nil && res.backend == server {
			return time.Now(), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("%s did not answer through nginx within %s", server, limit)
}
