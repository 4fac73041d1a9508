package lb_test

import (
	"crypto/sha256"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/render/lb"
)

// proxyCfg is what a test reads back from a haproxy.cfg (or nginx.conf, see
// parseNginx): each frontend's bind, each backend's server addresses,
// names and lines.
type proxyCfg struct {
	binds   map[string]string   // frontend → address:port
	servers map[string][]string // backend → address:port of each server
	names   map[string][]string // backend → name of each server (its node)
	lines   map[string][]string // backend → server lines
	text    string
}

func newProxyCfg(cfg []byte) proxyCfg {
	return proxyCfg{binds: map[string]string{}, servers: map[string][]string{}, names: map[string][]string{}, lines: map[string][]string{}, text: string(cfg)}
}

func parseHAProxy(cfg []byte) proxyCfg {
	out := newProxyCfg(cfg)
	var kind, name string
	for _, line := range strings.Split(string(cfg), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "frontend" || f[0] == "backend" || f[0] == "global" || f[0] == "defaults":
			kind, name = f[0], ""
			if len(f) > 1 {
				name = f[1]
			}
		case f[0] == "bind" && kind == "frontend":
			out.binds[name] = f[1]
		case f[0] == "server" && kind == "backend":
			out.servers[name] = append(out.servers[name], f[2])
			out.names[name] = append(out.names[name], f[1])
			out.lines[name] = append(out.lines[name], strings.TrimSpace(line))
		}
	}
	return out
}

// checkHAProxy runs `haproxy -c -dW`: the configuration must be valid and
// draw no warning.
func checkHAProxy(t *testing.T, haproxy, name string, cfg []byte) {
	t.Helper()
	path := writeTemp(t, "haproxy.cfg", cfg, 0o644)
	out, err := exec.Command(haproxy, "-c", "-dW", "-f", path).CombinedOutput()
	if err != nil {
		t.Errorf("%s: haproxy -c -dW: %v\n%s\n%s", name, err, out, cfg)
	}
}

func TestHAProxyConfigs(t *testing.T) {
	t.Parallel()
	haproxy := tool(t, "haproxy")
	three := addrs("10.0.0.", 1, 3)
	workers := addrs("10.0.0.", 11, 2)
	lbs := addrs("10.0.0.", 21, 2)
	for _, tc := range []struct {
		name    string
		spec    cluster
		node    string
		binds   map[string]string
		servers map[string][]string
	}{{
		name:    "internal haproxy, 3 control planes",
		spec:    cluster{controlPlanes: three, workers: workers, endpoint: "internalLoadbalancer: haproxy"},
		node:    "w1",
		binds:   map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "127.0.0.1:6443"},
		servers: map[string][]string{"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"}},
	}, {
		name: "internal haproxy, dual-stack",
		spec: cluster{controlPlanes: []string{"10.0.0.1,fd00::1", "10.0.0.2,fd00::2", "10.0.0.3,fd00::3"},
			workers: []string{"10.0.0.11,fd00::11"}, endpoint: "internalLoadbalancer: haproxy", dualStack: true},
		node:    "w1",
		binds:   map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "127.0.0.1:6443"},
		servers: map[string][]string{"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"}},
	}, {
		name:    "internal haproxy, port 16443",
		spec:    cluster{controlPlanes: three, workers: workers, endpoint: "internalLoadbalancer: haproxy, port: 16443"},
		node:    "w2",
		binds:   map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "127.0.0.1:16443"},
		servers: map[string][]string{"kube-apiserver": {"10.0.0.1:16443", "10.0.0.2:16443", "10.0.0.3:16443"}},
	}, {
		name: "load-balancer hosts",
		spec: cluster{controlPlanes: three, workers: workers, loadBalancers: lbs, endpoint: "address: 10.0.0.100"},
		node: "lb2",
		binds: map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "10.0.0.100:6443",
			"ks-console": "10.0.0.100:30880", "http": "10.0.0.100:80", "https": "10.0.0.100:443"},
		servers: map[string][]string{
			"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"},
			"ks-console":     {"10.0.0.11:30880", "10.0.0.12:30880"},
			"http":           {"10.0.0.11:80", "10.0.0.12:80"},
			"https":          {"10.0.0.11:443", "10.0.0.12:443"},
		},
	}, {
		name: "load-balancer hosts, endpoint port 8443 and the ksgen document's ports",
		spec: cluster{controlPlanes: three, workers: workers, loadBalancers: lbs, endpoint: "address: 10.0.0.100, port: 8443",
			ksgen: "  loadBalancer:\n    ports:\n    - {name: ingress, port: 80, targetPort: 30080}\n"},
		node:  "lb1",
		binds: map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "10.0.0.100:8443", "ingress": "10.0.0.100:80"},
		servers: map[string][]string{
			"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"},
			"ingress":        {"10.0.0.11:30080", "10.0.0.12:30080"},
		},
	}, {
		name:  "load-balancer hosts, no workers",
		spec:  cluster{controlPlanes: three, loadBalancers: lbs[:1], endpoint: "address: 10.0.0.100", ksgen: "  loadBalancer:\n    ports: [{name: ks-console, port: 30880}]\n"},
		node:  "lb1",
		binds: map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "10.0.0.100:6443", "ks-console": "10.0.0.100:30880"},
		servers: map[string][]string{
			"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"},
			"ks-console":     {"10.0.0.1:30880", "10.0.0.2:30880", "10.0.0.3:30880"},
		},
	}, {
		name:  "keepalived and haproxy on the control planes",
		spec:  cluster{controlPlanes: three, workers: workers[:1], endpoint: "address: 10.0.0.100, port: 8443", ksgen: "  loadBalancer: {controlPlanes: true, ports: []}\n"},
		node:  "cp2",
		binds: map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "10.0.0.100:8443"},
		servers: map[string][]string{
			"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := loadPlan(t, tc.spec.yaml())
			cfg := render(t, c, tc.node).files[lb.HAProxyConfigDir+"/haproxy.cfg"]
			if cfg == nil {
				t.Fatalf("%s has no haproxy.cfg", tc.node)
			}
			got := parseHAProxy(cfg)
			if !mapsEqual(got.binds, tc.binds) {
				t.Errorf("binds %v, want %v", got.binds, tc.binds)
			}
			for backend, want := range tc.servers {
				if !slices.Equal(got.servers[backend], want) {
					t.Errorf("backend %s: servers %v, want %v", backend, got.servers[backend], want)
				}
			}
			if len(got.servers) != len(tc.servers) {
				t.Errorf("backends %v, want %v", got.servers, tc.servers)
			}
			for _, line := range got.lines["kube-apiserver"] {
				if !strings.HasSuffix(line, " check check-ssl verify none") {
					t.Errorf("apiserver %q: want a TLS health check", line)
				}
			}
			for _, opt := range []string{"option redispatch", "retries 3", "option httpchk GET /healthz", "http-check expect status 200"} {
				if !strings.Contains(got.text, "    "+opt+"\n") {
					t.Errorf("haproxy.cfg lacks %q", opt)
				}
			}
			for backend, servers := range got.servers {
				for _, s := range servers {
					// Server names must resolve when HAProxy starts: ksgen writes addresses.
					if _, err := netip.ParseAddrPort(s); err != nil {
						t.Errorf("backend %s: server %q is not an address:port", backend, s)
					}
				}
			}
			checkHAProxy(t, haproxy, tc.name, cfg)
			// Every worker (every load balancer) gets the same file.
			for _, n := range c.Nodes {
				if other := render(t, c, n.Name).files[lb.HAProxyConfigDir+"/haproxy.cfg"]; other != nil && string(other) != string(cfg) {
					t.Errorf("%s's haproxy.cfg differs from %s's", n.Name, tc.node)
				}
			}
		})
	}
}

// TestHAProxyConfigsOfSpecFiles checks every haproxy.cfg rendered for the
// spec files of testdata/specs.
func TestHAProxyConfigsOfSpecFiles(t *testing.T) {
	t.Parallel()
	haproxy := tool(t, "haproxy")
	eachSpecFileConfig(t, lb.HAProxyConfigDir+"/haproxy.cfg", func(name string, cfg []byte) {
		checkHAProxy(t, haproxy, name, cfg)
	})
}

// eachSpecFileConfig calls check once for each distinct file at path that
// the spec files of testdata/specs render, and fails if none renders one.
func eachSpecFileConfig(t *testing.T, path string, check func(name string, cfg []byte)) {
	t.Helper()
	seen := map[[32]byte]bool{}
	for _, file := range specFiles(t) {
		c := loadSpecFile(t, file)
		if c == nil {
			continue
		}
		for _, n := range c.Nodes {
			cfg := render(t, c, n.Name).files[path]
			if sum := sha256.Sum256(cfg); cfg != nil && !seen[sum] {
				seen[sum] = true
				check(file+" "+n.Name, cfg)
			}
		}
	}
	if len(seen) == 0 {
		t.Errorf("no spec file renders %s", path)
	}
}

// TestHAProxyCheckRefuses makes sure `haproxy -c -dW` refuses what it must,
// so that the tests above prove something.
func TestHAProxyCheckRefuses(t *testing.T) {
	t.Parallel()
	haproxy := tool(t, "haproxy")
	c := loadPlan(t, cluster{controlPlanes: addrs("10.0.0.", 1, 3), workers: addrs("10.0.0.", 11, 1), endpoint: "internalLoadbalancer: haproxy"}.yaml())
	good := string(render(t, c, "w1").files[lb.HAProxyConfigDir+"/haproxy.cfg"])
	for name, bad := range map[string]string{
		"unresolvable server": strings.Replace(good, "10.0.0.1:6443", "cp1.invalid:6443", 1),
		"unknown keyword":     strings.Replace(good, "option redispatch", "option redispatchh", 1),
		"warning":             strings.Replace(good, "    option tcplog\n", "    option tcplog\n    option forwardfor\n", 1),
	} {
		path := writeTemp(t, "bad.cfg", []byte(bad), 0o644)
		if out, err := exec.Command(haproxy, "-c", "-dW", "-f", path).CombinedOutput(); err == nil {
			t.Errorf("%s: haproxy -c accepted it:\n%s", name, out)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
