package generator

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ksgen/ksgen/"

// The folder of a package is its stage: input ← plan ← render ← encode ←
// output, delivery on top. A package may import only packages of its own or
// an earlier stage, and the tables every stage shares.
var order = []string{"input", "plan", "render", "encode", "output", "delivery"}

// stageOf names a package's stage by its folder; "shared" for the tables
// (profiles, the node's file set, YAML scalars, templates, images) and the
// parallel loop, and "" for test helpers.
func stageOf(pkg string) string {
	switch {
	case pkg == "generator":
		return "output"
	case pkg == "generator/plan":
		return "plan"
	case pkg == "generator/internal/fileset", pkg == "generator/internal/yamlscalar", pkg == "generator/internal/parallel",
		pkg == "templates", pkg == "images",
		strings.HasPrefix(pkg, "generator/profile/"):
		return "shared"
	case strings.HasPrefix(pkg, "generator/internal/render/"):
		return "render"
	case strings.HasPrefix(pkg, "generator/internal/encode/"):
		return "encode"
	}
	for _, s := range []string{"input", "output", "delivery"} {
		if strings.HasPrefix(pkg, "generator/"+s+"/") {
			return s
		}
	}
	return ""
}

// pipelinePackages lists every package under generator/ that has a stage.
func pipelinePackages(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if d.Name() == "testdata" {
			return filepath.SkipDir
		}
		pkg := filepath.ToSlash(filepath.Join("generator", path))
		if _, err := build.ImportDir(path, 0); err == nil && stageOf(pkg) != "" {
			out = append(out, pkg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// specPkg is the raw spec, which no renderer imports: the plan is the
// renderers' only vocabulary, and a renderer that needs a new fact gets a
// typed plan field.
const specPkg = "generator/input/spec"

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
// encoder a renderer, a renderer the output), when an encoder imports
// anything but the node's file set, when delivery reaches past the output
// into the plan, or when a renderer imports the raw spec.
func TestStageRule(t *testing.T) {
	pkgs := pipelinePackages(t)
	if len(pkgs) < 20 {
		t.Fatalf("found only %d pipeline packages: %v", len(pkgs), pkgs)
	}
	for _, pkg := range pkgs {
		stage := stageOf(pkg)
		for _, imp := range imports(t, pkg) {
			is := stageOf(imp)
			switch {
			case is == "":
				t.Errorf("%s imports %s, which has no stage", pkg, imp)
			case stage == "shared" && is != "shared":
				t.Errorf("shared table %s imports %s: tables import only tables", pkg, imp)
			case is == "shared":
			case slices.Index(order, is) > slices.Index(order, stage):
				t.Errorf("%s (%s) imports %s (%s): a later stage", pkg, stage, imp, is)
			case stage == "encode" && is != "encode":
				t.Errorf("encoder %s imports %s: encoders take only the node's file set", pkg, imp)
			case stage == "delivery" && (is == "plan" || is == "render" || is == "encode"):
				t.Errorf("delivery %s imports %s: delivery reads the output, not the pipeline", pkg, imp)
			case stage == "render" && imp == specPkg:
				t.Errorf("renderer %s imports the spec: give it typed plan fields instead", pkg)
			}
		}
	}
}

// TestRenderersReadThePlan fails when a renderer selects Spec on a
// *plan.Cluster parameter or receiver: plan.Cluster keeps the spec it was
// made from to itself, and must not hand it out again.
func TestRenderersReadThePlan(t *testing.T) {
	for _, pkg := range pipelinePackages(t) {
		if stageOf(pkg) != "render" {
			continue
		}
		if got := countSpecReads(t, filepath.Join("..", pkg)); got > 0 {
			t.Errorf("%s reads plan.Cluster.Spec %d times: give it typed plan fields instead", pkg, got)
		}
	}
}

func countSpecReads(t *testing.T, dir string) int {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			clusters := map[string]bool{}
			fields := fn.Type.Params.List
			if fn.Recv != nil {
				fields = append(slices.Clone(fields), fn.Recv.List...)
			}
			for _, p := range fields {
				if isPlanCluster(p.Type) {
					for _, id := range p.Names {
						clusters[id.Name] = true
					}
				}
			}
			ast.Inspect(fn.Body, func(x ast.Node) bool {
				if sel, ok := x.(*ast.SelectorExpr); ok && sel.Sel.Name == "Spec" {
					if id, ok := sel.X.(*ast.Ident); ok && clusters[id.Name] {
						n++
					}
				}
				return true
			})
		}
	}
	return n
}

func isPlanCluster(e ast.Expr) bool {
	star, ok := e.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "plan" && sel.Sel.Name == "Cluster"
}
