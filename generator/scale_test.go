package generator_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
)

// A worker's output must not depend on how many workers the cluster has:
// nothing a node carries lists every worker. Both payload encodings are
// compared: on Fedora CoreOS (Ignition) and on the default OS (cloud-init),
// the encoders' per-render caches (what a 1,000-host render encodes once
// for many nodes) must give a worker the bytes it gets on its own.
func TestWorkerOutputIndependentOfClusterSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		doc     []byte
		payload string
	}{
		{"ignition", fcosNodes, "config.ign"},
		{"cloud-init", nil, "user-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The small cluster renders the two nodes alone; the large one
			// renders every node, so its workers share the encoders' caches.
			render := func(hosts int, nodes []string) map[string][]byte {
				s, r := spec.Load(append(clusterSpec(hosts), tc.doc...))
				if err := r.Err(false); err != nil {
					t.Fatal(err)
				}
				out, err := generator.Generate(s, testBundle(t), generator.Options{Nodes: nodes, Formats: generator.Formats})
				if err != nil {
					t.Fatal(err)
				}
				files := map[string][]byte{}
				for _, f := range out.Files {
					if strings.HasPrefix(f.Path, "node5/") || strings.HasPrefix(f.Path, "node2/") {
						files[f.Path] = f.Content
					}
				}
				return files
			}
			small, large := render(10, []string{"node5", "node2"}), render(1000, nil)
			if len(small) != len(large) {
				t.Fatalf("%d files with 10 hosts, %d with 1000", len(small), len(large))
			}
			for path, content := range small {
				if !bytes.Equal(content, large[path]) {
					t.Errorf("%s differs between a 10-host and a 1,000-host cluster", path)
				}
			}
			want := []string{"node5/" + tc.payload, "node2/" + tc.payload}
			if tc.payload == "config.ign" {
				want = append(want, "node5/config.bu", "node2/config.bu")
			}
			for _, path := range want {
				if _, ok := small[path]; !ok {
					t.Errorf("%s not rendered", path)
				}
			}
			if len(small) == 0 || !strings.HasPrefix(firstKey(small), "node") {
				t.Fatalf("nothing rendered for node5/node2")
			}
		})
	}
}

// fcosNodes is a ksgen document giving every node Fedora CoreOS.
var fcosNodes = []byte("---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: fcos\n")

func firstKey(m map[string][]byte) string {
	for k := range m {
		return k
	}
	return ""
}
