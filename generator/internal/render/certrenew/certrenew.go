package certrenew

import (
	"fmt"
	"net"
	"strconv"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// Paths and units on control planes.
const (
	Script  = firstboot.Dir + "/renew-certs"
	Service = "ksgen-renew-certs.service"
	Timer   = "ksgen-renew-certs.timer"
	// DefaultDays is KubeKey's threshold: renew when fewer days remain.
	DefaultDays = 30
	// KubeDir is where kubeadm keeps its kubeconfigs and, under pki, its
	// certificates.
	KubeDir = "/etc/kubernetes"
)

// ScriptData is what renew-certs.sh.tmpl prints.
type ScriptData struct {
	BinDir string
	Days   int
	// Renewed are the files `kubeadm certs renew all` renews on this node,
	// by absolute path: certificates, and kubeconfigs whose client
	// certificate is embedded. The script skips those that do not exist
	// (super-admin.conf is on the init node only, from v1.29).
	Renewed []string
	// Watched are certificates no node can renew (etcd's, issued by ksgen
	// from a CA key that stays in the bundle, or the user's): the script
	// fails when one of them is within the threshold.
	Watched []string
	// Containers are restarted after a renewal so they load the new files.
	Containers []string
	// APIServer is this node's kube-apiserver, host:port, whose serving
	// certificate the script compares with the renewed one.
	APIServer    string
	APIServerPKI string // kube-apiserver's serving certificate file
	AdminConf    string
	RootHome     string
}

// UnitData is what the service and timer templates print.
type UnitData struct {
	Script   string
	Service  string
	Calendar string // systemd OnCalendar
	Guard    string // the unit runs only when this file exists
}

// Render adds the renewal script, its service and its timer to control
// planes when spec.kubernetes.autoRenewCerts is not false.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if !n.ControlPlane || n.Action == plan.None || !c.AutoRenewCerts {
		return nil
	}
	script, err := templates.Execute("renew-certs.sh.tmpl", scriptData(c, n))
	if err != nil {
		return fmt.Errorf("renew-certs script: %w", err)
	}
	u := UnitData{Script: Script, Service: Service, Calendar: calendar(c, n), Guard: KubeDir + "/admin.conf"}
	service, err := templates.Execute("ksgen-renew-certs.service.tmpl", u)
	if err != nil {
		return fmt.Errorf("%s: %w", Service, err)
	}
	timer, err := templates.Execute("ksgen-renew-certs.timer.tmpl", u)
	if err != nil {
		return fmt.Errorf("%s: %w", Timer, err)
	}
	p.AddFile(fileset.File{Path: Script, Mode: fileset.ModeExec, Content: script})
	p.AddUnit(fileset.Unit{Name: Service, Contents: string(service)})
	p.AddUnit(fileset.Unit{Name: Timer, Enabled: true, Contents: string(timer)})
	return nil
}

// scriptData lists, for control plane n, what kubeadm renews (kubeadm's
// renewal manager, cmd/kubeadm/app/phases/certs/renewal/manager.go: the
// apiserver, apiserver-kubelet-client and front-proxy-client certificates,
// the stacked etcd ones, and the admin, super-admin, controller-manager and
// scheduler kubeconfigs; kubelet.conf points at the kubelet's own rotating
// certificate), what it cannot renew, and what to restart.
func scriptData(c *plan.Cluster, n *plan.Node) ScriptData {
	pki := KubeDir + "/pki/"
	d := ScriptData{
		BinDir:       images.BinDir(n.OS),
		Days:         DefaultDays,
		APIServer:    net.JoinHostPort(n.IPv4, strconv.Itoa(c.APIServerPort)),
		APIServerPKI: pki + "apiserver.crt",
		AdminConf:    KubeDir + "/admin.conf",
		RootHome:     "/root",
		Containers:   []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"},
	}
	d.Renewed = []string{pki + "apiserver.crt", pki + "apiserver-kubelet-client.crt", pki + "front-proxy-client.crt"}
	switch c.Etcd.Type {
	case plan.EtcdKubeadm:
		d.Renewed = append(d.Renewed, pki+"apiserver-etcd-client.crt", pki+"etcd/server.crt", pki+"etcd/peer.crt", pki+"etcd/healthcheck-client.crt")
		// `kubeadm certs renew all` asks for etcd to be restarted too.
		d.Containers = append(d.Containers, "etcd")
	case plan.EtcdKubeKey:
		d.Watched = append(d.Watched, c.Etcd.CertFile)
		if n.Etcd {
			d.Watched = append(d.Watched, plan.EtcdMemberCert(n.Name))
		}
	case plan.EtcdExternal:
		if c.Etcd.CertFile != "" {
			d.Watched = append(d.Watched, c.Etcd.CertFile)
		}
	}
	for _, conf := range []string{"admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"} {
		d.Renewed = append(d.Renewed, KubeDir+"/"+conf)
	}
	if n.LocalLB == plan.LocalKubeVip {
		// kube-vip reads admin.conf (super-admin.conf on a v1.29+ init
		// node) once, as it starts.
		d.Containers = append(d.Containers, "kube-vip")
	}
	return d
}

// calendar is KubeKey's weekly Monday 03:00 (cmd/kk/pkg/certs/templates/
// certs_renew_service.go), staggered by ten minutes per control plane: the
// control planes were set up together, so their certificates come due in
// the same week, and restarting every kube-apiserver (and stacked etcd
// member) at the same minute would take the API down.
func calendar(c *plan.Cluster, n *plan.Node) string {
	i := 0
	for j, cp := range c.ControlPlanes {
		if cp.Name == n.Name {
			i = j
		}
	}
	minutes := 3*60 + 10*i
	return fmt.Sprintf("Mon *-*-* %02d:%02d:00", minutes/60%24, minutes%60)
}
