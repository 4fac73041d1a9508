package addons_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/addons"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/internal/render/lb"
	"github.com/ksgen/ksgen/generator/plan"
	ksimages "github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/internal/upstream"
)

// The fakes stand in for the programs the scripts drive; the names say so.
// Each appends its arguments to calls.log. Files in FAKE_DIR set behaviour:
//
//	api-fail N      the first N API readiness probes fail
//	apply-fail N    the first N kubectl applies fail
//	helm-fail N     the first N helm runs fail
//	console-wait N  the KubeSphere console is ready after N checks
//
// fake-kubectl keeps a copy of every file it applies in FAKE_DIR/applied/,
// numbered in order, so tests decode exactly what the node would apply.
var fakes = map[string]string{
	"fake-common": `log() { echo "$(basename "$0") $*" >> "$FAKE_DIR/calls.log"; }
countdown() { f="$FAKE_DIR/$1"; [ -f "$f" ] || return 1
  n=$(cat "$f"); [ "$n" -gt 0 ] || return 1
  echo $((n - 1)) > "$f"; return 0; }`,
	"kubectl": `. "$FAKE_DIR/fake-common"; log "$@"
[ -n "$KUBECONFIG" ] || { echo "fake kubectl: no KUBECONFIG" >&2; exit 9; }
case "$*" in
  "get --raw=/readyz") if countdown api-fail; then exit 1; fi; exit 0 ;;
  apply*)
    if countdown apply-fail; then echo "fake kubectl: apply failed" >&2; exit 1; fi
    while [ $# -gt 0 ]; do
      if [ "$1" = -f ]; then
        mkdir -p "$FAKE_DIR/applied"; n=$(ls "$FAKE_DIR/applied" | wc -l)
        if [ "$2" = - ]; then cat > "$FAKE_DIR/applied/$(printf %02d "$n")-stdin.yaml"
        else cp "$2" "$FAKE_DIR/applied/$(printf %02d "$n")-$(basename "$2")"; fi
      fi
      shift
    done; exit 0 ;;
  *"rollout status"*) if countdown console-wait; then exit 1; fi; exit 0 ;;
  *logs*) echo "installer: still working"; exit 0 ;;
  wait*) exit 0 ;;
esac
exit 0`,
	"helm":    `. "$FAKE_DIR/fake-common"; log "$@"; if countdown helm-fail; then exit 1; fi; exit 0`,
	"kubeadm": `. "$FAKE_DIR/fake-common"; log "$@"; echo admin > "$KSGEN_KUBE_DIR/admin.conf"; exit 0`,
	"curl":    `. "$FAKE_DIR/fake-common"; log "$@"`, "sleep": `. "$FAKE_DIR/fake-common"; log "$@"`,
	"systemctl": `. "$FAKE_DIR/fake-common"; log "$@"`, "swapoff": `. "$FAKE_DIR/fake-common"; log "$@"`,
	"sysctl": `. "$FAKE_DIR/fake-common"; log "$@"`, "timedatectl": `. "$FAKE_DIR/fake-common"; log "$@"`,
}

// kubesphereDoc is the seed's pairing, KubeSphere v3.3.1 on v1.22.10.
const kubesphereDoc = `  kubernetes: {version: v1.22.10}
---
apiVersion: installer.kubesphere.io/v1alpha1
kind: ClusterConfiguration
metadata:
  name: ks-installer
  namespace: kubesphere-system
  labels: {version: v3.3.1}
spec:
  persistence: {storageClass: ""}
  common:
    core:
      console: {enableMultiLogin: true, port: 30880, type: NodePort}
  monitoring: {storageClass: "", node_exporter: {port: 9100}}
  devops: {enabled: false}
`

const addonsSpec = `  addons:
  - name: metrics
    namespace: kube-system
    sources:
      yaml: {path: [metrics-server.yaml, "https://example.com/extra.yaml"]}
  - name: nfs
    namespace: storage
    retries: 2
    delay: 3
    sources:
      chart: {name: nfs-subdir-external-provisioner, repo: "https://charts.example.com", version: 4.0.18, values: ["nfs.server=10.0.0.50", "a=it's"]}
`

type sandbox struct {
	t      *testing.T
	dir    string
	assets string // the image's AssetDir
	env    []string
	p      *fileset.Set
}

// assetDir lays out, under dir, what the image bakes for the cluster
// (images.Assets): the real upstream file from ../shared/upstream, whose
// sha256 must be the pin packer-vars bakes it with, or a stand-in from
// testdata/assets where the folder keeps no copy (Cilium's chart, KubeSphere
// v3.4.1's installer). An asset with neither is left out: the fakes that
// read it (helm) do not open it.
func assetDir(t *testing.T, c *plan.Cluster, dir string) string {
	t.Helper()
	for _, a := range ksimages.Assets(addons.Images(c)) {
		src, err := filepath.Abs(filepath.Join("testdata/assets", a.Path))
		if err != nil {
			t.Fatal(err)
		}
		if rel := upstream.AssetFile(a.Path); rel != "" {
			src = upstream.File(t, rel)
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != a.SHA256 {
				t.Fatalf("%s: the image bakes it pinned to %q, the upstream file's sha256 is %x", a.Path, a.SHA256, sum)
			}
		} else if !fileExists(src) {
			continue
		}
		dst := filepath.Join(dir, a.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newSandbox renders the init node of specYAML (bootstrap + addons) into a
// scratch root whose programs are the fakes above.
func newSandbox(t *testing.T, specYAML string) *sandbox {
	t.Helper()
	c := plantest.Plan(t, specYAML)
	p := &fileset.Set{Name: c.Init.Name}
	for _, r := range []func(*plan.Cluster, *plan.Node, *fileset.Set) error{firstboot.Render, addons.Render} {
		if err := r(c, c.Init, p); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	sb := &sandbox{t: t, dir: dir, p: p}
	for _, f := range p.Files {
		rel := "root" + f.Path
		switch {
		case f.Path == firstboot.Script || f.Path == addons.Script:
			rel = "hooks/" + filepath.Base(f.Path)
		case strings.HasPrefix(f.Path, firstboot.Dir+"/post.d/"):
			rel = "hooks/post.d/" + filepath.Base(f.Path)
		case strings.HasPrefix(f.Path, "/etc/kubernetes/"):
			rel = "kube/" + strings.TrimPrefix(f.Path, "/etc/kubernetes/")
		}
		sb.write(rel, string(f.Content), f.Mode)
	}
	for name, body := range fakes {
		sb.write("bin/"+name, "#!/bin/bash\n"+body+"\n", 0o755)
	}
	sb.write("kube/kubeadm-config.yaml", "config", 0o600)
	sb.assets = assetDir(t, c, filepath.Join(dir, "assets"))
	sb.env = []string{
		"PATH=" + filepath.Join(dir, "bin") + ":/usr/bin:/bin",
		"FAKE_DIR=" + filepath.Join(dir, "bin"),
		"KSGEN_STATE_DIR=" + filepath.Join(dir, "state"),
		"KSGEN_KUBE_DIR=" + filepath.Join(dir, "kube"),
		"KSGEN_HOOK_DIR=" + filepath.Join(dir, "hooks"),
		"KSGEN_ROOT_HOME=" + filepath.Join(dir, "roothome"),
		"KSGEN_FSTAB=" + filepath.Join(dir, "fstab"),
		"KSGEN_ASSET_DIR=" + sb.assets,
		"KSGEN_ADDONS_ENV=" + filepath.Join(dir, "root", addons.EnvFile),
	}
	return sb
}

func (sb *sandbox) write(rel, content string, mode os.FileMode) {
	p := filepath.Join(sb.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		sb.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		sb.t.Fatal(err)
	}
}

func (sb *sandbox) read(rel string) string {
	b, _ := os.ReadFile(filepath.Join(sb.dir, rel))
	return string(b)
}

func (sb *sandbox) run(script string, args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{filepath.Join(sb.dir, "hooks", script)}, args...)...)
	cmd.Env = sb.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// calls returns the logged invocations, each "prog args".
func (sb *sandbox) calls() []string {
	return strings.Split(strings.TrimSpace(sb.read("bin/calls.log")), "\n")
}

// applied returns the files fake-kubectl applied, in order.
func (sb *sandbox) applied() map[string][]byte {
	out := map[string][]byte{}
	list, _ := os.ReadDir(filepath.Join(sb.dir, "bin/applied"))
	for _, e := range list {
		b, err := os.ReadFile(filepath.Join(sb.dir, "bin/applied", e.Name()))
		if err != nil {
			sb.t.Fatal(err)
		}
		out[e.Name()[3:]] = b
	}
	return out
}

func index(calls []string, prefix string) int {
	return slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func TestFirstBootSequenceInitCNIAddonsKubeSphere(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, plantest.HA(addonsSpec)+kubesphereDoc)
	sb.write("bin/api-fail", "1", 0o644)
	sb.write("bin/apply-fail", "2", 0o644)
	sb.write("bin/helm-fail", "1", 0o644)
	sb.write("bin/console-wait", "3", 0o644)
	out, err := sb.run("bootstrap.sh")
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	calls := sb.calls()
	order := []string{
		"kubeadm init",
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "state/rendered/tigera-operator.yaml"),
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "state/rendered/calico-installation.yaml"),
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "kube/addons/nodelocaldns.yaml"),
		// KubeSphere is on, so OpenEBS local PV is too (KubeKey's rule).
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "state/rendered/openebs-hostpath-operator.yaml"),
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "kube/addons/openebs-local-storageclass.yaml"),
		"kubectl apply -f /opt/ksgen/assets/addons/metrics/metrics-server.yaml --namespace kube-system",
		"kubectl apply -f https://example.com/extra.yaml --namespace kube-system",
		"helm upgrade --install nfs nfs-subdir-external-provisioner --repo https://charts.example.com --version 4.0.18 --namespace storage --create-namespace --set nfs.server=10.0.0.50 --set a=it's",
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "state/rendered/kubesphere-installer.yaml"),
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "kube/addons/kubesphere-cluster-configuration.yaml"),
		"kubectl -n kubesphere-system rollout status deploy/ks-console",
	}
	last := -1
	for _, want := range order {
		i := index(calls, want)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order (after index %d):\n%s", want, last, strings.Join(calls, "\n"))
		}
		last = i
	}
	// A failed API probe, two failed applies and a failed helm run were retried with backoff.
	for _, want := range []string{"wait for the API: attempt 1 failed; next in 5s", "apply tigera-operator: attempt 2 failed; next in 10s", "addon nfs: attempt 1 failed; next in 3s"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if got := sb.read("state/kubesphere-console-url"); got != "http://10.0.0.1:30880\n" {
		t.Errorf("console url file = %q", got)
	}
	if !strings.Contains(out, "ks-installer: installer: still working") {
		t.Errorf("installer progress is not logged:\n%s", out)
	}
	if sb.read("state/bootstrapped") == "" && !fileExists(filepath.Join(sb.dir, "state/bootstrapped")) {
		t.Error("node not marked bootstrapped")
	}

	// A re-run, of the whole bootstrap or of each step, changes nothing.
	before := len(sb.calls())
	if out, err := sb.run("bootstrap.sh"); err != nil || !strings.Contains(out, "already bootstrapped") {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	for _, step := range []string{"cni", "nodelocaldns", "storage", "addons", "kubesphere"} {
		if out, err := sb.run("addons.sh", step); err != nil || !strings.Contains(out, "skipping") {
			t.Fatalf("re-run of %s: %v\n%s", step, err, out)
		}
	}
	if after := sb.calls(); len(after) != before {
		t.Errorf("a re-run called programs: %s", strings.Join(after[before:], "\n"))
	}
}

func TestFailedStepFailsTheBootstrapAndResumes(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, plantest.HA(addonsSpec))
	sb.write("bin/helm-fail", "2", 0o644) // addon nfs has retries: 2
	if out, err := sb.run("bootstrap.sh"); err == nil || !strings.Contains(out, "addon nfs: failed after 2 attempts") {
		t.Fatalf("want the bootstrap to fail on addon nfs: %v\n%s", err, out)
	}
	if fileExists(filepath.Join(sb.dir, "state/bootstrapped")) {
		t.Fatal("a failed addon must leave the node unbootstrapped")
	}
	before := len(sb.calls())
	if out, err := sb.run("bootstrap.sh"); err != nil {
		t.Fatalf("second boot: %v\n%s", err, out)
	}
	again := sb.calls()[before:]
	if index(again, "kubectl apply --server-side --force-conflicts -f") >= 0 || index(again, "kubectl apply -f") >= 0 {
		t.Errorf("the second boot re-applied finished steps:\n%s", strings.Join(again, "\n"))
	}
	if index(again, "helm upgrade --install nfs") < 0 {
		t.Errorf("the second boot did not retry addon nfs:\n%s", strings.Join(again, "\n"))
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// strictScheme knows the kinds the upstream manifests hold: client-go's
// built-in types and CustomResourceDefinitions.
var strictScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(scheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	return s
}()

// decodeStrict decodes every document into its real Kubernetes type,
// rejecting unknown fields and duplicate keys, and returns the objects. A
// kind the scheme does not know (a custom resource) is decoded, as strictly,
// into an Unstructured: crdServes then checks an applied CRD defines it. A
// document of comments only is skipped, as kubectl skips it.
func decodeStrict(t *testing.T, data []byte) []runtime.Object {
	t.Helper()
	s := json.NewSerializerWithOptions(json.DefaultMetaFactory, strictScheme, strictScheme, json.SerializerOptions{Yaml: true, Strict: true})
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []runtime.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			t.Fatalf("%.300s: %v", doc, err)
		}
		if probe == nil {
			continue
		}
		obj, _, err := s.Decode(doc, nil, nil)
		if runtime.IsNotRegisteredError(err) {
			u := &unstructured.Unstructured{}
			if err = yaml.UnmarshalStrict(doc, &u.Object); err == nil && (u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "") {
				err = errors.New("no apiVersion, kind or metadata.name")
			}
			obj = u
		}
		if err != nil {
			t.Fatalf("decode %.300s: %v", doc, err)
		}
		out = append(out, obj)
	}
	return out
}

// crdServes reports whether one of the CRDs defines obj's group, version and kind.
func crdServes(crds []runtime.Object, obj runtime.Object) bool {
	gvk := obj.GetObjectKind().GroupVersionKind()
	for _, o := range crds {
		c, ok := o.(*apiextensionsv1.CustomResourceDefinition)
		if !ok || c.Spec.Group != gvk.Group || c.Spec.Names.Kind != gvk.Kind {
			continue
		}
		for _, v := range c.Spec.Versions {
			if v.Name == gvk.Version && v.Served {
				return true
			}
		}
	}
	return false
}

// installation is the part of operator.tigera.io/v1 Installation ksgen
// writes, for a strict decode (the operator's CRD types are not a
// dependency of this module).
type installation struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Registry      string `json:"registry,omitempty"`
		ImagePath     string `json:"imagePath,omitempty"`
		CalicoNetwork struct {
			MTU     *int32 `json:"mtu,omitempty"`
			IPPools []struct {
				CIDR          string `json:"cidr"`
				Encapsulation string `json:"encapsulation"`
				NATOutgoing   string `json:"natOutgoing"`
				BlockSize     int    `json:"blockSize"`
			} `json:"ipPools"`
		} `json:"calicoNetwork"`
	} `json:"spec"`
}

func images(objs []runtime.Object) []string {
	var out []string
	for _, o := range objs {
		var spec *corev1.PodSpec
		switch o := o.(type) {
		case *appsv1.Deployment:
			spec = &o.Spec.Template.Spec
		case *appsv1.DaemonSet:
			spec = &o.Spec.Template.Spec
		default:
			continue
		}
		for _, c := range append(spec.InitContainers, spec.Containers...) {
			out = append(out, c.Image)
		}
	}
	return out
}

const mirrored = `  network:
    plugin: %s
    kubePodsCIDR: 10.100.0.0/16,fd00:10:100::/56
    kubeServiceCIDR: 10.96.0.0/16,fd00:10:96::/108
    calico: {vxlanMode: Always, vethMTU: 1400}
    flannel: {backendMode: host-gw}
  registry: {privateRegistry: "dockerhub.kubekey.local", namespaceOverride: mirror}
  hosts:
  - {name: cp1, address: 10.0.0.1, internalAddress: "10.0.0.1,fd00::1"}
`

func mirroredSpec(plugin string) string {
	// One dual-stack control plane: the CIDRs and registry come from the spec.
	return strings.NewReplacer("%s", plugin).Replace(`apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
metadata: {name: t}
spec:
  roleGroups:
    etcd: [cp1]
    control-plane: [cp1]
    worker: [cp1]
` + mirrored)
}

func TestCalicoManifestsCarryTheSpec(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, mirroredSpec("calico"))
	if out, err := sb.run("addons.sh", "cni"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := sb.applied()
	for _, img := range images(decodeStrict(t, got["tigera-operator.yaml"])) {
		if !strings.HasPrefix(img, "dockerhub.kubekey.local/mirror/") {
			t.Errorf("image %s is not pulled through the private registry", img)
		}
	}
	var inst installation
	if err := yaml.UnmarshalStrict(got["calico-installation.yaml"], &inst); err != nil {
		t.Fatalf("Installation: %v\n%s", err, got["calico-installation.yaml"])
	}
	if inst.APIVersion != "operator.tigera.io/v1" || inst.Kind != "Installation" || inst.Metadata.Name != "default" {
		t.Errorf("not the operator's Installation default: %+v", inst)
	}
	if inst.Spec.Registry != "dockerhub.kubekey.local/" || inst.Spec.ImagePath != "mirror" {
		t.Errorf("registry %q imagePath %q", inst.Spec.Registry, inst.Spec.ImagePath)
	}
	pools := inst.Spec.CalicoNetwork.IPPools
	if len(pools) != 2 || pools[0].CIDR != "10.100.0.0/16" || pools[0].Encapsulation != "VXLAN" || pools[1].CIDR != "fd00:10:100::/56" {
		t.Errorf("ip pools %+v", pools)
	}
	if m := inst.Spec.CalicoNetwork.MTU; m == nil || *m != 1400 {
		t.Errorf("mtu %v", m)
	}
}

func TestFlannelManifestCarriesTheSpec(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, mirroredSpec("flannel"))
	if out, err := sb.run("addons.sh", "cni"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	objs := decodeStrict(t, sb.applied()["kube-flannel.yml"])
	imgs := images(objs)
	want := []string{"dockerhub.kubekey.local/mirror/flannel-cni-plugin:v1.9.1-flannel3", "dockerhub.kubekey.local/mirror/flannel:v0.28.9", "dockerhub.kubekey.local/mirror/flannel:v0.28.9"}
	if !reflect.DeepEqual(imgs, want) {
		t.Errorf("images %v, want %v", imgs, want)
	}
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			var net struct {
				Network        string
				EnableNFTables bool
				Backend        struct{ Type string }
			}
			if err := yaml.UnmarshalStrict([]byte(cm.Data["net-conf.json"]), &net); err != nil {
				t.Fatal(err)
			}
			if net.Network != "10.100.0.0/16" || net.Backend.Type != "host-gw" {
				t.Errorf("net-conf.json %+v", net)
			}
		}
		// flanneld's health server (hostNetwork) must not take the port
		// the workers' load balancer serves its /healthz on.
		if ds, ok := o.(*appsv1.DaemonSet); ok {
			c := ds.Spec.Template.Spec.Containers[0]
			want := fmt.Sprintf("--healthz-port=%d", addons.FlannelHealthPort)
			if !slices.Contains(c.Args, want) || c.Ports[0].ContainerPort != addons.FlannelHealthPort || addons.FlannelHealthPort == lb.HealthPort {
				t.Errorf("flanneld's health server: args %v, ports %v; want %s apart from the load balancer's %d", c.Args, c.Ports, want, lb.HealthPort)
			}
		}
	}
}

func TestKubeSphereClusterConfigurationArrivesUnchanged(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, plantest.HA("")+kubesphereDoc)
	if out, err := sb.run("addons.sh", "kubesphere"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := sb.applied()
	var want, have map[string]any
	_, doc, _ := strings.Cut(kubesphereDoc, "---\n")
	if err := yaml.Unmarshal([]byte(doc), &want); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(got["kubesphere-cluster-configuration.yaml"], &have); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, have) {
		t.Errorf("ClusterConfiguration changed on the way:\nwant %v\ngot  %v", want, have)
	}
	objs := decodeStrict(t, got["kubesphere-installer.yaml"])
	if imgs := images(objs); !reflect.DeepEqual(imgs, []string{"kubesphere/ks-installer:v3.3.1"}) {
		t.Errorf("installer images %v (no registry override in this spec)", imgs)
	}
}

func TestOnlyTheInitNodeAppliesAndNoManifestIsInlined(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(addonsSpec)+kubesphereDoc)
	for _, n := range c.Nodes {
		p, files := plantest.Render(t, c, n.Name, addons.Render)
		if n != c.Init {
			if len(p.Files) != 0 {
				t.Errorf("%s is not the init node but got %d files", n.Name, len(p.Files))
			}
			continue
		}
		total := 0
		for path, f := range files {
			if path == addons.NodeLocalDNSFile {
				// ksgen's own objects, typed and built from the spec (its
				// Corefile, the CoreDNS address, the registry), like the
				// StorageClass: not an upstream manifest (TestNodeLocalDNS).
				continue
			}
			total += len(f.Content)
			if bytes.Contains(f.Content, []byte("kind: DaemonSet")) || bytes.Contains(f.Content, []byte("CustomResourceDefinition")) {
				t.Errorf("%s inlines a manifest", path)
			}
		}
		if total > 12000 {
			t.Errorf("the init node's addon files are %d bytes; manifests belong in the image", total)
		}
		for _, path := range []string{addons.Script, addons.EnvFile, firstboot.CNI.Path(), addons.NodeLocalDNSFile, firstboot.NodeLocalDNS.Path(), firstboot.Storage.Path(), addons.SCFile, firstboot.Addons.Path(), firstboot.KubeSphere.Path(), addons.CCFile} {
			if _, ok := files[path]; !ok {
				t.Errorf("missing %s", path)
			}
		}
	}
}

func TestScriptsPassShellcheck(t *testing.T) {
	t.Parallel()
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck is not installed (CI installs it)")
		}
		t.Skip("shellcheck is not installed")
	}
	c := plantest.Plan(t, plantest.HA(addonsSpec)+kubesphereDoc)
	p, _ := plantest.Render(t, c, c.Init.Name, addons.Render)
	dir := t.TempDir()
	var args []string
	for _, f := range p.Files {
		if f.Mode == fileset.ModeExec {
			path := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(f.Path, "/"), "/", "_"))
			if err := os.WriteFile(path, f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, path)
		}
	}
	if out, err := exec.Command(sc, args...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// TestEveryAssetHasARealCopy: every asset ksgen pins, for every
// Kubernetes minor, has the upstream file the sandbox tests apply.
func TestEveryAssetHasARealCopy(t *testing.T) {
	t.Parallel()
	for m := uint(22); m <= ksimages.MaxKubernetesMinor; m++ {
		for _, cni := range []string{"calico", "flannel"} {
			c := ksimages.Cluster{KubernetesVersion: fmt.Sprintf("v1.%d.0", m), CNI: cni, OpenEBS: true, KubeSphere: "v3.3.1"}
			for _, a := range ksimages.Assets(c) {
				if a.SHA256 != "" && upstream.AssetFile(a.Path) == "" {
					t.Errorf("v1.%d: asset %s is pinned but has no upstream copy to test against", m, a.Path)
				}
			}
		}
	}
}

func TestHelmInstallsKubeSphere4AndCilium(t *testing.T) {
	t.Parallel()
	doc := strings.Replace(mirroredSpec("cilium"), "  registry:", "  kubernetes: {version: v1.30.4}\n  registry:", 1) + `---
apiVersion: installer.kubesphere.io/v1alpha1
kind: ClusterConfiguration
metadata: {name: ks-installer, namespace: kubesphere-system, labels: {version: v4.1.3}}
spec: {}
`
	sb := newSandbox(t, doc)
	for _, step := range []string{"cni", "kubesphere"} {
		if out, err := sb.run("addons.sh", step); err != nil {
			t.Fatalf("%s: %v\n%s", step, err, out)
		}
	}
	calls := sb.calls()
	for _, want := range []string{
		"helm upgrade --install cilium " + sb.assets + "/cilium/1.15.7/cilium-1.15.7.tgz --namespace kube-system --set ipam.mode=kubernetes --set routingMode=tunnel --set tunnelProtocol=vxlan --set mtu=1400 --set image.repository=dockerhub.kubekey.local/mirror/cilium --set image.useDigest=false --set operator.image.repository=dockerhub.kubekey.local/mirror/operator --set operator.image.useDigest=false",
		"helm upgrade --install ks-core " + sb.assets + "/kubesphere/v4.1.3/ks-core.tgz --namespace kubesphere-system --create-namespace --set global.imageRegistry=dockerhub.kubekey.local",
	} {
		if index(calls, want) < 0 {
			t.Errorf("no call %q in:\n%s", want, strings.Join(calls, "\n"))
		}
	}
	if got := sb.read("state/kubesphere-console-url"); got != "http://10.0.0.1:30880\n" {
		t.Errorf("console url file = %q", got)
	}
}

// TestKubeSphereEtcdMonitoring: with etcd.monitoring on, the init node (a
// control plane: it holds the etcd client files) creates KubeKey's Secret
// kube-etcd-client-certs from kube-apiserver's etcd client files before
// ks-installer starts, and KubeKey's placeholder endpointIps becomes the
// etcd members' addresses.
func TestKubeSphereEtcdMonitoring(t *testing.T) {
	t.Parallel()
	doc := strings.Replace(kubesphereDoc, "  devops: {enabled: false}\n", "  devops: {enabled: false}\n  etcd: {monitoring: true, endpointIps: localhost, port: 2379, tlsEnable: true}\n", 1)
	sb := newSandbox(t, plantest.HA("")+doc)
	var cc struct {
		Spec struct {
			Etcd struct {
				Monitoring  bool   `json:"monitoring"`
				EndpointIps string `json:"endpointIps"`
				Port        int    `json:"port"`
			} `json:"etcd"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(sb.read("kube/addons/kubesphere-cluster-configuration.yaml")), &cc); err != nil {
		t.Fatal(err)
	}
	if !cc.Spec.Etcd.Monitoring || cc.Spec.Etcd.EndpointIps != "10.0.0.1,10.0.0.2,10.0.0.3" || cc.Spec.Etcd.Port != 2379 {
		t.Errorf("ClusterConfiguration etcd = %+v, want monitoring on the three etcd members", cc.Spec.Etcd)
	}
	if out, err := sb.run("bootstrap.sh"); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	calls := sb.calls()
	secret := index(calls, "kubectl -n kubesphere-monitoring-system create secret generic kube-etcd-client-certs "+
		"--from-file=etcd-client-ca.crt=/etc/ssl/etcd/ssl/ca.pem "+
		"--from-file=etcd-client.crt=/etc/ssl/etcd/ssl/apiserver-etcd-client.pem "+
		"--from-file=etcd-client.key=/etc/ssl/etcd/ssl/apiserver-etcd-client-key.pem --dry-run=client -o yaml")
	installer := index(calls, "kubectl apply --server-side --force-conflicts -f "+filepath.Join(sb.dir, "state/rendered/kubesphere-installer.yaml"))
	if secret < 0 || installer < 0 || secret > installer {
		t.Errorf("the etcd client Secret is not created before ks-installer (%d, %d):\n%s", secret, installer, strings.Join(calls, "\n"))
	}
	if index(calls, "kubectl create namespace kubesphere-monitoring-system") < 0 {
		t.Errorf("no kubesphere-monitoring-system namespace:\n%s", strings.Join(calls, "\n"))
	}

	// Off (the existing spec): no Secret, the document as written.
	off := newSandbox(t, plantest.HA("")+kubesphereDoc)
	if out, err := off.run("bootstrap.sh"); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	if i := index(off.calls(), "kubectl -n kubesphere-monitoring-system create secret"); i >= 0 {
		t.Error("the Secret is created with etcd monitoring off")
	}
}
