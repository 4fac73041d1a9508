package kubeadm

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	kubeadmv1beta3 "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta3"
	kubeadmv1beta4 "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/validation"
	"k8s.io/kubernetes/cmd/kubeadm/app/componentconfigs"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/config/strict"

	"github.com/ksgen/ksgen/generator/plan"
)

// Named causes of the findings about kubeadm patches.
var (
	ErrPatch    = errors.New("kubeadm patch failed")
	ErrNoTarget = errors.New("kubeadm patch matches no document")
)

// Finding is an error in the spec field at Path, which is written at Line
// (0: nowhere). generator.Validate reports it as the spec's report entry,
// as a render reports the errors Render returns.
type Finding struct {
	Path string
	Line int
	Err  error
}

func (f *Finding) Error() string {
	msg := f.Err.Error()
	if f.Path != "" {
		msg = f.Path + ": " + msg
	}
	if f.Line > 0 {
		msg += fmt.Sprintf(" (line %d)", f.Line)
	}
	return msg
}

func (f *Finding) Unwrap() error { return f.Err }

// patchError is a patch that failed on a node, reported at the patch's
// field path and line.
type patchError struct {
	path string // the patch, or the operation or field in it
	node string
	err  error
}

func (e *patchError) Error() string   { return fmt.Sprintf("node %s: %v", e.node, e.err) }
func (e *patchError) Unwrap() []error { return []error{ErrPatch, e.err} }

// noTarget is a patch that applies to no document of any node.
type noTarget struct{ kind string }

func (e *noTarget) Error() string {
	return fmt.Sprintf("no node this patch applies to renders a %s, so it would change nothing", e.kind)
}
func (e *noTarget) Unwrap() error { return ErrNoTarget }

// finding places the failure at the patch's line.
func (e *patchError) finding(c *plan.Cluster) *Finding {
	return &Finding{Path: e.path, Line: c.NearestLine(e.path), Err: e}
}

// applyPatches patches the node's documents in place, then has kubeadm
// validate the result. The documents stay JSON from the render: nothing
// decoded is ever printed, so kubeadm's defaulting (and its process-wide
// state) never reaches the output.
func applyPatches(c *plan.Cluster, n *plan.Node, docs []*document) error {
	var last *plan.KubeadmPatch
	// dropped is, by kind, the patch that removed the manifests preflight
	// exception a static-pod load balancer needs.
	dropped := map[string]*plan.KubeadmPatch{}
	for i := range n.KubeadmPatches {
		p := &n.KubeadmPatches[i]
		j := slices.IndexFunc(docs, func(d *document) bool { return d.kind == p.Kind })
		if j < 0 {
			continue
		}
		out, err := apply(c, docs[j], p)
		if err != nil {
			err.node = n.Name
			return err.finding(c)
		}
		if n.LocalLB != plan.NoLocalLB {
			switch before, after := ignoresManifestsPreflight(docs[j].json), ignoresManifestsPreflight(out); {
			case before && !after:
				dropped[p.Kind] = p
			case after:
				delete(dropped, p.Kind)
			}
		}
		docs[j].json = out
		last = p
	}
	if last == nil {
		return nil
	}
	for _, d := range docs {
		if p := dropped[d.kind]; p != nil {
			pe := &patchError{path: p.Path, node: n.Name, err: fmt.Errorf("%s: the patch drops %s from nodeRegistration.ignorePreflightErrors (and no later one puts it back), but this node's load balancer is a static pod in /etc/kubernetes/manifests before kubeadm runs, so kubeadm's preflight would fail: keep it in the list the patch sets, or append with jsonPatch add /nodeRegistration/ignorePreflightErrors/- on such nodes", d.kind, manifestsPreflight)}
			return pe.finding(c)
		}
	}
	if err := validateNode(docs); err != nil {
		pe := &patchError{path: last.Path, node: n.Name, err: fmt.Errorf("kubeadm refuses the configuration after this patch: %w", err)}
		return pe.finding(c)
	}
	return nil
}

// ignoresManifestsPreflight reports whether an Init or Join document still
// ignores the manifests-directory preflight check (kubeadm compares names
// case-insensitively); other kinds have no such list and pass.
func ignoresManifestsPreflight(js []byte) bool {
	var doc struct {
		Kind             string `json:"kind"`
		NodeRegistration struct {
			IgnorePreflightErrors []string `json:"ignorePreflightErrors"`
		} `json:"nodeRegistration"`
	}
	if json.Unmarshal(js, &doc) != nil || (doc.Kind != plan.KindInitConfiguration && doc.Kind != plan.KindJoinConfiguration) {
		return true
	}
	return slices.ContainsFunc(doc.NodeRegistration.IgnorePreflightErrors, func(e string) bool {
		return strings.EqualFold(e, manifestsPreflight) || strings.EqualFold(e, "all")
	})
}

// apply runs one patch on a document and checks that the result still
// decodes strictly into the document's versioned type.
func apply(c *plan.Cluster, d *document, p *plan.KubeadmPatch) ([]byte, *patchError) {
	gv := documentGV(c, d.kind)
	fail := func(path string, err error) *patchError {
		return &patchError{path: path, err: fmt.Errorf("%s: %w", d.kind, err)}
	}
	var out []byte
	if p.Patch != nil {
		pj, err := json.Marshal(p.Patch)
		if err != nil {
			return nil, fail(p.Path+".patch", err)
		}
		obj, err := versioned(d.kind, gv)
		if err != nil {
			return nil, fail(p.Path, err)
		}
		if out, err = strategicpatch.StrategicMergePatch(d.json, pj, obj); err != nil {
			return nil, fail(p.Path+".patch", fmt.Errorf("strategic merge: %w", err))
		}
	} else {
		out = d.json
		for i, op := range p.JSONPatch {
			raw, err := json.Marshal([]any{op})
			if err != nil {
				return nil, fail(p.Path, err)
			}
			jp, err := jsonpatch.DecodePatch(raw)
			if err == nil {
				out, err = jp.Apply(out)
			}
			if err != nil {
				return nil, fail(fmt.Sprintf("%s.jsonPatch[%d]", p.Path, i), fmt.Errorf("%s %s: %w", op.Op, op.Path, err))
			}
		}
	}
	var id struct{ APIVersion, Kind string }
	if err := json.Unmarshal(out, &id); err != nil || id.APIVersion != gv.String() || id.Kind != d.kind {
		return nil, fail(p.Path, errors.New("the patch changed apiVersion or kind"))
	}
	schemes := []*runtime.Scheme{kubeadmscheme.Scheme, componentconfigs.Scheme}
	if err := strict.VerifyUnmarshalStrict(schemes, gv.WithKind(d.kind), out); err != nil {
		path := p.Path + ".jsonPatch"
		if p.Patch != nil {
			path = p.Path + ".patch"
		}
		return nil, fail(path, fmt.Errorf("after the patch: %w", errors.Unwrap(err)))
	}
	return out, nil
}

// documentGV is the API version ksgen renders kind in.
func documentGV(c *plan.Cluster, kind string) schema.GroupVersion {
	switch kind {
	case plan.KindKubeletConfiguration:
		return kubeletv1beta1.SchemeGroupVersion
	case plan.KindKubeProxyConfiguration:
		return kubeproxyv1alpha1.SchemeGroupVersion
	}
	gv, _ := schema.ParseGroupVersion(c.KubeadmAPI)
	return gv
}

// versioned returns an empty value of kind in gv: strategic merge reads its
// field tags (patchStrategy, patchMergeKey) to merge lists.
func versioned(kind string, gv schema.GroupVersion) (any, error) {
	switch gv {
	case kubeletv1beta1.SchemeGroupVersion:
		return &kubeletv1beta1.KubeletConfiguration{}, nil
	case kubeproxyv1alpha1.SchemeGroupVersion:
		return &kubeproxyv1alpha1.KubeProxyConfiguration{}, nil
	case kubeadmv1beta3.SchemeGroupVersion:
		switch kind {
		case plan.KindInitConfiguration:
			return &kubeadmv1beta3.InitConfiguration{}, nil
		case plan.KindClusterConfiguration:
			return &kubeadmv1beta3.ClusterConfiguration{}, nil
		case plan.KindJoinConfiguration:
			return &kubeadmv1beta3.JoinConfiguration{}, nil
		}
	case kubeadmv1beta4.SchemeGroupVersion:
		switch kind {
		case plan.KindInitConfiguration:
			return &kubeadmv1beta4.InitConfiguration{}, nil
		case plan.KindClusterConfiguration:
			return &kubeadmv1beta4.ClusterConfiguration{}, nil
		case plan.KindJoinConfiguration:
			return &kubeadmv1beta4.JoinConfiguration{}, nil
		}
	}
	return nil, fmt.Errorf("no %s in %s", kind, gv)
}

// validateNode runs kubeadm's validation of an init or join configuration
// on a decoded copy of the documents. It leaves out kubeadm's dynamic
// defaults, which look at the machine ksgen runs on; kubeadm's validation
// of the kubelet and kube-proxy documents is their strict decoding.
func validateNode(docs []*document) error {
	// Decoding a v1beta3 ClusterConfiguration stores its control-plane
	// timeout in kubeadm's process state; leave that state as it was.
	defer kubeadmapi.SetConversionTimeoutControlPlane(kubeadmapi.GetConversionTimeoutControlPlane())
	var init *kubeadmapi.InitConfiguration
	var cluster *kubeadmapi.ClusterConfiguration
	for _, d := range docs {
		var err error
		switch d.kind {
		case plan.KindInitConfiguration:
			init = &kubeadmapi.InitConfiguration{}
			err = runtime.DecodeInto(kubeadmscheme.Codecs.UniversalDecoder(), d.json, init)
		case plan.KindClusterConfiguration:
			cluster = &kubeadmapi.ClusterConfiguration{}
			err = runtime.DecodeInto(kubeadmscheme.Codecs.UniversalDecoder(), d.json, cluster)
		case plan.KindJoinConfiguration:
			join := &kubeadmapi.JoinConfiguration{}
			if err = runtime.DecodeInto(kubeadmscheme.Codecs.UniversalDecoder(), d.json, join); err == nil {
				err = validation.ValidateJoinConfiguration(join).ToAggregate()
			}
		}
		if err != nil {
			return err
		}
	}
	if init != nil && cluster != nil {
		init.ClusterConfiguration = *cluster
		return validation.ValidateInitConfiguration(init).ToAggregate()
	}
	return nil
}

// Check renders every node's kubeadm configuration with stand-in
// credentials and applies the spec's kubeadm patches, as a render would: it
// reports each patch that fails (on the first node it fails on) and each
// patch whose target kind no node renders, which would change nothing.
// Other failures are findings without a path. ksgen validate runs it; a
// render runs it before writing anything.
func Check(c *plan.Cluster) []Finding {
	if len(c.KubeadmPatches) == 0 {
		return nil
	}
	cred := Credentials{Token: "abcdef.0123456789abcdef", CACertHash: "sha256:" + strings.Repeat("0", 64), KeyAlgorithm: "rsa"}
	failed := map[string]bool{}
	matched := map[string]bool{}
	var out []Finding
	for _, n := range c.Nodes {
		docs, err := render(c, n, cred)
		if err != nil {
			out = append(out, Finding{Err: fmt.Errorf("node %s: kubeadm config: %w", n.Name, err)})
			continue
		}
		for _, p := range n.KubeadmPatches {
			if slices.ContainsFunc(docs, func(d *document) bool { return d.kind == p.Kind }) {
				matched[p.Path] = true
			}
		}
		err = applyPatches(c, n, docs)
		var f *Finding
		if errors.As(err, &f) {
			if !failed[f.Path] {
				failed[f.Path] = true
				out = append(out, *f)
			}
		} else if err != nil {
			out = append(out, Finding{Err: fmt.Errorf("node %s: %w", n.Name, err)})
		}
	}
	for _, p := range c.KubeadmPatches {
		if !matched[p.Path] {
			path := p.Path + ".target.kind"
			out = append(out, Finding{Path: path, Line: c.NearestLine(path), Err: &noTarget{kind: p.Kind}})
		}
	}
	return out
}
