package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
	kubeadmimages "k8s.io/kubernetes/cmd/kubeadm/app/images"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
)

var updateImages = flag.Bool("update-images", false, "rewrite testdata/images/*.txt from the current output")

// imageCases are the golden image lists: testdata/images/<name>.txt.
var imageCases = []struct{ name, spec string }{
	{"config-sample", "../../testdata/config-sample.yaml"},
	{"v1.22.10", "../../testdata/specs/valid-v1.22.yaml"},
	{"kubesphere-private-registry", "../../testdata/images/kubesphere-private-registry.yaml"},
	{"kubesphere-components", "../../testdata/specs/valid-kubesphere-components.yaml"},
	{"lb-nginx", "../../testdata/specs/valid-lb-nginx.yaml"},
	{"seed-kubesphere-v3.3.1", "../../testdata/images/seed-kubesphere-v3.3.1.yaml"},
	{"v1.36-private-registry", "../../testdata/images/v1.36-private-registry.yaml"},
}

func TestImagesListGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range imageCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := ksgen(t, "images", "list", "-f", tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("../../testdata/images", tc.name+".txt")
			if *updateImages {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/ksgen -run TestImagesListGolden -update-images)", err)
			}
			if out != string(want) {
				t.Errorf("images list for %s differs from %s:\n%s", tc.spec, golden, out)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if !slices.IsSorted(lines) || len(slices.Compact(slices.Clone(lines))) != len(lines) {
				t.Errorf("not sorted and deduplicated:\n%s", out)
			}
		})
	}
}

// TestImagesListHoldsKubeadmsOwnList checks the list against kubeadm's own
// GetControlPlaneImages for the spec's version and repository. kubeadm's
// library pins the CoreDNS, etcd and pause tags of its own release only, so
// for other minors those three come from the per-minor tables.
func TestImagesListHoldsKubeadmsOwnList(t *testing.T) {
	t.Parallel()
	for _, tc := range imageCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, r, err := spec.LoadFile(tc.spec)
			if err != nil || r.Err(false) != nil {
				t.Fatal(err, r.Err(false))
			}
			c, err := plan.New(s)
			if err != nil {
				t.Fatal(err)
			}
			list, err := images.List(generator.Images(c))
			if err != nil {
				t.Fatal(err)
			}
			reg := s.Cluster.Spec.Registry
			cfg := &kubeadmapi.ClusterConfiguration{
				KubernetesVersion: s.Cluster.Spec.Kubernetes.Version,
				ImageRepository:   images.Repository(reg.PrivateRegistry, reg.NamespaceOverride),
			}
			cfg.DNS.ImageRepository = images.DNSRepository(reg.PrivateRegistry)
			if s.Cluster.Spec.Etcd.Type == "kubeadm" {
				cfg.Etcd.Local = &kubeadmapi.LocalEtcd{}
			}
			own := c.Version.Minor() == images.MaxKubernetesMinor
			if !own {
				cfg.DNS.ImageTag = images.CoreDNSTag(c.Version.Minor())
				if cfg.Etcd.Local != nil {
					cfg.Etcd.Local.ImageTag = images.EtcdTag(c.Version.Minor())
				}
			}
			for _, img := range kubeadmimages.GetControlPlaneImages(cfg) {
				if !own && strings.HasSuffix(img, "/pause:"+kubeadmconstants.PauseVersion) {
					img = strings.TrimSuffix(img, kubeadmconstants.PauseVersion) + images.PauseTag(c.Version.Minor())
				}
				if !slices.Contains(list, img) {
					t.Errorf("kubeadm's image %s is not in the list:\n%s", img, strings.Join(list, "\n"))
				}
			}
		})
	}
}

func TestImagesListJSON(t *testing.T) {
	t.Parallel()
	out, _, err := ksgen(t, "images", "list", "-f", "../../testdata/config-sample.yaml", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Images []string }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	text, _, _ := ksgen(t, "images", "list", "-f", "../../testdata/config-sample.yaml")
	if strings.Join(doc.Images, "\n")+"\n" != text {
		t.Errorf("json and text lists differ:\n%s\n%s", out, text)
	}
	if _, _, err := ksgen(t, "images", "list", "-f", "../../testdata/config-sample.yaml", "-o", "xml"); err == nil {
		t.Error("-o xml: want an error")
	}
}

// TestImagesListGrowsByKubeSphereComponents checks that enabling pluggable
// components adds exactly their images (as ks-installer's image list groups
// them), and spot-checks images every such cluster needs.
func TestImagesListGrowsByKubeSphereComponents(t *testing.T) {
	t.Parallel()
	s, r, err := spec.LoadFile("../../testdata/specs/valid-kubesphere-components.yaml")
	if err != nil || r.Err(true) != nil {
		t.Fatal(err, r.Err(true))
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	ic := generator.Images(c)
	with, err := images.List(ic)
	if err != nil {
		t.Fatal(err)
	}
	comps := ic.KubeSphereComponents
	ic.KubeSphereComponents = nil
	without, err := images.List(ic)
	if err != nil {
		t.Fatal(err)
	}
	var added []string
	for _, img := range with {
		if !slices.Contains(without, img) {
			added = append(added, img)
		}
	}
	for _, img := range without {
		if !slices.Contains(with, img) {
			t.Errorf("enabling components dropped %s", img)
		}
	}
	for _, want := range []string{
		"docker.io/kubesphere/devops-apiserver:ks-v3.4.1", "docker.io/kubesphere/ks-jenkins:v3.4.0-2.319.3-1",
		"docker.io/istio/pilot:1.14.6", "docker.io/kubesphere/kiali:v1.50",
		"docker.io/kubesphere/kube-events-ruler:v0.6.0", "docker.io/kubesphere/kube-auditing-webhook:v0.2.0",
		"docker.io/opensearchproject/opensearch:2.6.0", "docker.io/kubesphere/fluent-bit:v1.9.4",
		"docker.io/kubeedge/cloudcore:v1.13.0", "docker.io/openpolicyagent/gatekeeper:v3.5.2",
		"docker.io/kubesphere/openpitrix-jobs:v3.3.2", "docker.io/kubesphere/metrics-server:v0.4.2",
		"docker.io/kubesphere/kubefed:v0.8.1", "docker.io/kubesphere/tower:v0.2.1",
	} {
		if !slices.Contains(added, want) {
			t.Errorf("%s (from %v) is not added to the list", want, comps)
		}
	}
	// Monitoring comes with every KubeSphere v3, components or not; so does
	// OpenEBS's provisioner, the default StorageClass.
	for _, want := range []string{"docker.io/prom/prometheus:v2.39.1", "docker.io/openebs/provisioner-localpv:3.3.0", "docker.io/openebs/linux-utils:3.3.0"} {
		if !slices.Contains(without, want) {
			t.Errorf("%s is missing without components", want)
		}
	}
	if len(added) < 60 {
		t.Errorf("components added %d images; DevOps alone brings more than 40", len(added))
	}
}

// TestImagesListProxy: where the ksgen document selects nginx, the list
// names nginx's image instead of HAProxy's, and nothing else changes
// (internal LB on the workers, keepalived on load-balancer hosts).
func TestImagesListProxy(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]string{
		{"../../testdata/specs/valid-ha-haproxy.yaml", "../../testdata/specs/valid-ha-nginx.yaml"},
		{"../../testdata/specs/valid-lb-hosts.yaml", "../../testdata/specs/valid-lb-nginx.yaml"},
	} {
		haproxy, _, err := ksgen(t, "images", "list", "-f", pair[0])
		if err != nil {
			t.Fatal(err)
		}
		nginx, _, err := ksgen(t, "images", "list", "-f", pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(haproxy, images.HAProxyImage+"\n") || strings.Contains(haproxy, images.NginxImage) {
			t.Errorf("%s: want %s and not nginx:\n%s", pair[0], images.HAProxyImage, haproxy)
		}
		if want := strings.Replace(haproxy, images.HAProxyImage+"\n", "", 1); strings.Replace(nginx, images.NginxImage+"\n", "", 1) != want || !strings.Contains(nginx, images.NginxImage+"\n") {
			t.Errorf("%s: want %s's list with %s instead of %s:\n%s", pair[1], pair[0], images.NginxImage, images.HAProxyImage, nginx)
		}
	}
}
