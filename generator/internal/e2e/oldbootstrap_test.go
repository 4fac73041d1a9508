package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// oldBootstrapEnv names a commit whose bootstrap.sh template master1 boots
// with instead of its own (make e2e-boot with
// KSGEN_E2E_BOOT_OLD_BOOTSTRAP=9401933a^, the bootstrap before it became
// resumable): the proof that the test sees the bug that change fixed. Only
// the script changes; the rest of master1's payload is ksgen's own.
const oldBootstrapEnv = "KSGEN_E2E_BOOT_OLD_BOOTSTRAP"

// oldBootstrapScript renders templates/bootstrap.sh.tmpl as it was at
// commit, for a kubeadm init node running kubeadm from binDir: that
// template's data (Action, Endpoint, CRISocket, BinDir, Timezone, Flags,
// AdminKubeconfig) as its renderer filled it for such a node.
func oldBootstrapScript(commit, endpoint, criSocket, binDir string) ([]byte, error) {
	src, err := exec.Command("git", "show", commit+":templates/bootstrap.sh.tmpl").Output()
	if err != nil {
		return nil, fmt.Errorf("git show %s:templates/bootstrap.sh.tmpl: %w", commit, err)
	}
	tmpl, err := template.New("bootstrap").Parse(string(src))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = tmpl.Execute(&out, map[string]any{
		"Action": "init", "Endpoint": endpoint, "CRISocket": criSocket, "BinDir": binDir,
		"Timezone": "", "Flags": []string(nil), "AdminKubeconfig": true,
	})
	return out.Bytes(), err
}

// withBootstrap returns the #cloud-config userData with the content of its
// write_files entry for path replaced by script.
func withBootstrap(userData []byte, path string, script []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(userData, &doc); err != nil {
		return nil, err
	}
	replaced := false
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "write_files" {
			continue
		}
		for _, item := range root.Content[i+1].Content {
			var isPath bool
			for j := 0; j+1 < len(item.Content); j += 2 {
				if item.Content[j].Value == "path" && item.Content[j+1].Value == path {
					isPath = true
				}
			}
			for j := 0; isPath && j+1 < len(item.Content); j += 2 {
				switch item.Content[j].Value {
				case "content":
					item.Content[j+1].Value, item.Content[j+1].Style = string(script), yaml.LiteralStyle
					replaced = true
				case "encoding":
					return nil, fmt.Errorf("%s is encoded (%s)", path, item.Content[j+1].Value)
				}
			}
		}
	}
	if !replaced {
		return nil, fmt.Errorf("user-data has no write_files entry for %s", path)
	}
	out, err := yaml.Marshal(&doc)
	return append([]byte("#cloud-config\n"), out...), err
}

// oldBootstrapUserData writes master1's user-data with the old bootstrap
// into dir and returns its path, taking the CRI socket from the new script
// (an init node's script names no API endpoint; the boot specs' is
// lb.kubesphere.local:6443).
func oldBootstrapUserData(commit, userDataPath, dir string) (string, error) {
	ud, err := os.ReadFile(userDataPath)
	if err != nil {
		return "", err
	}
	value := func(script, name string) string {
		for _, line := range strings.Split(script, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+"="); ok {
				return strings.Trim(v, `'"`)
			}
		}
		return ""
	}
	text := string(ud)
	script, err := oldBootstrapScript(commit, "lb.kubesphere.local:6443", value(text, "CRI_SOCKET"), "/usr/bin")
	if err != nil {
		return "", err
	}
	ud, err = withBootstrap(ud, "/opt/ksgen/bootstrap.sh", script)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "master1-old-bootstrap.user-data")
	return out, os.WriteFile(out, ud, 0o600)
}

// withBootstrap swaps only the named file's content: every other entry
// and key is kept, and the YAML reads the new script back byte for byte.
func TestWithBootstrap(t *testing.T) {
	t.Parallel()
	ud := []byte("#cloud-config\nwrite_files:\n  - path: /etc/a\n    content: |\n      keep me\n  - path: /opt/ksgen/bootstrap.sh\n    permissions: \"0755\"\n    content: |\n      #!/bin/bash\n      new\nruncmd:\n  - [true]\n")
	script := "#!/bin/bash\nold $x 'q'\n"
	out, err := withBootstrap(ud, "/opt/ksgen/bootstrap.sh", []byte(script))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		WriteFiles []struct{ Path, Content, Permissions string } `yaml:"write_files"`
		Runcmd     [][]bool                                      `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "#cloud-config\n") || len(doc.WriteFiles) != 2 || len(doc.Runcmd) != 1 ||
		doc.WriteFiles[0].Content != "keep me\n" || doc.WriteFiles[1].Content != script || doc.WriteFiles[1].Permissions != "0755" {
		t.Errorf("swapped user-data:\n%s", out)
	}
	if _, err := withBootstrap(ud, "/opt/ksgen/other.sh", []byte(script)); err == nil {
		t.Error("a missing entry is not an error")
	}
}
