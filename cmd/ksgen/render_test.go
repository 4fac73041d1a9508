package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRenderMissingSecretsRefused renders with a --secrets path that does not
// exist: a typo must not make a new CA. The render fails, names ksgen secrets
// gen, and creates nothing: no bundle, no parent folders, no output.
func TestRenderMissingSecretsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, secrets, parent string }{
		{"missing file", "prod-secrets.yaml", ""},
		{"missing folders", "secure/prod/prod-secrets.yaml", "secure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
			out := filepath.Join(dir, "out")
			secrets := filepath.Join(dir, tc.secrets)
			stdout, _, err := ksgen(t, "render", "-f", spec, "-o", out, "--secrets", secrets)
			if err == nil {
				t.Fatalf("render with a missing --secrets succeeded:\n%s", stdout)
			}
			for _, want := range []string{"ksgen secrets gen", secrets, "does not exist"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			for _, p := range []string{secrets, out, filepath.Join(dir, tc.parent)} {
				if p == dir {
					continue
				}
				if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s exists after the refused render (%v)", p, err)
				}
			}
			if got, want := entries(t, dir), []string{"config-sample.yaml"}; !reflect.DeepEqual(got, want) {
				t.Errorf("directory holds %v after the refused render, want %v", got, want)
			}
		})
	}
}

// TestRenderMissingSecretsExitStatus runs main itself, as a user's shell
// does, and checks the exit status and the message on stderr.
func TestRenderMissingSecretsExitStatus(t *testing.T) {
	if os.Getenv("KSGEN_TEST_MAIN") == "1" {
		os.Args = append([]string{"ksgen"}, strings.Fields(os.Getenv("KSGEN_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out := filepath.Join(dir, "out")
	secrets := filepath.Join(dir, "typo", "secrets.yaml")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRenderMissingSecretsExitStatus$")
	cmd.Env = append(os.Environ(), "KSGEN_TEST_MAIN=1", "KSGEN_TEST_ARGS=render -f "+spec+" -o "+out+" --secrets "+secrets)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("ksgen render with a missing --secrets: %v, want a non-zero exit status", err)
	}
	if !strings.Contains(stderr.String(), "ksgen secrets gen") {
		t.Errorf("stderr does not name ksgen secrets gen:\n%s", stderr.String())
	}
	if got, want := entries(t, dir), []string{"config-sample.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("directory holds %v after the refused render, want %v", got, want)
	}
}

// TestRenderDefaultBundleAfterEarlierRender checks that the default bundle
// is made only for a new cluster: once DIR holds a render (index.json), a
// missing ksgen-secrets.yaml is an error, the earlier output is untouched and
// no bundle appears. An empty DIR is no earlier render.
func TestRenderDefaultBundleAfterEarlierRender(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out := filepath.Join(dir, "out")
	bundle := filepath.Join(dir, "secure", "prod-secrets.yaml")
	if _, _, err := ksgen(t, "secrets", "gen", "-o", bundle); err != nil {
		t.Fatalf("secrets gen: %v", err)
	}
	if _, stderr, err := ksgen(t, "render", "-f", spec, "-o", out, "--secrets", bundle); err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	before := snapshot(t, dir)

	// The operator forgets --secrets on the next render.
	_, stderr, err := ksgen(t, "render", "-f", spec, "-o", out)
	if err == nil {
		t.Fatalf("render without the bundle of an earlier render succeeded:\n%s", stderr)
	}
	for _, want := range []string{"earlier render", "index.json", "--secrets", "ksgen secrets gen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(stderr, "created secrets bundle") {
		t.Error("stderr tells of a new bundle")
	}
	after := snapshot(t, dir)
	if !reflect.DeepEqual(after, before) {
		for p := range after {
			if after[p] != before[p] {
				t.Errorf("%s changed or appeared", p)
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok {
				t.Errorf("%s disappeared", p)
			}
		}
	}

	// A new cluster into an empty directory still gets its bundle.
	fresh := filepath.Join(dir, "fresh")
	if err := os.Mkdir(fresh, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := ksgen(t, "render", "-f", spec, "-o", fresh); err != nil {
		t.Fatalf("render into an empty directory: %v\n%s", err, stderr)
	} else if !strings.Contains(stderr, "created secrets bundle") {
		t.Errorf("no new bundle for a new cluster:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, defaultBundle)); err != nil {
		t.Errorf("no bundle beside the spec: %v", err)
	}
}
