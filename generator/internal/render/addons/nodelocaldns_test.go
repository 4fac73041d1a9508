package addons_test

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/kubernetes/pkg/apis/apps"
	_ "k8s.io/kubernetes/pkg/apis/apps/install" // registers apps/v1 in legacyscheme, as kube-apiserver does
	appsvalidation "k8s.io/kubernetes/pkg/apis/apps/validation"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	apivalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/capabilities"

	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/addons"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	ksimages "github.com/ksgen/ksgen/images"
)

// TestNodeLocalDNS renders KubeKey's NodeLocalDNS (on by default) and has
// Kubernetes' own code judge it: every object decodes strictly into its
// real type, and the DaemonSet passes kube-apiserver's validation after
// its defaults. Then what a user checks: the cache answers on
// 169.254.25.10, forwards the cluster domain to kubeadm's CoreDNS service,
// pulls its image through the private registry, and that image is in
// `ksgen images list`.
func TestNodeLocalDNS(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(`  registry: {privateRegistry: dockerhub.kubekey.local, namespaceOverride: kubesphereio}
  dns:
    nodelocaldns:
      externalZones:
      - zones: [example.com, example.org]
        nameservers: [10.0.0.53, "10.0.0.54:5353"]
        cache: 60
        rewrite: ["name substring example.org example.com"]
`))
	if c.ClusterDNS != "169.254.25.10" || c.CoreDNSIP != "10.233.0.10" {
		t.Errorf("clusterDNS %s CoreDNS %s, want 169.254.25.10 and kubeadm's 10.233.0.10", c.ClusterDNS, c.CoreDNSIP)
	}
	_, files := plantest.Render(t, c, "cp1", addons.Render)
	if _, ok := files[firstboot.NodeLocalDNS.Path()]; !ok {
		t.Errorf("no %s hook", firstboot.NodeLocalDNS.File())
	}
	if strings.Contains(string(files[addons.NodeLocalDNSFile].Content), "\nstatus:") {
		t.Error("the manifest carries a status, which the API server sets")
	}
	objs := decodeStrict(t, files[addons.NodeLocalDNSFile].Content)
	if len(objs) != 3 {
		t.Fatalf("%d objects, want ServiceAccount, ConfigMap, DaemonSet", len(objs))
	}
	cm, ok1 := objs[1].(*corev1.ConfigMap)
	ds, ok2 := objs[2].(*appsv1.DaemonSet)
	if _, ok := objs[0].(*corev1.ServiceAccount); !ok || !ok1 || !ok2 {
		t.Fatalf("objects %T %T %T", objs[0], objs[1], objs[2])
	}
	for _, o := range []struct{ ns, name string }{{cm.Namespace, cm.Name}, {ds.Namespace, ds.Name}} {
		if o.ns != "kube-system" || o.name != "nodelocaldns" {
			t.Errorf("object %s/%s, want KubeKey's kube-system/nodelocaldns", o.ns, o.name)
		}
	}

	// kube-apiserver's path: defaults, the internal type, validation, with
	// privileged containers allowed as kubeadm's kube-apiserver allows them
	// (--allow-privileged=true).
	capabilities.Setup(true, 0)
	internal := &apps.DaemonSet{}
	legacyscheme.Scheme.Default(ds)
	if err := legacyscheme.Scheme.Convert(ds, internal, nil); err != nil {
		t.Fatal(err)
	}
	if errs := appsvalidation.ValidateDaemonSet(internal, apivalidation.PodValidationOptions{}); len(errs) > 0 {
		t.Errorf("kube-apiserver refuses the DaemonSet: %v", errs.ToAggregate())
	}

	pod := ds.Spec.Template.Spec
	if !pod.HostNetwork || pod.DNSPolicy != corev1.DNSDefault || len(pod.Containers) != 1 {
		t.Fatalf("pod spec %+v", pod)
	}
	ctr := pod.Containers[0]
	if want := "dockerhub.kubekey.local/kubesphereio/k8s-dns-node-cache:1.22.20"; ctr.Image != want {
		t.Errorf("image %s, want %s", ctr.Image, want)
	}
	if !slices.Equal(ctr.Args[:2], []string{"-localip", "169.254.25.10"}) {
		t.Errorf("args %v", ctr.Args)
	}
	list, err := ksimages.List(addons.Images(c))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(list, ctr.Image) {
		t.Errorf("images list lacks %s:\n%s", ctr.Image, strings.Join(list, "\n"))
	}
	core := cm.Data["Corefile"]
	for _, want := range []string{
		"cluster.local:53 {\n    errors\n    cache {\n        success 9984 30\n        denial 9984 5\n    }\n    reload\n    loop\n    bind 169.254.25.10\n    forward . 10.233.0.10 {\n        force_tcp\n    }\n    prometheus :9253\n    health 169.254.25.10:9254\n}\n",
		"in-addr.arpa:53 {", "ip6.arpa:53 {",
		".:53 {\n    errors\n    cache 30\n    reload\n    loop\n    bind 169.254.25.10\n    forward . /etc/resolv.conf\n",
		"example.com:53 example.org:53 {\n    errors\n    cache 60\n", "    rewrite name substring example.org example.com\n    forward . 10.0.0.53 10.0.0.54:5353\n",
	} {
		if !strings.Contains(core, want) {
			t.Errorf("Corefile lacks %q:\n%s", want, core)
		}
	}
	if strings.Count(core, "{") != strings.Count(core, "}") {
		t.Errorf("Corefile braces do not balance:\n%s", core)
	}
}

// TestNodeLocalDNSOff: kubernetes.nodelocaldns: false deploys nothing and
// points the kubelet at CoreDNS's service, as KubeKey does.
func TestNodeLocalDNSOff(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA("  kubernetes: {nodelocaldns: false}\n"))
	if c.ClusterDNS != "10.233.0.10" {
		t.Errorf("clusterDNS %s, want CoreDNS's 10.233.0.10", c.ClusterDNS)
	}
	_, files := plantest.Render(t, c, "cp1", addons.Render)
	for _, p := range []string{addons.NodeLocalDNSFile, firstboot.NodeLocalDNS.Path()} {
		if _, ok := files[p]; ok {
			t.Errorf("%s rendered with nodelocaldns: false", p)
		}
	}
	list, err := ksimages.List(addons.Images(c))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(list, ksimages.NodeLocalDNSImage) {
		t.Error("images list names node-cache with nodelocaldns: false")
	}
}
