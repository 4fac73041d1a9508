package kubelet

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

type unitData struct {
	BinDir string
	NodeIP string
	Name   string
}

// Render adds kubelet.service and its 10-kubeadm.conf drop-in to p, or on
// a node that runs no kubeadm the standalone drop-in and configuration.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if !n.Kubelet {
		return nil
	}
	if n.Action == plan.None {
		return standalone(c, n, p)
	}
	d := unitData{BinDir: images.BinDir(n.OS), NodeIP: n.NodeIP(), Name: n.Name}
	unit, err := unitFor(c, d.BinDir)
	if err != nil {
		return err
	}
	dropIn, err := templates.Execute("10-kubeadm.conf.tmpl", d)
	if err != nil {
		return fmt.Errorf("kubelet drop-in: %w", err)
	}
	p.AddUnit(fileset.Unit{
		Name:     "kubelet.service",
		Enabled:  true,
		Contents: string(unit),
		DropIns:  []fileset.DropIn{{Name: "10-kubeadm.conf", Contents: string(dropIn)}},
	})
	return nil
}

// Standalone kubelet paths.
const (
	StandaloneConfig = "/etc/kubernetes/kubelet-standalone.yaml"
	ManifestDir      = "/etc/kubernetes/manifests"
)

// Kubelet versions that moved the runtime endpoint into the configuration
// file (v1.27) and dropped dockershim, the default runtime before (v1.24).
var (
	runtimeEndpointInConfigSince = version.MustParseSemantic("v1.27.0")
	remoteRuntimeOnlySince       = version.MustParseSemantic("v1.24.0")
)

// standaloneConfig is the data of kubelet-standalone.yaml.tmpl.
type standaloneConfig struct {
	StaticPodPath, RuntimeEndpoint string
	RuntimeEndpointInConfig        bool
}

// standaloneDropIn is the data of 10-standalone.conf.tmpl.
type standaloneDropIn struct {
	BinDir, Config, NodeIP, Name string
	Flags                        []string
}

// standalone runs kubelet without an API server: it starts the static pods
// in ManifestDir (keepalived and HAProxy on a load balancer), so that every
// OS runs them the same way, from the image's containerd and kubelet.
func standalone(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	endpoint := c.CRISocket
	inConfig := c.Version.AtLeast(runtimeEndpointInConfigSince)
	cfg, err := templates.Execute("kubelet-standalone.yaml.tmpl", standaloneConfig{
		StaticPodPath:           ManifestDir,
		RuntimeEndpoint:         endpoint,
		RuntimeEndpointInConfig: inConfig,
	})
	if err != nil {
		return fmt.Errorf("standalone kubelet config: %w", err)
	}
	var flags []string
	if !inConfig {
		flags = append(flags, "--container-runtime-endpoint="+endpoint)
	}
	if !c.Version.AtLeast(remoteRuntimeOnlySince) {
		flags = append(flags, "--container-runtime=remote")
	}
	d := unitData{BinDir: images.BinDir(n.OS), NodeIP: n.NodeIP(), Name: n.Name}
	unit, err := unitFor(c, d.BinDir)
	if err != nil {
		return err
	}
	dropIn, err := templates.Execute("10-standalone.conf.tmpl", standaloneDropIn{
		BinDir: d.BinDir, Config: StandaloneConfig, NodeIP: d.NodeIP, Name: d.Name, Flags: flags,
	})
	if err != nil {
		return fmt.Errorf("standalone kubelet drop-in: %w", err)
	}
	p.AddFile(fileset.File{Path: StandaloneConfig, Mode: fileset.ModePublic, Content: cfg})
	p.AddUnit(fileset.Unit{
		Name:     "kubelet.service",
		Enabled:  true,
		Contents: string(unit),
		DropIns:  []fileset.DropIn{{Name: "10-standalone.conf", Contents: string(dropIn)}},
	})
	return nil
}

// unitFor is kubelet.service for a binary directory; it is the same on every
// node of an OS, so it is rendered once per cluster.
func unitFor(c *plan.Cluster, binDir string) ([]byte, error) {
	return plan.Shared(c, unitData{BinDir: binDir}, func(d unitData) ([]byte, error) {
		unit, err := templates.Execute("kubelet.service.tmpl", d)
		if err != nil {
			return nil, fmt.Errorf("kubelet unit: %w", err)
		}
		return unit, nil
	})
}
