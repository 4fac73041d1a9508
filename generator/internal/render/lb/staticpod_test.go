package lb_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// checkStaticPod judges a static-pod manifest as the kubelet does: a strict
// decode into core/v1 Pod (unknown and duplicate fields are errors, as are
// several documents, of which the kubelet reads only the first), then the
// kubelet's own validation (kubeletValidate). It returns the strictly
// decoded Pod.
func checkStaticPod(data []byte, node, source string) (*v1.Pod, error) {
	if bytes.Contains(append([]byte("\n"), bytes.TrimPrefix(data, []byte("---\n"))...), []byte("\n---")) {
		return nil, errors.New("several YAML documents; a static pod manifest holds one Pod (the kubelet reads only the first)")
	}
	strictJSON, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("strict YAML to JSON: %w", err)
	}
	var pod v1.Pod
	strictErrs, err := kjson.UnmarshalStrict(strictJSON, &pod)
	if err != nil {
		return nil, fmt.Errorf("decode into core/v1 Pod: %w", err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("strict decode into core/v1 Pod: %w", errors.Join(strictErrs...))
	}
	if pod.APIVersion != "v1" || pod.Kind != "Pod" {
		return nil, fmt.Errorf("apiVersion/kind %q/%q, want v1/Pod", pod.APIVersion, pod.Kind)
	}
	if err := kubeletValidate(data, node, source); err != nil {
		return nil, err
	}
	return &pod, nil
}

// podCase is a spec and the static pods each named node must have.
type podCase struct {
	name  string
	spec  string
	nodes map[string][]string // node → manifest file names
}

func podCases() []podCase {
	three := addrs("10.0.0.", 1, 3)
	return []podCase{
		{"haproxy", cluster{controlPlanes: three, workers: addrs("10.0.0.", 11, 2), endpoint: "internalLoadbalancer: haproxy"}.yaml(),
			map[string][]string{"w1": {"haproxy.yaml"}, "w2": {"haproxy.yaml"}, "cp1": nil, "cp2": nil}},
		{"kube-vip-arp", cluster{controlPlanes: three, workers: addrs("10.0.0.", 11, 1), endpoint: "internalLoadbalancer: kube-vip, address: 10.0.0.100"}.yaml(),
			map[string][]string{"cp1": {"kube-vip.yaml"}, "cp2": {"kube-vip.yaml"}, "cp3": {"kube-vip.yaml"}, "w1": nil}},
		{"kube-vip-bgp", cluster{controlPlanes: three, endpoint: "internalLoadbalancer: kube-vip, address: 10.0.0.100, kubevip: {mode: BGP}", version: "v1.28.15"}.yaml(),
			map[string][]string{"cp1": {"kube-vip.yaml"}, "cp2": {"kube-vip.yaml"}}},
		{"lb-hosts", cluster{controlPlanes: three, workers: addrs("10.0.0.", 11, 2), loadBalancers: addrs("10.0.0.", 21, 2), endpoint: "address: 10.0.0.100"}.yaml(),
			map[string][]string{"lb1": {"haproxy.yaml", "keepalived.yaml"}, "lb2": {"haproxy.yaml", "keepalived.yaml"}, "cp1": nil, "w1": nil}},
		{"lb-control-planes", cluster{controlPlanes: three, workers: addrs("10.0.0.", 11, 1), endpoint: "address: 10.0.0.100, port: 8443", ksgen: "  loadBalancer: {controlPlanes: true}\n"}.yaml(),
			map[string][]string{"cp1": {"haproxy.yaml", "keepalived.yaml"}, "cp3": {"haproxy.yaml", "keepalived.yaml"}, "w1": nil}},
		{"nginx", cluster{controlPlanes: three, workers: addrs("10.0.0.", 11, 2), endpoint: "internalLoadbalancer: haproxy", ksgen: "  loadBalancer: {proxy: nginx}\n"}.yaml(),
			map[string][]string{"w1": {"nginx.yaml"}, "w2": {"nginx.yaml"}, "cp1": nil}},
		{"lb-hosts-nginx", cluster{controlPlanes: three, workers: addrs("10.0.0.", 11, 2), loadBalancers: addrs("10.0.0.", 21, 2), endpoint: "address: 10.0.0.100", ksgen: "  loadBalancer: {proxy: nginx}\n"}.yaml(),
			map[string][]string{"lb1": {"keepalived.yaml", "nginx.yaml"}, "lb2": {"keepalived.yaml", "nginx.yaml"}, "cp1": nil, "w1": nil}},
		{"lb-control-planes-nginx", cluster{controlPlanes: three, workers: addrs("10.0.0.", 11, 1), endpoint: "address: 10.0.0.100, port: 8443", ksgen: "  loadBalancer: {controlPlanes: true, proxy: nginx}\n"}.yaml(),
			map[string][]string{"cp1": {"keepalived.yaml", "nginx.yaml"}, "cp3": {"keepalived.yaml", "nginx.yaml"}, "w1": nil}},
		{"external", cluster{controlPlanes: three, workers: addrs("10.0.0.", 11, 1), endpoint: "address: 10.0.0.100"}.yaml(),
			map[string][]string{"cp1": nil, "w1": nil}},
	}
}

// TestStaticPods checks that every node gets exactly its mode's static
// pods, and that each passes the kubelet's static-pod validation.
func TestStaticPods(t *testing.T) {
	t.Parallel()
	for _, tc := range podCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := loadPlan(t, tc.spec)
			for node, want := range tc.nodes {
				f := render(t, c, node)
				var got []string
				for _, p := range f.manifests() {
					got = append(got, strings.TrimPrefix(p, "/etc/kubernetes/manifests/"))
					pod, err := checkStaticPod(f.files[p], node, p)
					if err != nil {
						t.Errorf("%s %s: %v\n%s", node, p, err, f.files[p])
						continue
					}
					if !pod.Spec.HostNetwork || pod.Spec.PriorityClassName != "system-node-critical" {
						t.Errorf("%s %s: hostNetwork %t, priorityClassName %q; want true, system-node-critical", node, p, pod.Spec.HostNetwork, pod.Spec.PriorityClassName)
					}
				}
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s: static pods %v, want %v", node, got, want)
				}
			}
		})
	}
}

// TestStaticPodsOfSpecFiles checks every static pod the load balancer
// renders for the spec files of testdata/specs.
func TestStaticPodsOfSpecFiles(t *testing.T) {
	t.Parallel()
	for _, file := range specFiles(t) {
		c := loadSpecFile(t, file)
		if c == nil {
			continue
		}
		for _, n := range c.Nodes {
			f := render(t, c, n.Name)
			for _, p := range f.manifests() {
				if _, err := checkStaticPod(f.files[p], n.Name, p); err != nil {
					t.Errorf("%s: %s %s: %v", file, n.Name, p, err)
				}
			}
		}
	}
}

// TestCheckStaticPodRefuses makes sure the checker is not a rubber stamp:
// what the kubelet refuses, it refuses.
func TestCheckStaticPodRefuses(t *testing.T) {
	t.Parallel()
	good := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: kube-system}\nspec:\n  hostNetwork: true\n  containers:\n  - {name: c, image: x}\n"
	if _, err := checkStaticPod([]byte(good), "n", "f"); err != nil {
		t.Fatalf("a minimal pod: %v", err)
	}
	bad := map[string]string{
		"unknown field":   strings.Replace(good, "hostNetwork", "hostNetwrk", 1),
		"duplicate field": good + "  hostNetwork: false\n",
		"two documents":   good + "---\n" + good,
	}
	if kubeletValidation {
		bad["no containers"] = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true}\n"
		bad["bad port"] = strings.Replace(good, "image: x}", "image: x, ports: [{containerPort: 70000}]}", 1)
		bad["secret volume"] = good + "  volumes:\n  - {name: s, secret: {secretName: s}}\n"
	} else {
		t.Log(noKubeletValidation)
	}
	for name, bad := range bad {
		if _, err := checkStaticPod([]byte(bad), "n", "f"); err == nil {
			t.Errorf("%s: accepted\n%s", name, bad)
		}
	}
}
