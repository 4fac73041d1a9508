package generator_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/output/tree"
)

// A worker's output must not depend on how many workers the cluster has:
// nothing a node carries lists every worker.
func TestWorkerOutputIndependentOfClusterSize(t *testing.T) {
	t.Parallel()
	render := func(hosts int) map[string][]byte {
		s, r := spec.Load(clusterSpec(hosts))
		if err := r.Err(false); err != nil {
			t.Fatal(err)
		}
		out, err := generator.Generate(s, testBundle(t), generator.Options{Nodes: []string{"node5", "node2"}})
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, f := range out.Files {
			if f.Path != tree.IndexFile {
				files[f.Path] = f.Content
			}
		}
		return files
	}
	small, large := render(10), render(500)
	if len(small) != len(large) {
		t.Fatalf("%d files with 10 hosts, %d with 500", len(small), len(large))
	}
	for path, content := range small {
		if !bytes.Equal(content, large[path]) {
			t.Errorf("%s differs between a 10-host and a 500-host cluster", path)
		}
	}
	if len(small) == 0 || !strings.HasPrefix(firstKey(small), "node") {
		t.Fatalf("nothing rendered for node5/node2")
	}
}

func firstKey(m map[string][]byte) string {
	for k := range m {
		return k
	}
	return ""
}
