package spec_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf16"

	"github.com/ksgen/ksgen/generator/input/spec"
)

// FuzzLoad feeds the loader arbitrary bytes, seeded with every spec in the
// repository. Load must never panic; every finding has a line in the file
// (or 0); a Spec comes back exactly when there is no error; and loading is
// deterministic.
//
//	go test ./generator/input/spec -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{
		"../../../testdata/specs/*.yaml",
		"../../../testdata/config-sample.yaml",
		filepath.Join(invalidCorpus, "*.yaml"),
	} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, files...)
	}
	if len(seeds) == 0 {
		f.Fatal("no seed specs found")
	}
	for _, file := range seeds {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, r := spec.Load(data)
		if r == nil {
			t.Fatal("Load returned no report")
		}
		lines := maxLines(data)
		for _, e := range r.Entries {
			if e.Line < 0 || e.Line > lines {
				t.Errorf("finding %q has line %d; the input has %d lines", e, e.Line, lines)
			}
			if e.Err == nil {
				t.Errorf("finding at %s (line %d) has no error", e.Path, e.Line)
			}
			_ = e.String()
		}
		if s == nil && !r.HasErrors(false) {
			t.Errorf("no spec and no error: %v", r.Entries)
		}
		if s != nil && !r.HasErrors(false) {
			if len(s.Roles[spec.RoleControlPlane]) == 0 {
				t.Error("a valid spec has no control plane")
			}
			if _, err := spec.KubernetesVersion(s.Cluster.Spec.Kubernetes.Version); err != nil {
				t.Errorf("a valid spec has a bad version: %v", err)
			}
		}
		s2, r2 := spec.Load(data)
		if !reflect.DeepEqual(r.Entries, r2.Entries) {
			t.Errorf("two loads gave different reports:\n%v\n%v", r.Entries, r2.Entries)
		}
		if (s == nil) != (s2 == nil) || (s != nil && !reflect.DeepEqual(s, s2)) {
			t.Error("two loads gave different specs")
		}
	})
}

// maxLines bounds the lines of a YAML stream: yaml.v3 reads UTF-16 after a
// BOM, and breaks lines at \n, \r, NEL, LS and PS.
func maxLines(data []byte) int {
	text := string(data)
	if len(data) >= 2 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff) {
		units := make([]uint16, 0, len(data)/2)
		for i := 2; i+1 < len(data); i += 2 {
			if data[0] == 0xff {
				units = append(units, uint16(data[i])|uint16(data[i+1])<<8)
			} else {
				units = append(units, uint16(data[i])<<8|uint16(data[i+1]))
			}
		}
		text = string(utf16.Decode(units))
	}
	n := 1
	for _, r := range text {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}
