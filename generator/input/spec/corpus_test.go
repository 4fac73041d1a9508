package spec_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
)

// invalidCorpus is the directory of spec files with one mistake each.
const invalidCorpus = "../../../testdata/invalid"

// corpusCase is one file of the invalid corpus: its first line says which
// report entry it must produce ("# want: …" for an error, "# want-strict: …"
// for a warning that only --strict makes fatal), as ksgen validate prints it
// when run in testdata/invalid: "FILE:LINE: field.path: message".
type corpusCase struct {
	name   string
	data   []byte
	want   string
	strict bool
}

func readCorpus(t testing.TB) []corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(invalidCorpus, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("invalid corpus has %d files, want at least 30", len(files))
	}
	var cases []corpusCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := bytes.Cut(data, []byte("\n"))
		c := corpusCase{name: strings.TrimSuffix(filepath.Base(f), ".yaml"), data: data}
		switch line := string(first); {
		case strings.HasPrefix(line, "# want: "):
			c.want = strings.TrimPrefix(line, "# want: ")
		case strings.HasPrefix(line, "# want-strict: "):
			c.want, c.strict = strings.TrimPrefix(line, "# want-strict: "), true
		default:
			t.Fatalf("%s: first line %q is not a '# want: ' or '# want-strict: ' header", f, line)
		}
		cases = append(cases, c)
	}
	return cases
}

// load is what ksgen validate reports: the spec's own findings, then, when
// it loads without errors, those of its kubeadm patches on the rendered configs.
func load(t *testing.T, data []byte) (*spec.Spec, *spec.Report) {
	t.Helper()
	s, r := spec.Load(data)
	if s == nil || r.HasErrors(false) {
		return s, r
	}
	// The one full validation validate and render run.
	if _, err := generator.Validate(s, r); err != nil {
		t.Fatalf("validate: %v", err)
	}
	return s, r
}

// TestInvalidCorpus loads every file of testdata/invalid and checks that
// the report holds exactly the one finding its header names, with its
// message, field path and line.
func TestInvalidCorpus(t *testing.T) {
	t.Parallel()
	for _, c := range readCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, r := load(t, c.data)
			file := c.name + ".yaml"
			var got []string
			for _, e := range r.Entries {
				got = append(got, e.Format(file))
			}
			if len(r.Entries) != 1 || got[0] != c.want {
				t.Fatalf("report:\n  %s\nwant exactly:\n  %s", strings.Join(got, "\n  "), c.want)
			}
			e := r.Entries[0]
			if e.Line < 0 || e.Line > bytes.Count(c.data, []byte("\n"))+1 {
				t.Errorf("line %d is outside the file", e.Line)
			}
			if c.strict {
				if e.Severity != spec.Warning {
					t.Errorf("severity %s, want warning", e.Severity)
				}
				if s == nil {
					t.Error("a spec with only a warning did not load")
				}
				if err := r.Err(false); err != nil {
					t.Errorf("Err(false) = %v, want nil: a warning must not stop a normal run", err)
				}
				// Under --strict it is printed as an error, in the error block.
				strictWant := file + " is not valid:\n" + strings.Replace(c.want, ": warning: ", ": ", 1) + " [a warning, fatal under --strict]"
				if err := r.ErrIn(file, true); err == nil || err.Error() != strictWant {
					t.Errorf("ErrIn(true) = %v, want %q", err, strictWant)
				}
				return
			}
			if e.Severity != spec.Error {
				t.Errorf("severity %s, want error", e.Severity)
			}
			err := r.ErrIn(file, false)
			if err == nil || err.Error() != file+" is not valid:\n"+c.want {
				t.Errorf("ErrIn(false) = %v, want %q", err, c.want)
			}
			// Callers still reach the entry and its named cause.
			var ee *spec.EntryError
			if !errors.As(err, &ee) || ee.Entry.Line != e.Line || !errors.Is(err, errors.Unwrap(ee)) {
				t.Errorf("ErrIn(false) = %v does not carry its entry", err)
			}
		})
	}
}

// TestInvalidCorpusLines checks the line each header names against the file
// itself: the line must exist and, for a finding about a named field, the
// field's key (or the key of its nearest ancestor) must be on it.
func TestInvalidCorpusLines(t *testing.T) {
	t.Parallel()
	for _, c := range readCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, r := load(t, c.data)
			if len(r.Entries) != 1 {
				t.Skip("TestInvalidCorpus reports this file")
			}
			e := r.Entries[0]
			if e.Line == 0 {
				return
			}
			var lines []string
			sc := bufio.NewScanner(bytes.NewReader(c.data))
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			if e.Line > len(lines) {
				t.Fatalf("line %d, but the file has %d lines", e.Line, len(lines))
			}
			text := lines[e.Line-1]
			if strings.HasPrefix(strings.TrimSpace(text), "#") {
				t.Errorf("line %d is a comment: %q", e.Line, text)
			}
			if e.Path == "" {
				return
			}
			// Some element of the path (a key, or a list item's line) is on the line.
			for p := e.Path; p != ""; {
				i := strings.LastIndexAny(p, ".[")
				key := strings.TrimSuffix(p[i+1:], "]")
				if strings.Contains(text, key+":") || strings.Contains(text, key+`":`) || strings.HasPrefix(strings.TrimSpace(text), "- ") {
					return
				}
				if i < 0 {
					break
				}
				p = p[:i]
			}
			t.Errorf("line %d %q holds no key of path %s", e.Line, text, e.Path)
		})
	}
}
