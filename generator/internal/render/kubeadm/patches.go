package kubeadm

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/plan"
)

// Patch is one kubeadm patch of the spec with the field path it came from.
type Patch struct {
	spec.KubeadmPatch
	Path string // ksgen.spec.hosts.node2.kubeadmPatches[0]
}

// Patches returns the kubeadm patches of node n in the order they apply:
// the cluster's, then its roles' (control-plane, then worker), then its
// host's; each list in order. Nodes that run no kubeadm have none.
func Patches(c *plan.Cluster, n *plan.Node) []Patch {
	if n.Action == plan.None {
		return nil
	}
	cfg := c.Spec.Config.Spec
	var out []Patch
	add := func(path string, list []spec.KubeadmPatch) {
		for i, p := range list {
			out = append(out, Patch{KubeadmPatch: p, Path: fmt.Sprintf("%s[%d]", path, i)})
		}
	}
	add("ksgen.spec.kubeadmPatches", cfg.KubeadmPatches)
	for _, role := range spec.PatchRoles {
		if n.Has(role) {
			add("ksgen.spec.roles."+role+".kubeadmPatches", cfg.Roles[role].KubeadmPatches)
		}
	}
	add("ksgen.spec.hosts."+n.Name+".kubeadmPatches", cfg.Hosts[n.Name].KubeadmPatches)
	return out
}

// hasPatches reports whether the spec has any kubeadm patch.
func hasPatches(s *spec.Spec) bool { return len(allPatches(s)) > 0 }

// patchError is a patch that failed on a node, reported at the patch's
// field path and line.
type patchError struct {
	path string // the patch, or the operation or field in it
	node string
	err  error
}

func (e *patchError) Error() string   { return fmt.Sprintf("node %s: %v", e.node, e.err) }
func (e *patchError) Unwrap() []error { return []error{spec.ErrPatch, e.err} }

// noTarget is a patch that applies to no document of any node.
type noTarget struct{ kind string }

func (e *noTarget) Error() string {
	return fmt.Sprintf("no node this patch applies to renders a %s, so it would change nothing", e.kind)
}
func (e *noTarget) Unwrap() error { return spec.ErrNoTarget }

// entry turns the failure into a report entry of the spec.
func (e *patchError) entry(s *spec.Spec) spec.Entry {
	return spec.Entry{Severity: spec.Error, Path: e.path, Line: s.NearestLine(e.path), Err: e}
}

// applyPatches patches the node's documents in place, then has kubeadm
// validate the result. The documents stay JSON from the render: nothing
// decoded is ever printed, so kubeadm's defaulting (and its process-wide
// state) never reaches the output.
func applyPatches(c *plan.Cluster, n *plan.Node, docs []*document) error {
	var last *Patch
	// dropped is, by kind, the patch that removed the manifests preflight
	// exception a static-pod load balancer needs.
	dropped := map[string]*Patch{}
	patches := Patches(c, n)
	for i := range patches {
		p := &patches[i]
		j := slices.IndexFunc(docs, func(d *document) bool { return d.kind == p.Target.Kind })
		if j < 0 {
			continue
		}
		out, err := apply(c, docs[j], p)
		if err != nil {
			err.node = n.Name
			return &spec.EntryError{Entry: err.entry(c.Spec)}
		}
		if n.LocalLB != plan.NoLocalLB {
			switch before, after := ignoresManifestsPreflight(docs[j].json), ignoresManifestsPreflight(out); {
			case before && !after:
				dropped[p.Target.Kind] = p
			case after:
				delete(dropped, p.Target.Kind)
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
			return &spec.EntryError{Entry: pe.entry(c.Spec)}
		}
	}
	if err := validateNode(docs); err != nil {
		pe := &patchError{path: last.Path, node: n.Name, err: fmt.Errorf("kubeadm refuses the configuration after this patch: %w", err)}
		return &spec.EntryError{Entry: pe.entry(c.Spec)}
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
	if json.Unmarshal(js, &doc) != nil || (doc.Kind != spec.KindInitConfiguration && doc.Kind != spec.KindJoinConfiguration) {
		return true
	}
	return slices.ContainsFunc(doc.NodeRegistration.IgnorePreflightErrors, func(e string) bool {
		return strings.EqualFold(e, manifestsPreflight) || strings.EqualFold(e, "all")
	})
}

// apply runs one patch on a document and checks that the result still
// decodes strictly into the document's versioned type.
func apply(c *plan.Cluster, d *document, p *Patch) ([]byte, *patchError) {
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
			raw, err := json.Marshal([]spec.JSONPatchOp{op})
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
	case spec.KindKubeletConfiguration:
		return kubeletv1beta1.SchemeGroupVersion
	case spec.KindKubeProxyConfiguration:
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
		case spec.KindInitConfiguration:
			return &kubeadmv1beta3.InitConfiguration{}, nil
		case spec.KindClusterConfiguration:
			return &kubeadmv1beta3.ClusterConfiguration{}, nil
		case spec.KindJoinConfiguration:
			return &kubeadmv1beta3.JoinConfiguration{}, nil
		}
	case kubeadmv1beta4.SchemeGroupVersion:
		switch kind {
		case spec.KindInitConfiguration:
			return &kubeadmv1beta4.InitConfiguration{}, nil
		case spec.KindClusterConfiguration:
			return &kubeadmv1beta4.ClusterConfiguration{}, nil
		case spec.KindJoinConfiguration:
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
		case spec.KindInitConfiguration:
			init = &kubeadmapi.InitConfiguration{}
			err = runtime.DecodeInto(kubeadmscheme.Codecs.UniversalDecoder(), d.json, init)
		case spec.KindClusterConfiguration:
			cluster = &kubeadmapi.ClusterConfiguration{}
			err = runtime.DecodeInto(kubeadmscheme.Codecs.UniversalDecoder(), d.json, cluster)
		case spec.KindJoinConfiguration:
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
// ksgen validate runs it; a render runs it before writing anything.
func Check(c *plan.Cluster) []spec.Entry {
	if !hasPatches(c.Spec) {
		return nil
	}
	cred := Credentials{Token: "abcdef.0123456789abcdef", CACertHash: "sha256:" + strings.Repeat("0", 64), KeyAlgorithm: "rsa"}
	failed := map[string]bool{}
	matched := map[string]bool{}
	var out []spec.Entry
	for _, n := range c.Nodes {
		docs, err := render(c, n, cred)
		if err != nil {
			out = append(out, spec.Entry{Severity: spec.Error, Err: fmt.Errorf("node %s: kubeadm config: %w", n.Name, err)})
			continue
		}
		for _, p := range Patches(c, n) {
			if slices.ContainsFunc(docs, func(d *document) bool { return d.kind == p.Target.Kind }) {
				matched[p.Path] = true
			}
		}
		err = applyPatches(c, n, docs)
		var ee *spec.EntryError
		if errors.As(err, &ee) {
			if !failed[ee.Entry.Path] {
				failed[ee.Entry.Path] = true
				out = append(out, ee.Entry)
			}
		} else if err != nil {
			out = append(out, spec.Entry{Severity: spec.Error, Err: fmt.Errorf("node %s: %w", n.Name, err)})
		}
	}
	for _, p := range allPatches(c.Spec) {
		if !matched[p.Path] {
			out = append(out, spec.Entry{Severity: spec.Error, Path: p.Path + ".target.kind", Line: c.Spec.NearestLine(p.Path + ".target.kind"),
				Err: &noTarget{kind: p.Target.Kind}})
		}
	}
	return out
}

// allPatches lists every patch of the spec, in the order of the file's sections.
func allPatches(s *spec.Spec) []Patch {
	cfg := s.Config.Spec
	var out []Patch
	add := func(path string, list []spec.KubeadmPatch) {
		for i, p := range list {
			out = append(out, Patch{KubeadmPatch: p, Path: fmt.Sprintf("%s[%d]", path, i)})
		}
	}
	add("ksgen.spec.kubeadmPatches", cfg.KubeadmPatches)
	for _, role := range slices.Sorted(maps.Keys(cfg.Roles)) {
		add("ksgen.spec.roles."+role+".kubeadmPatches", cfg.Roles[role].KubeadmPatches)
	}
	for _, host := range slices.Sorted(maps.Keys(cfg.Hosts)) {
		add("ksgen.spec.hosts."+host+".kubeadmPatches", cfg.Hosts[host].KubeadmPatches)
	}
	return out
}
