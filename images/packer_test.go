package images

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCurl stands in for curl in the provisioning scripts: it copies
// $FAKE_CURL_DIR/<last URL path element> to the -o file, so fetch runs
// offline on files whose sums the test knows.
const fakeCurl = `#!/bin/bash
set -eu
out= url=
while [ $# -gt 0 ]; do
  case $1 in
    -o) out=$2; shift 2 ;;
    -*) shift ;;
    *) url=$1; shift ;;
  esac
done
cp "$FAKE_CURL_DIR/${url##*/}" "$out"
`

// TestFetchEnforcesThePin runs lib.sh's fetch, which every download of the
// image goes through: a file is installed only when its sha256 is the pin;
// an empty pin is refused unless the build allows unpinned downloads.
func TestFetchEnforcesThePin(t *testing.T) {
	for _, tool := range []string{"bash", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := t.TempDir()
	srv, bin := filepath.Join(dir, "srv"), filepath.Join(dir, "bin")
	for _, d := range []string{srv, bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	body := []byte("#!/bin/sh\necho kubeadm\n")
	if err := os.WriteFile(filepath.Join(srv, "kubeadm"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(fakeCurl), 0o755); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(body)
	right := hex.EncodeToString(h[:])
	lib, err := filepath.Abs("packer/scripts/lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, sum, allow string
		ok               bool
		log              string
	}{
		{"pinned", right, "false", true, ""},
		{"wrong pin", strings.Repeat("0", 64), "false", false, "sha256 mismatch"},
		{"no pin", "", "false", false, "has no sha256 pin"},
		{"no pin, development build", "", "true", true, "WARNING: https://dl.example/v1/kubeadm is unpinned; its sha256 is " + right},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "usr/bin/kubeadm")
			cmd := exec.Command("bash", "-c", `. "$1" && fetch https://dl.example/v1/kubeadm "$2" "$3"`, "fetch", lib, tc.sum, dest)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_CURL_DIR="+srv, "KSGEN_ALLOW_UNPINNED="+tc.allow)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.ok || !strings.Contains(string(out), tc.log) {
				t.Fatalf("err %v, want ok=%v; output:\n%s", err, tc.ok, out)
			}
			got, rerr := os.ReadFile(dest)
			if tc.ok && string(got) != string(body) {
				t.Errorf("installed %q, %v", got, rerr)
			}
			if !tc.ok && rerr == nil {
				t.Errorf("a refused download was installed at %s", dest)
			}
			if left, _ := filepath.Glob(dest + ".*"); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}
