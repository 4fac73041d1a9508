package kubeadm

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// emitted is doc as the yaml.v3 emitter writes it (jsonToYAML's fallback).
func emitted(t *testing.T, doc any) []byte {
	t.Helper()
	out, err := emitYAML(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Random JSON documents, with strings and keys YAML reads as other types,
// needs quoting for, or sorts by their numbers: whatever printYAML prints
// must be what the emitter prints, and it must print most of them.
func TestPrintYAMLMatchesEmitter(t *testing.T) {
	t.Parallel()
	words := []string{
		"node1", "172.16.0.5", "10.0.0.1.", "1.2", "1..2.3", "1.2.3", "123", "0x1F", "1e5", "2001-12-14", "1:30",
		"yes", "On", "NULL", "true", "y", "Y", "~", "", "-x", "x-", ".inf", "/etc/kubernetes/pki", "unix:///run/containerd/containerd.sock",
		"sha256:0157aed9", "lb.kubesphere.local:6443", "a: b", "a b", "x:", "#x", "a#b", "@x", "a=b", "a+b", "a,b", "[a]", "é", "a\nb",
		"IfNotPresent", "DirAvailable--etc-kubernetes-manifests", "wiz88i.ka2e1onwcbshkmfd",
	}
	keys := []string{"name", "value", "a", "B", "apiVersion", "a10", "a9", "on", "no", "key1", "x-y", "nodeRegistration", "taints", "kind", "node-ip", "node_ip", "node.ip", "a/b", "a-", "a_", "A-b", "aB", "a_b"}
	rng := rand.New(rand.NewPCG(1, 19))
	var value func(depth int) any
	value = func(depth int) any {
		switch n := rng.IntN(10); {
		case depth < 3 && n < 3:
			m := map[string]any{}
			for range rng.IntN(4) {
				m[keys[rng.IntN(len(keys))]] = value(depth + 1)
			}
			return m
		case depth < 3 && n < 5:
			l := []any{}
			for range rng.IntN(3) {
				l = append(l, value(depth+1))
			}
			return l
		case n == 5:
			return []any{nil, true, false}[rng.IntN(3)]
		case n == 6:
			return []float64{0, 1, 10250, 3e6, 0.5, -2, 1e21}[rng.IntN(7)]
		}
		return words[rng.IntN(len(words))]
	}
	printed := 0
	const docs = 20000
	for range docs {
		doc := map[string]any{}
		for range 1 + rng.IntN(4) {
			doc[keys[rng.IntN(len(keys))]] = value(0)
		}
		got, ok := printYAML(doc)
		if !ok {
			continue
		}
		printed++
		if want := emitted(t, doc); !bytes.Equal(got, want) {
			t.Fatalf("printYAML differs from the emitter:\n%s\nwant\n%s", got, want)
		}
	}
	if printed < docs/10 {
		t.Errorf("printYAML printed %d of %d documents: the test no longer covers it", printed, docs)
	}
}

// Every kubeadm document of the golden outputs prints the same without the
// emitter, and each JoinConfiguration (a worker's whole config) does print
// without it, but for dual-stack node IPs ("10.0.5.23,fd00:5::23").
func TestPrintYAMLGoldenDocuments(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("../../../../testdata/golden/*/*/kubeadm.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden kubeadm configs (%v)", err)
	}
	joins := 0
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range strings.Split(string(raw), "---\n") {
			if !strings.Contains(d, "apiVersion: kubeadm.k8s.io/") {
				continue // component configs are printed by sigs.k8s.io/yaml
			}
			js, err := yaml.YAMLToJSON([]byte(d))
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(js, &doc); err != nil {
				t.Fatal(err)
			}
			got, ok := printYAML(doc)
			if ok && string(got) != d {
				t.Errorf("%s: printYAML differs from the golden:\n%s\nwant\n%s", p, got, d)
			}
			if strings.Contains(d, "kind: JoinConfiguration") && !strings.Contains(p, "dual-stack") {
				joins++
				if !ok {
					t.Errorf("%s: the JoinConfiguration is left to the emitter", p)
				}
			}
		}
	}
	if joins == 0 {
		t.Error("no JoinConfiguration among the goldens")
	}
}
