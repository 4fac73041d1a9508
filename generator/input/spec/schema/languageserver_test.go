package schema_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec/schema"
	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/templates"
)

// ksgenDocument is a ksgen document as a user adds it, starting with the
// schema line.
const ksgenDocument = `---
# yaml-language-server: $schema=` + schema.FileName + `
apiVersion: ksgen.io/v1alpha1
kind: Config
spec:
  joinWindow: 720h
  users:
  - name: ops
    sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops"]
  roles:
    worker: {os: ubuntu}
`

// TestYAMLLanguageServer opens create config's output, with a ksgen
// document added, in the real yaml-language-server with the schema beside
// it: no diagnostics. The same file with two mistakes in the Cluster and two
// in the ksgen document gets a diagnostic on each of those four lines and
// nowhere else.
func TestYAMLLanguageServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	raw, err := schema.Generate("file")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(schema.FileName, string(raw))
	sample, err := templates.Execute("config-sample.yaml.tmpl", templates.ConfigSample{
		Name: "sample", KubernetesVersion: "v1.22.10", KubeSphereVersion: "v3.3.1", Schema: schema.FileName,
	})
	if err != nil {
		t.Fatal(err)
	}
	good := write("good.yaml", string(sample)+ksgenDocument)
	bad := strings.NewReplacer(
		"    clusterName: cluster.local\n", "    clusterName: cluster.local\n    maxpods: 5\n", // unknown field
		"    port: 6443\n", "    port: \"6443\"\n", // a string where ksgen reads an integer
		"  joinWindow: 720h\n", "  joinWindow: 720h\n  bootstrapTokenTtl: 24h\n", // unknown field
		"    worker: {os: ubuntu}\n", "    workers: {os: ubuntu}\n", // unknown role
	).Replace(string(sample) + ksgenDocument)
	badPath := write("bad.yaml", bad)

	got, err := consumers.YAMLLanguageServer([]string{good, badPath})
	if consumers.IsMissing(err) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if d := got[good]; len(d) != 0 {
		t.Errorf("create config's output with a ksgen document: %v", d)
	}
	var want []int
	for i, l := range strings.Split(bad, "\n") {
		if strings.Contains(l, "maxpods") || strings.Contains(l, `"6443"`) || strings.Contains(l, "bootstrapTokenTtl") || strings.Contains(l, "workers:") {
			want = append(want, i+1)
		}
	}
	var lines []int
	for _, d := range got[badPath] {
		lines = append(lines, d.Line)
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	if !slices.Equal(lines, want) {
		t.Errorf("diagnostics on lines %v, want %v: %v", lines, want, got[badPath])
	}
}
