package generator

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ksgen/ksgen/"

// stages names each package of the pipeline by its stage: input ← plan ←
// render ← encode ← output, delivery on top. A package may import only
// packages of its own or an earlier stage, and the tables (templates,
// images, osprofile, clouds, payload) that every stage shares.
var stages = map[string]string{
	"generator/spec":       "input",
	"generator/plan":       "plan",
	"generator/addons":     "render",
	"generator/binaries":   "render",
	"generator/certrenew":  "render",
	"generator/containerd": "render",
	"generator/etcd":       "render",
	"generator/firewall":   "render",
	"generator/firstboot":  "render",
	"generator/joinwindow": "render",
	"generator/kubeadm":    "render",
	"generator/kubelet":    "render",
	"generator/lb":         "render",
	"generator/osprep":     "render",
	"generator/pki":        "render",
	"generator/roles":      "render",
	"generator/ignition":   "encode",
	"generator/cloudinit":  "encode",
	"generator/tree":       "output",
	"generator":            "output",
	"generator/delivery":   "output", // pointer configs and fetch tokens, written with the tree
	"generator/serve":      "delivery",
	"generator/matchbox":   "delivery",
}

var shared = []string{"templates", "images", "generator/osprofile", "generator/clouds", "generator/payload"}

var order = []string{"input", "plan", "render", "encode", "output", "delivery"}

// rendersThroughSpec are the renderers that still read the raw spec rather
// than typed plan fields. The list may only shrink: a renderer added to it
// is a step back from "the plan is the renderers' only vocabulary".
var rendersThroughSpec = []string{"generator/addons", "generator/etcd", "generator/kubeadm", "generator/lb"}

func imports(t *testing.T, pkg string) []string {
	t.Helper()
	p, err := build.ImportDir(filepath.Join("..", pkg), 0)
	if err != nil {
		t.Fatalf("%s: %v", pkg, err)
	}
	var out []string
	for _, imp := range p.Imports {
		if rel, ok := strings.CutPrefix(imp, module); ok {
			out = append(out, rel)
		}
	}
	return out
}

// TestStageRule fails when a package imports one of a later stage (an
// encoder a renderer, a renderer the output), when a renderer or encoder
// imports another of its stage's outputs it should not, or when a renderer
// newly reads the raw spec.
func TestStageRule(t *testing.T) {
	for pkg, stage := range stages {
		for _, imp := range imports(t, pkg) {
			if slices.Contains(shared, imp) {
				continue
			}
			is, ok := stages[imp]
			if !ok {
				t.Errorf("%s imports %s, which has no stage: add it to stages", pkg, imp)
				continue
			}
			if slices.Index(order, is) > slices.Index(order, stage) {
				t.Errorf("%s (%s) imports %s (%s): a later stage", pkg, stage, imp, is)
			}
			if stage == "encode" && is != "encode" {
				t.Errorf("encoder %s imports %s: encoders take only the payload", pkg, imp)
			}
			if stage == "render" && imp == "generator/spec" && !slices.Contains(rendersThroughSpec, pkg) {
				t.Errorf("renderer %s imports the spec: give it typed plan fields instead", pkg)
			}
		}
	}
	for _, pkg := range shared {
		for _, imp := range imports(t, pkg) {
			if !slices.Contains(shared, imp) {
				t.Errorf("shared table %s imports %s: tables import only tables", pkg, imp)
			}
		}
	}
	for _, pkg := range rendersThroughSpec {
		if !slices.Contains(imports(t, pkg), "generator/spec") {
			t.Errorf("%s no longer imports the spec: take it off rendersThroughSpec", pkg)
		}
	}
}
