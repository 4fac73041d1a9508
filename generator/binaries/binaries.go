// Package binaries adds the files a node downloads at first boot when the
// ksgen document says binaries are not baked into the image: each is fetched
// from its pinned URL and refused unless its sha256 matches.
package binaries

import (
	"github.com/ksgen/ksgen/generator/payload"
	"github.com/ksgen/ksgen/generator/plan"
)

// Render adds the downloads to nodes that run kubelet.
func Render(c *plan.Cluster, n *plan.Node, p *payload.Node) error {
	b := c.Spec.Config.Spec.Binaries
	if b.Source != "download" || !n.Kubelet {
		return nil
	}
	for _, d := range b.Downloads {
		p.AddFile(payload.File{Path: d.Path, Mode: payload.ModeExec, Source: d.URL, SHA256: d.SHA256})
	}
	return nil
}
