package lb_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/internal/render/lb"
	"github.com/ksgen/ksgen/generator/plan"
)

const domain = "lb.kubesphere.local"

// kubeadmDoc returns the kubeadm config document of the given kind, decoded.
func kubeadmDoc(t *testing.T, cfg []byte, kind string) map[string]any {
	t.Helper()
	for _, doc := range bytes.Split(cfg, []byte("\n---\n")) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("kubeadm config: %v", err)
		}
		if m["kind"] == kind {
			return m
		}
	}
	t.Fatalf("no %s in the kubeadm config:\n%s", kind, cfg)
	return nil
}

// field walks a decoded YAML document along keys.
func field(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// domainLines returns the /etc/hosts lines that name the endpoint domain.
func domainLines(hosts string) []string {
	var out []string
	for _, line := range strings.Split(hosts, "\n") {
		if f := strings.Fields(line); len(f) > 1 && slices.Contains(f[1:], domain) {
			out = append(out, line)
		}
	}
	return out
}

// endpointScript is the rendered apiserver-endpoint script with a fake curl
// and sleep on PATH: curl answers (exit 0) for the https://host:port of
// FAKE_ALIVE and fails (exit 7) otherwise; both log their calls.
type endpointScript struct {
	script, hosts, log string
	bin                string
}

func newEndpointScript(t *testing.T, files map[string][]byte) *endpointScript {
	t.Helper()
	dir := t.TempDir()
	e := &endpointScript{
		script: filepath.Join(dir, "apiserver-endpoint"),
		hosts:  filepath.Join(dir, "hosts"),
		log:    filepath.Join(dir, "calls.log"),
		bin:    filepath.Join(dir, "bin"),
	}
	if files[lb.EndpointScript] == nil {
		t.Fatal("no apiserver-endpoint script")
	}
	must(t, os.WriteFile(e.script, files[lb.EndpointScript], 0o755))
	must(t, os.WriteFile(e.hosts, files["/etc/hosts"], 0o644))
	must(t, os.Mkdir(e.bin, 0o755))
	must(t, os.WriteFile(filepath.Join(e.bin, "curl"), []byte(`#!/bin/sh
for a in "$@"; do url=$a; done
echo "curl $url" >> "$FAKE_LOG"
for ok in $FAKE_ALIVE; do
  case "$url" in "https://$ok/"*) exit 0 ;; esac
done
exit 7
`), 0o755))
	must(t, os.WriteFile(filepath.Join(e.bin, "sleep"), []byte("#!/bin/sh\necho \"sleep $1\" >> \"$FAKE_LOG\"\n"), 0o755))
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run runs the script with the given mode; alive are the host:port pairs
// that answer.
func (e *endpointScript) run(t *testing.T, mode string, alive []string, env ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("bash", e.script, mode)
	cmd.Env = append([]string{
		"PATH=" + e.bin + ":" + os.Getenv("PATH"),
		"KSGEN_HOSTS=" + e.hosts,
		"FAKE_LOG=" + e.log,
		"FAKE_ALIVE=" + strings.Join(alive, " "),
	}, env...)
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	err = cmd.Run()
	return o.String(), s.String(), err
}

func (e *endpointScript) read(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.hosts)
	must(t, err)
	return string(b)
}

func (e *endpointScript) inode(t *testing.T) uint64 {
	t.Helper()
	fi, err := os.Stat(e.hosts)
	must(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

func (e *endpointScript) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(e.log)
	if os.IsNotExist(err) {
		return nil
	}
	must(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// withoutDomain drops the domain lines: what point() must leave alone.
func withoutDomain(hosts string) string {
	var out []string
	for _, line := range strings.Split(hosts, "\n") {
		if len(domainLines(line)) == 0 {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestInternalHAProxyFirstBoot tests the ordering logic of the internal
// HAProxy mode on a worker: direct to the first control plane that answers
// before join, then the local HAProxy once it answers.
func TestInternalHAProxyFirstBoot(t *testing.T) {
	t.Parallel()
	c := loadPlan(t, cluster{controlPlanes: addrs("10.0.0.", 1, 3), workers: addrs("10.0.0.", 11, 2), endpoint: "internalLoadbalancer: haproxy"}.yaml())
	f := render(t, c, "w1")

	t.Run("hooks", func(t *testing.T) {
		for path, want := range map[string]string{
			"/opt/ksgen/attempt.d/10-apiserver-direct": "'direct'",
			"/opt/ksgen/post.d/10-apiserver-local":     "'local'",
		} {
			if got := string(f.files[path]); got != "#!/bin/sh\nexec \"${KSGEN_HOOK_DIR:-/opt/ksgen}/apiserver-endpoint\" "+want+"\n" {
				t.Errorf("%s = %q, want it to exec %q", path, got, want)
			}
		}
		// The rendered end state: the domain points at the local HAProxy.
		if got := domainLines(string(f.files["/etc/hosts"])); !slices.Equal(got, []string{"127.0.0.1 " + domain}) {
			t.Errorf("/etc/hosts domain lines %q, want the local HAProxy", got)
		}
	})

	t.Run("direct skips dead control planes", func(t *testing.T) {
		t.Parallel()
		e := newEndpointScript(t, f.files)
		before, ino := e.read(t), e.inode(t)
		out, _, err := e.run(t, "direct", []string{"10.0.0.2:6443", "10.0.0.3:6443"})
		if err != nil {
			t.Fatalf("direct: %v", err)
		}
		after := e.read(t)
		if got := domainLines(after); !slices.Equal(got, []string{"10.0.0.2 " + domain}) {
			t.Errorf("domain lines %q, want the first control plane that answers (10.0.0.2)\n%s", got, out)
		}
		if withoutDomain(after) != withoutDomain(before) {
			t.Errorf("direct changed other lines:\n%s\nwas:\n%s", after, before)
		}
		if e.inode(t) != ino {
			t.Error("direct replaced /etc/hosts; hostNetwork pods bind-mount it, so it must be rewritten in place")
		}
		if want := []string{"curl https://10.0.0.1:6443/readyz", "curl https://10.0.0.2:6443/readyz"}; !slices.Equal(e.calls(t), want) {
			t.Errorf("curl calls %q, want %q", e.calls(t), want)
		}
	})

	t.Run("direct with no control plane up leaves the file", func(t *testing.T) {
		t.Parallel()
		e := newEndpointScript(t, f.files)
		before := e.read(t)
		if _, _, err := e.run(t, "direct", nil); err != nil {
			t.Fatalf("direct: %v", err)
		}
		if after := e.read(t); after != before {
			t.Errorf("/etc/hosts changed:\n%s", after)
		}
		if n := len(e.calls(t)); n != 3 {
			t.Errorf("%d curl calls, want one per control plane", n)
		}
	})

	t.Run("local once HAProxy answers", func(t *testing.T) {
		t.Parallel()
		e := newEndpointScript(t, f.files)
		if _, _, err := e.run(t, "direct", []string{"10.0.0.1:6443"}); err != nil {
			t.Fatal(err)
		}
		ino := e.inode(t)
		if _, _, err := e.run(t, "local", []string{"127.0.0.1:6443"}); err != nil {
			t.Fatalf("local: %v", err)
		}
		if got := domainLines(e.read(t)); !slices.Equal(got, []string{"127.0.0.1 " + domain}) {
			t.Errorf("domain lines %q, want 127.0.0.1", got)
		}
		if e.inode(t) != ino {
			t.Error("local replaced /etc/hosts instead of rewriting it in place")
		}
		if slices.ContainsFunc(e.calls(t), func(s string) bool { return strings.HasPrefix(s, "sleep") }) {
			t.Error("local slept although HAProxy answered at once")
		}
	})

	t.Run("a dead local HAProxy keeps the direct mapping and warns", func(t *testing.T) {
		t.Parallel()
		e := newEndpointScript(t, f.files)
		if _, _, err := e.run(t, "direct", []string{"10.0.0.3:6443"}); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := e.run(t, "local", []string{"10.0.0.3:6443"}, "KSGEN_LOCAL_LB_TRIES=2")
		if err != nil {
			t.Fatalf("local: %v", err)
		}
		if got := domainLines(e.read(t)); !slices.Equal(got, []string{"10.0.0.3 " + domain}) {
			t.Errorf("domain lines %q, want the direct mapping kept", got)
		}
		if !strings.Contains(stderr, "WARNING") {
			t.Errorf("no warning on stderr: %q", stderr)
		}
		var tries, sleeps int
		for _, c := range e.calls(t) {
			switch {
			case c == "curl https://127.0.0.1:6443/healthz":
				tries++
			case strings.HasPrefix(c, "sleep"):
				sleeps++
			}
		}
		if tries != 2 || sleeps != 2 {
			t.Errorf("%d tries and %d sleeps, want 2 of each: %q", tries, sleeps, e.calls(t))
		}
	})

	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		e := newEndpointScript(t, f.files)
		if _, _, err := e.run(t, "sideways", nil); err == nil {
			t.Error("an unknown mode succeeded")
		}
	})

	t.Run("join accepts the manifests directory", func(t *testing.T) {
		join := kubeadmDoc(t, f.kubeadm, "JoinConfiguration")
		ignored, _ := field(join, "nodeRegistration", "ignorePreflightErrors").([]any)
		if !slices.Contains(ignored, any("DirAvailable--etc-kubernetes-manifests")) {
			t.Errorf("ignorePreflightErrors %v: the HAProxy manifest is in place before join", ignored)
		}
		if got := field(join, "discovery", "bootstrapToken", "apiServerEndpoint"); got != domain+":6443" {
			t.Errorf("join discovery endpoint %v, want the domain (so kubelet.conf names it)", got)
		}
	})

	t.Run("control planes run no HAProxy", func(t *testing.T) {
		for _, cp := range c.ControlPlanes {
			f := render(t, c, cp.Name)
			if len(f.manifests()) > 0 || f.files[lb.HAProxyConfigDir+"/haproxy.cfg"] != nil {
				t.Errorf("%s has a load balancer: %v", cp.Name, f.manifests())
			}
			if got := domainLines(string(f.files["/etc/hosts"])); !slices.Equal(got, []string{cp.IPv4 + " " + domain}) {
				t.Errorf("%s: domain lines %q, want its own apiserver", cp.Name, got)
			}
		}
	})

	// A joining control plane's own apiserver does not run before it has
	// joined: it joins through another control plane, then points the
	// domain at itself (found by the e2e cluster).
	t.Run("a joining control plane joins direct, then uses its own apiserver", func(t *testing.T) {
		cp := c.ControlPlanes[1]
		f := render(t, c, cp.Name)
		for path, want := range map[string]string{
			"/opt/ksgen/attempt.d/10-apiserver-direct": "'direct'",
			"/opt/ksgen/post.d/10-apiserver-own":       "'own' '" + cp.IPv4 + "'",
		} {
			if got := string(f.files[path]); got != "#!/bin/sh\nexec \"${KSGEN_HOOK_DIR:-/opt/ksgen}/apiserver-endpoint\" "+want+"\n" {
				t.Errorf("%s = %q, want it to exec %q", path, got, want)
			}
		}
		e := newEndpointScript(t, f.files)
		if _, _, err := e.run(t, "direct", []string{"10.0.0.1:6443"}); err != nil {
			t.Fatalf("direct: %v", err)
		}
		if got := domainLines(e.read(t)); !slices.Equal(got, []string{"10.0.0.1 " + domain}) {
			t.Errorf("after direct: domain lines %q, want the first control plane", got)
		}
		if _, _, err := e.run(t, "own", []string{"10.0.0.1:6443", cp.IPv4 + ":6443"}, "KSGEN_LOCAL_LB_TRIES=2"); err == nil {
			t.Error("own without an address succeeded")
		}
		cmd := exec.Command("bash", e.script, "own", cp.IPv4)
		cmd.Env = []string{"PATH=" + e.bin + ":" + os.Getenv("PATH"), "KSGEN_HOSTS=" + e.hosts, "FAKE_LOG=" + e.log, "FAKE_ALIVE=" + cp.IPv4 + ":6443"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("own: %v\n%s", err, out)
		}
		if got := domainLines(e.read(t)); !slices.Equal(got, []string{cp.IPv4 + " " + domain}) {
			t.Errorf("after own: domain lines %q, want its own apiserver", got)
		}
		if init := render(t, c, c.Init.Name); init.files[lb.EndpointScript] != nil {
			t.Error("the init node has endpoint hooks; it needs no API to init")
		}
	})
}

// TestExternalLoadBalancer: the domain maps to the address on every node,
// and no node runs a load balancer.
func TestExternalLoadBalancer(t *testing.T) {
	t.Parallel()
	c := loadPlan(t, cluster{controlPlanes: addrs("10.0.0.", 1, 3), workers: addrs("10.0.0.", 11, 2), endpoint: "address: 10.0.0.100, port: 8443"}.yaml())
	if c.Endpoint.Mode != plan.LBExternal || c.APIServerPort != 6443 {
		t.Fatalf("mode %s, apiserver port %d; want external, 6443", c.Endpoint.Mode, c.APIServerPort)
	}
	for _, n := range c.Nodes {
		f := render(t, c, n.Name)
		if got := domainLines(string(f.files["/etc/hosts"])); !slices.Equal(got, []string{"10.0.0.100 " + domain}) {
			t.Errorf("%s: domain lines %q, want the address", n.Name, got)
		}
		if m := f.manifests(); len(m) > 0 {
			t.Errorf("%s runs static pods %v", n.Name, m)
		}
		for path := range f.files {
			if strings.HasPrefix(path, firstboot.Dir+"/") || strings.HasPrefix(path, "/etc/kubekey/") {
				t.Errorf("%s: %s", n.Name, path)
			}
		}
		kind := "JoinConfiguration"
		keys := []string{"discovery", "bootstrapToken", "apiServerEndpoint"}
		if n.Action == plan.Init {
			kind, keys = "ClusterConfiguration", []string{"controlPlaneEndpoint"}
		}
		if got := field(kubeadmDoc(t, f.kubeadm, kind), keys...); got != domain+":8443" {
			t.Errorf("%s: %s %v = %v, want %s:8443", n.Name, kind, keys, got, domain)
		}
	}
}

// TestKubeVip: a static pod on every control plane only, the VIP kept out
// of kube-proxy's ipvs cleanup, super-admin.conf on the init node from
// v1.29 until init is done.
func TestKubeVip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version    string
		superAdmin bool
	}{{"v1.36.3", true}, {"v1.29.0", true}, {"v1.28.15", false}, {"v1.22.17", false}} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			c := loadPlan(t, cluster{controlPlanes: addrs("10.0.0.", 1, 3), workers: addrs("10.0.0.", 11, 1), version: tc.version,
				endpoint: "internalLoadbalancer: kube-vip, address: 10.0.0.100"}.yaml())
			for _, n := range c.Nodes {
				f := render(t, c, n.Name)
				if got := domainLines(string(f.files["/etc/hosts"])); !slices.Equal(got, []string{"10.0.0.100 " + domain}) {
					t.Errorf("%s: domain lines %q, want the VIP", n.Name, got)
				}
				manifest := f.files[lb.ManifestDir+"/kube-vip.yaml"]
				if !n.ControlPlane {
					if len(f.manifests()) > 0 {
						t.Errorf("worker %s runs %v", n.Name, f.manifests())
					}
					continue
				}
				pod, err := checkStaticPod(manifest, n.Name, "kube-vip.yaml")
				if err != nil {
					t.Fatalf("%s: %v", n.Name, err)
				}
				env := map[string]string{}
				for _, e := range pod.Spec.Containers[0].Env {
					env[e.Name] = e.Value
				}
				if env["address"] != "10.0.0.100" || env["vip_arp"] != "true" || env["port"] != "6443" {
					t.Errorf("%s: env %v, want address 10.0.0.100, ARP, port 6443", n.Name, env)
				}
				conf := pod.Spec.Volumes[0].HostPath.Path
				hook := f.files[firstboot.KubeVipAdmin.Path()]
				wantConf := "/etc/kubernetes/admin.conf"
				if n.Action == plan.Init && tc.superAdmin {
					wantConf = "/etc/kubernetes/super-admin.conf"
					if hook == nil {
						t.Fatalf("%s: no post hook to switch back to admin.conf", n.Name)
					}
					// The hook, run on a copy, leaves a valid pod with admin.conf.
					copyPath := writeTemp(t, "kube-vip.yaml", manifest, 0o600)
					script := strings.ReplaceAll(string(hook), lb.ManifestDir+"/kube-vip.yaml", copyPath)
					if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
						t.Fatalf("post hook: %v\n%s", err, out)
					}
					after, err := os.ReadFile(copyPath)
					must(t, err)
					p, err := checkStaticPod(after, n.Name, "kube-vip.yaml")
					if err != nil || p.Spec.Volumes[0].HostPath.Path != "/etc/kubernetes/admin.conf" {
						t.Errorf("after the post hook: %v, kubeconfig %v", err, p)
					}
				} else if hook != nil {
					t.Errorf("%s has the super-admin post hook", n.Name)
				}
				if conf != wantConf {
					t.Errorf("%s (%s): kube-vip uses %s, want %s", n.Name, n.Action, conf, wantConf)
				}
			}
			init := kubeadmDoc(t, render(t, c, "cp1").kubeadm, "KubeProxyConfiguration")
			if got := fmt.Sprint(field(init, "ipvs", "excludeCIDRs")); got != "[10.0.0.100/32]" {
				t.Errorf("kube-proxy ipvs.excludeCIDRs %s, want [10.0.0.100/32]", got)
			}
		})
	}

	t.Run("BGP", func(t *testing.T) {
		t.Parallel()
		c := loadPlan(t, cluster{controlPlanes: addrs("10.0.0.", 1, 3), endpoint: "internalLoadbalancer: kube-vip, address: 10.0.0.100, kubevip: {mode: BGP}"}.yaml())
		pod, err := checkStaticPod(render(t, c, "cp2").files[lb.ManifestDir+"/kube-vip.yaml"], "cp2", "kube-vip.yaml")
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for _, e := range pod.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		if env["bgp_enable"] != "true" || env["bgp_routerid"] != "10.0.0.2" || env["bgp_peers"] != "10.0.0.1:65000::false,10.0.0.3:65000::false" || env["vip_arp"] != "" {
			t.Errorf("env %v: want BGP to the other control planes", env)
		}
	})
}
