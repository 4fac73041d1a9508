package addons_test

import (
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/addons"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
)

// openEBSSpec is the mirrored single-node spec with OpenEBS asked for in the
// ksgen document and a base path of its own.
func openEBSSpec(storage string) string {
	return strings.Replace(mirroredSpec("calico"), "  registry:", "  storage: {openebs: {basePath: /data/openebs/local}}\n  registry:", 1) +
		"---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  storage: " + storage + "\n"
}

// casConfig is the StorageClass's cas.openebs.io/config annotation, which
// OpenEBS reads as a list of name/value pairs.
type casConfig []struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func TestOpenEBSManifestsCarryTheSpec(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, openEBSSpec("{openebs: {enabled: true}}"))
	if out, err := sb.run("addons.sh", "storage"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := sb.applied()
	objs := decodeStrict(t, got["openebs-hostpath-operator.yaml"])
	if len(objs) != 5 {
		t.Fatalf("want namespace, service account, cluster role, binding and deployment; got %d objects", len(objs))
	}
	var dep *appsv1.Deployment
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			dep = d
		}
	}
	if dep == nil {
		t.Fatal("no provisioner Deployment")
	}
	if imgs := images(objs); len(imgs) != 1 || imgs[0] != "dockerhub.kubekey.local/mirror/provisioner-localpv:3.3.0" {
		t.Errorf("provisioner image %v is not pulled through the private registry", imgs)
	}
	env := map[string]string{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["OPENEBS_IO_BASE_PATH"] != "/data/openebs/local" {
		t.Errorf("OPENEBS_IO_BASE_PATH = %q, want the spec's basePath", env["OPENEBS_IO_BASE_PATH"])
	}
	if env["OPENEBS_IO_HELPER_IMAGE"] != "dockerhub.kubekey.local/mirror/linux-utils:3.3.0" {
		t.Errorf("helper image %q is not pulled through the private registry", env["OPENEBS_IO_HELPER_IMAGE"])
	}

	scObjs := decodeStrict(t, got["openebs-local-storageclass.yaml"])
	sc, ok := scObjs[0].(*storagev1.StorageClass)
	if len(scObjs) != 1 || !ok {
		t.Fatalf("want one StorageClass, got %v", scObjs)
	}
	if sc.Name != "local" || sc.Provisioner != "openebs.io/local" || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Errorf("StorageClass %s provisioner %s binding %s", sc.Name, sc.Provisioner, *sc.VolumeBindingMode)
	}
	var cfg casConfig
	if err := yaml.UnmarshalStrict([]byte(sc.Annotations["cas.openebs.io/config"]), &cfg); err != nil {
		t.Fatal(err)
	}
	want := casConfig{{"StorageType", "hostpath"}, {"BasePath", "/data/openebs/local"}}
	if len(cfg) != 2 || cfg[0] != want[0] || cfg[1] != want[1] {
		t.Errorf("cas.openebs.io/config %+v, want %+v", cfg, want)
	}
}

func TestStorageClassIsDefaultOnlyWhenNoOtherDefaultIsConfigured(t *testing.T) {
	t.Parallel()
	nfs := "  addons:\n  - name: csi-driver-nfs\n    sources: {chart: {name: csi-driver-nfs, repo: \"https://raw.githubusercontent.com/kubernetes-csi/csi-driver-nfs/master/charts\"}}\n"
	for _, tc := range []struct {
		name, storage, extra string
		installed            bool
		isDefault            string
	}{
		{"nothing else configured", "{openebs: {enabled: true}}", "", true, "true"},
		{"an addon's class is the default", "{defaultStorageClass: nfs-csi, openebs: {enabled: true}}", nfs, true, "false"},
		{"OpenEBS off", "{openebs: {enabled: false}}", "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := plantest.Plan(t, strings.Replace(openEBSSpec(tc.storage), "  hosts:", tc.extra+"  hosts:", 1))
			_, files := plantest.Render(t, c, c.Init.Name, addons.Render)
			f, ok := files[addons.SCFile]
			_, hook := files[firstboot.Storage.Path()]
			if ok != tc.installed || hook != tc.installed {
				t.Fatalf("StorageClass file %v, storage hook %v; want both %v", ok, hook, tc.installed)
			}
			if !tc.installed {
				return
			}
			sc, isSC := decodeStrict(t, f.Content)[0].(*storagev1.StorageClass)
			if !isSC {
				t.Fatalf("not a StorageClass:\n%s", f.Content)
			}
			if got := sc.Annotations["storageclass.kubernetes.io/is-default-class"]; got != tc.isDefault {
				t.Errorf("is-default-class = %q, want %q", got, tc.isDefault)
			}
		})
	}
}

// TestStorageComesAfterTheCNIAndBeforeAddons runs the whole first boot of a
// KubeSphere cluster (OpenEBS on by KubeKey's rule) and checks the order.
func TestStorageComesAfterTheCNIAndBeforeAddons(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, plantest.HA(addonsSpec)+kubesphereDoc)
	sb.write("bin/apply-fail", "3", 0o644) // operator apply retried too
	if out, err := sb.run("bootstrap.sh"); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	calls := sb.calls()
	order := []string{
		"kubeadm init",
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "state/rendered/calico-installation.yaml"),
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "state/rendered/openebs-hostpath-operator.yaml"),
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "kube/addons/openebs-local-storageclass.yaml"),
		"kubectl apply -f /opt/ksgen/assets/addons/metrics/metrics-server.yaml --namespace kube-system",
		"kubectl apply --server-side --force-conflicts -f " + filepath.Join(sb.dir, "state/rendered/kubesphere-installer.yaml"),
	}
	last := -1
	for _, want := range order {
		i := index(calls, want)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order (after index %d):\n%s", want, last, strings.Join(calls, "\n"))
		}
		last = i
	}
	if !fileExists(filepath.Join(sb.dir, "state/addons/storage.done")) {
		t.Error("no marker for the storage step")
	}
	before := len(sb.calls())
	if out, err := sb.run("addons.sh", "storage"); err != nil || !strings.Contains(out, "storage: done before; skipping") {
		t.Fatalf("re-run of storage: %v\n%s", err, out)
	}
	if len(sb.calls()) != before {
		t.Error("a re-run of the storage step called programs")
	}
}
