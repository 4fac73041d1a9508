package images_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/images"
)

// ref is a fully qualified image reference: registry/namespace/name:tag.
var ref = regexp.MustCompile(`^[a-z0-9.-]+\.[a-z]+/[a-z0-9-]+/[a-z0-9._-]+:[A-Za-z0-9._-]+$`)

var allComponents = []string{
	images.ComponentAlerting, images.ComponentAuditing, images.ComponentDevOps, images.ComponentEvents,
	images.ComponentLogging, images.ComponentMetricsServer, images.ComponentMulticluster,
	images.ComponentNetworkPolicy, images.ComponentIPPool, images.ComponentTopology, images.ComponentOpenPitrix,
	images.ComponentServiceMesh, images.ComponentEdgeRuntime, images.ComponentGatekeeper,
	images.ComponentRedisHA, images.ComponentOpenLDAP, images.ComponentLogStore, images.ComponentFluentBit,
}

func TestEveryKubeSphere3VersionListsEveryComponent(t *testing.T) {
	t.Parallel()
	for _, v := range images.KubeSphereVersions() {
		r, _ := images.KubeSphere(v)
		base := images.KubeSphereComponentImages(v, nil)
		if r.Helm {
			if len(base) != 0 {
				t.Errorf("%s installs components as extensions, yet lists %v", v, base)
			}
			continue
		}
		if !slices.ContainsFunc(base, func(s string) bool { return strings.HasPrefix(s, "docker.io/prom/prometheus:") }) {
			t.Errorf("%s: monitoring (installed with every v3) lists no Prometheus: %v", v, base)
		}
		for _, c := range allComponents {
			got := images.KubeSphereComponentImages(v, []string{c})
			switch c {
			case images.ComponentNetworkPolicy, images.ComponentIPPool, images.ComponentAlerting:
				// The CNI's images; alerting's Thanos Ruler runs monitoring's thanos image.
				if len(got) != len(base) {
					t.Errorf("%s %s: adds images of its own", v, c)
				}
				continue
			}
			if len(got) <= len(base) {
				t.Errorf("%s: component %s adds no image", v, c)
			}
			for _, img := range got {
				if !ref.MatchString(img) {
					t.Errorf("%s %s: %q is not registry/namespace/name:tag", v, c, img)
				}
			}
		}
	}
}

func TestKubeSphereOwnTagsFollowTheVersion(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]string{
		"v3.3.0": "docker.io/kubesphere/devops-apiserver:v3.3.0",
		"v3.3.1": "docker.io/kubesphere/devops-apiserver:v3.3.1",
		"v3.3.2": "docker.io/kubesphere/devops-apiserver:ks-v3.3.2",
		"v3.4.0": "docker.io/kubesphere/devops-apiserver:ks-v3.4.0",
		"v3.4.1": "docker.io/kubesphere/devops-apiserver:ks-v3.4.1",
	} {
		if got := images.KubeSphereComponentImages(v, []string{images.ComponentDevOps}); !slices.Contains(got, want) {
			t.Errorf("%s DevOps lacks %s", v, want)
		}
	}
}

func TestOpenEBSImagesAndAssetFollowTheSwitch(t *testing.T) {
	t.Parallel()
	c := images.Cluster{KubernetesVersion: "v1.26.15", CNI: "none", PrivateRegistry: "mirror.local", OpenEBS: true}
	list, err := images.List(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mirror.local/kubesphereio/provisioner-localpv:3.3.0", "mirror.local/kubesphereio/linux-utils:3.3.0"} {
		if !slices.Contains(list, want) {
			t.Errorf("%s missing from %v", want, list)
		}
	}
	if a := images.Assets(c); len(a) != 1 || a[0].Path != "openebs/3.3.0/hostpath-operator.yaml" {
		t.Errorf("assets %+v", a)
	}
	c.OpenEBS = false
	if a := images.Assets(c); len(a) != 0 {
		t.Errorf("OpenEBS off, yet assets %+v", a)
	}
}
