package lb

import (
	"fmt"
	"path"
	"strings"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// KeepalivedConfig is the data of keepalived.conf.tmpl.
type KeepalivedConfig struct {
	RouterID        string
	Instance        string
	State           string // MASTER or BACKUP
	Interface       string
	VirtualRouterID int
	Priority        int
	SourceIP        string
	Peers           []string
	VIP             string // address/prefix
	// Check names the vrrp_script that checks the local proxy, CheckScript
	// is its path in the container.
	Check       string
	CheckScript string
}

// keepalivedMount is where the keepalived container sees KeepalivedConfigDir.
const keepalivedMount = "/etc/keepalived"

// checkScript is the file name of the track script that checks proxy.
func checkScript(proxy string) string { return "check-" + proxy + ".sh" }

// masterPriority is the VRRP priority of the first load balancer; each
// next one gets one less. 255 is reserved for the address owner.
const masterPriority = 150

// LoadBalancerConfig is the proxy config of the keepalived + HAProxy nodes:
// the VIP's endpoint port to every control plane's apiserver, and each
// forwarded port to every worker (to every control plane when the cluster
// has no workers: NodePorts answer on every node).
func LoadBalancerConfig(c *plan.Cluster) ProxyConfig {
	vip := hostPort(c.Endpoint.Address)
	cfg := ProxyConfig{
		HealthBind: fmt.Sprintf("127.0.0.1:%d", HealthPort),
		Frontends:  []Frontend{APIServerFrontend(c, fmt.Sprintf("%s:%d", vip, c.Endpoint.Port))},
	}
	var targets []*plan.Node
	for _, n := range c.Nodes {
		if n.Worker {
			targets = append(targets, n)
		}
	}
	if len(targets) == 0 {
		targets = c.ControlPlanes
	}
	for _, port := range c.Endpoint.Ports {
		target := port.TargetPort
		if target == 0 {
			target = port.Port
		}
		f := Frontend{Name: port.Name, Bind: fmt.Sprintf("%s:%d", vip, port.Port), Balance: "roundrobin"}
		for _, n := range targets {
			f.Servers = append(f.Servers, Server{Name: n.Name, Address: fmt.Sprintf("%s:%d", hostPort(n.IPv4), target)})
		}
		cfg.Frontends = append(cfg.Frontends, f)
	}
	return cfg
}

// Keepalived is keepalived.conf's data for load balancer n: VRRP unicast
// to the other load balancers, MASTER for the first, BACKUP with
// descending priority for the others.
func Keepalived(c *plan.Cluster, n *plan.Node) KeepalivedConfig {
	proxy := c.Endpoint.Proxy
	k := KeepalivedConfig{
		RouterID:        n.Name,
		Instance:        "ksgen_apiserver",
		State:           "BACKUP",
		Interface:       n.Settings.Interface,
		VirtualRouterID: c.VirtualRouterID,
		SourceIP:        n.IPv4,
		VIP:             c.Endpoint.Address + "/32",
		Check:           "check_" + proxy,
		CheckScript:     keepalivedMount + "/" + checkScript(proxy),
	}
	if k.Interface == "" {
		k.Interface = DefaultInterface
	}
	for i, lb := range c.LoadBalancers {
		if lb == n {
			k.Priority = max(masterPriority-i, 1)
			if i == 0 {
				k.State = "MASTER"
			}
			continue
		}
		k.Peers = append(k.Peers, lb.IPv4)
	}
	return k
}

// keepalivedPair serves the VIP from this node: keepalived holds it while
// the local HAProxy (or nginx) answers, and the proxy on the VIP forwards
// the API to the control planes and the other ports to the workers. Both
// are static pods
// (a standalone kubelet runs them on load-balancer hosts, see package
// kubelet), so every OS runs them the same way. A kubelet drop-in runs
// LBPrep first: non-local binds, and keepalived's interface.
func keepalivedPair(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if strings.Contains(c.Endpoint.Address, ":") {
		return fmt.Errorf("keepalived: VIP %s: only IPv4 VIPs are supported", c.Endpoint.Address)
	}
	files, err := proxyFiles(c, LoadBalancerConfig(c), true)
	if err != nil {
		return err
	}
	for _, f := range files {
		p.AddFile(f)
	}

	k := Keepalived(c, n)
	conf, err := templates.Execute("keepalived.conf.tmpl", k)
	if err != nil {
		return fmt.Errorf("keepalived.conf: %w", err)
	}
	check, err := templates.Execute("keepalived-check.sh.tmpl", keepalivedCheck{HealthBind: fmt.Sprintf("127.0.0.1:%d", HealthPort)})
	if err != nil {
		return fmt.Errorf("keepalived track script: %w", err)
	}
	kpod, err := encodePod(keepalivedPod(c.Image(images.KeepalivedImage), KeepalivedConfigDir, checksum(conf, check)))
	if err != nil {
		return err
	}
	prep, err := templates.Execute("lb-prep.sh.tmpl", lbPrep{
		Conf:      KeepalivedConfigDir + "/keepalived.conf",
		Detect:    n.Settings.Interface == "",
		Interface: k.Interface,
		IP:        n.IPv4,
	})
	if err != nil {
		return fmt.Errorf("lb-prep script: %w", err)
	}
	p.AddFile(fileset.File{Path: KeepalivedConfigDir + "/keepalived.conf", Mode: fileset.ModePublic, Content: conf})
	p.AddFile(fileset.File{Path: KeepalivedConfigDir + "/" + path.Base(k.CheckScript), Mode: fileset.ModeExec, Content: check})
	p.AddFile(fileset.File{Path: ManifestDir + "/keepalived.yaml", Mode: fileset.ModeSecret, Content: kpod})
	p.AddFile(fileset.File{Path: LBPrep, Mode: fileset.ModeExec, Content: prep})
	p.AddFile(fileset.File{Path: NonLocalBindSysctl, Mode: fileset.ModePublic, Content: []byte("net.ipv4.ip_nonlocal_bind = 1\n")})
	p.AddUnit(fileset.Unit{Name: "kubelet.service", DropIns: []fileset.DropIn{{
		Name:     "20-ksgen-loadbalancer.conf",
		Contents: "[Service]\nExecStartPre=-" + LBPrep + "\n",
	}}})
	return nil
}

// keepalivedCheck is the data of keepalived-check.sh.tmpl.
type keepalivedCheck struct{ HealthBind string }

// lbPrep is the data of lb-prep.sh.tmpl.
type lbPrep struct {
	Conf, Interface, IP string
	Detect              bool
}
