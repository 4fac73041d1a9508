package lb_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/ksgen/ksgen/generator/internal/render/lb"
	"github.com/ksgen/ksgen/images"
)

const (
	nginxConf     = lb.NginxConfigDir + "/nginx.conf"
	nginxManifest = lb.ManifestDir + "/nginx.yaml"
)

// nginxBin is the nginx a test runs, and the line its configs need first.
type nginxBin struct {
	path string
	// prelude loads the stream module where it is dynamic: Debian builds
	// it so (--with-stream=dynamic, libnginx-mod-stream) and loads it from
	// /etc/nginx/modules-enabled, which a config given with -c does not
	// include. The official image ksgen pins builds it in (--with-stream),
	// so the rendered nginx.conf has no load_module line, which that image
	// would refuse as "already loaded" only for a dynamic module it lacks.
	prelude []byte
}

// nginxTool finds nginx and, where the stream module is dynamic, the
// module's file. Missing, the test skips on a developer machine and fails
// in CI (.ci/run installs nginx and libnginx-mod-stream).
func nginxTool(t testing.TB) nginxBin {
	t.Helper()
	n := nginxBin{path: tool(t, "nginx")}
	out, err := exec.Command(n.path, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -V: %v\n%s", err, out)
	}
	args := string(out)
	if !strings.Contains(args, "--with-stream=dynamic") {
		if !strings.Contains(args, "--with-stream") {
			t.Fatalf("this nginx has no stream module:\n%s", args)
		}
		return n
	}
	dir := "/usr/lib/nginx/modules"
	if m := regexp.MustCompile(`--modules-path=(\S+)`).FindStringSubmatch(args); m != nil {
		dir = m[1]
	}
	mod := filepath.Join(dir, "ngx_stream_module.so")
	if _, err := os.Stat(mod); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx's stream module is not installed (.ci/run installs libnginx-mod-stream): %v", err)
		}
		t.Skipf("nginx's stream module is not installed (apt-get install -y libnginx-mod-stream); CI runs this test")
	}
	n.prelude = fmt.Appendf(nil, "load_module %s;\n", mod)
	return n
}

// parseNginx reads back an nginx.conf as parseHAProxy does a haproxy.cfg:
// each stream server's listen under its upstream's name, the health
// server's listen as "healthz", each upstream's servers with the node
// names their comments give.
func parseNginx(cfg []byte) proxyCfg {
	out := newProxyCfg(cfg)
	var blocks []string // enclosing blocks: "stream", "upstream x", "server", …
	var listen string
	for _, line := range strings.Split(string(cfg), "\n") {
		code, comment, _ := strings.Cut(line, "#")
		code = strings.TrimSpace(code)
		f := strings.Fields(strings.TrimSuffix(code, ";"))
		in := strings.Join(blocks, "/")
		switch {
		case len(f) == 0:
		case strings.HasSuffix(code, "{"):
			blocks = append(blocks, strings.TrimSpace(strings.TrimSuffix(code, "{")))
		case code == "}":
			blocks = blocks[:len(blocks)-1]
		case strings.HasPrefix(in, "stream/upstream ") && f[0] == "server":
			name := strings.TrimPrefix(in, "stream/upstream ")
			out.servers[name] = append(out.servers[name], f[1])
			out.names[name] = append(out.names[name], strings.TrimSpace(comment))
			out.lines[name] = append(out.lines[name], strings.TrimSpace(line))
		case in == "stream/server" && f[0] == "listen":
			listen = f[1]
		case in == "stream/server" && f[0] == "proxy_pass":
			out.binds[f[1]] = listen
		case in == "http/server" && f[0] == "listen":
			out.binds["healthz"] = f[1]
		}
	}
	return out
}

// nginxTest runs `nginx -t` on cfg. nginx -t opens the listening sockets,
// so it runs in a network namespace of its own (loopback up, non-local
// binds allowed as lb-prep allows them on a load balancer): the VIP need
// not exist and nothing on this machine is in the way. Warnings count as
// failures, as `haproxy -c -dW` makes them for HAProxy.
func nginxTest(t *testing.T, n nginxBin, cfg []byte) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(path, append(slices.Clone(n.prelude), cfg...), 0o644))
	cmd := exec.Command("unshare", "--net", "sh", "-ec",
		`ip link set lo up; echo 1 > /proc/sys/net/ipv4/ip_nonlocal_bind; exec "$1" -t -e stderr -c "$2" -g "pid $3/nginx.pid;"`,
		"sh", n.path, path, dir)
	out, err := cmd.CombinedOutput()
	if err == nil && bytes.Contains(out, []byte("[warn]")) {
		err = fmt.Errorf("nginx -t warns")
	}
	return out, err
}

func checkNginx(t *testing.T, n nginxBin, name string, cfg []byte) {
	t.Helper()
	if out, err := nginxTest(t, n, cfg); err != nil {
		t.Errorf("%s: nginx -t: %v\n%s\n%s", name, err, out, cfg)
	}
}

// TestNginxConfigs renders nginx.conf where the ksgen document selects
// nginx (the workers' internal LB, load-balancer hosts, control planes):
// the same listeners and servers as haproxy.cfg, passive health on every
// server, a zone per upstream, nginx's static pod in place of HAProxy's,
// and `nginx -t` accepts it.
func TestNginxConfigs(t *testing.T) {
	t.Parallel()
	n := nginxTool(t)
	root(t)
	three := addrs("10.0.0.", 1, 3)
	workers := addrs("10.0.0.", 11, 2)
	lbs := addrs("10.0.0.", 21, 2)
	const nginx = "  loadBalancer: {proxy: nginx}\n"
	for _, tc := range []struct {
		name    string
		spec    cluster
		node    string
		binds   map[string]string
		servers map[string][]string
		names   []string // of the apiservers
	}{{
		name:    "internal nginx, 3 control planes",
		spec:    cluster{controlPlanes: three, workers: workers, endpoint: "internalLoadbalancer: haproxy", ksgen: nginx},
		node:    "w1",
		binds:   map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "127.0.0.1:6443"},
		servers: map[string][]string{"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"}},
		names:   []string{"cp1", "cp2", "cp3"},
	}, {
		name: "internal nginx, dual-stack",
		spec: cluster{controlPlanes: []string{"10.0.0.1,fd00::1", "10.0.0.2,fd00::2", "10.0.0.3,fd00::3"},
			workers: []string{"10.0.0.11,fd00::11"}, endpoint: "internalLoadbalancer: haproxy", dualStack: true, ksgen: nginx},
		node:    "w1",
		binds:   map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "127.0.0.1:6443"},
		servers: map[string][]string{"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"}},
		names:   []string{"cp1", "cp2", "cp3"},
	}, {
		name:    "internal nginx, port 16443",
		spec:    cluster{controlPlanes: three, workers: workers, endpoint: "internalLoadbalancer: haproxy, port: 16443", ksgen: nginx},
		node:    "w2",
		binds:   map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "127.0.0.1:16443"},
		servers: map[string][]string{"kube-apiserver": {"10.0.0.1:16443", "10.0.0.2:16443", "10.0.0.3:16443"}},
		names:   []string{"cp1", "cp2", "cp3"},
	}, {
		name: "load-balancer hosts",
		spec: cluster{controlPlanes: three, workers: workers, loadBalancers: lbs, endpoint: "address: 10.0.0.100", ksgen: nginx},
		node: "lb2",
		binds: map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "10.0.0.100:6443",
			"ks-console": "10.0.0.100:30880", "http": "10.0.0.100:80", "https": "10.0.0.100:443"},
		servers: map[string][]string{
			"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"},
			"ks-console":     {"10.0.0.11:30880", "10.0.0.12:30880"},
			"http":           {"10.0.0.11:80", "10.0.0.12:80"},
			"https":          {"10.0.0.11:443", "10.0.0.12:443"},
		},
		names: []string{"cp1", "cp2", "cp3"},
	}, {
		name: "load-balancer hosts, endpoint port 8443 and the ksgen document's ports",
		spec: cluster{controlPlanes: three, workers: workers, loadBalancers: lbs, endpoint: "address: 10.0.0.100, port: 8443",
			ksgen: "  loadBalancer:\n    proxy: nginx\n    ports:\n    - {name: ingress, port: 80, targetPort: 30080}\n"},
		node:  "lb1",
		binds: map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "10.0.0.100:8443", "ingress": "10.0.0.100:80"},
		servers: map[string][]string{
			"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"},
			"ingress":        {"10.0.0.11:30080", "10.0.0.12:30080"},
		},
		names: []string{"cp1", "cp2", "cp3"},
	}, {
		name:  "keepalived and nginx on the control planes",
		spec:  cluster{controlPlanes: three, workers: workers[:1], endpoint: "address: 10.0.0.100, port: 8443", ksgen: "  loadBalancer: {controlPlanes: true, proxy: nginx, ports: []}\n"},
		node:  "cp2",
		binds: map[string]string{"healthz": "127.0.0.1:8081", "kube-apiserver": "10.0.0.100:8443"},
		servers: map[string][]string{
			"kube-apiserver": {"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"},
		},
		names: []string{"cp1", "cp2", "cp3"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := loadPlan(t, tc.spec.yaml())
			f := render(t, c, tc.node)
			cfg := f.files[nginxConf]
			if cfg == nil {
				t.Fatalf("%s has no nginx.conf", tc.node)
			}
			if f.files[lb.HAProxyConfigDir+"/haproxy.cfg"] != nil || f.files[lb.ManifestDir+"/haproxy.yaml"] != nil {
				t.Errorf("%s runs HAProxy too", tc.node)
			}
			got := parseNginx(cfg)
			if !mapsEqual(got.binds, tc.binds) {
				t.Errorf("binds %v, want %v", got.binds, tc.binds)
			}
			for backend, want := range tc.servers {
				if !slices.Equal(got.servers[backend], want) {
					t.Errorf("upstream %s: servers %v, want %v", backend, got.servers[backend], want)
				}
			}
			if len(got.servers) != len(tc.servers) {
				t.Errorf("upstreams %v, want %v", got.servers, tc.servers)
			}
			if !slices.Equal(got.names["kube-apiserver"], tc.names) {
				t.Errorf("apiserver names %v, want %v", got.names["kube-apiserver"], tc.names)
			}
			for backend, lines := range got.lines {
				for _, line := range lines {
					if !strings.Contains(line, " max_fails=2 fail_timeout=10s;") {
						t.Errorf("upstream %s: %q has no passive health check", backend, line)
					}
				}
				if !strings.Contains(got.text, "        zone "+backend+" ") {
					t.Errorf("upstream %s has no zone: its failure counts would not be shared by the workers", backend)
				}
			}
			if !strings.Contains(got.text, "    proxy_next_upstream on;\n") {
				t.Error("nginx.conf does not pass a failed connect to the next server")
			}
			checkNginxPod(t, f.files[nginxManifest], cfg)
			checkNginx(t, n, tc.name, cfg)
			// Every worker (every load balancer) gets the same file.
			for _, other := range c.Nodes {
				if o := render(t, c, other.Name).files[nginxConf]; o != nil && string(o) != string(cfg) {
					t.Errorf("%s's nginx.conf differs from %s's", other.Name, tc.node)
				}
			}
		})
	}
}

// checkNginxPod checks nginx's static pod: the pinned image, the config's
// checksum (a changed config restarts the pod), the config directory
// mounted where the command reads it, probes on the health endpoint.
func checkNginxPod(t *testing.T, manifest, cfg []byte) {
	t.Helper()
	if manifest == nil {
		t.Fatal("no nginx static pod")
	}
	pod, err := checkStaticPod(manifest, "n", nginxManifest)
	if err != nil {
		t.Fatalf("nginx static pod: %v\n%s", err, manifest)
	}
	sum := sha256.Sum256(cfg)
	if got := pod.Annotations["ksgen.io/config-sha256"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("config-sha256 %q is not nginx.conf's", got)
	}
	ctr := pod.Spec.Containers[0]
	if ctr.Image != images.NginxImage {
		t.Errorf("image %s, want %s", ctr.Image, images.NginxImage)
	}
	if !slices.Equal(ctr.Command, []string{"nginx", "-c", nginxConf, "-g", "daemon off;"}) {
		t.Errorf("command %q", ctr.Command)
	}
	if len(ctr.VolumeMounts) != 1 || ctr.VolumeMounts[0].MountPath != lb.NginxConfigDir || !ctr.VolumeMounts[0].ReadOnly ||
		pod.Spec.Volumes[0].HostPath == nil || pod.Spec.Volumes[0].HostPath.Path != lb.NginxConfigDir {
		t.Errorf("mounts %+v, volumes %+v: want %s from the host, read-only", ctr.VolumeMounts, pod.Spec.Volumes, lb.NginxConfigDir)
	}
	for name, p := range map[string]*v1.Probe{"liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.IntValue() != lb.HealthPort {
			t.Errorf("%s probe %+v: want GET /healthz on %d", name, p, lb.HealthPort)
		}
	}
}

// TestNginxConfigsOfSpecFiles runs `nginx -t` on every nginx.conf rendered
// for the spec files of testdata/specs.
func TestNginxConfigsOfSpecFiles(t *testing.T) {
	t.Parallel()
	n := nginxTool(t)
	root(t)
	eachSpecFileConfig(t, nginxConf, func(name string, cfg []byte) {
		checkNginx(t, n, name, cfg)
	})
}

// TestNginxCheckRefuses makes sure `nginx -t` as the tests run it refuses
// what it must, so that the tests above prove something.
func TestNginxCheckRefuses(t *testing.T) {
	t.Parallel()
	n := nginxTool(t)
	root(t)
	c := loadPlan(t, cluster{controlPlanes: addrs("10.0.0.", 1, 3), loadBalancers: addrs("10.0.0.", 21, 1),
		endpoint: "address: 10.0.0.100", ksgen: "  loadBalancer: {proxy: nginx}\n"}.yaml())
	good := string(render(t, c, "lb1").files[nginxConf])
	if out, err := nginxTest(t, n, []byte(good)); err != nil {
		t.Fatalf("the good config: %v\n%s", err, out)
	}
	for name, bad := range map[string]string{
		"unresolvable server": strings.Replace(good, "10.0.0.1:6443", "cp1.invalid:6443", 1),
		"unknown directive":   strings.Replace(good, "proxy_next_upstream on;", "proxy_next_upstreamm on;", 1),
		"bad parameter":       strings.Replace(good, "max_fails=2", "max_fails=two", 1),
		"listen twice":        strings.Replace(good, "listen 10.0.0.100:30880;", "listen 10.0.0.100:6443;", 1),
		"warning":             strings.Replace(good, "    access_log off;\n", "    access_log off;\n    server { listen 127.0.0.1:8081; }\n", 1),
	} {
		if bad == good {
			t.Fatalf("%s: the replacement changed nothing", name)
		}
		if out, err := nginxTest(t, n, []byte(bad)); err == nil {
			t.Errorf("%s: nginx -t accepted it:\n%s", name, out)
		}
	}
}
