// Package kubelet renders the kubelet unit and kubeadm's drop-in for it, with
// the node's IP and name fixed so kubelet never guesses them.
package kubelet

import (
	"fmt"

	"github.com/ksgen/ksgen/generator/payload"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

type unitData struct {
	BinDir string
	NodeIP string
	Name   string
}

// Render adds kubelet.service and its 10-kubeadm.conf drop-in to p.
func Render(_ *plan.Cluster, n *plan.Node, p *payload.Node) error {
	if !n.Kubelet {
		return nil
	}
	d := unitData{BinDir: images.BinDir(n.OS), NodeIP: n.NodeIP(), Name: n.Name}
	unit, err := templates.Execute("kubelet.service.tmpl", d)
	if err != nil {
		return fmt.Errorf("kubelet unit: %w", err)
	}
	dropIn, err := templates.Execute("10-kubeadm.conf.tmpl", d)
	if err != nil {
		return fmt.Errorf("kubelet drop-in: %w", err)
	}
	p.AddUnit(payload.Unit{
		Name:     "kubelet.service",
		Enabled:  true,
		Contents: string(unit),
		DropIns:  []payload.DropIn{{Name: "10-kubeadm.conf", Contents: string(dropIn)}},
	})
	return nil
}
