package kubeadm_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	kubeadmconfig "k8s.io/kubernetes/cmd/kubeadm/app/util/config"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/kubeadm"
	"github.com/ksgen/ksgen/generator/plan"
)

// withPatches is the HA test cluster (cp1 inits; cp2, cp3 join as control
// planes; w1-w3 are workers behind HAProxy) with a ksgen document.
func withPatches(ksgenSpec string) string {
	return plantest.HA("") + `---
apiVersion: ksgen.io/v1alpha1
kind: Config
spec:
` + ksgenSpec
}

// renderNode renders one node with the test bundle's credentials.
func renderNode(t *testing.T, c *plan.Cluster, name string) ([]byte, error) {
	t.Helper()
	cred, err := testCredentials()
	if err != nil {
		t.Fatal(err)
	}
	n := c.NodeByName(name)
	if n == nil {
		t.Fatalf("no node %s", name)
	}
	return kubeadm.Render(c, n, cred)
}

// document returns the document of kind from a rendered config, decoded
// into out (sigs.k8s.io/yaml, strict).
func document(t *testing.T, config []byte, kind string, out any) {
	t.Helper()
	for doc := range strings.SplitSeq(string(config), "---\n") {
		var id struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &id); err != nil {
			t.Fatal(err)
		}
		if id.Kind == kind {
			if err := yaml.Unmarshal([]byte(doc), out); err != nil {
				t.Fatalf("%s: %v\n%s", kind, err, doc)
			}
			return
		}
	}
	t.Fatalf("no %s in\n%s", kind, config)
}

type nodeRegistration struct {
	NodeRegistration struct {
		IgnorePreflightErrors []string            `json:"ignorePreflightErrors"`
		KubeletExtraArgs      []map[string]string `json:"kubeletExtraArgs"`
	} `json:"nodeRegistration"`
}

func TestPatchStrategicMerge(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, withPatches(`  kubeadmPatches:
  - target: {kind: KubeletConfiguration}
    patch: {cgroupDriver: cgroupfs, failCgroupV1: false}
  roles:
    control-plane:
      kubeadmPatches:
      - target: {kind: JoinConfiguration}
        patch:
          nodeRegistration:
            ignorePreflightErrors: [SystemVerification]
            kubeletExtraArgs: [{name: v, value: "2"}]
`))
	b, err := renderNode(t, c, "cp1")
	if err != nil {
		t.Fatal(err)
	}
	var kc kubeletv1beta1.KubeletConfiguration
	document(t, b, "KubeletConfiguration", &kc)
	if kc.CgroupDriver != "cgroupfs" || kc.FailCgroupV1 == nil || *kc.FailCgroupV1 {
		t.Errorf("kubelet cgroupDriver %q failCgroupV1 %v, want cgroupfs and false", kc.CgroupDriver, kc.FailCgroupV1)
	}
	// The fields the patch does not name keep their rendered values.
	if kc.MaxPods != 110 || !slices.Equal(kc.ClusterDNS, []string{"169.254.25.10"}) {
		t.Errorf("kubelet maxPods %d clusterDNS %v: the patch lost rendered fields", kc.MaxPods, kc.ClusterDNS)
	}
	// Strategic merge replaces lists without a patchMergeKey: the
	// control plane's kubelet node-ip argument is gone.
	cp, err := renderNode(t, c, "cp2")
	if err != nil {
		t.Fatal(err)
	}
	var nr nodeRegistration
	document(t, cp, "JoinConfiguration", &nr)
	if got := nr.NodeRegistration.IgnorePreflightErrors; !slices.Equal(got, []string{"SystemVerification"}) {
		t.Errorf("cp2 ignorePreflightErrors %v, want the patch's list", got)
	}
	if got := nr.NodeRegistration.KubeletExtraArgs; len(got) != 1 || got[0]["name"] != "v" {
		t.Errorf("cp2 kubeletExtraArgs %v, want only the patch's", got)
	}
}

func TestPatchJSON6902(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, withPatches(`  kubeadmPatches:
  - target: {kind: JoinConfiguration}
    jsonPatch:
    - {op: add, path: /nodeRegistration/kubeletExtraArgs/-, value: {name: cgroup-root, value: /kubelet}}
    - {op: replace, path: /nodeRegistration/imagePullPolicy, value: Never}
    - {op: remove, path: /caCertPath}
`))
	b, err := renderNode(t, c, "w2")
	if err != nil {
		t.Fatal(err)
	}
	var nr nodeRegistration
	document(t, b, "JoinConfiguration", &nr)
	want := []map[string]string{{"name": "node-ip", "value": "10.0.0.12"}, {"name": "cgroup-root", "value": "/kubelet"}}
	if got := nr.NodeRegistration.KubeletExtraArgs; len(got) != 2 || got[0]["value"] != want[0]["value"] || got[1]["name"] != "cgroup-root" || got[1]["value"] != "/kubelet" {
		t.Errorf("kubeletExtraArgs %v, want %v", got, want)
	}
	if !strings.Contains(string(b), "imagePullPolicy: Never\n") || strings.Contains(string(b), "caCertPath") {
		t.Errorf("replace or remove not applied:\n%s", b)
	}
	// kubeadm reads what it gets.
	if _, err := kubeadmconfig.BytesToJoinConfiguration(b, kubeadmconfig.LoadOrDefaultConfigurationOptions{SkipCRIDetect: true}); err != nil {
		t.Errorf("kubeadm refuses the patched config: %v\n%s", err, b)
	}
}

// TestPatchOrder: the cluster's patches, then the role's, then the host's,
// each list in order; each appends to what the one before left.
func TestPatchOrder(t *testing.T) {
	t.Parallel()
	appendOp := func(v string) string {
		return `        - {op: add, path: /nodeRegistration/ignorePreflightErrors/-, value: ` + v + "}\n"
	}
	c := plantest.Plan(t, withPatches(`  kubeadmPatches:
  - target: {kind: JoinConfiguration}
    patch: {nodeRegistration: {ignorePreflightErrors: [DirAvailable--etc-kubernetes-manifests, cluster-0]}}
  - target: {kind: JoinConfiguration}
    jsonPatch:
`+appendOp("cluster-1")+`  roles:
    worker:
      kubeadmPatches:
      - target: {kind: JoinConfiguration}
        jsonPatch:
`+appendOp("worker-0")+appendOp("worker-1")+`    control-plane:
      kubeadmPatches:
      - target: {kind: JoinConfiguration}
        jsonPatch:
`+appendOp("control-plane-0")+`  hosts:
    w3:
      kubeadmPatches:
      - target: {kind: JoinConfiguration}
        jsonPatch:
`+appendOp("host-0")+`      - target: {kind: JoinConfiguration}
        jsonPatch:
        - {op: test, path: /nodeRegistration/ignorePreflightErrors/5, value: host-0}
`+appendOp("host-1")))
	for node, want := range map[string][]string{
		"w3":  {"DirAvailable--etc-kubernetes-manifests", "cluster-0", "cluster-1", "worker-0", "worker-1", "host-0", "host-1"},
		"w1":  {"DirAvailable--etc-kubernetes-manifests", "cluster-0", "cluster-1", "worker-0", "worker-1"},
		"cp2": {"DirAvailable--etc-kubernetes-manifests", "cluster-0", "cluster-1", "control-plane-0"},
	} {
		b, err := renderNode(t, c, node)
		if err != nil {
			t.Fatalf("%s: %v", node, err)
		}
		var nr nodeRegistration
		document(t, b, "JoinConfiguration", &nr)
		if got := nr.NodeRegistration.IgnorePreflightErrors; !slices.Equal(got, want) {
			t.Errorf("%s: ignorePreflightErrors %v, want %v", node, got, want)
		}
	}
	if entries := kubeadm.Check(c); len(entries) > 0 {
		t.Errorf("Check: %v", entries)
	}
}

// TestPatchErrors: a patch that fails names the node, the patch's field
// path and its line, at render time and in Check.
func TestPatchErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ksgen, node, path, msg string
	}{{
		name: "unknown field",
		ksgen: `  kubeadmPatches:
  - target: {kind: InitConfiguration}
    patch: {nodeRegistration: {kubeletExtraArg: []}}
`,
		node: "cp1", path: "ksgen.spec.kubeadmPatches[0].patch", msg: `unknown field "nodeRegistration.kubeletExtraArg"`,
	}, {
		name: "wrong type",
		ksgen: `  kubeadmPatches:
  - target: {kind: KubeletConfiguration}
    patch: {maxPods: many}
`,
		node: "cp1", path: "ksgen.spec.kubeadmPatches[0].patch", msg: "maxPods",
	}, {
		name: "missing path",
		ksgen: `  hosts:
    w2:
      kubeadmPatches:
      - target: {kind: JoinConfiguration}
        jsonPatch:
        - {op: add, path: /nodeRegistration/kubeletExtraArgs/-, value: {name: v, value: "2"}}
        - {op: remove, path: /controlPlane/localAPIEndpoint}
`,
		node: "w2", path: "ksgen.spec.hosts.w2.kubeadmPatches[0].jsonPatch[1]", msg: "remove /controlPlane/localAPIEndpoint",
	}, {
		name: "failed test op",
		ksgen: `  roles:
    worker:
      kubeadmPatches:
      - target: {kind: JoinConfiguration}
        jsonPatch:
        - {op: test, path: /nodeRegistration/name, value: cp1}
`,
		node: "w1", path: "ksgen.spec.roles.worker.kubeadmPatches[0].jsonPatch[0]", msg: "test /nodeRegistration/name",
	}, {
		name: "kubeadm validation",
		ksgen: `  roles:
    control-plane:
      kubeadmPatches:
      - target: {kind: JoinConfiguration}
        patch: {controlPlane: {localAPIEndpoint: {bindPort: 70000}}}
`,
		node: "cp2", path: "ksgen.spec.roles.control-plane.kubeadmPatches[0]", msg: "kubeadm refuses",
	}, {
		name: "drops the manifests preflight",
		ksgen: `  kubeadmPatches:
  - target: {kind: JoinConfiguration}
    jsonPatch:
    - {op: add, path: /nodeRegistration/ignorePreflightErrors, value: [SystemVerification]}
  - target: {kind: JoinConfiguration}
    patch: {nodeRegistration: {imagePullPolicy: Always}}
`,
		// The patch that dropped it is named, not the last one of the document.
		node: "w1", path: "ksgen.spec.kubeadmPatches[0]", msg: "drops DirAvailable--etc-kubernetes-manifests",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := plantest.Plan(t, withPatches(tc.ksgen))
			_, err := renderNode(t, c, tc.node)
			var e *kubeadm.Finding
			if !errors.As(err, &e) || !errors.Is(err, kubeadm.ErrPatch) {
				t.Fatalf("render %s: error %v, want a finding for the patch", tc.node, err)
			}
			if e.Path != tc.path || e.Line == 0 || !strings.Contains(e.Err.Error(), "node "+tc.node+":") || !strings.Contains(e.Err.Error(), tc.msg) {
				t.Errorf("entry %q (path %s, line %d), want path %s, node %s and %q", e, e.Path, e.Line, tc.path, tc.node, tc.msg)
			}
			entries := kubeadm.Check(c)
			if len(entries) != 1 || entries[0].Path != tc.path || entries[0].Line != e.Line {
				t.Errorf("Check = %v, want the one entry %q", entries, e)
			}
		})
	}
}

// TestPatchNoTarget: a patch that no node's documents match is an error,
// since it would silently change nothing.
func TestPatchNoTarget(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, withPatches(`  roles:
    worker:
      kubeadmPatches:
      - target: {kind: InitConfiguration}
        patch: {nodeRegistration: {ignorePreflightErrors: [SystemVerification]}}
`))
	entries := kubeadm.Check(c)
	if len(entries) != 1 || !errors.Is(entries[0].Err, kubeadm.ErrNoTarget) || entries[0].Path != "ksgen.spec.roles.worker.kubeadmPatches[0].target.kind" {
		t.Errorf("Check = %v, want one ErrNoTarget entry for the worker role's patch", entries)
	}
}

// TestPatchedOutputAfterV1beta3 renders a v1beta3 cluster and has kubeadm
// decode its configs (which changes kubeadm's process-wide defaulting of
// v1beta4 timeouts), then renders the patched v1beta4 golden case in the
// same process: its kubeadm configs must equal the golden files byte for byte.
func TestPatchedOutputAfterV1beta3(t *testing.T) {
	cred, err := testCredentials()
	if err != nil {
		t.Fatal(err)
	}
	_, old := loadPlan(t, filepath.Join(specsDir, "valid-v1.22.yaml"))
	if old.KubeadmAPI != v1beta3 {
		t.Fatalf("valid-v1.22 renders %s, want %s", old.KubeadmAPI, v1beta3)
	}
	for _, n := range old.Nodes {
		b, err := kubeadm.Render(old, n, cred)
		if err != nil {
			t.Fatal(err)
		}
		if n == old.Init {
			docs := documents(t, n.Name, b, v1beta3)
			if _, err := kubeadmconfig.BytesToInitConfiguration(withKubernetesVersion(t, docs, libraryVersion()), true); err != nil {
				t.Fatalf("kubeadm loads %s: %v", n.Name, err)
			}
		}
	}
	_, c := loadPlan(t, filepath.Join(specsDir, "valid-kubeadm-patches.yaml"))
	compared := 0
	for _, n := range c.Nodes {
		b, err := kubeadm.Render(c, n, cred)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		want, err := os.ReadFile(filepath.Join("../../../../testdata/golden/kubeadm-patches", n.Name, "kubeadm.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(want) {
			t.Errorf("%s: kubeadm.yaml differs from its golden after a v1beta3 decode:\n%s", n.Name, b)
		}
		compared++
	}
	if compared != 5 {
		t.Errorf("compared %d nodes, want 5", compared)
	}
}
