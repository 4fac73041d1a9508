package spec_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
)

// lbSpec is a cluster with 3 control planes, 2 workers and, when lbs > 0,
// that many loadbalancer hosts; endpoint is controlPlaneEndpoint's body
// (indented by 4, "" leaves the section out), extra is appended to the
// Cluster's spec, ksgen is the ksgen document's spec (indented by 2).
func lbSpec(lbs int, endpoint, extra, ksgen string) string {
	var b strings.Builder
	b.WriteString(`apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
metadata:
  name: lb
spec:
  kubernetes: {containerManager: containerd}
  hosts:
  - {name: cp1, address: 10.0.0.1, internalAddress: 10.0.0.1}
  - {name: cp2, address: 10.0.0.2, internalAddress: 10.0.0.2}
  - {name: cp3, address: 10.0.0.3, internalAddress: 10.0.0.3}
  - {name: w1, address: 10.0.0.11, internalAddress: 10.0.0.11}
  - {name: w2, address: 10.0.0.12, internalAddress: 10.0.0.12}
  - {name: lb1, address: 10.0.0.21, internalAddress: 10.0.0.21}
  - {name: lb2, address: 10.0.0.22, internalAddress: 10.0.0.22}
  roleGroups:
    etcd: [cp1, cp2, cp3]
    control-plane: [cp1, cp2, cp3]
    worker: [w1, w2]
`)
	if lbs > 0 {
		names := []string{"lb1", "lb2"}[:lbs]
		fmt.Fprintf(&b, "    loadbalancer:\n")
		for _, n := range names {
			fmt.Fprintf(&b, "    - %s\n", n)
		}
	}
	if endpoint != "" {
		b.WriteString("  controlPlaneEndpoint:\n" + endpoint)
	}
	b.WriteString(extra)
	if ksgen != "" {
		b.WriteString("---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n" + ksgen)
	}
	return b.String()
}

// lineOf is the 1-based line of text that is s (but for indentation), or
// else the first that contains s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) == s {
			return i + 1
		}
	}
	for i, line := range lines {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in\n%s", s, text)
	return 0
}

// TestLoadBalancerValidation checks the errors for impossible
// load-balancer combinations: each with its named cause, field path and line.
func TestLoadBalancerValidation(t *testing.T) {
	t.Parallel()
	const vip = "    address: 10.0.0.100\n"
	for _, tc := range []struct {
		name  string
		text  string
		path  string
		at    string // the line that holds it
		cause error
		msg   string
	}{{
		name: "loadbalancer hosts without a VIP",
		text: lbSpec(2, "    domain: lb.kubesphere.local\n", "", ""),
		path: "spec.controlPlaneEndpoint.address", at: "controlPlaneEndpoint:", cause: spec.ErrRequired,
		msg: "loadbalancer hosts need controlPlaneEndpoint.address",
	}, {
		name: "loadbalancer hosts without a controlPlaneEndpoint",
		text: lbSpec(1, "", "", ""),
		path: "spec.roleGroups.loadbalancer", at: "loadbalancer:", cause: spec.ErrRequired,
		msg: "loadbalancer hosts need controlPlaneEndpoint.address",
	}, {
		name: "controlPlanes without a VIP",
		text: lbSpec(0, "    port: 8443\n", "", "  loadBalancer:\n    controlPlanes: true\n"),
		path: "spec.controlPlaneEndpoint.address", at: "controlPlaneEndpoint:", cause: spec.ErrRequired,
		msg: "keepalived and HAProxy on the control planes need controlPlaneEndpoint.address",
	}, {
		name: "VIP inside the pod network",
		text: lbSpec(2, "    address: 10.233.64.10\n", "", ""),
		path: "spec.controlPlaneEndpoint.address", at: "address: 10.233.64.10", cause: spec.ErrOverlap,
		msg: "address 10.233.64.10 is inside the cluster network 10.233.64.0/18",
	}, {
		name: "VIP inside the service network",
		text: lbSpec(0, "    internalLoadbalancer: kube-vip\n    address: 10.233.0.5\n", "", ""),
		path: "spec.controlPlaneEndpoint.address", at: "address: 10.233.0.5", cause: spec.ErrOverlap,
		msg: "address 10.233.0.5 is inside the cluster network 10.233.0.0/18",
	}, {
		name: "kube-vip without address",
		text: lbSpec(0, "    internalLoadbalancer: kube-vip\n", "", ""),
		path: "spec.controlPlaneEndpoint.address", at: "controlPlaneEndpoint:", cause: spec.ErrRequired,
		msg: "internalLoadbalancer kube-vip needs address",
	}, {
		name: "haproxy and address",
		text: lbSpec(0, "    internalLoadbalancer: haproxy\n"+vip, "", ""),
		path: "spec.controlPlaneEndpoint.address", at: "address: 10.0.0.100", cause: spec.ErrConflict,
		msg: "internalLoadbalancer haproxy runs its own load balancer",
	}, {
		name: "loadbalancer hosts and kube-vip",
		text: lbSpec(2, "    internalLoadbalancer: kube-vip\n"+vip, "", ""),
		path: "spec.controlPlaneEndpoint.internalLoadbalancer", at: "internalLoadbalancer: kube-vip", cause: spec.ErrConflict,
		msg: "internalLoadbalancer kube-vip and the loadbalancer hosts both serve the endpoint",
	}, {
		name: "a loadbalancer host that is also a worker",
		text: strings.Replace(lbSpec(2, vip, "", ""), "worker: [w1, w2]", "worker: [w1, w2, lb2]", 1),
		path: "spec.roleGroups.loadbalancer[1]", at: "- lb2", cause: spec.ErrConflict,
		msg: `host "lb2" is a loadbalancer host and also worker`,
	}, {
		name: "an IPv6 VIP",
		text: lbSpec(2, "    address: fd00::100\n", "", ""),
		path: "spec.controlPlaneEndpoint.address", at: "address: fd00::100", cause: spec.ErrUnsupported,
		msg: "IPv4 virtual IPs only",
	}, {
		name: "a VIP that is a host's address",
		text: lbSpec(2, "    address: 10.0.0.12\n", "", ""),
		path: "spec.controlPlaneEndpoint.address", at: "address: 10.0.0.12", cause: spec.ErrConflict,
		msg: `address 10.0.0.12 is the address of host "w2"`,
	}, {
		name: "a kube-vip VIP that is a host's address",
		text: lbSpec(0, "    internalLoadbalancer: kube-vip\n    address: 10.0.0.1\n", "", ""),
		path: "spec.controlPlaneEndpoint.address", at: "address: 10.0.0.1", cause: spec.ErrConflict,
		msg: `address 10.0.0.1 is the address of host "cp1"`,
	}, {
		name: "controlPlanes on the apiservers' port",
		text: lbSpec(0, vip+"    port: 6443\n", "", "  loadBalancer:\n    controlPlanes: true\n"),
		path: "spec.controlPlaneEndpoint.port", at: "port: 6443", cause: spec.ErrConflict,
		msg: "where the apiservers of the same hosts listen",
	}, {
		name: "controlPlanes and loadbalancer hosts",
		text: lbSpec(2, vip, "", "  loadBalancer:\n    controlPlanes: true\n"),
		path: "ksgen.spec.loadBalancer.controlPlanes", at: "controlPlanes: true", cause: spec.ErrConflict,
		msg: "use one or the other",
	}, {
		name: "virtualRouterID out of range",
		text: lbSpec(2, vip, "", "  loadBalancer:\n    virtualRouterID: 256\n"),
		path: "ksgen.spec.loadBalancer.virtualRouterID", at: "virtualRouterID: 256", cause: spec.ErrInvalidValue,
		msg: "virtualRouterID 256: want 1 to 255",
	}, {
		name: "a port forwarded twice",
		text: lbSpec(2, vip, "", "  loadBalancer:\n    ports:\n    - {name: a, port: 80}\n    - {name: b, port: 80}\n"),
		path: "ksgen.spec.loadBalancer.ports[1].port", at: "{name: b, port: 80}", cause: spec.ErrConflict,
		msg: "port 80 is forwarded twice",
	}, {
		name: "a port on the endpoint's port",
		text: lbSpec(2, vip, "", "  loadBalancer:\n    ports:\n    - {name: api, port: 6443}\n"),
		path: "ksgen.spec.loadBalancer.ports[0].port", at: "{name: api, port: 6443}", cause: spec.ErrConflict,
		msg: "port 6443 is the control-plane endpoint's port",
	}, {
		name: "a port named like ksgen's own section",
		text: lbSpec(2, vip, "", "  loadBalancer:\n    ports:\n    - {name: healthz, port: 8080}\n"),
		path: "ksgen.spec.loadBalancer.ports[0].name", at: "{name: healthz, port: 8080}", cause: spec.ErrConflict,
		msg: `name "healthz" is ksgen's own HAProxy section`,
	}, {
		name: "a port name that is no DNS label",
		text: lbSpec(2, vip, "", "  loadBalancer:\n    ports:\n    - {name: Web_UI, port: 8080}\n"),
		path: "ksgen.spec.loadBalancer.ports[0].name", at: "{name: Web_UI, port: 8080}", cause: spec.ErrInvalidValue,
		msg: `name "Web_UI"`,
	}, {
		name: "a port out of range",
		text: lbSpec(2, vip, "", "  loadBalancer:\n    ports:\n    - {name: web, port: 70000}\n"),
		path: "ksgen.spec.loadBalancer.ports[0].port", at: "{name: web, port: 70000}", cause: spec.ErrPort,
		msg: "port 70000 is not between 1 and 65535",
	}, {
		name: "an unknown proxy",
		text: lbSpec(2, vip, "", "  loadBalancer:\n    proxy: traefik\n"),
		path: "ksgen.spec.loadBalancer.proxy", at: "proxy: traefik", cause: spec.ErrInvalidValue,
		msg: `proxy "traefik": want haproxy or nginx`,
	}, {
		name: "the endpoint on a port forwarded by default",
		text: lbSpec(2, vip+"    port: 443\n", "", ""),
		path: "spec.controlPlaneEndpoint.port", at: "port: 443", cause: spec.ErrConflict,
		msg: "port 443 is also where the load balancers forward https to the workers",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, r := spec.Load([]byte(tc.text))
			want := lineOf(t, tc.text, tc.at)
			for _, e := range r.Entries {
				if e.Severity == spec.Error && e.Path == tc.path && errors.Is(e.Err, tc.cause) && strings.Contains(e.Err.Error(), tc.msg) {
					if e.Line != want {
						t.Errorf("%s: line %d, want %d", e, e.Line, want)
					}
					return
				}
			}
			t.Errorf("no %q error at %s (%v); report:\n%s", tc.msg, tc.path, tc.cause, report(r))
		})
	}
}

// TestLoadBalancerValid: keepalived setups that must load without findings.
func TestLoadBalancerValid(t *testing.T) {
	t.Parallel()
	const vip = "    address: 10.0.0.100\n"
	cases := map[string]string{
		"two loadbalancer hosts":      lbSpec(2, vip, "", ""),
		"one loadbalancer host":       lbSpec(1, vip+"    port: 8443\n", "", "  loadBalancer:\n    virtualRouterID: 255\n    ports: []\n"),
		"controlPlanes on 8443":       lbSpec(0, vip+"    port: 8443\n", "", "  loadBalancer:\n    controlPlanes: true\n    ports:\n    - {name: console, port: 30880}\n    - {name: ingress, port: 80, targetPort: 30080}\n"),
		"external LB, no keepalived":  lbSpec(0, vip, "", ""),
		"nginx on loadbalancer hosts": lbSpec(2, vip, "", "  loadBalancer:\n    proxy: nginx\n"),
		"nginx on the control planes": lbSpec(0, vip+"    port: 8443\n", "", "  loadBalancer:\n    controlPlanes: true\n    proxy: nginx\n"),
		"nginx as the internal LB":    lbSpec(0, "    internalLoadbalancer: haproxy\n", "", "  loadBalancer:\n    proxy: nginx\n"),
		"haproxy said explicitly":     lbSpec(2, vip, "", "  loadBalancer:\n    proxy: haproxy\n"),
	}
	for _, f := range []string{"../../../testdata/specs/valid-lb-hosts.yaml", "../../../testdata/specs/valid-lb-control-planes.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases[f] = string(b)
	}
	for name, text := range cases {
		_, r := spec.Load([]byte(text))
		if len(r.Entries) > 0 {
			t.Errorf("%s:\n%s", name, report(r))
		}
	}
}

func report(r *spec.Report) string {
	var b strings.Builder
	for _, e := range r.Entries {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.String()
}
