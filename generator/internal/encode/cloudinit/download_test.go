package cloudinit

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/fileset"
)

// The download step runs for real with a fake curl (named so, on PATH) that
// "downloads" a fixed body: the file is installed only when its sha256 matches.
func TestDownloadScriptChecksTheHash(t *testing.T) {
	t.Parallel()
	body := []byte("#!/bin/sh\necho kubeadm\n")
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	tests := []struct {
		name    string
		sha     string
		wantErr bool
	}{
		{name: "matching hash installs", sha: good},
		{name: "wrong hash refuses", sha: "00" + good[2:], wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(dir, "body")
			if err := os.WriteFile(src, body, 0o644); err != nil {
				t.Fatal(err)
			}
			// fake curl: copies $FAKE_BODY to the file after -o
			fake := "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then cp \"$FAKE_BODY\" \"$2\"; fi; shift; done\n"
			if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(dir, "opt/bin/kubeadm")
			n := &fileset.Set{Name: "n"}
			n.AddFile(fileset.File{Path: target, Mode: 0o755, Source: "https://example.invalid/kubeadm", SHA256: tt.sha})
			steps := downloads(n).Content
			if len(steps) != 1 {
				t.Fatalf("%d download steps, want 1", len(steps))
			}
			var args []string
			for _, a := range steps[0].Content {
				args = append(args, a.Value)
			}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "FAKE_BODY=" + src}
			out, err := cmd.CombinedOutput()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v\n%s", err, tt.wantErr, out)
			}
			got, statErr := os.Stat(target)
			if tt.wantErr {
				if statErr == nil {
					t.Errorf("file installed despite a wrong hash")
				}
				return
			}
			if statErr != nil || got.Mode().Perm() != 0o755 {
				t.Errorf("installed file: %v %v", got, statErr)
			}
		})
	}
}
