package generator_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/output/tree"
)

func loadWithConfig(t *testing.T, config string) *spec.Spec {
	t.Helper()
	raw, err := os.ReadFile("../testdata/config-sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.yaml")
	if err := os.WriteFile(path, append(raw, []byte("\n---\n"+config)...), 0o644); err != nil {
		t.Fatal(err)
	}
	s, r, err := spec.LoadFile(path)
	if err != nil || r.Err(false) != nil {
		t.Fatalf("load: %v %v", err, r.Err(false))
	}
	return s
}

// The bundled example's cloud-init payloads fit AWS's user-data limit on
// the workers. The control planes do not: the init node (CA keys, the addon
// steps, the join-window keeper), the joining ones since they carry
// KubeKey's sysctls and the firewall rules (16.4 KiB gzipped, 0.4 KiB over),
// and the Ignition control planes (Ignition on AWS takes no gzip): those go
// through a pointer config (cloud_test.go).
func TestBundledExampleFitsAWS(t *testing.T) {
	t.Parallel()
	s := loadWithConfig(t, "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  budget: {cloud: aws}\n")
	if _, err := generator.Generate(s, testBundle(t), generator.Options{Formats: []string{generator.FormatCloudInit}, Nodes: []string{"node1", "node2", "node3"}}); err != nil {
		t.Fatalf("over the AWS budget: %v", err)
	}
	s = loadWithConfig(t, "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: fcos\n  budget: {cloud: aws}\n")
	if _, err := generator.Generate(s, testBundle(t), generator.Options{Formats: []string{generator.FormatIgnition}, Nodes: []string{"node1", "node2", "node3"}}); err != nil {
		t.Fatalf("Ignition workers over the AWS budget: %v", err)
	}
}

func TestOverBudgetNamesTheNodeAndItsLargestFiles(t *testing.T) {
	t.Parallel()
	s := loadWithConfig(t, "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  budget: {bytes: 2000}\n")
	_, err := generator.Generate(s, testBundle(t), generator.Options{Formats: []string{generator.FormatCloudInit}})
	if err == nil {
		t.Fatal("a 2000-byte budget passed")
	}
	for _, want := range []string{"render node master1", "over the 2000-byte budget of 2000", "largest files: ", "/opt/ksgen/addons.sh ("} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// User snippets are merged as children: a file the snippet adds is in both payloads.
func TestSnippetsAreMerged(t *testing.T) {
	t.Parallel()
	s := loadWithConfig(t, `apiVersion: ksgen.io/v1alpha1
kind: Config
spec:
  roles:
    worker:
      snippets: {butane: worker.bu, cloudConfig: worker.yaml}
`)
	bu := "variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n  - path: /etc/motd.d/site\n    contents: {inline: from-the-snippet}\n"
	cc := "#cloud-config\nwrite_files:\n- path: /etc/motd.d/site\n  content: from-the-snippet\n"
	for name, body := range map[string]string{"worker.bu": bu, "worker.yaml": cc} {
		if err := os.WriteFile(filepath.Join(s.Dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := generator.Generate(s, testBundle(t), generator.Options{Nodes: []string{"node1", "master1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Files {
		has := strings.Contains(string(f.Content), "/etc/motd.d/site")
		switch f.Path {
		case "node1/config.ign", "node1/user-data":
			if !has {
				t.Errorf("%s lacks the snippet's file", f.Path)
			}
		case "master1/config.ign", "master1/user-data":
			if has {
				t.Errorf("%s got the worker snippet", f.Path)
			}
		}
	}
}

// An encoder's error is said once, with the node and the format in front:
// "render node node1: ignition: snippet: …".
func TestEncoderErrorsNameNodeAndFormatOnce(t *testing.T) {
	t.Parallel()
	for format, tc := range map[string]struct{ os, want string }{
		generator.FormatIgnition:  {"fcos", `render node node1: ignition: snippet: variant "flatcar", want "fcos"`},
		generator.FormatCloudInit: {"ubuntu", `render node node1: cloud-init: snippet: first line must be "#cloud-config"`},
	} {
		s := loadWithConfig(t, "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  roles:\n    worker:\n      os: "+tc.os+"\n      snippets: {butane: worker.bu, cloudConfig: worker.yaml}\n")
		for name, body := range map[string]string{"worker.bu": "variant: flatcar\nversion: 1.1.0\n", "worker.yaml": "packages: [jq]\n"} {
			if err := os.WriteFile(filepath.Join(s.Dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want := tc.want
		_, err := generator.Generate(s, testBundle(t), generator.Options{Formats: []string{format}, Nodes: []string{"node1"}})
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "node1") != 1 || strings.Count(err.Error(), format) != 1 {
			t.Errorf("%s: error %v, want it to start %q and name the node and the format once", format, err, want)
		}
	}
}

// The bundled example's payloads, gzipped as index.json measures them (with
// the payload compressor, 2.8% over Go's gzip -6 here). The workers must not
// grow: issue 19 asks for 4,096 B, and what is left above
// it is carried by the bootstrap, the LB files and KubeKey's sysctls (see
// the README's "Size"). The control planes' figures are logged.
func TestBundledExamplePayloadSizes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format, config string
		worker         int // the ceiling for every worker, gzip bytes
	}{
		{generator.FormatCloudInit, "", 5880},
		{generator.FormatIgnition, "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: fcos\n", 6830},
	} {
		s := loadWithConfig(t, tc.config)
		out, err := generator.Generate(s, testBundle(t), generator.Options{Formats: []string{tc.format}})
		if err != nil {
			t.Fatal(err)
		}
		var idx generator.Index
		for _, f := range out.Files {
			if f.Path == tree.IndexFile {
				if err := json.Unmarshal(f.Content, &idx); err != nil {
					t.Fatal(err)
				}
			}
		}
		workers := 0
		for _, n := range idx.Nodes {
			for _, f := range n.Files {
				if f.Path != n.Payload {
					continue
				}
				t.Logf("%s %s: %d B, %d B gzipped", n.Name, f.Path, f.Bytes, f.Gzip)
				if slices.Contains(n.Roles, "worker") && !slices.Contains(n.Roles, "control-plane") {
					workers++
					if f.Gzip > tc.worker {
						t.Errorf("%s %s is %d B gzipped, over %d", n.Name, f.Path, f.Gzip, tc.worker)
					}
				}
			}
		}
		if workers != 3 {
			t.Errorf("%s: %d worker payloads, want 3", tc.format, workers)
		}
	}
}
