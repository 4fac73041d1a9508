// Package bootstrap renders the first-boot script and the oneshot unit that
// runs it once: kubeadm init on the first control plane, join elsewhere.
package bootstrap

import (
	"fmt"

	"github.com/ksgen/ksgen/generator/payload"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// Paths on the node.
const (
	Script = "/opt/ksgen/bootstrap.sh"
	Marker = "/var/lib/ksgen/bootstrapped"
	Unit   = "ksgen-bootstrap.service"
)

type scriptData struct {
	Node            string
	Action          plan.Action
	Endpoint        string
	CRISocket       string
	BinDir          string
	Timezone        string
	Flags           []string
	AdminKubeconfig bool
}

// Render adds the bootstrap script and its unit to p. Nodes that run no
// kubeadm (etcd-only, load balancers) get neither.
func Render(c *plan.Cluster, n *plan.Node, p *payload.Node) error {
	if n.Action == plan.None {
		return nil
	}
	script, err := templates.Execute("bootstrap.sh.tmpl", scriptData{
		Node:            n.Name,
		Action:          n.Action,
		Endpoint:        c.Endpoint.HostPort(),
		CRISocket:       c.Spec.Cluster.Spec.Kubernetes.ContainerRuntimeEndpoint,
		BinDir:          images.BinDir(n.OS),
		Timezone:        c.Spec.Cluster.Spec.System.Timezone,
		AdminKubeconfig: n.ControlPlane,
	})
	if err != nil {
		return fmt.Errorf("bootstrap script: %w", err)
	}
	unit, err := templates.Execute("ksgen-bootstrap.service.tmpl", map[string]any{"Action": n.Action, "Script": Script, "Marker": Marker})
	if err != nil {
		return fmt.Errorf("bootstrap unit: %w", err)
	}
	p.AddFile(payload.File{Path: Script, Mode: payload.ModeExec, Content: script})
	p.AddUnit(payload.Unit{Name: Unit, Enabled: true, Contents: string(unit)})
	return nil
}
