// Package plantest builds plans from spec text for renderer tests.
package plantest

import (
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
)

// Plan loads a spec (which must be valid) and plans it.
func Plan(t testing.TB, specYAML string) *plan.Cluster {
	t.Helper()
	s, r := spec.Load([]byte(specYAML))
	if err := r.Err(false); err != nil {
		t.Fatalf("spec: %v", err)
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Render runs one renderer for the named node and returns its files by path.
func Render(t testing.TB, c *plan.Cluster, node string, render func(*plan.Cluster, *plan.Node, *fileset.Set) error) (*fileset.Set, map[string]fileset.File) {
	t.Helper()
	n := c.NodeByName(node)
	if n == nil {
		t.Fatalf("no node %s", node)
	}
	p := &fileset.Set{Name: node}
	if err := render(c, n, p); err != nil {
		t.Fatal(err)
	}
	files := map[string]fileset.File{}
	for _, f := range append(p.Files, p.UnitFiles()...) {
		files[f.Path] = f
	}
	return p, files
}

// HA is a 3 control-plane, 3 worker cluster with internal HAProxy, the
// seed's shape; Extra is appended to its spec section.
func HA(extra string) string {
	return `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
metadata: {name: t}
spec:
  hosts:
  - {name: cp1, address: 10.0.0.1, internalAddress: 10.0.0.1}
  - {name: cp2, address: 10.0.0.2, internalAddress: 10.0.0.2}
  - {name: cp3, address: 10.0.0.3, internalAddress: 10.0.0.3}
  - {name: w1, address: 10.0.0.11, internalAddress: 10.0.0.11}
  - {name: w2, address: 10.0.0.12, internalAddress: 10.0.0.12}
  - {name: w3, address: 10.0.0.13, internalAddress: 10.0.0.13}
  roleGroups:
    etcd: [cp1, cp2, cp3]
    control-plane: [cp1, cp2, cp3]
    worker: [w1, w2, w3]
  controlPlaneEndpoint: {internalLoadbalancer: haproxy}
` + extra
}
