package lb_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/containerd"
	"github.com/ksgen/ksgen/generator/internal/render/kubelet"
	"github.com/ksgen/ksgen/generator/internal/render/lb"
	"github.com/ksgen/ksgen/generator/plan"
)

const (
	keepalivedConf = lb.KeepalivedConfigDir + "/keepalived.conf"
	keepalivedHook = lb.KeepalivedConfigDir + "/check-haproxy.sh"
)

// vrrp is what a test reads back from a keepalived.conf.
type vrrp struct {
	state, iface, vip, src string
	vrid, priority         int
	peers                  []string
	script                 string
}

func parseKeepalived(t *testing.T, conf []byte) vrrp {
	t.Helper()
	var v vrrp
	var block string
	for _, line := range strings.Split(string(conf), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[len(f)-1] == "{":
			block = f[0]
		case f[0] == "}":
			block = ""
		case block == "unicast_peer":
			v.peers = append(v.peers, f[0])
		case block == "virtual_ipaddress":
			v.vip = f[0]
		case f[0] == "state":
			v.state = f[1]
		case f[0] == "interface":
			v.iface = f[1]
		case f[0] == "unicast_src_ip":
			v.src = f[1]
		case f[0] == "virtual_router_id":
			v.vrid, _ = strconv.Atoi(f[1])
		case f[0] == "priority":
			v.priority, _ = strconv.Atoi(f[1])
		case f[0] == "script":
			v.script = strings.Trim(f[1], `"`)
		}
	}
	return v
}

func lbCluster(name string, n int, ksgen string) cluster {
	return cluster{
		name:          name,
		controlPlanes: addrs("10.0.0.", 1, 3),
		workers:       addrs("10.0.0.", 11, 2),
		loadBalancers: addrs("10.0.0.", 21, n),
		endpoint:      "address: 10.0.0.100",
		ksgen:         ksgen,
	}
}

// TestKeepalivedConfigs checks VRRP roles: the first load balancer is
// MASTER, the others BACKUP with descending priority, unicast to each
// other, the VIP from the endpoint's address, the interface from the ksgen
// document (host over role) or eth0, one router ID for the cluster.
func TestKeepalivedConfigs(t *testing.T) {
	t.Parallel()
	c := loadPlan(t, lbCluster("alpha", 3, "  roles:\n    loadbalancer: {interface: ens3}\n  hosts:\n    lb3: {interface: bond0}\n").yaml())
	want := map[string]vrrp{
		"lb1": {state: "MASTER", priority: 150, iface: "ens3", src: "10.0.0.21", peers: []string{"10.0.0.22", "10.0.0.23"}},
		"lb2": {state: "BACKUP", priority: 149, iface: "ens3", src: "10.0.0.22", peers: []string{"10.0.0.21", "10.0.0.23"}},
		"lb3": {state: "BACKUP", priority: 148, iface: "bond0", src: "10.0.0.23", peers: []string{"10.0.0.21", "10.0.0.22"}},
	}
	vrid := 0
	for name, w := range want {
		f := render(t, c, name)
		got := parseKeepalived(t, f.files[keepalivedConf])
		if got.state != w.state || got.priority != w.priority || got.iface != w.iface || got.src != w.src || !slices.Equal(got.peers, w.peers) {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
		if got.vip != "10.0.0.100/32" || got.script != "/etc/keepalived/check-haproxy.sh" {
			t.Errorf("%s: VIP %q, track script %q", name, got.vip, got.script)
		}
		if got.vrid < 1 || got.vrid > 255 || (vrid != 0 && got.vrid != vrid) {
			t.Errorf("%s: virtual_router_id %d (others %d)", name, got.vrid, vrid)
		}
		vrid = got.vrid
		if !bytes.Contains(f.files[keepalivedHook], []byte("http://127.0.0.1:8081/healthz")) {
			t.Errorf("%s: the track script does not check HAProxy's health endpoint:\n%s", name, f.files[keepalivedHook])
		}
	}
	// With nginx, the track script checks nginx: the same health endpoint,
	// which nginx's http block serves.
	withNginx := render(t, loadPlan(t, lbCluster("alpha", 2, "  loadBalancer: {proxy: nginx}\n").yaml()), "lb1")
	got := parseKeepalived(t, withNginx.files[keepalivedConf])
	nginxHook := lb.KeepalivedConfigDir + "/check-nginx.sh"
	if got.script != "/etc/keepalived/check-nginx.sh" || !strings.Contains(string(withNginx.files[keepalivedConf]), "vrrp_script check_nginx {") ||
		!strings.Contains(string(withNginx.files[keepalivedConf]), "track_script {\n        check_nginx\n") {
		t.Errorf("with nginx, keepalived.conf tracks %q:\n%s", got.script, withNginx.files[keepalivedConf])
	}
	if withNginx.files[keepalivedHook] != nil || !bytes.Contains(withNginx.files[nginxHook], []byte("http://127.0.0.1:8081/healthz")) {
		t.Errorf("with nginx, the track scripts are %q (haproxy) and %q (nginx)", withNginx.files[keepalivedHook], withNginx.files[nginxHook])
	}
	if health := parseNginx(withNginx.files[nginxConf]).binds["healthz"]; health != "127.0.0.1:8081" {
		t.Errorf("nginx serves its health endpoint on %q, not where the track script looks", health)
	}
	// The router ID follows the cluster's name, or the ksgen document.
	other := loadPlan(t, lbCluster("beta", 2, "").yaml())
	if other.VirtualRouterID == vrid {
		t.Errorf("clusters alpha and beta share virtual_router_id %d", vrid)
	}
	if again := loadPlan(t, lbCluster("alpha", 2, "").yaml()); again.VirtualRouterID != vrid {
		t.Errorf("virtual_router_id %d, then %d for the same cluster name", vrid, again.VirtualRouterID)
	}
	set := loadPlan(t, lbCluster("alpha", 2, "  loadBalancer: {virtualRouterID: 7}\n").yaml())
	if got := parseKeepalived(t, render(t, set, "lb2").files[keepalivedConf]); got.vrid != 7 {
		t.Errorf("virtual_router_id %d, want the document's 7", got.vrid)
	}
	// One load balancer: MASTER with no peers.
	single := loadPlan(t, lbCluster("alpha", 1, "").yaml())
	if got := parseKeepalived(t, render(t, single, "lb1").files[keepalivedConf]); got.state != "MASTER" || len(got.peers) != 0 || got.iface != "eth0" {
		t.Errorf("a single load balancer: %+v, want MASTER, no peers, eth0", got)
	}
}

// TestLoadBalancerHostPayload checks what a load-balancer host receives
// besides the two pods: no kubeadm, containerd, a standalone kubelet (whose
// configuration decodes strictly as the kubelet's own type), the prep step
// before it, and the VIP for the domain.
func TestLoadBalancerHostPayload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		flags   string
	}{
		{"v1.36.3", ""},
		{"v1.26.15", " --container-runtime-endpoint=unix:///run/containerd/containerd.sock"},
		{"v1.23.17", " --container-runtime-endpoint=unix:///run/containerd/containerd.sock --container-runtime=remote"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			spec := lbCluster("alpha", 2, "")
			spec.version = tc.version
			c := loadPlan(t, spec.yaml())
			n := c.NodeByName("lb1")
			if n.Action != plan.None || !n.Kubelet || n.LocalLB != plan.LocalKeepalived || c.Endpoint.Mode != plan.LBExternal {
				t.Fatalf("lb1: action %s, kubelet %t, local LB %q, endpoint mode %s", n.Action, n.Kubelet, n.LocalLB, c.Endpoint.Mode)
			}
			f := render(t, c, "lb1")
			if f.kubeadm != nil {
				t.Error("a load balancer got a kubeadm config")
			}
			if got := domainLines(string(f.files["/etc/hosts"])); !slices.Equal(got, []string{"10.0.0.100 " + domain}) {
				t.Errorf("domain lines %q, want the VIP", got)
			}
			dropIn := string(f.files[fileset.UnitDir+"/kubelet.service.d/10-standalone.conf"])
			// ubuntu, the default OS, keeps the kubelet in /usr/bin.
			wantExec := "ExecStart=/usr/bin/kubelet --config=" + kubelet.StandaloneConfig + " --node-ip=10.0.0.21 --hostname-override=lb1" + tc.flags + "\n"
			if !strings.Contains(dropIn, "ExecStart=\n"+wantExec) {
				t.Errorf("kubelet drop-in:\n%s\nwant\n%s", dropIn, wantExec)
			}
			if f.files[fileset.UnitDir+"/kubelet.service.d/10-kubeadm.conf"] != nil {
				t.Error("a load balancer got kubeadm's kubelet drop-in")
			}
			if got := string(f.files[fileset.UnitDir+"/kubelet.service.d/20-ksgen-loadbalancer.conf"]); got != "[Service]\nExecStartPre=-"+lb.LBPrep+"\n" {
				t.Errorf("prep drop-in %q", got)
			}
			if got := string(f.files[lb.NonLocalBindSysctl]); got != "net.ipv4.ip_nonlocal_bind = 1\n" {
				t.Errorf("sysctl %q", got)
			}
			checkStandaloneConfig(t, f.files[kubelet.StandaloneConfig], tc.flags == "")

			for _, other := range []string{"cp1", "cp2", "w1"} {
				f := render(t, c, other)
				if m := f.manifests(); len(m) > 0 {
					t.Errorf("%s runs %v: the load balancers serve the VIP", other, m)
				}
				if got := domainLines(string(f.files["/etc/hosts"])); !slices.Equal(got, []string{"10.0.0.100 " + domain}) {
					t.Errorf("%s: domain lines %q, want the VIP", other, got)
				}
			}

			p := &fileset.Set{Name: "lb1"}
			if err := containerd.Render(c, n, p); err != nil || !slices.ContainsFunc(p.Files, func(f fileset.File) bool { return f.Path == "/etc/containerd/config.toml" }) {
				t.Errorf("containerd on a load balancer: %v %v", err, p.Files)
			}
		})
	}
}

// checkStandaloneConfig decodes the standalone kubelet's configuration
// strictly into the kubelet's own v1beta1 type and checks what makes it
// standalone and safe.
func checkStandaloneConfig(t *testing.T, data []byte, endpointInConfig bool) {
	t.Helper()
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("kubelet config: %v", err)
	}
	var kc kubeletv1beta1.KubeletConfiguration
	strictErrs, err := kjson.UnmarshalStrict(j, &kc)
	if err != nil || len(strictErrs) > 0 {
		t.Fatalf("kubelet config: %v %v\n%s", err, strictErrs, data)
	}
	if kc.Kind != "KubeletConfiguration" || kc.APIVersion != "kubelet.config.k8s.io/v1beta1" {
		t.Errorf("kind %s %s", kc.APIVersion, kc.Kind)
	}
	if kc.StaticPodPath != lb.ManifestDir || kc.CgroupDriver != "systemd" || kc.Address != "127.0.0.1" ||
		kc.ReadOnlyPort != 0 || kc.Authorization.Mode != "AlwaysAllow" ||
		kc.Authentication.Anonymous.Enabled == nil || *kc.Authentication.Anonymous.Enabled ||
		kc.Authentication.Webhook.Enabled == nil || *kc.Authentication.Webhook.Enabled {
		t.Errorf("kubelet config:\n%s", data)
	}
	if (kc.ContainerRuntimeEndpoint != "") != endpointInConfig {
		t.Errorf("containerRuntimeEndpoint %q, want it in the file: %t", kc.ContainerRuntimeEndpoint, endpointInConfig)
	}
}

// TestLBPrep runs the prep step with a fake `ip`: non-local binds on, and
// keepalived's interface set to the one that carries the host's address.
func TestLBPrep(t *testing.T) {
	t.Parallel()
	detect := render(t, loadPlan(t, lbCluster("alpha", 2, "").yaml()), "lb2")
	fixed := render(t, loadPlan(t, lbCluster("alpha", 2, "  hosts:\n    lb2: {interface: ens3}\n").yaml()), "lb2")
	ipOutput := "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n" +
		"2: enp1s0    inet 192.168.9.9/24 brd 192.168.9.255 scope global enp1s0\\       valid_lft forever\n" +
		"3: bond0.100    inet 10.0.0.22/24 brd 10.0.0.255 scope global bond0.100\\       valid_lft forever\n"
	for _, tc := range []struct {
		name      string
		files     map[string][]byte
		ip        string
		wantIface string
		wantWarn  bool
	}{
		{"detects the interface", detect.files, ipOutput, "bond0.100", false},
		{"no interface has the address", detect.files, "1: lo    inet 127.0.0.1/8 scope host lo\n", "eth0", true},
		{"the ksgen document's interface", fixed.files, ipOutput, "ens3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			must(t, os.MkdirAll(filepath.Join(dir, "sys/net/ipv4"), 0o755))
			must(t, os.Mkdir(bin, 0o755))
			must(t, os.WriteFile(filepath.Join(dir, "sys/net/ipv4/ip_nonlocal_bind"), []byte("0\n"), 0o644))
			must(t, os.WriteFile(filepath.Join(bin, "ip"), []byte("#!/bin/sh\n[ \"$*\" = \"-o -4 addr show\" ] || exit 1\nprintf '"+tc.ip+"'\n"), 0o755))
			conf := filepath.Join(dir, "keepalived.conf")
			must(t, os.WriteFile(conf, tc.files[keepalivedConf], 0o644))
			prep := writeTemp(t, "lb-prep", tc.files[lb.LBPrep], 0o755)
			cmd := exec.Command("sh", prep)
			cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "KSGEN_PROC_SYS=" + filepath.Join(dir, "sys"), "KSGEN_KEEPALIVED_CONF=" + conf}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("lb-prep: %v\n%s", err, stderr.String())
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "sys/net/ipv4/ip_nonlocal_bind")); strings.TrimSpace(string(b)) != "1" {
				t.Errorf("ip_nonlocal_bind = %q", b)
			}
			after, err := os.ReadFile(conf)
			must(t, err)
			if got := parseKeepalived(t, after).iface; got != tc.wantIface {
				t.Errorf("interface %q, want %q", got, tc.wantIface)
			}
			if rest := regexp.MustCompile(`(?m)^\s*interface .*$`); rest.ReplaceAllString(string(after), "") != rest.ReplaceAllString(string(tc.files[keepalivedConf]), "") {
				t.Errorf("lb-prep changed more than the interface:\n%s", after)
			}
			if strings.Contains(stderr.String(), "ksgen:") != tc.wantWarn {
				t.Errorf("stderr %q (want a warning: %t)", stderr.String(), tc.wantWarn)
			}
		})
	}
}

// netns is a pair of network namespaces this test creates and deletes:
// the interfaces a keepalived.conf names live in the first, as one end of a
// veth pair whose other end is in the second.
type netns struct{ a, b string }

func newNetns(t *testing.T, ifaces ...string) netns {
	t.Helper()
	ip := tool(t, "ip")
	ns := netns{fmt.Sprintf("ksgen-test-%d-%d-a", os.Getpid(), nsSeq()), ""}
	ns.b = strings.TrimSuffix(ns.a, "-a") + "-b"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns.a)
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", ns.a).Run() })
	run("netns", "add", ns.b)
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", ns.b).Run() })
	run("-n", ns.a, "link", "set", "lo", "up")
	for i, name := range ifaces {
		run("-n", ns.a, "link", "add", name, "type", "veth", "peer", "name", fmt.Sprintf("peer%d", i), "netns", ns.b)
		run("-n", ns.a, "link", "set", name, "up")
	}
	return ns
}

var nsCounter atomic.Int64

func nsSeq() int64 { return nsCounter.Add(1) }

// keepalivedTest runs `keepalived -t -f conf` in ns, with script visible at
// its path inside a private mount namespace (a tmpfs over its directory),
// so that keepalived checks it exists and is safe to run.
func keepalivedTest(t *testing.T, keepalived string, ns netns, conf, script []byte, scriptPath string) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	confPath := filepath.Join(dir, "keepalived.conf")
	must(t, os.WriteFile(confPath, conf, 0o644))
	src := filepath.Join(dir, "script")
	must(t, os.WriteFile(src, script, 0o755))
	if fi, err := os.Stat(filepath.Dir(scriptPath)); err != nil || !fi.IsDir() {
		t.Fatalf("%s does not exist on this machine: the test mounts a tmpfs over it (Debian's keepalived package creates it)", filepath.Dir(scriptPath))
	}
	cmd := exec.Command("ip", "netns", "exec", ns.a, "unshare", "--mount", "--propagation", "private", "sh", "-ec",
		`mount -t tmpfs -o mode=755 tmpfs "$(dirname "$2")"; cp "$1" "$2"; chmod 755 "$2"; exec "$3" -t -f "$4"`,
		"sh", src, scriptPath, keepalived, confPath)
	return cmd.CombinedOutput()
}

// TestKeepalivedConfigCheck runs `keepalived -t` on every keepalived.conf
// (load-balancer hosts, control planes, one host, the spec files), in a
// network namespace that has exactly the interface each names.
func TestKeepalivedConfigCheck(t *testing.T) {
	t.Parallel()
	keepalived := tool(t, "keepalived")
	root(t)
	type conf struct {
		name         string
		conf, script []byte
	}
	var confs []conf
	add := func(name string, c *plan.Cluster) {
		for _, n := range c.LoadBalancers {
			f := render(t, c, n.Name)
			hook := lb.KeepalivedConfigDir + "/" + filepath.Base(parseKeepalived(t, f.files[keepalivedConf]).script)
			if f.files[hook] == nil {
				t.Fatalf("%s %s: no track script %s", name, n.Name, hook)
			}
			confs = append(confs, conf{name + " " + n.Name, f.files[keepalivedConf], f.files[hook]})
		}
	}
	add("3 hosts", loadPlan(t, lbCluster("alpha", 3, "  roles:\n    loadbalancer: {interface: ens3}\n").yaml()))
	add("nginx", loadPlan(t, lbCluster("alpha", 2, "  loadBalancer: {proxy: nginx}\n").yaml()))
	add("1 host", loadPlan(t, lbCluster("alpha", 1, "").yaml()))
	add("control planes", loadPlan(t, cluster{controlPlanes: addrs("10.0.0.", 1, 3), endpoint: "address: 10.0.0.100, port: 8443", ksgen: "  loadBalancer: {controlPlanes: true}\n"}.yaml()))
	for _, file := range specFiles(t) {
		if c := loadSpecFile(t, file); c != nil {
			add(filepath.Base(file), c)
		}
	}
	for _, c := range confs {
		v := parseKeepalived(t, c.conf)
		ns := newNetns(t, v.iface)
		if out, err := keepalivedTest(t, keepalived, ns, c.conf, c.script, v.script); err != nil {
			t.Errorf("%s: keepalived -t: %v\n%s\n%s", c.name, err, out, c.conf)
		}
	}

	// The check refuses what it must: an interface the namespace lacks, a
	// misspelt keyword, a missing track script.
	good := confs[0]
	v := parseKeepalived(t, good.conf)
	ns := newNetns(t, v.iface)
	for name, bad := range map[string][]byte{
		"other interface": bytes.Replace(good.conf, []byte("interface "+v.iface), []byte("interface eth9"), 1),
		"bad keyword":     bytes.Replace(good.conf, []byte("advert_int"), []byte("advert_intt"), 1),
		"missing script":  bytes.Replace(good.conf, []byte(v.script), []byte("/etc/keepalived/nonexistent.sh"), 1),
	} {
		if out, err := keepalivedTest(t, keepalived, ns, bad, good.script, v.script); err == nil {
			t.Errorf("%s: keepalived -t accepted it:\n%s", name, out)
		}
	}
}

// TestKeepalivedOnControlPlanes: with ksgen loadBalancer.controlPlanes and
// no load-balancer hosts, every control plane runs the pair next to its
// apiserver (which keeps 6443; HAProxy serves the endpoint's port on the
// VIP), joins with the manifests directory accepted, and every node maps
// the domain to the VIP.
func TestKeepalivedOnControlPlanes(t *testing.T) {
	t.Parallel()
	c := loadPlan(t, cluster{controlPlanes: addrs("10.0.0.", 1, 3), workers: addrs("10.0.0.", 11, 1),
		endpoint: "address: 10.0.0.100, port: 8443", ksgen: "  loadBalancer: {controlPlanes: true}\n"}.yaml())
	if c.Endpoint.Mode != plan.LBExternal || c.APIServerPort != 6443 || len(c.LoadBalancers) != 3 {
		t.Fatalf("mode %s, apiserver port %d, %d load balancers", c.Endpoint.Mode, c.APIServerPort, len(c.LoadBalancers))
	}
	for i, n := range c.Nodes {
		f := render(t, c, n.Name)
		if got := domainLines(string(f.files["/etc/hosts"])); !slices.Equal(got, []string{"10.0.0.100 " + domain}) {
			t.Errorf("%s: domain lines %q, want the VIP", n.Name, got)
		}
		if !n.ControlPlane {
			if m := f.manifests(); len(m) > 0 {
				t.Errorf("worker %s runs %v", n.Name, m)
			}
			continue
		}
		v := parseKeepalived(t, f.files[keepalivedConf])
		if v.priority != 150-i || (i == 0) != (v.state == "MASTER") {
			t.Errorf("%s: %s priority %d", n.Name, v.state, v.priority)
		}
		if got := parseHAProxy(f.files[lb.HAProxyConfigDir+"/haproxy.cfg"]).binds["kube-apiserver"]; got != "10.0.0.100:8443" {
			t.Errorf("%s: HAProxy binds %s, want the VIP at the endpoint's port", n.Name, got)
		}
		if !strings.Contains(string(f.files[fileset.UnitDir+"/kubelet.service.d/20-ksgen-loadbalancer.conf"]), lb.LBPrep) {
			t.Errorf("%s: kubelet does not run %s first", n.Name, lb.LBPrep)
		}
		kind, keys := "JoinConfiguration", []string{"nodeRegistration", "ignorePreflightErrors"}
		port := []string{"controlPlane", "localAPIEndpoint", "bindPort"}
		if n.Action == plan.Init {
			kind, port = "InitConfiguration", []string{"localAPIEndpoint", "bindPort"}
		}
		doc := kubeadmDoc(t, f.kubeadm, kind)
		if ignored, _ := field(doc, keys...).([]any); !slices.Contains(ignored, any("DirAvailable--etc-kubernetes-manifests")) {
			t.Errorf("%s: ignorePreflightErrors %v", n.Name, ignored)
		}
		if got := field(doc, port...); fmt.Sprint(got) != "6443" {
			t.Errorf("%s: apiserver bindPort %v, want 6443", n.Name, got)
		}
	}
}
