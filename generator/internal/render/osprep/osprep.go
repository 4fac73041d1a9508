package osprep

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
)

// modules are loaded at boot: containerd's overlay, bridge netfilter for
// kube-proxy, and the ipvs family for kube-proxy's ipvs mode.
var modules = []string{"overlay", "br_netfilter", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"}

// sysctls are what kubelet, kube-proxy (ipvs) and CNIs need on a node, then
// KubeKey's tuning for nodes with many pods, neighbours and connections
// (its initOS script, cmd/kk/pkg/bootstrap/os/templates/init_script.go), with
// KubeKey's values. Two differences: arp_announce = 2 (KubeKey leaves the
// kernel's 0, with which a node may use a VIP or a kube-ipvs0 service
// address as the source of its ARP requests), and no kernel.pid_max cap
// (KubeKey lowers it to 65535; systemd sets 4194304 on 64-bit hosts, and
// the cap limits the processes of all pods on a node). KubeKey's kernel.watchdog_thresh and
// kernel.hung_task_timeout_secs are diagnostics, not network settings, and
// its vm.overcommit_memory ends at the kernel's default 0; they are left out.
var sysctls = []string{
	"net.ipv4.ip_forward = 1",
	"net.bridge.bridge-nf-call-arptables = 1",
	"net.bridge.bridge-nf-call-iptables = 1",
	"net.bridge.bridge-nf-call-ip6tables = 1",
	"net.ipv4.ip_local_reserved_ports = 30000-32767",
	"net.ipv4.conf.all.arp_ignore = 1",
	"net.ipv4.conf.default.arp_ignore = 1",
	"net.ipv4.conf.all.arp_announce = 2",
	"net.ipv4.conf.all.arp_accept = 1",
	"net.ipv4.conf.default.arp_accept = 1",
	"net.ipv4.conf.all.rp_filter = 0",
	"net.ipv4.conf.default.rp_filter = 0",
	// Neighbour table: the kernel's 128/512/1024 overflow on nodes that
	// talk to many pods and nodes ("neighbour table overflow").
	"net.ipv4.neigh.default.gc_thresh1 = 512",
	"net.ipv4.neigh.default.gc_thresh2 = 2048",
	"net.ipv4.neigh.default.gc_thresh3 = 4096",
	// Queues and buffers for many connections.
	"net.core.somaxconn = 32768",
	"net.core.netdev_max_backlog = 65535",
	"net.core.rmem_max = 33554432",
	"net.core.wmem_max = 33554432",
	"net.ipv4.tcp_max_syn_backlog = 1048576",
	"net.ipv4.tcp_max_tw_buckets = 1048576",
	"net.ipv4.tcp_max_orphans = 65535",
	"net.ipv4.tcp_retries2 = 15",
	// Keepalives well under ipvs's 900 s idle timeout.
	"net.ipv4.tcp_keepalive_time = 600",
	"net.ipv4.tcp_keepalive_intvl = 30",
	"net.ipv4.tcp_keepalive_probes = 10",
	"net.ipv4.udp_rmem_min = 131072",
	"net.ipv4.udp_wmem_min = 131072",
	"vm.max_map_count = 262144",
	"vm.swappiness = 0",
	"fs.inotify.max_user_instances = 524288",
	"fs.inotify.max_user_watches = 524288",
	"fs.pipe-max-size = 4194304",
	"fs.aio-max-nr = 262144",
}

// Render adds the OS preparation files and users to p.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	p.AddFile(public("/etc/hostname", n.Name+"\n"))
	p.AddFile(public("/etc/hosts", Hosts(c, n)))
	s := sysctls
	if n.IPv6 != "" {
		s = append(append([]string{}, s...), "net.ipv6.conf.all.forwarding = 1")
	}
	p.AddFile(public("/etc/sysctl.d/99-kubernetes.conf", strings.Join(s, "\n")+"\n"))
	p.AddFile(public("/etc/modules-load.d/kubernetes.conf", strings.Join(modules, "\n")+"\n"))
	timeSync(c, n, p)
	network(n, p)
	users(c, n, p)
	return nil
}

func public(path, content string) fileset.File {
	return fileset.File{Path: path, Mode: fileset.ModePublic, Content: []byte(content)}
}

// Hosts is the whole /etc/hosts: localhost, this node, the control planes,
// etcd and registry hosts, the user's extra lines and the LB domain. Workers
// are left out so that no payload grows with the size of the cluster.
func Hosts(c *plan.Cluster, n *plan.Node) string {
	domain := c.DNSDomain
	var b strings.Builder
	b.WriteString("127.0.0.1 localhost localhost.localdomain\n::1 localhost localhost.localdomain ip6-localhost ip6-loopback\n\n# ksgen: cluster hosts\n")
	seen := map[string]bool{}
	line := func(h *plan.Node) {
		if seen[h.Name] {
			return
		}
		seen[h.Name] = true
		fmt.Fprintf(&b, "%s %s.%s %s\n", h.IPv4, h.Name, domain, h.Name)
		if h.IPv6 != "" {
			fmt.Fprintf(&b, "%s %s.%s %s\n", h.IPv6, h.Name, domain, h.Name)
		}
	}
	line(n)
	for _, h := range c.Infrastructure {
		line(h)
	}
	dns := c.EtcHosts
	for _, extra := range []string{dns.NodeEtcHosts, dns.DNSEtcHosts} {
		if e := strings.TrimSpace(extra); e != "" {
			b.WriteString(e + "\n")
		}
	}
	if n.EndpointIP != "" {
		fmt.Fprintf(&b, "%s %s\n", n.EndpointIP, c.Endpoint.Domain)
	}
	return b.String()
}

// timeSync points the OS's time daemon (its profile's) at system.ntpServers.
func timeSync(c *plan.Cluster, n *plan.Node, p *fileset.Set) {
	servers := c.NTPServers
	if len(servers) == 0 {
		return
	}
	prof := osprofile.Of(n.OS)
	if prof.TimeDaemon == osprofile.Timesyncd {
		p.AddFile(public("/etc/systemd/timesyncd.conf.d/ksgen.conf", "[Time]\nNTP="+strings.Join(servers, " ")+"\n"))
		return
	}
	var b strings.Builder
	b.WriteString("# ksgen: system.ntpServers\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "server %s iburst\n", s)
	}
	b.WriteString("driftfile /var/lib/chrony/drift\nmakestep 1.0 3\nrtcsync\n")
	p.AddFile(public(prof.Chrony, b.String()))
}

// users adds the ksgen document's users, and the node's keys for osprofile.LoginUser.
func users(c *plan.Cluster, n *plan.Node, p *fileset.Set) {
	admin := osprofile.Of(n.OS).AdminGroup
	core := -1
	for _, u := range c.Users {
		if u.Name == osprofile.LoginUser {
			core = len(p.Users)
		}
		p.Users = append(p.Users, fileset.User{Name: u.Name, Groups: u.Groups, SSHAuthorizedKeys: u.SSHAuthorizedKeys})
	}
	if len(n.Settings.SSHAuthorizedKeys) == 0 {
		return
	}
	if core < 0 {
		core = len(p.Users)
		p.Users = append(p.Users, fileset.User{Name: osprofile.LoginUser, Groups: []string{admin}})
	}
	// Clone: the spec's slices are shared by nodes rendered in parallel.
	p.Users[core].SSHAuthorizedKeys = append(slices.Clone(p.Users[core].SSHAuthorizedKeys), n.Settings.SSHAuthorizedKeys...)
}
