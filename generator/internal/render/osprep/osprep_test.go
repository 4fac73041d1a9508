package osprep_test

import (
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
