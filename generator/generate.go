package generator

import (
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strings"

	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/encode/cloudinit"
	"github.com/ksgen/ksgen/generator/internal/encode/ignition"
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/parallel"
	"github.com/ksgen/ksgen/generator/internal/render/addons"
	"github.com/ksgen/ksgen/generator/internal/render/binaries"
	"github.com/ksgen/ksgen/generator/internal/render/certrenew"
	"github.com/ksgen/ksgen/generator/internal/render/containerd"
	"github.com/ksgen/ksgen/generator/internal/render/etcd"
	"github.com/ksgen/ksgen/generator/internal/render/firewall"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/internal/render/joinwindow"
	"github.com/ksgen/ksgen/generator/internal/render/kubeadm"
	"github.com/ksgen/ksgen/generator/internal/render/kubelet"
	"github.com/ksgen/ksgen/generator/internal/render/lb"
	"github.com/ksgen/ksgen/generator/internal/render/osprep"
	"github.com/ksgen/ksgen/generator/internal/render/roles"
	"github.com/ksgen/ksgen/generator/output/fetch"
	"github.com/ksgen/ksgen/generator/output/tree"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
)

// Options narrow what Generate renders.
type Options struct {
	// Formats to encode: FormatIgnition, FormatCloudInit. Each node gets
	// the payload its OS boots (its osprofile's Format) when that format is
	// listed, else only kubeadm.yaml and rootfs/. Empty means both.
	Formats []string
	// Nodes to render by name. Empty means every node.
	Nodes []string
	// Clouds to write exact user-data for: <host>/<payload>.<cloud> holds
	// the bytes to pass to the cloud's API (see Limit.Encode).
	Clouds []string
	// ServeURL is ksgen serve's address ("https://host:port"). When set,
	// every payload also gets a pointer config, <host>/<payload>.pointer,
	// and a cloud user-data file over its cloud's limit holds the pointer.
	ServeURL string
	// Pointers puts pointer configs in every cloud user-data file, whatever
	// the payload's size. It needs ServeURL.
	Pointers bool
}

// Output formats. FormatNone renders kubeadm configs and rootfs/ only, for
// pipelines that bring their own payload format.
const (
	FormatIgnition  = osprofile.FormatIgnition
	FormatCloudInit = osprofile.FormatCloudInit
	FormatNone      = "none"
)

// Formats lists every payload format.
var Formats = osprofile.Formats

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
	r := &spec.Report{}
	c, err := Validate(s, r)
	if err != nil {
		return err
	}
	// Every patch, on every node, whichever nodes are selected.
	if err := r.Err(false); err != nil {
		return err
	}
	return GeneratePlan(c, b, opts, out)
}

// GeneratePlan is GenerateTo for a plan Validate returned, whose report
// the caller has judged.
func GeneratePlan(c *plan.Cluster, b *pki.Bundle, opts Options, out tree.Sink) error {
	nodes, err := selectNodes(c, opts.Nodes)
	if err != nil {
		return err
	}
	r, err := newRenderer(c, b, nodes, opts)
	if err != nil {
		return err
	}
	index := make([][]byte, len(nodes))
	errs := make([]error, len(nodes))
	parallel.Each(len(nodes), func(i int) {
		res, err := r.node(nodes[i])
		for _, f := range res.files {
			if err != nil {
				break
			}
			err = out.Put(f)
		}
		if err == nil {
			index[i] = marshalNode(res.index)
		}
		errs[i] = err
	})
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("render node %s: %w", nodes[i].Name, err)
		}
	}
	raw, err := newIndex(c).marshal(index)
	if err != nil {
		return err
	}
	return out.Put(tree.File{Path: tree.IndexFile, Mode: fileset.ModePublic, Content: raw})
}

// newRenderer checks the options and prepares what every node's render
// shares: the bundle's derived values, user snippets and the certificates
// issued from the bundle, read and made once.
func newRenderer(c *plan.Cluster, b *pki.Bundle, nodes []*plan.Node, opts Options) (*renderer, error) {
	formats := opts.Formats
	if len(formats) == 0 {
		formats = Formats
	}
	for _, f := range formats {
		if !slices.Contains(Formats, f) && (f != FormatNone || len(formats) > 1) {
			return nil, fmt.Errorf("unknown format %q (want %s, or %s alone)", f, strings.Join(Formats, ", "), FormatNone)
		}
	}
	hash, err := b.CACertHash()
	if err != nil {
		return nil, fmt.Errorf("secrets bundle: %w", err)
	}
	snippets, err := readSnippets(c.Dir, nodes)
	if err != nil {
		return nil, err
	}
	cred := kubeadm.Credentials{Token: b.BootstrapToken, CACertHash: hash, KeyAlgorithm: b.KeyAlgorithm}
	if f, ok := b.EncryptionConfigFile(); ok {
		cred.EncryptionConfig = f.Path
	}
	budget, err := budgetOf(c.Budget)
	if err != nil {
		return nil, err
	}
	// Member and kube-apiserver certificates are issued once, or the
	// external etcd files Validate read are taken from the plan.
	etcdSecrets, err := etcd.NewSecrets(c, b)
	if err != nil {
		return nil, err
	}
	for _, cloud := range opts.Clouds {
		if _, ok := CloudLimits[cloud]; !ok {
			return nil, fmt.Errorf("unknown cloud %q (want %s)", cloud, strings.Join(Clouds, ", "))
		}
	}
	if opts.Pointers && opts.ServeURL == "" {
		return nil, fmt.Errorf("pointer configs need the ksgen serve URL")
	}
	var tokens *fetch.Tokens
	if opts.ServeURL != "" {
		if u, err := url.Parse(opts.ServeURL); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("serve URL %q: want https://host:port", opts.ServeURL)
		}
		if tokens, err = fetch.NewTokens(b); err != nil {
			return nil, err
		}
	}
	return &renderer{
		opts:      opts,
		tokens:    tokens,
		pointer:   fetch.Pointer{BaseURL: opts.ServeURL, CA: fetch.ServeCA(b).Cert},
		cluster:   c,
		bundle:    b,
		formats:   formats,
		cred:      cred,
		snippets:  snippets,
		budget:    budget,
		etcd:      etcdSecrets,
		ignition:  &ignition.Encoder{},
		cloudinit: &cloudinit.Encoder{},
	}, nil
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

type renderer struct {
	opts     Options
	tokens   *fetch.Tokens // nil without a serve URL
	pointer  fetch.Pointer
	cluster  *plan.Cluster
	bundle   *pki.Bundle
	formats  []string
	cred     kubeadm.Credentials
	snippets map[string][]byte // user snippet files by path
	budget   budget
	etcd     *etcd.Secrets
	// ignition and cloudinit encode what nodes share once per render.
	ignition  *ignition.Encoder
	cloudinit *cloudinit.Encoder
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
	prof := osprofile.Of(n.OS)
	out := nodeOutput{index: NodeIndex{Name: n.Name, Roles: n.Roles, OS: n.OS, Format: prof.Format, MAC: n.Settings.MAC, Action: string(n.Action)}}
	add := func(name string, mode fs.FileMode, content []byte) {
		out.files = append(out.files, tree.File{Path: n.Name + "/" + name, Mode: mode, Content: content})
		out.index.Files = append(out.index.Files, describe(name, content))
	}
	// addPayload indexes, budgets and delivers a payload, compressing it once.
	addPayload := func(name string, content []byte) error {
		m := measure(content, name == fetch.CloudInitFile)
		if err := r.budget.check(name, m, p); err != nil {
			return err
		}
		out.files = append(out.files, tree.File{Path: n.Name + "/" + name, Mode: fileset.ModeSecret, Content: content})
		out.index.Files = append(out.index.Files, describePayload(name, m))
		return r.delivery(n, name, m, &out)
	}
	if kcfg != nil {
		add("kubeadm.yaml", fileset.ModeSecret, kcfg)
	}
	// The one payload the node's OS boots, unless --format leaves its
	// format out. Payloads hold the node's secrets (token, keys): 0600 like them.
	format := prof.Format
	if !slices.Contains(r.formats, format) {
		format = ""
	}
	switch format {
	case FormatIgnition:
		out.index.Payload = fetch.IgnitionFile
		bu, ign, err := r.ignition.Encode(p, ignition.Options{Variant: prof.IgnitionVariant, Snippet: r.snippets[n.Settings.Snippets.Butane]})
		if err != nil {
			return nodeOutput{}, fmt.Errorf("ignition: %w", err)
		}
		add("config.bu", fileset.ModeSecret, bu)
		if err := addPayload(fetch.IgnitionFile, ign); err != nil {
			return nodeOutput{}, err
		}
	case FormatCloudInit:
		out.index.Payload = fetch.CloudInitFile
		ud, err := r.cloudinit.Encode(p, cloudinit.Options{Snippet: r.snippets[n.Settings.Snippets.CloudConfig]})
		if err != nil {
			return nodeOutput{}, fmt.Errorf("cloud-init: %w", err)
		}
		if err := addPayload(fetch.CloudInitFile, ud); err != nil {
			return nodeOutput{}, err
		}
	}
	for _, f := range append(slices.Clone(p.Files), p.UnitFiles()...) {
		if !f.Remote() { // downloaded at first boot: nothing to show
			add("rootfs"+f.Path, f.Mode, f.Content)
		}
	}
	return out, nil
}

// delivery writes a payload's pointer config and its per-cloud user-data:
// the payload itself when it fits the cloud's limit (and pointers are not
// forced), else the pointer, which must fit.
func (r *renderer) delivery(n *plan.Node, name string, full measured, out *nodeOutput) error {
	put := func(path string, content []byte, pointer bool) {
		out.files = append(out.files, tree.File{Path: n.Name + "/" + path, Mode: fileset.ModeSecret, Content: content})
		fi := describe(path, content)
		fi.Pointer = pointer
		out.index.Files = append(out.index.Files, fi)
	}
	var ptr *measured
	if r.tokens != nil {
		url := r.pointer.URL(n.Name, r.tokens.For(n.Name), name)
		var raw []byte
		if full.cloudInit {
			raw = fetch.CloudInitPointer(url, full.raw, r.pointer.CA)
		} else {
			var err error
			if raw, err = fetch.IgnitionPointer(fetch.IgnitionVersion(full.raw), url, full.raw, r.pointer.CA); err != nil {
				return err
			}
		}
		m := measure(raw, full.cloudInit)
		ptr = &m
		put(name+".pointer", raw, true)
	}
	for _, cloud := range r.opts.Clouds {
		l := CloudLimits[cloud]
		sent := size(l, full)
		switch {
		case sent <= l.Bytes && !r.opts.Pointers:
			put(name+"."+cloud, encode(l, full), false)
		case ptr == nil:
			hint := ""
			if name == fetch.IgnitionFile {
				hint = ", or give the host an OS that boots cloud-init (ksgen document os: ubuntu, debian or rhel), whose user-data the cloud takes gzipped"
			}
			return fmt.Errorf("%s is %d bytes as %s counts it, over its limit of %d: render with --serve-url https://HOST:PORT (ksgen serve's address) to write a pointer config instead%s", name, sent, cloud, l.Bytes, hint)
		case size(l, *ptr) > l.Bytes:
			return fmt.Errorf("%s pointer config is %d bytes as %s counts it, over its limit of %d", name, size(l, *ptr), cloud, l.Bytes)
		default:
			put(name+"."+cloud, encode(l, *ptr), true)
		}
	}
	return nil
}

// A step adds one concern's files to a node's fileset. steps is the one
// ordered list every node goes through: the renderers of the plan, and the
// steps that need what the renderer holds besides it (the bundle's
// credentials, its CA material, the etcd certificates issued once).
type step func(r *renderer, n *plan.Node, b *nodeBuild) error

// nodeBuild is a node's payload while the steps fill it, and its kubeadm
// config, which is written beside the payload too.
type nodeBuild struct {
	payload *fileset.Set
	kubeadm []byte
}

var steps = []step{
	kubeadmConfig,
	plain(osprep.Render),
	plain(firewall.Render),
	plain(binaries.Render),
	plain(containerd.Render),
	plain(kubelet.Render),
	plain(lb.Render),
	plain(etcd.Render),
	plain(firstboot.Render),
	plain(addons.Render),
	plain(roles.Render),
	plain(joinwindow.Render),
	plain(certrenew.Render),
	joinToken,
	reportTo,
	controlPlaneSecrets,
	etcdCertificates,
}

// plain is a renderer that needs nothing beyond the plan.
func plain(render func(*plan.Cluster, *plan.Node, *fileset.Set) error) step {
	return func(r *renderer, n *plan.Node, b *nodeBuild) error { return render(r.cluster, n, b.payload) }
}

// kubeadmConfig is the node's kubeadm config (none on nodes without kubeadm).
func kubeadmConfig(r *renderer, n *plan.Node, b *nodeBuild) error {
	kcfg, err := kubeadm.Render(r.cluster, n, r.cred)
	if f, ok := err.(*kubeadm.Finding); ok { // a patch's, at its line
		err = &spec.EntryError{Entry: kubeadmEntry(*f)}
	}
	if err != nil {
		return fmt.Errorf("kubeadm config: %w", err)
	}
	if kcfg != nil {
		b.kubeadm = kcfg
		b.payload.AddFile(kubeadm.File(kcfg))
	}
	return nil
}

// joinToken is the control planes' copy of the bundle's token, which the
// join-window keeper keeps valid.
func joinToken(r *renderer, n *plan.Node, b *nodeBuild) error {
	if joinwindow.Keeps(n) {
		b.payload.AddFile(joinwindow.TokenFile(r.bundle.BootstrapToken))
	}
	return nil
}

// reportTo makes the bootstrap report its phases to ksgen serve, when render
// knows its URL, with the token the node fetches its payload with: the node
// learns no secret it does not hold already.
func reportTo(r *renderer, n *plan.Node, b *nodeBuild) error {
	if r.tokens == nil || n.Action == plan.None {
		return nil
	}
	url := r.pointer.URL(n.Name, r.tokens.For(n.Name), fetch.ReportFile)
	files, err := firstboot.Reporting(url, r.pointer.CA)
	for _, f := range files {
		b.payload.AddFile(f)
	}
	return err
}

// controlPlaneSecrets are the bundle's CA material and encryption config:
// control planes only, never a worker.
func controlPlaneSecrets(r *renderer, n *plan.Node, b *nodeBuild) error {
	if !n.ControlPlane {
		return nil
	}
	for _, f := range r.bundle.ControlPlaneFiles(r.cluster.Etcd.Type == plan.EtcdKubeadm) {
		b.payload.AddFile(f)
	}
	if f, ok := r.bundle.EncryptionConfigFile(); ok {
		b.payload.AddFile(f)
	}
	return nil
}

// etcdCertificates are the node's etcd member and client certificates.
func etcdCertificates(r *renderer, n *plan.Node, b *nodeBuild) error {
	for _, f := range r.etcd.Files(n) {
		b.payload.AddFile(f)
	}
	return nil
}

// payload runs every renderer for the node and returns it with the node's
// kubeadm config (nil when the node runs no kubeadm).
func (r *renderer) payload(n *plan.Node) (*fileset.Set, []byte, error) {
	b := &nodeBuild{payload: &fileset.Set{Name: n.Name}}
	for _, run := range steps {
		if err := run(r, n, b); err != nil {
			return nil, nil, err
		}
	}
	if err := b.payload.Finish(); err != nil {
		return nil, nil, err
	}
	return b.payload, b.kubeadm, nil
}
