// Package generator compiles a validated spec and a secrets bundle into the
// output tree: per node, the kubeadm config, the rootfs it receives and its
// encoded payloads, plus index.json. It only orchestrates; the renderers,
// encoders and the tree writer do the work.
package generator

import (
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/ksgen/ksgen/generator/binaries"
	"github.com/ksgen/ksgen/generator/bootstrap"
	"github.com/ksgen/ksgen/generator/cloudinit"
	"github.com/ksgen/ksgen/generator/containerd"
	"github.com/ksgen/ksgen/generator/ignition"
	"github.com/ksgen/ksgen/generator/kubeadm"
	"github.com/ksgen/ksgen/generator/kubelet"
	"github.com/ksgen/ksgen/generator/lb"
	"github.com/ksgen/ksgen/generator/osprep"
	"github.com/ksgen/ksgen/generator/payload"
	"github.com/ksgen/ksgen/generator/pki"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/spec"
	"github.com/ksgen/ksgen/generator/tree"
)

// Options narrow what Generate renders.
type Options struct {
	// Formats to encode: FormatIgnition, FormatCloudInit. Empty means both.
	Formats []string
	// Nodes to render by name. Empty means every node.
	Nodes []string
}

// Output formats. FormatNone renders kubeadm configs and rootfs/ only, for
// pipelines that bring their own payload format.
const (
	FormatIgnition  = "ignition"
	FormatCloudInit = "cloud-init"
	FormatNone      = "none"
)

// Formats lists every payload format.
var Formats = []string{FormatIgnition, FormatCloudInit}

// Generate renders into memory; see GenerateTo.
func Generate(s *spec.Spec, b *pki.Bundle, opts Options) (*tree.Tree, error) {
	t := &tree.Tree{}
	if err := GenerateTo(s, b, opts, t); err != nil {
		return nil, err
	}
	t.Sort()
	return t, nil
}

// GenerateTo plans the cluster and renders every selected node into out,
// node by node, so memory does not grow with the output. The files are
// byte-identical for the same spec, bundle and options.
func GenerateTo(s *spec.Spec, b *pki.Bundle, opts Options, out tree.Sink) error {
	c, err := plan.New(s)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	formats := opts.Formats
	if len(formats) == 0 {
		formats = Formats
	}
	for _, f := range formats {
		if !slices.Contains(Formats, f) && (f != FormatNone || len(formats) > 1) {
			return fmt.Errorf("unknown format %q (want %s, or %s alone)", f, strings.Join(Formats, ", "), FormatNone)
		}
	}
	nodes, err := selectNodes(c, opts.Nodes)
	if err != nil {
		return err
	}
	hash, err := b.CACertHash()
	if err != nil {
		return fmt.Errorf("secrets bundle: %w", err)
	}
	snippets, err := readSnippets(s, nodes)
	if err != nil {
		return err
	}
	cred := kubeadm.Credentials{Token: b.BootstrapToken, CACertHash: hash, KeyAlgorithm: b.KeyAlgorithm}
	if f, ok := b.EncryptionConfigFile(); ok {
		cred.EncryptionConfig = f.Path
	}
	budget, err := budgetOf(s.Config.Spec.Budget)
	if err != nil {
		return err
	}
	r := &renderer{
		cluster:  c,
		bundle:   b,
		formats:  formats,
		cred:     cred,
		snippets: snippets,
		budget:   budget,
	}
	index := make([]NodeIndex, len(nodes))
	errs := make([]error, len(nodes))
	parallel(len(nodes), func(i int) {
		res, err := r.node(nodes[i])
		for _, f := range res.files {
			if err != nil {
				break
			}
			err = out.Put(f)
		}
		index[i], errs[i] = res.index, err
	})
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("render node %s: %w", nodes[i].Name, err)
		}
	}
	idx := newIndex(c)
	idx.Nodes = index
	raw, err := idx.marshal()
	if err != nil {
		return err
	}
	return out.Put(tree.File{Path: tree.IndexFile, Mode: payload.ModePublic, Content: raw})
}

func selectNodes(c *plan.Cluster, names []string) ([]*plan.Node, error) {
	if len(names) == 0 {
		return c.Nodes, nil
	}
	var out []*plan.Node
	for _, n := range c.Nodes {
		if slices.Contains(names, n.Name) {
			out = append(out, n)
		}
	}
	for _, name := range names {
		if c.NodeByName(name) == nil {
			return nil, fmt.Errorf("--node %s: no such host with a role in the spec", name)
		}
	}
	return out, nil
}

// parallel runs fn(0..n-1) on every CPU. Callers write results by index, so
// the order of completion never shows in the output.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

type renderer struct {
	cluster  *plan.Cluster
	bundle   *pki.Bundle
	formats  []string
	cred     kubeadm.Credentials
	snippets map[string][]byte // user snippet files by path
	budget   budget
}

type nodeOutput struct {
	files []tree.File
	index NodeIndex
}

// node renders one node: its payload, then the tree files that show it.
func (r *renderer) node(n *plan.Node) (nodeOutput, error) {
	p, kcfg, err := r.payload(n)
	if err != nil {
		return nodeOutput{}, err
	}
	out := nodeOutput{index: NodeIndex{Name: n.Name, Roles: n.Roles, OS: n.OS, Action: string(n.Action)}}
	add := func(name string, mode fs.FileMode, content []byte, isPayload bool) {
		out.files = append(out.files, tree.File{Path: n.Name + "/" + name, Mode: mode, Content: content})
		out.index.Files = append(out.index.Files, describe(name, content, isPayload))
	}
	if kcfg != nil {
		add("kubeadm.yaml", payload.ModeSecret, kcfg, false)
	}
	// Payloads hold the node's secrets (token, keys): 0600 like them.
	if slices.Contains(r.formats, FormatIgnition) {
		bu, ign, err := ignition.Encode(p, ignition.Options{Variant: ignitionVariant(n.OS), Snippet: r.snippets[n.Settings.Snippets.Butane]})
		if err != nil {
			return nodeOutput{}, fmt.Errorf("ignition: %w", err)
		}
		if err := r.budget.check("config.ign", ign, false, p); err != nil {
			return nodeOutput{}, err
		}
		add("config.bu", payload.ModeSecret, bu, false)
		add("config.ign", payload.ModeSecret, ign, true)
	}
	if slices.Contains(r.formats, FormatCloudInit) {
		ud, err := cloudinit.Encode(p, cloudinit.Options{Snippet: r.snippets[n.Settings.Snippets.CloudConfig]})
		if err != nil {
			return nodeOutput{}, fmt.Errorf("cloud-init: %w", err)
		}
		if err := r.budget.check("user-data", ud, true, p); err != nil {
			return nodeOutput{}, err
		}
		add("user-data", payload.ModeSecret, ud, true)
	}
	for _, f := range append(slices.Clone(p.Files), p.UnitFiles()...) {
		if !f.Remote() { // downloaded at first boot: nothing to show
			add("rootfs"+f.Path, f.Mode, f.Content, false)
		}
	}
	return out, nil
}

// renderers fill a node's payload, in this order; each decides from the plan
// whether the node needs its part.
var renderers = []func(*plan.Cluster, *plan.Node, *payload.Node) error{
	osprep.Render,
	binaries.Render,
	containerd.Render,
	kubelet.Render,
	lb.Render,
	bootstrap.Render,
}

// payload runs every renderer for the node and returns it with the node's
// kubeadm config (nil when the node runs no kubeadm).
func (r *renderer) payload(n *plan.Node) (*payload.Node, []byte, error) {
	p := &payload.Node{Name: n.Name}
	kcfg, err := kubeadm.Render(r.cluster, n, r.cred)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeadm config: %w", err)
	}
	if kcfg != nil {
		p.AddFile(kubeadm.File(kcfg))
	}
	for _, render := range renderers {
		if err := render(r.cluster, n, p); err != nil {
			return nil, nil, err
		}
	}
	if n.ControlPlane {
		for _, f := range r.bundle.ControlPlaneFiles(r.cluster.Spec.Cluster.Spec.Etcd.Type == "kubeadm") {
			p.AddFile(f)
		}
		if f, ok := r.bundle.EncryptionConfigFile(); ok {
			p.AddFile(f)
		}
	}
	if err := p.Finish(); err != nil {
		return nil, nil, err
	}
	return p, kcfg, nil
}

// ignitionVariant is the Butane variant for an OS: Flatcar has its own,
// everything else that boots Ignition is Fedora CoreOS.
func ignitionVariant(os string) string {
	if os == "flatcar" {
		return "flatcar"
	}
	return "fcos"
}
