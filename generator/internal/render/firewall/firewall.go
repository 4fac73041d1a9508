package firewall

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/templates"
)

// Paths on the node.
const (
	Script = firstboot.Dir + "/firewall"
	Unit   = "ksgen-firewall.service"
)

// Port is a port or range ("30000-32767") and its protocol.
type Port struct {
	Port, Proto string
}

// Rules are what one node's firewall lets in: ports, IP protocols by
// number (IP-in-IP 4, VRRP 112), and the pod and service networks, whose
// packets reach host services (kubelet, NodeLocalDNS, node ports) from pods.
type Rules struct {
	Ports     []Port
	Protocols []string
	Sources   []string
}

// Protocol numbers (IANA).
const (
	protoIPIP = "4"
	protoVRRP = "112"
)

// For is the node's rules, sorted and deduplicated.
func For(c *plan.Cluster, n *plan.Node) Rules {
	var r Rules
	tcp := func(ports ...int) {
		for _, p := range ports {
			r.Ports = append(r.Ports, Port{strconv.Itoa(p), "tcp"})
		}
	}
	if n.Action != plan.None {
		// kubelet's API: logs, exec, metrics. A load balancer's standalone
		// kubelet listens on 127.0.0.1 only.
		tcp(10250)
		// Services of type NodePort (ks-console's 30880 among them) on every node.
		r.Ports = append(r.Ports, Port{"30000-32767", "tcp"}, Port{"30000-32767", "udp"})
		if c.KubeProxy {
			tcp(10256) // kube-proxy's health check, for load balancers
		}
		r.cni(c.CNI, c.Calico.IPIPMode)
		r.Sources = append(r.Sources, splitCIDRs(c.PodCIDR)...)
		r.Sources = append(r.Sources, splitCIDRs(c.ServiceCIDR)...)
	}
	if n.ControlPlane {
		// kube-apiserver, and kube-controller-manager and kube-scheduler,
		// which ksgen binds to every address for KubeSphere's monitoring.
		tcp(c.APIServerPort, 10257, 10259)
		if c.Etcd.Type == plan.EtcdKubeadm {
			tcp(2379, 2380)
		}
	}
	if n.Etcd && c.Etcd.Type == plan.EtcdKubeKey {
		tcp(c.Etcd.Port, c.Etcd.PeerPort)
	}
	if slices.Contains(c.LoadBalancers, n) {
		tcp(c.Endpoint.Port)
		for _, p := range c.Endpoint.Ports {
			tcp(p.Port)
		}
		r.Protocols = append(r.Protocols, protoVRRP)
	}
	slices.SortFunc(r.Ports, func(a, b Port) int {
		return cmp.Or(cmp.Compare(portStart(a.Port), portStart(b.Port)), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Proto, b.Proto))
	})
	r.Ports = slices.Compact(r.Ports)
	slices.Sort(r.Protocols)
	r.Protocols = slices.Compact(r.Protocols)
	return r
}

// cni adds what the CNI's agents exchange between nodes.
func (r *Rules) cni(plugin, ipipMode string) {
	add := func(port int, proto string) { r.Ports = append(r.Ports, Port{strconv.Itoa(port), proto}) }
	switch plugin {
	case "calico":
		add(179, "tcp")  // BGP between calico-node agents
		add(4789, "udp") // VXLAN
		add(5473, "tcp") // Typha, which the Tigera operator runs
		if ipipMode != "Never" {
			r.Protocols = append(r.Protocols, protoIPIP)
		}
	case "flannel":
		add(8472, "udp")  // flannel's VXLAN port on Linux
		add(51820, "udp") // the wireguard backends
		add(51821, "udp")
	case "cilium":
		add(8472, "udp") // VXLAN
		add(4240, "tcp") // health checks between agents
		add(4244, "tcp") // Hubble
	}
}

func portStart(p string) int {
	n, _ := strconv.Atoi(strings.Split(p, "-")[0])
	return n
}

func splitCIDRs(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// scriptData is the data of firewall.sh.tmpl: space-separated lists in
// firewall-cmd's spelling (ufw's ranges take a colon; the script swaps it).
type scriptData struct {
	Ports, Protocols, Sources string
}

type unitData struct{ Script string }

// Render adds the firewall script and its unit to p.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	r := For(c, n)
	ports := make([]string, len(r.Ports))
	for i, port := range r.Ports {
		ports[i] = port.Port + "/" + port.Proto
	}
	d := scriptData{Ports: strings.Join(ports, " "), Protocols: strings.Join(r.Protocols, " "), Sources: strings.Join(r.Sources, " ")}
	script, err := plan.Shared(c, d, func(d scriptData) ([]byte, error) {
		return templates.Execute("firewall.sh.tmpl", d)
	})
	if err != nil {
		return fmt.Errorf("firewall script: %w", err)
	}
	unit, err := plan.Shared(c, unitData{Script: Script}, func(d unitData) ([]byte, error) {
		return templates.Execute("ksgen-firewall.service.tmpl", d)
	})
	if err != nil {
		return fmt.Errorf("firewall unit: %w", err)
	}
	p.AddFile(fileset.File{Path: Script, Mode: fileset.ModeExec, Content: script})
	p.AddUnit(fileset.Unit{Name: Unit, Enabled: true, Contents: string(unit)})
	return nil
}
