package roles_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/roles"
)

// cp3 is a control plane and a worker too: KubeKey labels it worker.
const spec = `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
metadata: {name: t}
spec:
  hosts:
  - {name: cp1, address: 10.0.0.1, internalAddress: 10.0.0.1}
  - {name: cp2, address: 10.0.0.2, internalAddress: 10.0.0.2}
  - {name: cp3, address: 10.0.0.3, internalAddress: 10.0.0.3}
  - {name: w1, address: 10.0.0.11, internalAddress: 10.0.0.11}
  roleGroups:
    etcd: [cp1, cp2, cp3]
    control-plane: [cp1, cp2, cp3]
    worker: [cp3, w1]
  controlPlaneEndpoint: {internalLoadbalancer: haproxy}
`

func TestControlPlanesLabelWorkers(t *testing.T) {
	c := plantest.Plan(t, spec)
	for _, name := range []string{"cp1", "cp2", "cp3"} {
		p, files := plantest.Render(t, c, name, roles.Render)
		script, ok := files[roles.Script]
		if !ok || script.Mode != 0o755 {
			t.Fatalf("%s: no executable %s: %+v", name, roles.Script, script)
		}
		units := map[string]bool{}
		for _, u := range p.Units {
			units[u.Name] = u.Enabled
			if u.Name == roles.Timer && !strings.Contains(u.Contents, "Unit="+roles.Service) {
				t.Errorf("%s: the timer does not start %s:\n%s", name, roles.Service, u.Contents)
			}
		}
		if enabled, ok := units[roles.Timer]; !ok || !enabled {
			t.Errorf("%s: %s missing or not enabled: %v", name, roles.Timer, units)
		}
		if _, ok := units[roles.Service]; !ok {
			t.Errorf("%s: no %s", name, roles.Service)
		}
	}
	if _, files := plantest.Render(t, c, "w1", roles.Render); len(files) > 0 {
		t.Errorf("a worker got %v; it has no credentials to label nodes", files)
	}

	_, files := plantest.Render(t, c, "cp1", roles.Render)
	script := files[roles.Script].Content
	if _, err := exec.LookPath("shellcheck"); err == nil {
		cmd := exec.Command("shellcheck", "-")
		cmd.Stdin = bytes.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") != "" {
		t.Error("shellcheck not found (.ci/run installs it)")
	}

	for _, tc := range []struct {
		name       string
		unlabelled string // what `kubectl get nodes --selector …` prints
		kubeconfig bool
		want       []string
	}{
		{"new workers", "node/w1\nnode/w2\n", true, []string{
			"get nodes --output name --selector !node-role.kubernetes.io/control-plane,!node-role.kubernetes.io/worker",
			"label node/w1 node/w2 node-role.kubernetes.io/worker=",
			"label nodes cp3 node-role.kubernetes.io/worker= --overwrite",
		}},
		// Found by booting the seed: master2 registered, the timer ran
		// before kubeadm marked it, and it was labelled a worker.
		{"a joining control plane", "node/cp1\nnode/cp3\nnode/w1\n", true, []string{
			"get nodes --output name --selector !node-role.kubernetes.io/control-plane,!node-role.kubernetes.io/worker",
			"label node/cp3 node/w1 node-role.kubernetes.io/worker=",
			"label nodes cp3 node-role.kubernetes.io/worker= --overwrite",
		}},
		{"only control planes", "node/cp2\n", true, []string{
			"get nodes --output name --selector !node-role.kubernetes.io/control-plane,!node-role.kubernetes.io/worker",
			"label nodes cp3 node-role.kubernetes.io/worker= --overwrite",
		}},
		{"nothing new", "", true, []string{
			"get nodes --output name --selector !node-role.kubernetes.io/control-plane,!node-role.kubernetes.io/worker",
			"label nodes cp3 node-role.kubernetes.io/worker= --overwrite",
		}},
		{"before init", "", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			log := filepath.Join(dir, "calls")
			kubeconfig := filepath.Join(dir, "admin.conf")
			if tc.kubeconfig {
				must(t, os.WriteFile(kubeconfig, []byte("fake"), 0o600))
			}
			must(t, os.Mkdir(bin, 0o755))
			// Fake kubectl: logs its arguments after --kubeconfig FILE.
			must(t, os.WriteFile(filepath.Join(bin, "kubectl"), []byte(`#!/bin/sh
shift 2
echo "$*" >> "$FAKE_LOG"
[ "$1" = get ] && printf "$FAKE_NODES"
exit 0
`), 0o755))
			script := filepath.Join(dir, "node-roles")
			must(t, os.WriteFile(script, files[roles.Script].Content, 0o755))
			cmd := exec.Command(script)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "FAKE_LOG=" + log, "FAKE_NODES=" + tc.unlabelled, "KSGEN_KUBECONFIG=" + kubeconfig}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("node-roles: %v\n%s", err, out)
			}
			b, _ := os.ReadFile(log)
			var got []string
			if s := strings.TrimSpace(string(b)); s != "" {
				got = strings.Split(s, "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("kubectl calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
