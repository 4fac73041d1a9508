package lb_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/kubeadm"
	"github.com/ksgen/ksgen/generator/internal/render/kubelet"
	"github.com/ksgen/ksgen/generator/internal/render/lb"
	"github.com/ksgen/ksgen/generator/internal/render/osprep"
	"github.com/ksgen/ksgen/generator/plan"
)

// cluster describes a test spec in a few fields; yaml() writes it out the
// way a KubeKey user would. Addresses are internalAddress values ("v4" or
// "v4,v6"); hosts are named cp1…, w1…, lb1… in that order.
type cluster struct {
	name          string
	controlPlanes []string
	workers       []string
	loadBalancers []string
	endpoint      string // controlPlaneEndpoint's fields, flow style
	version       string
	dualStack     bool
	ksgen         string // the ksgen document's spec, indented by 2
}

func (c cluster) yaml() string {
	var b strings.Builder
	name := c.name
	if name == "" {
		name = "test"
	}
	fmt.Fprintf(&b, "apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Cluster\nmetadata: {name: %s}\nspec:\n  hosts:\n", name)
	group := func(prefix string, addrs []string) string {
		var names []string
		for i, a := range addrs {
			n := fmt.Sprintf("%s%d", prefix, i+1)
			names = append(names, n)
			fmt.Fprintf(&b, "  - {name: %s, internalAddress: %q}\n", n, a)
		}
		return "[" + strings.Join(names, ", ") + "]"
	}
	cps := group("cp", c.controlPlanes)
	ws := group("w", c.workers)
	lbs := group("lb", c.loadBalancers)
	fmt.Fprintf(&b, "  roleGroups:\n    etcd: %s\n    control-plane: %s\n", cps, cps)
	if len(c.workers) > 0 {
		fmt.Fprintf(&b, "    worker: %s\n", ws)
	}
	if len(c.loadBalancers) > 0 {
		fmt.Fprintf(&b, "    loadbalancer: %s\n", lbs)
	}
	fmt.Fprintf(&b, "  controlPlaneEndpoint: {%s}\n", c.endpoint)
	version := c.version
	if version == "" {
		version = "v1.36.3"
	}
	fmt.Fprintf(&b, "  kubernetes: {version: %s}\n  network:\n    plugin: calico\n", version)
	if c.dualStack {
		b.WriteString("    kubePodsCIDR: \"10.233.64.0/18,fd00:10:233::/56\"\n    kubeServiceCIDR: \"10.233.0.0/18,fd00:10:96::/112\"\n")
	}
	if c.ksgen != "" {
		b.WriteString("---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n" + c.ksgen)
	}
	return b.String()
}

// addrs returns n addresses prefix+first, prefix+(first+1), …
func addrs(prefix string, first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, first+i)
	}
	return out
}

// loadPlan loads a spec, which must be valid, and plans it.
func loadPlan(t testing.TB, text string) *plan.Cluster {
	t.Helper()
	s, r := spec.Load([]byte(text))
	if err := r.Err(false); err != nil {
		t.Fatalf("spec: %v\n%s", err, text)
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loadSpecFile plans a spec file of testdata/specs, or returns nil when the
// spec does not validate: the spec package's tests report that.
func loadSpecFile(t testing.TB, path string) *plan.Cluster {
	t.Helper()
	s, r, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(false); err != nil {
		t.Logf("skipping %s, which does not validate: %v", path, err)
		return nil
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// specFiles lists testdata/specs/valid-*.yaml.
func specFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../../../../testdata/specs/valid-*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no spec files: %v", err)
	}
	return files
}

// nodeFiles is what the load balancer's part of a node's payload holds:
// the files of osprep (for /etc/hosts), kubelet and lb, the unit files,
// and the kubeadm config (nil when the node runs no kubeadm).
type nodeFiles struct {
	files   map[string][]byte
	kubeadm []byte
}

// render runs the renderers the endpoint depends on for one node, in the
// generator's order.
func render(t testing.TB, c *plan.Cluster, name string) nodeFiles {
	t.Helper()
	n := c.NodeByName(name)
	if n == nil {
		t.Fatalf("no node %s", name)
	}
	p := &fileset.Set{Name: name}
	for _, r := range []func(*plan.Cluster, *plan.Node, *fileset.Set) error{osprep.Render, kubelet.Render, lb.Render} {
		if err := r(c, n, p); err != nil {
			t.Fatalf("render %s: %v", name, err)
		}
	}
	if err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	out := nodeFiles{files: map[string][]byte{}}
	for _, f := range append(p.Files, p.UnitFiles()...) {
		out.files[f.Path] = f.Content
	}
	kcfg, err := kubeadm.Render(c, n, kubeadm.Credentials{
		Token:        "abcdef.0123456789abcdef",
		CACertHash:   "sha256:0000000000000000000000000000000000000000000000000000000000000000",
		KeyAlgorithm: "rsa",
	})
	if err != nil {
		t.Fatalf("kubeadm config of %s: %v", name, err)
	}
	out.kubeadm = kcfg
	return out
}

// manifests returns the node's static pods by path, sorted.
func (f nodeFiles) manifests() []string {
	var out []string
	for p := range f.files {
		if strings.HasPrefix(p, lb.ManifestDir+"/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// tool returns the path of a program a test runs. Missing, the test is
// skipped on a developer machine and fails in CI (CI is set by .ci/run,
// which installs it).
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (.ci/run installs it): %v", name, err)
	}
	t.Skipf("%s is not installed (apt-get install -y %s; .ci/run's apt-get line has them all); CI runs this test", name, name)
	return ""
}

// root skips a test that needs root (network namespaces, mounts) unless
// CI is set, where it fails instead.
func root(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test needs root (CI runs as root)")
	}
	t.Skip("this test needs root")
}

// writeTemp writes content to a file in t's temporary directory.
func writeTemp(t testing.TB, name string, content []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, mode); err != nil {
		t.Fatal(err)
	}
	return p
}
