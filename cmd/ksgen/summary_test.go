package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderSummary renders the sample with the test bundle and compares
// the per-node summary and next step with testdata/render-summary.golden;
// --quiet prints neither.
func TestRenderSummary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out := filepath.Join(dir, "out")
	stdout, stderr, err := ksgen(t, "render", "-f", spec, "-o", out, "--secrets", testBundle)
	if err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	checkGolden(t, "render-summary.golden", strings.ReplaceAll(stdout, dir+string(filepath.Separator), ""))
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasSuffix(f[4], "/user-data") {
			if _, err := os.Stat(filepath.Join(out, f[4])); err != nil {
				t.Errorf("the summary names %s: %v", f[4], err)
			}
		}
	}

	// With a serve URL the nodes report there, and the next step reads it.
	stdout, stderr, err = ksgen(t, "render", "-f", spec, "-o", out, "--secrets", testBundle, "--format", "cloud-init", "--serve-url", "https://10.0.0.5:8443")
	if err != nil || !strings.Contains(stdout, "then: ksgen status -f "+spec+" --serve-url https://10.0.0.5:8443 --wait\n") {
		t.Errorf("render --serve-url: %v; the next step does not read the reports:\n%s%s", err, stdout, stderr)
	}

	stdout, stderr, err = ksgen(t, "render", "-f", spec, "-o", out, "--secrets", testBundle, "--quiet", "--format", "cloud-init")
	if err != nil {
		t.Fatalf("render --quiet: %v\n%s", err, stderr)
	}
	if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, "rendered ") {
		t.Errorf("render --quiet printed more than its one line:\n%s", stdout)
	}
}

// TestRenderSummaryFormats checks the payload each OS boots, and a render
// without payloads.
func TestRenderSummaryFormats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		format, want string
	}{
		{"cloud-init", "master1/user-data"},
		// Ubuntu nodes boot cloud-init: with Ignition alone they get rootfs/ only.
		{"ignition", "master1  control-plane,etcd  ubuntu  init                -"},
		{"none", "master1  control-plane,etcd  ubuntu  init                -"},
		{"none", "next: boot every machine with a first-boot config you build from its <host>/rootfs/"},
	} {
		stdout, stderr, err := ksgen(t, "render", "-f", spec, "-o", out, "--secrets", testBundle, "--format", tc.format)
		if err != nil {
			t.Fatalf("render --format %s: %v\n%s", tc.format, err, stderr)
		}
		if !strings.Contains(stdout, tc.want) {
			t.Errorf("--format %s: summary does not show %q:\n%s", tc.format, tc.want, stdout)
		}
	}
}

// TestNoLoginWarning checks that validate and render say when no host gets
// an SSH key, not when one does, and that --strict does not fail on it.
func TestNoLoginWarning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bare := filepath.Join(dir, "bare.yaml")
	keyed := filepath.Join(dir, "keyed.yaml")
	sample, err := os.ReadFile("../../testdata/config-sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Without the passwords, so that --strict has nothing else to say.
	base := strings.ReplaceAll(string(sample), `, user: ubuntu, password: "Qcloud@123"`, "")
	if err := os.WriteFile(bare, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := base + "---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  roles:\n    worker:\n      sshAuthorizedKeys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx5mZl2Yc0m3lHq1b8mJ6a8kq6y0a2F3pPq9Zc0m3lH ops\"]\n"
	if err := os.WriteFile(keyed, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"validate", "--strict"}, {"render", "--strict", "--format", "none", "-o", filepath.Join(dir, "out"), "--secrets", testBundle}} {
		_, stderr, err := ksgen(t, append(args, "-f", bare)...)
		if err != nil {
			t.Errorf("%v on a spec without keys: %v (the warning must not fail --strict)", args, err)
		}
		if !strings.Contains(stderr, "no host can be logged into") || !strings.Contains(stderr, "sshAuthorizedKeys") {
			t.Errorf("%v: no warning about logging in:\n%s", args, stderr)
		}
		_, stderr, err = ksgen(t, append(args, "-f", keyed)...)
		if err != nil {
			t.Errorf("%v on a spec with keys: %v", args, err)
		}
		if strings.Contains(stderr, "logged into") {
			t.Errorf("%v: warning although the workers get a key:\n%s", args, stderr)
		}
	}
}

// TestReadmeShowsTheSummary keeps the README's render summary the one the
// golden holds: a reader sees what render prints today.
func TestReadmeShowsTheSummary(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "render-summary.golden"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(golden), "\n"), "\n") {
		if l != "" {
			want.WriteString("  " + l)
		}
		want.WriteString("\n")
	}
	if !strings.Contains(string(readme), want.String()) {
		t.Errorf("README's render summary is not testdata/render-summary.golden (indented by two spaces); copy it in:\n%s", want.String())
	}
}
