package binaries

import (
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
)

// Render adds the downloads to nodes that run kubelet.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	b := c.Spec.Config.Spec.Binaries
	if b.Source != "download" || !n.Kubelet {
		return nil
	}
	for _, d := range b.Downloads {
		p.AddFile(fileset.File{Path: d.Path, Mode: fileset.ModeExec, Source: d.URL, SHA256: d.SHA256})
	}
	return nil
}
