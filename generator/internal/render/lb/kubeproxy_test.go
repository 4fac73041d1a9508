package lb_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/internal/render/lb"
)

// kubeProxyCM is the kube-proxy ConfigMap as kubeadm init writes it (the
// kubeconfig part; the config part is elided).
const kubeProxyCM = `apiVersion: v1
data:
  config.conf: |-
    apiVersion: kubeproxy.config.k8s.io/v1alpha1
    kind: KubeProxyConfiguration
    mode: ipvs
  kubeconfig.conf: |-
    apiVersion: v1
    kind: Config
    clusters:
    - cluster:
        certificate-authority: /var/lib/kube-proxy/ca.crt
        server: https://lb.kubesphere.local:6443
      name: default
    contexts:
    - context:
        cluster: default
        namespace: default
        user: default
      name: default
    current-context: default
    users:
    - name: default
      user:
        tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
kind: ConfigMap
metadata:
  name: kube-proxy
  namespace: kube-system
  resourceVersion: "231"
`

// The fake kubectl keeps the ConfigMap in cm.yaml and logs every call.
const fakeKubectl = `#!/bin/bash
echo "kubectl $*" >> "$FAKE_DIR/calls.log"
case "$*" in
  "get --raw=/readyz") exit 0 ;;
  "-n kube-system get configmap kube-proxy -o yaml") cat "$FAKE_DIR/cm.yaml" ;;
  "replace -f -") cat > "$FAKE_DIR/cm.yaml" ;;
  "-n kube-system delete pod -l k8s-app=kube-proxy --wait=false") ;;
  *) exit 2 ;;
esac
`

func TestKubeProxyUsesTheLocalEndpoint(t *testing.T) {
	t.Parallel()
	c := loadPlan(t, cluster{controlPlanes: addrs("10.0.0.", 1, 3), workers: addrs("10.0.0.", 11, 2), endpoint: "internalLoadbalancer: haproxy"}.yaml())
	f := render(t, c, c.Init.Name)
	script := f.files[lb.KubeProxyScript]
	if script == nil || f.files[firstboot.KubeProxyLocal.Path()] == nil {
		t.Fatalf("the init node has no kube-proxy-local step")
	}
	for _, name := range []string{"cp2", "w1"} {
		if render(t, c, name).files[lb.KubeProxyScript] != nil {
			t.Errorf("%s got the kube-proxy step; only the init node changes the ConfigMap", name)
		}
	}
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "kubectl"), []byte(fakeKubectl), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte(kubeProxyCM), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "step"), script, 0o755))
	run := func() string {
		cmd := exec.Command("bash", filepath.Join(dir, "step"))
		cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin", "FAKE_DIR=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kube-proxy step: %v\n%s", err, out)
		}
		return string(out)
	}
	run()
	got, err := os.ReadFile(filepath.Join(dir, "cm.yaml"))
	must(t, err)
	want := strings.Replace(kubeProxyCM, "server: https://lb.kubesphere.local:6443", "server: https://127.0.0.1:6443", 1)
	if string(got) != want {
		t.Errorf("ConfigMap after the step:\n%s\nwant only the server line changed:\n%s", got, want)
	}
	calls, err := os.ReadFile(filepath.Join(dir, "calls.log"))
	must(t, err)
	if !strings.Contains(string(calls), "delete pod -l k8s-app=kube-proxy") {
		t.Errorf("running kube-proxy pods were not recreated:\n%s", calls)
	}
	// A second run (a resumed first boot) changes nothing.
	must(t, os.Remove(filepath.Join(dir, "calls.log")))
	if out := run(); !strings.Contains(out, "already uses https://127.0.0.1:6443") {
		t.Errorf("second run: %s", out)
	}
	calls, _ = os.ReadFile(filepath.Join(dir, "calls.log"))
	if strings.Contains(string(calls), "replace") || strings.Contains(string(calls), "delete") {
		t.Errorf("second run changed the cluster:\n%s", calls)
	}
}

// Only the internal load balancer serves the API on 127.0.0.1 on every
// node; without kube-proxy there is nothing to point.
func TestKubeProxyKeepsTheEndpointElsewhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []cluster{
		{controlPlanes: addrs("10.0.0.", 1, 3), workers: addrs("10.0.0.", 11, 1), endpoint: "address: 10.0.0.100, port: 8443"},
		{controlPlanes: addrs("10.0.0.", 1, 3), workers: addrs("10.0.0.", 11, 1), endpoint: "internalLoadbalancer: kube-vip, address: 10.0.0.100"},
	} {
		c := loadPlan(t, tc.yaml())
		if render(t, c, c.Init.Name).files[lb.KubeProxyScript] != nil {
			t.Errorf("%s: kube-proxy pointed at 127.0.0.1 without the internal load balancer", tc.endpoint)
		}
	}
}
