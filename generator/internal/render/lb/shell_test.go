package lb_test

import (
	"bytes"
	"os/exec"
	"sort"
	"testing"
)

// TestShellScripts runs shellcheck on every script the load balancers
// ship (the endpoint script and its hooks, the prep step with and without
// interface detection, keepalived's track script, kube-vip's post hook).
func TestShellScripts(t *testing.T) {
	t.Parallel()
	shellcheck := tool(t, "shellcheck")
	three := addrs("10.0.0.", 1, 3)
	scripts := map[string][]byte{}
	for _, tc := range []struct {
		spec  cluster
		nodes []string
	}{
		{cluster{controlPlanes: three, workers: addrs("10.0.0.", 11, 1), endpoint: "internalLoadbalancer: haproxy"}, []string{"cp1", "cp2", "w1"}},
		{cluster{controlPlanes: three, endpoint: "internalLoadbalancer: kube-vip, address: 10.0.0.100"}, []string{"cp1"}},
		{cluster{controlPlanes: three, loadBalancers: addrs("10.0.0.", 21, 2), endpoint: "address: 10.0.0.100", ksgen: "  hosts:\n    lb2: {interface: ens3}\n"}, []string{"lb1", "lb2"}},
	} {
		c := loadPlan(t, tc.spec.yaml())
		for _, n := range tc.nodes {
			for path, content := range render(t, c, n).files {
				if bytes.HasPrefix(content, []byte("#!")) {
					scripts[n+":"+path] = content
				}
			}
		}
	}
	names := make([]string, 0, len(scripts))
	for name := range scripts {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) < 7 {
		t.Errorf("only %d scripts: %v", len(names), names)
	}
	for _, name := range names {
		cmd := exec.Command(shellcheck, "-")
		cmd.Stdin = bytes.NewReader(scripts[name])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: shellcheck: %v\n%s\n%s", name, err, out, scripts[name])
		}
	}
}
