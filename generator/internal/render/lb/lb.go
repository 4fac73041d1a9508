package lb

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// Paths on the node.
const (
	ManifestDir      = "/etc/kubernetes/manifests"
	HAProxyConfigDir = "/etc/kubekey/haproxy"
	NginxConfigDir   = "/etc/kubekey/nginx" // the nginx container sees it at the same path
	EndpointScript   = firstboot.Dir + "/apiserver-endpoint"
	// HealthPort serves the proxy's own /healthz (HAProxy's or nginx's) for
	// the pod's probes and keepalived's track script.
	HealthPort = 8081
	// KeepalivedConfigDir holds keepalived.conf and its track script on
	// the host; the keepalived container sees it at /etc/keepalived.
	KeepalivedConfigDir = "/etc/kubekey/keepalived"
	// LBPrep runs before kubelet on keepalived + HAProxy nodes.
	LBPrep = firstboot.Dir + "/lb-prep"
	// DefaultInterface is keepalived's interface when the ksgen document
	// names none and LBPrep finds no interface with the node's address.
	DefaultInterface = "eth0"
	// NonLocalBindSysctl lets HAProxy bind the VIP where keepalived does not hold it.
	NonLocalBindSysctl = "/etc/sysctl.d/90-ksgen-loadbalancer.conf"
)

// ProxyConfig is the data of haproxy.cfg.tmpl and of nginx.conf.tmpl:
// a frontend is an nginx stream server and its upstream.
type ProxyConfig struct {
	HealthBind string
	Frontends  []Frontend
}

// Frontend is one TCP listener and its backend.
type Frontend struct {
	Name     string
	Bind     string
	Balance  string
	TLSCheck bool // health-check servers with a TLS GET /healthz (apiservers)
	Servers  []Server
}

// Server is one backend server.
type Server struct {
	Name    string
	Address string
}

// Render adds the node's load balancer, if it runs one, to p.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if c.Endpoint.Mode == plan.LBInternal && n.Action == plan.JoinControlPlane {
		return joiningControlPlane(c, n, p)
	}
	if c.Endpoint.Mode == plan.LBInternal && n.Action == plan.Init && c.KubeProxy {
		return kubeProxyLocal(c, n, p)
	}
	switch n.LocalLB {
	case plan.LocalProxy:
		return internalLB(c, p)
	case plan.LocalKubeVip:
		return kubeVip(c, n, p)
	case plan.LocalKeepalived:
		return keepalivedPair(c, n, p)
	}
	return nil
}

// APIServerFrontend balances listen over every control plane's apiserver.
func APIServerFrontend(c *plan.Cluster, listen string) Frontend {
	f := Frontend{Name: "kube-apiserver", Bind: listen, Balance: "roundrobin", TLSCheck: true}
	for _, cp := range c.ControlPlanes {
		f.Servers = append(f.Servers, Server{Name: cp.Name, Address: fmt.Sprintf("%s:%d", hostPort(cp.IPv4), c.APIServerPort)})
	}
	return f
}

func hostPort(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]"
	}
	return ip
}

// internalLB is KubeKey's internal load balancer: HAProxy (or nginx) on
// 127.0.0.1:port as a static pod, and the hooks that get the node to it at
// first boot (see apiserver-endpoint.sh.tmpl).
func internalLB(c *plan.Cluster, p *fileset.Set) error {
	// Every worker gets the same files: render them once per cluster.
	files, err := plan.Shared(c, sharedInternalLB{}, func(sharedInternalLB) ([]fileset.File, error) { return internalLBFiles(c) })
	if err != nil {
		return err
	}
	for _, f := range files {
		p.AddFile(f)
	}
	return nil
}

// sharedInternalLB keys internalLBFiles, which depends on the cluster alone;
// endpointMode keys renderEndpointScript.
type sharedInternalLB struct{}

func internalLBFiles(c *plan.Cluster) ([]fileset.File, error) {
	port := c.Endpoint.Port
	files, err := proxyFiles(c, ProxyConfig{
		HealthBind: fmt.Sprintf("127.0.0.1:%d", HealthPort),
		Frontends:  []Frontend{APIServerFrontend(c, fmt.Sprintf("127.0.0.1:%d", port))},
	}, false)
	if err != nil {
		return nil, err
	}
	script, err := endpointScript(c, endpointLocal)
	if err != nil {
		return nil, err
	}
	direct, err := firstboot.Exec(firstboot.APIServerDirect, EndpointScript, "direct")
	if err != nil {
		return nil, err
	}
	local, err := firstboot.Exec(firstboot.APIServerLocal, EndpointScript, "local")
	if err != nil {
		return nil, err
	}
	return append(files, script, direct, local), nil
}

// KubeProxyScript points kube-proxy at 127.0.0.1 (kube-proxy-local.sh.tmpl).
const KubeProxyScript = firstboot.Dir + "/kube-proxy-local"

// kubeProxyLocal gives the init node the post step that points kube-proxy
// at 127.0.0.1:port, where every node serves the API with the internal LB.
func kubeProxyLocal(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	script, err := templates.Execute("kube-proxy-local.sh.tmpl", kubeProxyData{
		BinDir: images.BinDir(n.OS),
		Server: fmt.Sprintf("https://127.0.0.1:%d", c.APIServerPort),
	})
	if err != nil {
		return fmt.Errorf("kube-proxy-local script: %w", err)
	}
	hook, err := firstboot.Exec(firstboot.KubeProxyLocal, KubeProxyScript)
	if err != nil {
		return err
	}
	p.AddFile(fileset.File{Path: KubeProxyScript, Mode: fileset.ModeExec, Content: script})
	p.AddFile(hook)
	return nil
}

type kubeProxyData struct{ BinDir, Server string }

// joiningControlPlane gets a control plane that joins in the internal
// HAProxy mode to the API: its /etc/hosts names its own apiserver, which
// only runs once it has joined, so it joins through the first control plane
// that answers and points the domain at itself afterwards.
func joiningControlPlane(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	script, err := endpointScript(c, endpointOwn)
	if err != nil {
		return err
	}
	direct, err := firstboot.Exec(firstboot.APIServerDirect, EndpointScript, "direct")
	if err != nil {
		return err
	}
	own, err := firstboot.Exec(firstboot.APIServerOwn, EndpointScript, "own", n.IPv4)
	if err != nil {
		return err
	}
	p.AddFile(script)
	p.AddFile(direct)
	p.AddFile(own)
	return nil
}

// endpointMode is where a node points the domain once it has joined, after
// direct: endpointLocal on workers, endpointOwn on joining control planes.
// Each node's script carries direct and its own mode only.
type endpointMode string

const (
	endpointLocal endpointMode = "local"
	endpointOwn   endpointMode = "own"
)

// endpointScript is apiserver-endpoint.sh.tmpl for the cluster and mode,
// rendered once for the workers and once for the joining control planes.
func endpointScript(c *plan.Cluster, mode endpointMode) (fileset.File, error) {
	return plan.Shared(c, mode, func(mode endpointMode) (fileset.File, error) { return renderEndpointScript(c, mode) })
}

func renderEndpointScript(c *plan.Cluster, mode endpointMode) (fileset.File, error) {
	var cps []string
	for _, cp := range c.ControlPlanes {
		cps = append(cps, cp.IPv4)
	}
	script, err := templates.Execute("apiserver-endpoint.sh.tmpl", endpointData{
		Domain:        c.Endpoint.Domain,
		DomainPattern: regexp.QuoteMeta(c.Endpoint.Domain),
		Port:          c.Endpoint.Port,
		APIPort:       c.APIServerPort,
		ControlPlanes: cps,
		Proxy:         proxyLabel(c),
		Mode:          string(mode),
	})
	if err != nil {
		return fileset.File{}, fmt.Errorf("apiserver-endpoint script: %w", err)
	}
	return fileset.File{Path: EndpointScript, Mode: fileset.ModeExec, Content: script}, nil
}

// proxyFiles are the config and static pod of the proxy the ksgen
// document selects, for cfg. root is for ports below 1024 (see haproxyPod).
func proxyFiles(c *plan.Cluster, cfg ProxyConfig, root bool) ([]fileset.File, error) {
	if c.Endpoint.Proxy == plan.ProxyNginx {
		return nginxFiles(c, cfg)
	}
	text, err := templates.Execute("haproxy.cfg.tmpl", cfg)
	if err != nil {
		return nil, fmt.Errorf("haproxy.cfg: %w", err)
	}
	pod, err := encodePod(haproxyPod(c.Image(images.HAProxyImage), HAProxyConfigDir, checksum(text), root))
	if err != nil {
		return nil, err
	}
	return []fileset.File{
		{Path: HAProxyConfigDir + "/haproxy.cfg", Mode: fileset.ModePublic, Content: text},
		{Path: ManifestDir + "/haproxy.yaml", Mode: fileset.ModeSecret, Content: pod},
	}, nil
}

// proxyLabel is the selected proxy's name as the scripts' messages write it.
func proxyLabel(c *plan.Cluster) string {
	if c.Endpoint.Proxy == plan.ProxyNginx {
		return "nginx"
	}
	return "HAProxy"
}

// nginxFiles are nginx.conf and nginx's static pod. nginx's master runs as
// root in every case, as the official image does.
func nginxFiles(c *plan.Cluster, cfg ProxyConfig) ([]fileset.File, error) {
	text, err := templates.Execute("nginx.conf.tmpl", cfg)
	if err != nil {
		return nil, fmt.Errorf("nginx.conf: %w", err)
	}
	pod, err := encodePod(nginxPod(c.Image(images.NginxImage), NginxConfigDir, checksum(text)))
	if err != nil {
		return nil, err
	}
	return []fileset.File{
		{Path: NginxConfigDir + "/nginx.conf", Mode: fileset.ModePublic, Content: text},
		{Path: ManifestDir + "/nginx.yaml", Mode: fileset.ModeSecret, Content: pod},
	}, nil
}

// checksum is the config-checksum annotation of a static pod: a changed
// config changes the manifest, so kubelet restarts the pod.
func checksum(parts ...[]byte) string {
	h := sha256.New()
	for _, b := range parts {
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// superAdminSince is the first Kubernetes version whose admin.conf is only
// authorised through RBAC that does not exist until init has finished;
// kube-vip on the init node needs super-admin.conf meanwhile.
var superAdminSince = version.MustParseSemantic("v1.29.0")

// kubeVip runs kube-vip on a control plane: it announces the VIP (ARP by
// default, or BGP to the other control planes) to whichever control plane
// holds the lease.
func kubeVip(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	kubeconfig := "/etc/kubernetes/admin.conf"
	superAdmin := n.Action == plan.Init && c.Version.AtLeast(superAdminSince)
	if superAdmin {
		kubeconfig = "/etc/kubernetes/super-admin.conf"
	}
	var peers []string
	for _, cp := range c.ControlPlanes {
		if cp != n {
			peers = append(peers, cp.IPv4+":65000::false")
		}
	}
	cidr := "32"
	if strings.Contains(c.Endpoint.Address, ":") {
		cidr = "128"
	}
	pod, err := encodePod(kubeVipPod(kubeVipSettings{
		Image:      c.Image(images.KubeVipImage),
		VIP:        c.Endpoint.Address,
		Port:       c.Endpoint.Port,
		Interface:  n.Settings.Interface,
		CIDR:       cidr,
		BGP:        c.Endpoint.KubeVipBGP,
		NodeIP:     n.IPv4,
		BGPPeers:   strings.Join(peers, ","),
		Kubeconfig: kubeconfig,
	}))
	if err != nil {
		return err
	}
	p.AddFile(fileset.File{Path: ManifestDir + "/kube-vip.yaml", Mode: fileset.ModeSecret, Content: pod})
	if superAdmin {
		// After init, admin.conf works: stop handing kube-vip super-admin rights.
		hook, err := firstboot.Command(firstboot.KubeVipAdmin,
			"sed", "-i", "s|/etc/kubernetes/super-admin.conf|/etc/kubernetes/admin.conf|", ManifestDir+"/kube-vip.yaml")
		if err != nil {
			return err
		}
		p.AddFile(hook)
	}
	return nil
}

// endpointData is the data of apiserver-endpoint.sh.tmpl.
type endpointData struct {
	Domain, DomainPattern, Proxy string
	Mode                         string // "local" or "own", beside direct
	Port, APIPort                int
	ControlPlanes                []string
}
