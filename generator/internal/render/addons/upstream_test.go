package addons_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/addons"
	ksimages "github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/internal/upstream"
)

// appliedObjects decodes, strictly, every file the fake kubectl applied, in
// order, and checks that every custom resource among them has its CRD there.
func appliedObjects(t *testing.T, sb *sandbox) (files []string, objs []runtime.Object) {
	t.Helper()
	list, err := os.ReadDir(filepath.Join(sb.dir, "bin/applied"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		b, err := os.ReadFile(filepath.Join(sb.dir, "bin/applied", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, e.Name()[3:])
		objs = append(objs, decodeStrict(t, b)...)
	}
	for _, o := range objs {
		if _, ok := o.(*unstructured.Unstructured); ok && !crdServes(objs, o) {
			t.Errorf("%s: no applied CRD serves it", o.GetObjectKind().GroupVersionKind())
		}
	}
	return files, objs
}

// listOf is `ksgen images list` for the sandbox's cluster.
func listOf(t *testing.T, specYAML string) []string {
	t.Helper()
	list, err := ksimages.List(addons.Images(plantest.Plan(t, specYAML)))
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestEveryPairedCalicoReleaseAppliesAsIs runs the CNI step on the real
// operator manifests of every Calico release the pairing table picks, with
// and without a private registry: every object decodes strictly into its
// real type, the CRDs are established before the operator that needs them,
// and every image the manifests run is in `ksgen images list`.
func TestEveryPairedCalicoReleaseAppliesAsIs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for m := uint(22); m <= ksimages.MaxKubernetesMinor; m++ {
		p, err := ksimages.PairingFor(m)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p.Calico] {
			continue
		}
		seen[p.Calico] = true
		for _, mirror := range []bool{false, true} {
			name := fmt.Sprintf("%s on v1.%d, mirrored %v", p.Calico, m, mirror)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				doc := strings.Replace(mirroredSpec("calico"), "  registry:", fmt.Sprintf("  kubernetes: {version: v1.%d.0}\n  registry:", m), 1)
				if !mirror {
					doc = strings.Replace(doc, `  registry: {privateRegistry: "dockerhub.kubekey.local", namespaceOverride: mirror}`+"\n", "", 1)
				}
				sb := newSandbox(t, doc)
				if out, err := sb.run("addons.sh", "cni"); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				files, objs := appliedObjects(t, sb)
				want := []string{"tigera-operator.yaml", "calico-installation.yaml"}
				if ksimages.Calico(fmt.Sprintf("v1.%d.0", m)).SeparateCRDs {
					want = append([]string{"operator-crds.yaml"}, want...)
				}
				if !slices.Equal(files, want) {
					t.Errorf("applied %v, want %v", files, want)
				}
				crd := slices.IndexFunc(objs, func(o runtime.Object) bool {
					c, ok := o.(*apiextensionsv1.CustomResourceDefinition)
					return ok && c.Name == "installations.operator.tigera.io"
				})
				if crd < 0 {
					t.Error("no Installation CRD among the applied objects")
				}
				list := listOf(t, doc)
				imgs := images(objs)
				if len(imgs) == 0 {
					t.Error("the operator manifest runs no image")
				}
				for _, img := range imgs {
					if !slices.Contains(list, img) {
						t.Errorf("image %s is not in ksgen images list:\n%s", img, strings.Join(list, "\n"))
					}
				}
			})
		}
	}
}

// TestSeedKubeSphereAppliesAsIs is the seed's install, KubeSphere v3.3.1 on
// v1.22.10, with ks-installer's own cluster-configuration.yaml as the
// spec's second document: the spec loader takes it as is, and the node
// applies OpenEBS's hostpath operator, then ks-installer's manifest, then
// that ClusterConfiguration unchanged; every object decodes strictly and
// every image is in `ksgen images list`.
func TestSeedKubeSphereAppliesAsIs(t *testing.T) {
	t.Parallel()
	cc, err := os.ReadFile(upstream.File(t, "ks-installer-v3.3.1/cluster-configuration.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := plantest.HA("  kubernetes: {version: v1.22.10}\n") + "---\n" + string(cc)
	sb := newSandbox(t, doc)
	for _, step := range []string{"storage", "kubesphere"} {
		if out, err := sb.run("addons.sh", step); err != nil {
			t.Fatalf("%s: %v\n%s", step, err, out)
		}
	}
	applied := sb.applied()
	var want, got map[string]any
	if err := yaml.UnmarshalStrict(cc, &want); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(applied["kubesphere-cluster-configuration.yaml"], &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("ks-installer's ClusterConfiguration changed on the way:\nwant %v\ngot  %v", want, got)
	}
	files, objs := appliedObjects(t, sb)
	if want := []string{"openebs-hostpath-operator.yaml", "openebs-local-storageclass.yaml", "kubesphere-installer.yaml", "kubesphere-cluster-configuration.yaml"}; !slices.Equal(files, want) {
		t.Errorf("applied %v, want %v", files, want)
	}
	list := listOf(t, doc)
	imgs := images(objs)
	if len(imgs) < 2 {
		t.Errorf("images %v: want OpenEBS's provisioner and ks-installer", imgs)
	}
	for _, img := range imgs {
		// The manifests name Docker Hub images by short name, as the list does not.
		if !slices.Contains(list, img) && !slices.Contains(list, "docker.io/"+img) {
			t.Errorf("image %s is not in ksgen images list:\n%s", img, strings.Join(list, "\n"))
		}
	}
}
