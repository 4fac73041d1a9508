package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/input/spec/schema"
	"github.com/ksgen/ksgen/templates"
)

// compile compiles a generated schema with a real JSON Schema validator,
// which also checks it against the 2020-12 meta-schema.
func compile(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	raw, err := schema.Generate(name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name+".schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name + ".schema.json")
	if err != nil {
		t.Fatalf("schema %s does not compile: %v", name, err)
	}
	return s
}

// documents reads every YAML document of a file as the JSON value an editor
// validates, with its apiVersion/kind.
func documents(t *testing.T, data []byte) (ids []string, values []any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return ids, values
		}
		if err != nil {
			t.Fatal(err)
		}
		if v == nil {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		j, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := v.(map[string]any)
		ids = append(ids, str(m["apiVersion"])+"/"+str(m["kind"]))
		values = append(values, j)
	}
}

func str(v any) string { s, _ := v.(string); return s }

// specFiles are the specs under every testdata directory of the module
// (the invalid corpus and the golden trees aside).
func specFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("../../../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "invalid" || strings.HasPrefix(d.Name(), "golden")):
			return filepath.SkipDir
		case d.IsDir() || !strings.Contains(filepath.ToSlash(path), "/testdata/"):
			return nil
		case strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(data, []byte("\nkind: Cluster\n")) {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("found %d specs under testdata, want at least 25", len(files))
	}
	return files
}

// TestSchemaAcceptsEverySpec validates every document of every spec under
// testdata/ (which ksgen loads) against the file schema, and the Cluster and
// ksgen documents against their own schema too.
func TestSchemaAcceptsEverySpec(t *testing.T) {
	t.Parallel()
	file, cluster, ksgen := compile(t, "file"), compile(t, "cluster"), compile(t, "ksgen")
	docs, files := 0, specFiles(t)
	var refused []string
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, r := spec.Load(data); r.Err(false) != nil {
			refused = append(refused, path) // a fixture of a test that expects a failure
			continue
		}
		ids, values := documents(t, data)
		for i, v := range values {
			docs++
			if err := file.Validate(v); err != nil {
				t.Errorf("%s: document %d (%s): %v", path, i+1, ids[i], err)
			}
			var own *jsonschema.Schema
			switch ids[i] {
			case spec.ClusterKind:
				own = cluster
			case spec.ConfigKind:
				own = ksgen
			default:
				continue
			}
			if err := own.Validate(v); err != nil {
				t.Errorf("%s: document %d (%s): %v", path, i+1, ids[i], err)
			}
		}
	}
	t.Logf("%d documents of %d specs valid; %d specs ksgen refuses not checked: %v", docs, len(files)-len(refused), len(refused), refused)
}

// enumCases are the corpus files whose value is not one of a field's list,
// which the schema knows too.
var enumCases = map[string]bool{"ksgen-bad-os": true, "ksgen-bad-role-os": true, "ksgen-bad-cloud": true, "kubeadm-patch-unknown-kind": true, "lb-proxy-unknown": true}

// TestSchemaRejectsTypeErrors checks that the schema refuses every file of
// the invalid corpus whose finding is a wrong type or an unknown field,
// which is what a schema can know.
func TestSchemaRejectsTypeErrors(t *testing.T) {
	t.Parallel()
	file := compile(t, "file")
	files, err := filepath.Glob("../../../../testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, r := spec.Load(data)
		if len(r.Entries) != 1 {
			continue
		}
		e := r.Entries[0].Err
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		if !errors.Is(e, spec.ErrType) && !errors.Is(e, spec.ErrUnknownField) && !enumCases[name] {
			continue
		}
		checked++
		_, values := documents(t, data)
		rejected := false
		for _, v := range values {
			if file.Validate(v) != nil {
				rejected = true
			}
		}
		if !rejected {
			t.Errorf("%s: the schema accepts what ksgen refuses: %s", path, r.Entries[0])
		}
	}
	if checked < 8 {
		t.Errorf("checked %d type errors of the corpus, want at least 8", checked)
	}
}

// TestSchemaDescribesFields: the definitions carry the types' doc comments.
func TestSchemaDescribesFields(t *testing.T) {
	t.Parallel()
	raw, err := schema.Generate("ksgen")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs map[string]struct {
			Description string `json:"description"`
			Properties  map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if got := s.Defs["ConfigSpec"].Properties["joinWindow"].Description; !strings.HasPrefix(got, "JoinWindow is how long nodes rendered from the bundle can join") {
		t.Errorf("ConfigSpec.joinWindow description %q", got)
	}
	if got := s.Defs["Download"].Description; got == "" {
		t.Error("Download has no description")
	}
	if _, err := schema.Generate("nonsense"); err == nil {
		t.Error("Generate(nonsense) did not fail")
	}
}

// TestSchemaAcceptsCreateConfig validates what create config writes, with
// and without KubeSphere, whose first line names the schema.
func TestSchemaAcceptsCreateConfig(t *testing.T) {
	t.Parallel()
	file := compile(t, "file")
	for _, ks := range []string{"", "v3.3.1"} {
		raw, err := templates.Execute("config-sample.yaml.tmpl", templates.ConfigSample{
			Name: "sample", KubernetesVersion: "v1.22.10", KubeSphereVersion: ks, Schema: schema.FileName,
		})
		if err != nil {
			t.Fatal(err)
		}
		// The YAML language server reads the line per document.
		modeline := "# yaml-language-server: $schema=" + schema.FileName + "\n"
		if !strings.HasPrefix(string(raw), modeline) || strings.Count(string(raw), "\n---\n"+modeline) != strings.Count(string(raw), "\n---\n") {
			t.Errorf("kubesphere %q: not every document starts with %q:\n%s", ks, modeline, raw)
		}
		ids, values := documents(t, raw)
		if len(values) != map[string]int{"": 1, "v3.3.1": 2}[ks] {
			t.Fatalf("kubesphere %q: %d documents", ks, len(values))
		}
		for i, v := range values {
			if err := file.Validate(v); err != nil {
				t.Errorf("kubesphere %q: document %s: %v", ks, ids[i], err)
			}
		}
	}
}

// TestReadmeReference fails when the README's ksgen document reference is
// not what the Go types say: run make docs.
func TestReadmeReference(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := schema.UpdateReadme(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(raw) {
		t.Error("README.md's ksgen document reference is stale: run make docs")
	}
	for _, field := range []string{"`joinWindow`", "`sshAuthorizedKeys`", "`kubeadmPatches`", "`downloads`", "#### ksgen NodeSettings"} {
		if !strings.Contains(schema.Reference(), field) {
			t.Errorf("the reference does not show %s", field)
		}
	}
}
