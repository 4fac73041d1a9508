package osprep_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/osprep"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
)

func TestEtcHostsNamesInfrastructureNotWorkers(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(`  dns: {nodeEtcHosts: "10.0.0.99 registry.local"}
`))
	for node, endpoint := range map[string]string{"w1": "127.0.0.1", "cp2": "10.0.0.2"} {
		_, files := plantest.Render(t, c, node, osprep.Render)
		hosts := string(files["/etc/hosts"].Content)
		for _, want := range []string{"127.0.0.1 localhost", "10.0.0.1 cp1.cluster.local cp1", "10.0.0.3 cp3.cluster.local cp3",
			"10.0.0.99 registry.local", endpoint + " lb.kubesphere.local\n"} {
			if !strings.Contains(hosts, want) {
				t.Errorf("%s /etc/hosts lacks %q:\n%s", node, want, hosts)
			}
		}
		for _, other := range []string{"w1", "w2", "w3"} {
			if other != node && strings.Contains(hosts, " "+other+"\n") {
				t.Errorf("%s /etc/hosts names worker %s:\n%s", node, other, hosts)
			}
		}
		if got := string(files["/etc/hostname"].Content); got != node+"\n" {
			t.Errorf("hostname %q", got)
		}
	}
}

func TestTimeSyncAndUsers(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(`  system: {ntpServers: [ntp1.example.com, 10.0.0.100]}
---
apiVersion: ksgen.io/v1alpha1
kind: Config
spec:
  roles:
    worker: {os: flatcar, sshAuthorizedKeys: ["ssh-ed25519 AAAAworker ops"]}
    control-plane: {os: rhel}
`))
	p, files := plantest.Render(t, c, "w1", osprep.Render)
	if got := string(files["/etc/systemd/timesyncd.conf.d/ksgen.conf"].Content); got != "[Time]\nNTP=ntp1.example.com 10.0.0.100\n" {
		t.Errorf("flatcar timesyncd: %q", got)
	}
	if len(p.Users) != 1 || p.Users[0].Name != osprofile.LoginUser || p.Users[0].SSHAuthorizedKeys[0] != "ssh-ed25519 AAAAworker ops" {
		t.Errorf("users = %+v", p.Users)
	}
	_, files = plantest.Render(t, c, "cp1", osprep.Render)
	if got := string(files["/etc/chrony.conf"].Content); !strings.Contains(got, "server ntp1.example.com iburst\nserver 10.0.0.100 iburst\n") {
		t.Errorf("rhel chrony.conf:\n%s", got)
	}
	sysctl := string(files["/etc/sysctl.d/99-kubernetes.conf"].Content)
	for _, want := range []string{"net.ipv4.ip_forward = 1", "net.bridge.bridge-nf-call-iptables = 1"} {
		if !strings.Contains(sysctl, want) {
			t.Errorf("sysctl lacks %q", want)
		}
	}
	if mods := string(files["/etc/modules-load.d/kubernetes.conf"].Content); !strings.Contains(mods, "br_netfilter\n") || !strings.Contains(mods, "ip_vs\n") {
		t.Errorf("modules-load.d:\n%s", mods)
	}
}

// TestSysctlsTheKernelAccepts checks the rendered sysctl.d file with the
// kernel and the real sysctl: every key exists under /proc/sys (net.bridge.*
// once the br_netfilter module the payload loads is there), and the keys a
// network namespace has are applied by `sysctl -p` in a namespace of the
// test's own and read back with the rendered value. Keys outside a network
// namespace are kernel-wide: they are checked for existence only, so the
// test never changes the machine it runs on.
func TestSysctlsTheKernelAccepts(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(""))
	_, files := plantest.Render(t, c, "w1", osprep.Render)
	conf := string(files["/etc/sysctl.d/99-kubernetes.conf"].Content)
	modules := string(files["/etc/modules-load.d/kubernetes.conf"].Content)
	want := map[string]string{}
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(conf), "\n") {
		k, v, ok := strings.Cut(line, " = ")
		if !ok {
			t.Fatalf("line %q is not key = value", line)
		}
		if _, dup := want[k]; dup {
			t.Errorf("%s set twice", k)
		}
		want[k], keys = v, append(keys, k)
	}
	for k, v := range map[string]string{
		"net.ipv4.neigh.default.gc_thresh1": "512", "net.ipv4.neigh.default.gc_thresh2": "2048",
		"net.ipv4.neigh.default.gc_thresh3": "4096", "net.core.somaxconn": "32768",
		"net.ipv4.tcp_max_syn_backlog": "1048576", "net.core.netdev_max_backlog": "65535",
		"net.core.rmem_max": "33554432", "net.core.wmem_max": "33554432",
		"net.ipv4.conf.all.arp_announce": "2", "net.ipv4.ip_forward": "1",
	} {
		if want[k] != v {
			t.Errorf("%s = %q, want %q", k, want[k], v)
		}
	}
	if _, ok := want["kernel.pid_max"]; ok {
		t.Error("kernel.pid_max is capped: KubeKey's 65535 starves big nodes")
	}
	if _, err := os.Stat("/proc/sys/net/ipv4/ip_forward"); err != nil {
		t.Skipf("no /proc/sys here: %v", err)
	}
	if _, err := os.Stat("/proc/sys/net/bridge"); err != nil && !strings.Contains(modules, "br_netfilter\n") {
		t.Error("net.bridge.* keys need br_netfilter, which modules-load.d does not load")
	}
	procPath := func(k string) string { return "/proc/sys/" + strings.ReplaceAll(k, ".", "/") }
	for _, k := range keys {
		if _, err := os.Stat(procPath(k)); err != nil {
			if strings.HasPrefix(k, "net.bridge.") {
				t.Logf("%s: br_netfilter is not loaded on this machine; the payload loads it", k)
				continue
			}
			t.Errorf("%s: no such kernel parameter (%v)", k, err)
		}
	}

	sysctl, err := exec.LookPath("sysctl")
	if err == nil && os.Geteuid() != 0 {
		err = errors.New("not root: cannot make a network namespace")
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("sysctl in a network namespace: %v", err)
		}
		t.Skipf("sysctl in a network namespace: %v", err)
	}
	// The net.* keys a fresh network namespace has, applied there and read back.
	var netKeys []string
	for _, k := range keys {
		if strings.HasPrefix(k, "net.") {
			netKeys = append(netKeys, k)
		}
	}
	probe := exec.Command("unshare", "--net", "sh", "-c", `for k; do [ -e "/proc/sys/$(echo "$k" | tr . /)" ] && echo "$k"; done; true`, "sh")
	probe.Args = append(probe.Args, netKeys...)
	out, err := probe.Output()
	if err != nil {
		t.Fatalf("unshare --net: %v", err)
	}
	var netns []string
	for _, k := range strings.Fields(string(out)) {
		// Only net.* keys belong to a network namespace (vm.* and fs.*
		// show in every one and write the host's); Linux 6.x shows
		// rmem_max and wmem_max too but refuses values over the initial
		// namespace's.
		if strings.HasPrefix(k, "net.") && k != "net.core.rmem_max" && k != "net.core.wmem_max" {
			netns = append(netns, k)
		}
	}
	if len(netns) < 15 {
		t.Fatalf("only %d keys in a network namespace: %v", len(netns), netns)
	}
	var sub strings.Builder
	for _, k := range netns {
		fmt.Fprintf(&sub, "%s = %s\n", k, want[k])
	}
	file := filepath.Join(t.TempDir(), "netns.conf")
	if err := os.WriteFile(file, []byte(sub.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	apply := exec.Command("unshare", "--net", "sh", "-c", `s=$0 f=$1; shift; "$s" -q -p "$f" && "$s" -n "$@"`, sysctl, file)
	apply.Args = append(apply.Args, netns...)
	got, err := apply.CombinedOutput()
	if err != nil {
		t.Fatalf("sysctl -p in a network namespace: %v\n%s", err, got)
	}
	values := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(values) != len(netns) {
		t.Fatalf("read back %d values for %d keys:\n%s", len(values), len(netns), got)
	}
	for i, k := range netns {
		if norm := strings.Join(strings.Fields(values[i]), " "); norm != strings.Join(strings.Fields(want[k]), " ") {
			t.Errorf("%s reads back %q after sysctl -p, want %q", k, values[i], want[k])
		}
	}
	t.Logf("%d keys; %d applied in a network namespace: %s", len(keys), len(netns), strings.Join(netns, " "))
}

// TestStaticNetwork checks the files a static address becomes: Flatcar's
// systemd-networkd unit and Fedora CoreOS's NetworkManager keyfile (0600, or
// NetworkManager ignores it), with the interface by name or by MAC, and
// nothing for a cloud-init OS, whose datasource carries it. The booted e2e
// boots a Flatcar-profile worker whose only address is this file.
func TestStaticNetwork(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(`---
apiVersion: ksgen.io/v1alpha1
kind: Config
spec:
  hosts:
    w1: {os: flatcar, interface: eth1, network: {addresses: [10.0.0.4/24, "fd00::4/64"], gateway: 10.0.0.254, nameservers: [10.0.0.53]}}
    w2: {os: fcos, mac: "52:54:00:AA:BB:02", network: {addresses: [10.0.0.5/24], gateway: 10.0.0.254, nameservers: [10.0.0.53, "fd00::53"]}}
    w3: {os: ubuntu, interface: eth0, network: {addresses: [10.0.0.6/24]}}
`))
	_, files := plantest.Render(t, c, "w1", osprep.Render)
	want := "# ksgen: the node's static address\n[Match]\nName=eth1\n\n[Network]\nAddress=10.0.0.4/24\nAddress=fd00::4/64\nGateway=10.0.0.254\nDNS=10.0.0.53\n"
	if got := string(files[osprep.NetworkdFile].Content); got != want {
		t.Errorf("flatcar %s:\n%s\nwant:\n%s", osprep.NetworkdFile, got, want)
	}
	_, files = plantest.Render(t, c, "w2", osprep.Render)
	f := files[osprep.NMKeyfile]
	want = "# ksgen: the node's static address\n[connection]\nid=ksgen\ntype=ethernet\n\n[ethernet]\nmac-address=52:54:00:aa:bb:02\n\n[ipv4]\nmethod=manual\naddress1=10.0.0.5/24\ngateway=10.0.0.254\ndns=10.0.0.53;\n\n[ipv6]\nmethod=auto\n"
	if string(f.Content) != want || f.Mode != 0o600 {
		t.Errorf("fcos %s (mode %o):\n%s\nwant (0600):\n%s", osprep.NMKeyfile, f.Mode, f.Content, want)
	}
	_, files = plantest.Render(t, c, "w3", osprep.Render)
	for path := range files {
		if path == osprep.NetworkdFile || path == osprep.NMKeyfile {
			t.Errorf("ubuntu node got %s: cloud-init takes the address from its datasource", path)
		}
	}
}
