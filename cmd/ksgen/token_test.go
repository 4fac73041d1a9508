package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/pki"
)

func readBundleFile(t *testing.T, path string) (*pki.Bundle, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pki.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b, raw
}

// TestTokenRotate rotates the token of a bundle beside a spec, then checks
// the bundle, the manifest and what a re-render changes: the token, and
// nothing else.
func TestTokenRotate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	bundle := copyInto(t, "../../testdata/test-secrets.yaml", dir)
	if err := os.Rename(bundle, filepath.Join(dir, "ksgen-secrets.yaml")); err != nil {
		t.Fatal(err)
	}
	bundle = filepath.Join(dir, "ksgen-secrets.yaml")
	if err := os.Chmod(bundle, 0o644); err != nil { // rotate tightens it
		t.Fatal(err)
	}
	before, beforeRaw := readBundleFile(t, bundle)
	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	if _, stderr, err := ksgen(t, "render", "-f", spec, "-o", out1, "--format", "none"); err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}

	stdout, stderr, err := ksgen(t, "token", "rotate", "-f", spec)
	if err != nil {
		t.Fatalf("token rotate: %v\n%s", err, stderr)
	}
	after, afterRaw := readBundleFile(t, bundle)
	oldTok, newTok := before.BootstrapToken, after.BootstrapToken
	if newTok == oldTok || after.TokenID() == before.TokenID() {
		t.Fatalf("token not rotated: %s -> %s", oldTok, newTok)
	}
	if want := bytes.Replace(beforeRaw, []byte(oldTok), []byte(newTok), 1); !bytes.Equal(afterRaw, want) {
		t.Error("the bundle changed in more than its token")
	}
	for name, pair := range map[string][2][]byte{
		"ca.key": {before.CA.Key, after.CA.Key}, "ca.cert": {before.CA.Cert, after.CA.Cert},
		"frontProxyCA.key": {before.FrontProxyCA.Key, after.FrontProxyCA.Key}, "etcdCA.key": {before.EtcdCA.Key, after.EtcdCA.Key},
		"serviceAccount.key": {before.ServiceAccount.Key, after.ServiceAccount.Key},
	} {
		if !bytes.Equal(pair[0], pair[1]) {
			t.Errorf("%s changed", name)
		}
	}
	if fi, _ := os.Stat(bundle); fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode %v, want 0600", fi.Mode().Perm())
	}
	if got, want := entries(t, dir), []string{"config-sample.yaml", "ksgen-secrets.yaml", "out1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("directory holds %v, want %v (temporary files left behind?)", got, want)
	}
	for _, want := range []string{before.TokenID() + " -> " + after.TokenID(), "ksgen token manifest --secrets " + bundle, "ksgen render -f " + spec} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not say %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, after.TokenSecret()) || strings.Contains(stdout, before.TokenSecret()) {
		t.Errorf("stdout shows a token's secret:\n%s", stdout)
	}

	manifest, _, err := ksgen(t, "token", "manifest", "--secrets", bundle)
	if err != nil {
		t.Fatal(err)
	}
	if manifest != string(generator.JoinWindowManifest(newTok)) {
		t.Errorf("manifest:\n%s", manifest)
	}

	// A re-render with the rotated bundle differs only in the token: the
	// workers' join configs carry the new one, every CA file is unchanged.
	if _, stderr, err := ksgen(t, "render", "-f", spec, "-o", out2, "--format", "none"); err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	first, second := snapshot(t, out1), snapshot(t, out2)
	if len(first) != len(second) {
		t.Fatalf("%d files, then %d", len(first), len(second))
	}
	changed := 0
	for path, v := range first {
		if path == "index.json" {
			continue
		}
		want := strings.ReplaceAll(v, oldTok, newTok)
		if second[path] != want {
			t.Errorf("%s changed in more than the token", path)
		}
		if want != v {
			changed++
		}
	}
	if worker := second["node1/kubeadm.yaml"]; !strings.Contains(worker, "token: "+newTok) {
		t.Errorf("node1's join config does not carry the new token:\n%s", worker)
	}
	if cp := second["master2/rootfs"+generator.JoinTokenPath]; !strings.HasSuffix(cp, "\n"+newTok) {
		t.Errorf("master2's %s: %q", generator.JoinTokenPath, cp)
	}
	if changed == 0 {
		t.Error("no file carries the token")
	}
}

func TestTokenRotateThroughSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := copyInto(t, "../../testdata/test-secrets.yaml", dir)
	link := filepath.Join(dir, "ksgen-secrets.yaml")
	if err := os.Symlink(filepath.Base(target), link); err != nil {
		t.Fatal(err)
	}
	before, _ := readBundleFile(t, target)
	if _, stderr, err := ksgen(t, "token", "rotate", "--secrets", link); err != nil {
		t.Fatalf("token rotate: %v\n%s", err, stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink is gone: %v", err)
	}
	if after, _ := readBundleFile(t, target); after.BootstrapToken == before.BootstrapToken {
		t.Error("the linked bundle was not rotated")
	}
}

func TestTokenBadInputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	badContent := []byte("apiVersion: ksgen.io/v1alpha1\nkind: SecretsBundle\nbootstrapToken: nope\n")
	if err := os.WriteFile(bad, badContent, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing bundle", []string{"token", "rotate", "--secrets", filepath.Join(dir, "no/such/secrets.yaml")}, "ksgen secrets gen"},
		{"missing bundle beside the spec", []string{"token", "rotate", "-f", filepath.Join(dir, "sub/cluster.yaml")}, "ksgen secrets gen"},
		{"manifest of a missing bundle", []string{"token", "manifest", "--secrets", filepath.Join(dir, "none.yaml")}, "ksgen secrets gen"},
		{"invalid bundle", []string{"token", "rotate", "--secrets", bad}, "bad.yaml"},
		{"manifest of an invalid bundle", []string{"token", "manifest", "--secrets", bad}, "bad.yaml"},
		{"a directory", []string{"token", "rotate", "--secrets", dir}, "read secrets bundle"},
		{"an argument", []string{"token", "rotate", "extra"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := ksgen(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one that says %q", err, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
	if got, _ := os.ReadFile(bad); !bytes.Equal(got, badContent) {
		t.Errorf("an invalid bundle was changed: %q", got)
	}
	if got, want := entries(t, dir), []string{"bad.yaml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("directory holds %v, want %v: a failed command created something", got, want)
	}
}

func TestTokenHelpShowsExamples(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"rotate", "manifest"} {
		stdout, _, err := ksgen(t, "token", cmd, "--help")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "ksgen token "+cmd) {
			t.Errorf("help has no example:\n%s", stdout)
		}
	}
}
