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
	// The script and unit depend only on the action and the OS: render them
	// once per kind of node.
	key := fmt.Sprintf("bootstrap/%s/%s/%t", n.Action, images.BinDir(n.OS), n.ControlPlane)
	v, err := c.Shared(key, func() (any, error) { return render(c, n) })
	if err != nil {
		return err
	}
	files := v.(rendered)
	p.AddFile(payload.File{Path: Script, Mode: payload.ModeExec, Content: files.script})
	p.AddUnit(payload.Unit{Name: Unit, Enabled: true, Contents: files.unit})
	return nil
}

type rendered struct {
	script []byte
	unit   string
}

func render(c *plan.Cluster, n *plan.Node) (rendered, error) {
	script, err := templates.Execute("bootstrap.sh.tmpl", scriptData{
		Action:          n.Action,
		Endpoint:        c.Endpoint.HostPort(),
		CRISocket:       c.Spec.Cluster.Spec.Kubernetes.ContainerRuntimeEndpoint,
		BinDir:          images.BinDir(n.OS),
		Timezone:        c.Spec.Cluster.Spec.System.Timezone,
		AdminKubeconfig: n.ControlPlane,
	})
	if err != nil {
		return rendered{}, fmt.Errorf("bootstrap script: %w", err)
	}
	unit, err := templates.Execute("ksgen-bootstrap.service.tmpl", map[string]any{"Action": n.Action, "Script": Script, "Marker": Marker})
	if err != nil {
		return rendered{}, fmt.Errorf("bootstrap unit: %w", err)
	}
	return rendered{script: script, unit: string(unit)}, nil
}
