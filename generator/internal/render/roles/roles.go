package roles

import (
	"fmt"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// Paths and units on control planes.
const (
	Script  = firstboot.Dir + "/node-roles"
	Service = "ksgen-node-roles.service"
	Timer   = "ksgen-node-roles.timer"
)

// Render adds the labelling script and its timer to control planes.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if !n.ControlPlane || n.Action == plan.None {
		return nil
	}
	f, err := plan.Shared(c, sharedKey{BinDir: images.BinDir(n.OS)}, func(k sharedKey) (rendered, error) { return render(c, k.BinDir) })
	if err != nil {
		return err
	}
	p.AddFile(fileset.File{Path: Script, Mode: fileset.ModeExec, Content: f.script})
	p.AddUnit(fileset.Unit{Name: Service, Contents: string(f.service)})
	p.AddUnit(fileset.Unit{Name: Timer, Enabled: true, Contents: string(f.timer)})
	return nil
}

type rendered struct{ script, service, timer []byte }

// The data of node-roles.sh.tmpl, ksgen-node-roles.service.tmpl and
// ksgen-node-roles.timer.tmpl.
type (
	scriptData struct {
		BinDir        string
		Both          []string
		ControlPlanes []string // control planes that are not workers
	}
	serviceData struct{ Script string }
	timerData   struct{ Unit string }
)

// sharedKey is what render reads beyond the cluster.
type sharedKey struct{ BinDir string }

func render(c *plan.Cluster, binDir string) (rendered, error) {
	// Hosts in both groups keep kubeadm's control-plane label, so the
	// selector misses them: they are named (a handful at most).
	// The others are never labelled workers: they register before kubeadm
	// marks them control planes.
	var both, only []string
	for _, cp := range c.ControlPlanes {
		if cp.Worker {
			both = append(both, cp.Name)
		} else {
			only = append(only, cp.Name)
		}
	}
	var r rendered
	var err error
	if r.script, err = templates.Execute("node-roles.sh.tmpl", scriptData{BinDir: binDir, Both: both, ControlPlanes: only}); err != nil {
		return r, fmt.Errorf("node-roles script: %w", err)
	}
	if r.service, err = templates.Execute("ksgen-node-roles.service.tmpl", serviceData{Script: Script}); err != nil {
		return r, fmt.Errorf("%s: %w", Service, err)
	}
	if r.timer, err = templates.Execute("ksgen-node-roles.timer.tmpl", timerData{Unit: Service}); err != nil {
		return r, fmt.Errorf("%s: %w", Timer, err)
	}
	return r, nil
}
