package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddingANodeLater is the README's "Adding a node later": add the host
// to the spec, re-render with the same bundle, boot it. No file of any
// existing node changes, so nothing else has to be touched, and the new
// worker joins with the bundle's token, which the join window keeps valid.
func TestAddingANodeLater(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	if _, stderr, err := ksgen(t, "render", "-f", spec, "-o", out1); err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	raw, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	added := strings.Replace(string(raw), "  roleGroups:\n", "  - {name: node4, address: 172.16.0.8, internalAddress: 172.16.0.8}\n  roleGroups:\n", 1)
	added = strings.Replace(added, "    - node3\n", "    - node3\n    - node4\n", 1)
	if added == string(raw) || strings.Count(added, "node4") != 2 {
		t.Fatal("could not add node4 to the sample")
	}
	if err := os.WriteFile(spec, []byte(added), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := ksgen(t, "render", "-f", spec, "-o", out2); err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	first, second := snapshot(t, out1), snapshot(t, out2)
	for path, v := range first {
		if path != "index.json" && second[path] != v {
			t.Errorf("%s changed when node4 was added", path)
		}
	}
	var added4 int
	for path := range second {
		if _, ok := first[path]; !ok {
			if !strings.HasPrefix(path, "node4/") {
				t.Errorf("new file %s", path)
			}
			added4++
		}
	}
	if added4 == 0 {
		t.Fatal("node4 was not rendered")
	}
	b, _ := readBundleFile(t, filepath.Join(dir, "ksgen-secrets.yaml"))
	hash, err := b.CACertHash()
	if err != nil {
		t.Fatal(err)
	}
	join := second["node4/kubeadm.yaml"]
	for _, want := range []string{"kind: JoinConfiguration", "token: " + b.BootstrapToken, hash} {
		if !strings.Contains(join, want) {
			t.Errorf("node4's kubeadm.yaml has no %q:\n%s", want, join)
		}
	}
}
