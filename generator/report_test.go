package generator_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/output/fetch"
)

// With a serve URL, every node that runs the bootstrap gets the report
// script, its own report URL (0600, its own token) and the serve CA;
// hosts without a bootstrap and renders without a serve URL get none.
func TestReportFiles(t *testing.T) {
	t.Parallel()
	s, r, err := spec.LoadFile("../testdata/specs/valid-lb-hosts.yaml")
	if err != nil || r.Err(false) != nil {
		t.Fatalf("load: %v %v", err, r.Err(false))
	}
	b := testBundle(t)
	tokens, err := fetch.NewTokens(b)
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://10.0.0.5:8443"
	for _, url := range []string{"", base} {
		tr, err := generator.Generate(s, b, generator.Options{Formats: []string{generator.FormatCloudInit}, ServeURL: url})
		if err != nil {
			t.Fatal(err)
		}
		modes := map[string]fs.FileMode{}
		content := map[string]string{}
		for _, f := range tr.Files {
			modes[f.Path], content[f.Path] = f.Mode, string(f.Content)
		}
		bootstraps, lbOnly := 0, 0
		for path := range modes {
			node, ok := strings.CutSuffix(path, "/rootfs/opt/ksgen/bootstrap.sh")
			if !ok {
				continue
			}
			bootstraps++
			got := content[node+"/rootfs/opt/ksgen/report-url"]
			switch {
			case url == "" && (got != "" || content[node+"/rootfs/opt/ksgen/report"] != ""):
				t.Errorf("%s: report files without a serve URL", node)
			case url != "" && got != base+fetch.Path(node, tokens.For(node), fetch.ReportFile)+"\n":
				t.Errorf("%s: report URL %q", node, got)
			case url != "" && (modes[node+"/rootfs/opt/ksgen/report-url"] != 0o600 || content[node+"/rootfs/opt/ksgen/serve-ca.crt"] != string(fetch.ServeCA(b).Cert) || !strings.HasPrefix(content[node+"/rootfs/opt/ksgen/report"], "#!/bin/bash")):
				t.Errorf("%s: report-url mode %v, serve CA or report script wrong", node, modes[node+"/rootfs/opt/ksgen/report-url"])
			}
		}
		for path := range modes {
			if node, ok := strings.CutSuffix(path, "/user-data"); ok && !strings.Contains(node, "/") && content[node+"/rootfs/opt/ksgen/bootstrap.sh"] == "" {
				lbOnly++
				if content[node+"/rootfs/opt/ksgen/report-url"] != "" {
					t.Errorf("%s runs no bootstrap but got a report URL", node)
				}
			}
		}
		if bootstraps == 0 || lbOnly == 0 {
			t.Fatalf("want nodes with and without a bootstrap: %d and %d", bootstraps, lbOnly)
		}
	}
}
