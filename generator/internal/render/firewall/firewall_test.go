package firewall_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/firewall"
	"github.com/ksgen/ksgen/generator/plan"
)

// rhel is the seed's shape on RHEL-family hosts, with calico in IP-in-IP
// mode and kubekey etcd on the control planes.
var rhel = plantest.HA(`---
apiVersion: ksgen.io/v1alpha1
kind: Config
spec: {os: rhel}
`)

func TestRulesByRole(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, rhel)
	ports := func(n string) []string {
		var out []string
		for _, p := range firewall.For(c, c.NodeByName(n)).Ports {
			out = append(out, p.Port+"/"+p.Proto)
		}
		return out
	}
	cp := ports("cp1")
	for _, want := range []string{"6443/tcp", "2379/tcp", "2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp", "179/tcp", "4789/udp", "5473/tcp", "30000-32767/tcp", "30000-32767/udp"} {
		if !slices.Contains(cp, want) {
			t.Errorf("control plane lacks %s: %v", want, cp)
		}
	}
	w := ports("w1")
	for _, bad := range []string{"6443/tcp", "2379/tcp", "10257/tcp"} {
		if slices.Contains(w, bad) {
			t.Errorf("worker opens %s: %v", bad, w)
		}
	}
	if r := firewall.For(c, c.NodeByName("w1")); !slices.Equal(r.Protocols, []string{"4"}) || !slices.Equal(r.Sources, []string{"10.233.64.0/18", "10.233.0.0/18"}) {
		t.Errorf("worker protocols %v sources %v, want IP-in-IP and the pod and service networks", r.Protocols, r.Sources)
	}
}

// TestLoadBalancerHosts: keepalived hosts open the endpoint and the
// forwarded ports and VRRP, and nothing of a Kubernetes node.
func TestLoadBalancerHosts(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../../../testdata/specs/valid-lb-hosts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := plantest.Plan(t, string(data))
	r := firewall.For(c, c.NodeByName("lb1"))
	var got []string
	for _, p := range r.Ports {
		got = append(got, p.Port+"/"+p.Proto)
	}
	if want := []string{"80/tcp", "443/tcp", "6443/tcp", "30880/tcp"}; !slices.Equal(got, want) {
		t.Errorf("load balancer opens %v, want %v", got, want)
	}
	if !slices.Equal(r.Protocols, []string{"112"}) || len(r.Sources) != 0 {
		t.Errorf("load balancer protocols %v sources %v, want VRRP only", r.Protocols, r.Sources)
	}
}

// fakeBin writes executables into a directory for PATH.
func fakeBin(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func script(t *testing.T, c *plan.Cluster, node string) string {
	t.Helper()
	_, files := plantest.Render(t, c, node, firewall.Render)
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		cmd := exec.Command(sc, "-")
		cmd.Stdin = strings.NewReader(string(files[firewall.Script].Content))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") != "" {
		t.Error("shellcheck not found (.ci/run installs it)")
	}
	path := filepath.Join(t.TempDir(), "firewall")
	if err := os.WriteFile(path, files[firewall.Script].Content, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := files["/etc/systemd/system/"+firewall.Unit]; !ok {
		t.Errorf("no %s", firewall.Unit)
	}
	return path
}

func run(t *testing.T, path, bin string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", path)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", path, err, out)
	}
	return string(out)
}

// TestFirewalldTakesTheRules runs the rendered script for RHEL hosts with
// firewalld active against the real firewalld: firewall-cmd --permanent is
// firewall-offline-cmd on a scratch configuration directory, so firewalld's
// own code parses each rule and writes its zone files. firewalld then lists
// exactly the node's ports, protocols and trusted sources, checks its
// configuration, and a second run changes nothing.
func TestFirewalldTakesTheRules(t *testing.T) {
	t.Parallel()
	offline, err := exec.LookPath("firewall-offline-cmd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("firewall-offline-cmd not found; .ci/run installs firewalld")
		}
		t.Skip("firewall-offline-cmd not found (apt-get install firewalld)")
	}
	c := plantest.Plan(t, rhel)
	for _, node := range []string{"cp1", "w1"} {
		t.Run(node, func(t *testing.T) {
			t.Parallel()
			conf := t.TempDir()
			if data, err := os.ReadFile("/etc/firewalld/firewalld.conf"); err == nil {
				if err := os.WriteFile(filepath.Join(conf, "firewalld.conf"), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fw := func(args ...string) string {
				out, err := exec.Command(offline, append([]string{"--system-config", conf}, args...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("firewall-offline-cmd %v: %v\n%s", args, err, out)
				}
				return strings.TrimSpace(string(out))
			}
			calls := filepath.Join(t.TempDir(), "calls")
			bin := fakeBin(t, map[string]string{
				"systemctl": `[ "$1 $2 $3" = "is-active -q firewalld" ]` + "\n",
				"firewall-cmd": `echo "$*" >> ` + calls + `
[ "$1" = --reload ] && exit 0
[ "$1" = --permanent ] && shift
exec ` + offline + ` --system-config ` + conf + ` "$@"
`,
			})
			path := script(t, c, node)
			run(t, path, bin)
			zone := func() string {
				data, err := os.ReadFile(filepath.Join(conf, "zones", "public.xml"))
				if err != nil {
					t.Fatal(err)
				}
				trusted, err := os.ReadFile(filepath.Join(conf, "zones", "trusted.xml"))
				if err != nil {
					t.Fatal(err)
				}
				return string(data) + string(trusted)
			}
			first := zone()
			r := firewall.For(c, c.NodeByName(node))
			var want []string
			for _, p := range r.Ports {
				want = append(want, p.Port+"/"+p.Proto)
			}
			got := strings.Fields(fw("--list-ports"))
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("firewalld opens %v, want %v", got, want)
			}
			if got := strings.Fields(fw("--list-protocols")); !slices.Equal(got, r.Protocols) {
				t.Errorf("firewalld protocols %v, want %v", got, r.Protocols)
			}
			if got := strings.Fields(fw("--zone=trusted", "--list-sources")); !slices.Equal(got, r.Sources) {
				t.Errorf("trusted sources %v, want %v", got, r.Sources)
			}
			fw("--check-config")
			run(t, path, bin)
			if again := zone(); again != first {
				t.Errorf("a second run changed the zones:\n%s\nthen\n%s", first, again)
			}
			log, _ := os.ReadFile(calls)
			if !strings.Contains(string(log), "--reload") {
				t.Errorf("firewalld was not reloaded:\n%s", log)
			}
		})
	}
}

// TestNoActiveFirewallNothingChanges: without an active firewalld or ufw
// the script calls neither.
func TestNoActiveFirewallNothingChanges(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, rhel)
	calls := filepath.Join(t.TempDir(), "calls")
	bin := fakeBin(t, map[string]string{
		"systemctl":    "exit 3\n",
		"firewall-cmd": "echo \"$*\" >> " + calls + "\n",
		"ufw":          "echo \"$*\" >> " + calls + "\n[ \"$1\" = status ] && echo 'Status: inactive'\nexit 0\n",
	})
	out := run(t, script(t, c, "w1"), bin)
	log, _ := os.ReadFile(calls)
	if strings.TrimSpace(string(log)) != "status" || !strings.Contains(out, "no active firewalld or ufw") {
		t.Errorf("calls:\n%s\noutput:\n%s", log, out)
	}
}

// TestUFW: with ufw active the same ports are allowed in ufw's spelling.
func TestUFW(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(""))
	calls := filepath.Join(t.TempDir(), "calls")
	bin := fakeBin(t, map[string]string{
		"systemctl": "exit 3\n",
		"ufw":       "echo \"$*\" >> " + calls + "\n[ \"$1\" = status ] && echo 'Status: active'\nexit 0\n",
	})
	run(t, script(t, c, "cp1"), bin)
	log, _ := os.ReadFile(calls)
	for _, want := range []string{"allow 6443/tcp\n", "allow 30000:32767/udp\n", "allow from 10.233.64.0/18\n", "route allow to 10.233.0.0/18\n"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("ufw calls lack %q:\n%s", want, log)
		}
	}
}

// TestUnitVerifies: systemd itself loads ksgen-firewall.service with its
// script (`systemd-analyze verify`, any output a finding).
func TestUnitVerifies(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, rhel)
	_, rendered := plantest.Render(t, c, "cp1", firewall.Render)
	files, modes := map[string][]byte{}, map[string]os.FileMode{}
	for p, f := range rendered {
		files[p], modes[p] = f.Content, f.Mode.Perm()
	}
	err := consumers.VerifyUnits(files, modes, firewall.Unit)
	if consumers.IsMissing(err) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
