package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// exampleGiven is what an example assumes beyond create config's
// config-sample.yaml: files a user makes with another ksgen command first,
// by the example's command path.
var exampleGiven = map[string][][]string{
	// The bundle a render creates beside the spec, and one kept elsewhere.
	"ksgen kubeconfig":     {{"secrets", "gen"}, {"secrets", "gen", "-o", "prod-secrets.yaml"}},
	"ksgen token rotate":   {{"secrets", "gen"}, {"secrets", "gen", "-o", "prod-secrets.yaml"}},
	"ksgen token manifest": {{"secrets", "gen"}, {"secrets", "gen", "-o", "prod-secrets.yaml"}},
	"ksgen render":         {{"secrets", "gen", "-o", "prod-secrets.yaml"}},
}

// exampleExcluded are the example lines this test does not run, with why.
var exampleExcluded = map[string]string{
	"ksgen serve":           "serves until signalled, on the example's non-loopback addresses (the serve package's tests run it on 127.0.0.1)",
	"ksgen status":          "reads a running cluster's API server",
	"ksgen export matchbox": "needs a rendered host with a MAC address (the ksgen document's spec.hosts.<host>.mac), which create config's file has none of",
	"ksgen render -f config-sample.yaml -o out --matchbox": "needs a host with a MAC address, as export matchbox does",
}

// example is one runnable line of a command's Example field.
type example struct {
	command string // "ksgen token rotate"
	line    string
	args    []string // after "ksgen"
	piped   bool     // its output goes to another program
	stdout  string   // the file its output is redirected to
}

// commandExamples lists every command's examples, joining lines continued
// with a backslash and dropping comments. Lines that run another program
// (packer, kubectl, matchbox) are left out: they consume ksgen's output.
func commandExamples(t *testing.T, cmd *cobra.Command) []example {
	t.Helper()
	var out []example
	var lines []string
	for _, l := range strings.Split(cmd.Example, "\n") {
		l = strings.TrimSpace(l)
		if n := len(lines); n > 0 && strings.HasSuffix(lines[n-1], `\`) {
			lines[n-1] = strings.TrimSuffix(lines[n-1], `\`) + l
			continue
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	for _, l := range lines {
		line := l
		if i := strings.Index(l, " #"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		ksgenPart, _, piped := strings.Cut(l, "|")
		ksgenPart, redirect, _ := strings.Cut(ksgenPart, ">")
		fields := strings.Fields(ksgenPart)
		if len(fields) == 0 || fields[0] != "ksgen" {
			continue
		}
		if strings.ContainsAny(ksgenPart, `'"<>$&;`) {
			t.Errorf("%s: example %q uses quoting, placeholders or shell syntax this test cannot run as written", cmd.CommandPath(), line)
			continue
		}
		out = append(out, example{command: cmd.CommandPath(), line: line, args: fields[1:], piped: piped, stdout: strings.TrimSpace(redirect)})
	}
	for _, c := range cmd.Commands() {
		out = append(out, commandExamples(t, c)...)
	}
	return out
}

// TestHelpExamples runs every command's --help example as written, in a
// directory where ksgen create config has just written config-sample.yaml
// (create config's own examples run in an empty one), and checks it exits 0.
// An example piped into another program must print something to pipe.
func TestHelpExamples(t *testing.T) {
	examples := commandExamples(t, newRootCommand(io.Discard, io.Discard))
	if len(examples) < 20 {
		t.Fatalf("found %d examples, want every command's", len(examples))
	}
	dirs := map[string]string{} // command path -> its directory
	ran := 0
	for _, ex := range examples {
		if why := excluded(ex); why != "" {
			t.Logf("not run: %s (%s)", ex.line, why)
			continue
		}
		dir, ok := dirs[ex.command]
		if !ok {
			// One directory per command: its examples run in order, as a
			// user types them.
			dir = t.TempDir()
			dirs[ex.command] = dir
			t.Chdir(dir)
			if ex.command != "ksgen create config" {
				mustRun(t, "create", "config")
				for _, given := range exampleGiven[ex.command] {
					mustRun(t, given...)
				}
			}
		}
		t.Chdir(dir)
		stdout, stderr, err := ksgen(t, ex.args...)
		if err != nil {
			t.Errorf("%s: %v\nstderr:\n%s", ex.line, err, stderr)
			continue
		}
		if (ex.piped || ex.stdout != "") && stdout == "" {
			t.Errorf("%s: prints nothing to pipe or redirect", ex.line)
		}
		if ex.stdout != "" {
			if err := os.WriteFile(ex.stdout, []byte(stdout), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ran++
	}
	t.Logf("ran %d examples of %d commands", ran, len(dirs))
	if ran < 15 {
		t.Errorf("ran %d examples, want at least 15", ran)
	}
	// Outputs the examples name exist where they said.
	for command, file := range map[string]string{
		"ksgen create config":      "cluster.yaml",
		"ksgen secrets gen":        "prod-secrets.yaml",
		"ksgen render":             "out/index.json",
		"ksgen kubeconfig":         "admin.kubeconfig",
		"ksgen images packer-vars": "dev.pkrvars.hcl",
		"ksgen schema":             "ksgen.schema.json",
	} {
		if _, err := os.Stat(filepath.Join(dirs[command], file)); err != nil {
			t.Errorf("%s: %v", command, err)
		}
	}
}

// excluded says why an example is not run, or "".
func excluded(ex example) string {
	line := "ksgen " + strings.Join(ex.args, " ")
	for prefix, why := range exampleExcluded {
		if strings.HasPrefix(line, prefix) {
			return why
		}
	}
	return ""
}

func mustRun(t *testing.T, args ...string) {
	t.Helper()
	if _, stderr, err := ksgen(t, args...); err != nil {
		t.Fatalf("ksgen %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
}

// TestFileFlag: every command that reads or writes a spec file takes it as
// -f/--file (create config also answers to KubeKey's --filename).
func TestFileFlag(t *testing.T) {
	t.Parallel()
	var walk func(*cobra.Command)
	n := 0
	walk = func(cmd *cobra.Command) {
		if f := cmd.Flags().Lookup("file"); f != nil {
			n++
			if f.Shorthand != "f" {
				t.Errorf("%s: --file has shorthand %q, want f", cmd.CommandPath(), f.Shorthand)
			}
		}
		if cmd.Flags().Lookup("filename") != nil && cmd.CommandPath() != "ksgen create config" {
			t.Errorf("%s: --filename besides --file", cmd.CommandPath())
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(newRootCommand(io.Discard, io.Discard))
	if n < 9 {
		t.Errorf("%d commands take --file, want the 9 that read or write a spec", n)
	}
}
