package kubeadm_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/klog/v2"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/validation"
	"k8s.io/kubernetes/cmd/kubeadm/app/componentconfigs"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
	kubeadmutil "k8s.io/kubernetes/cmd/kubeadm/app/util"
	kubeadmconfig "k8s.io/kubernetes/cmd/kubeadm/app/util/config"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/config/strict"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/render/kubeadm"
	"github.com/ksgen/ksgen/generator/plan"
)

const (
	specsDir    = "../../../../testdata/specs"
	secretsFile = "../../../../testdata/test-secrets.yaml"

	v1beta3 = "kubeadm.k8s.io/v1beta3"
	v1beta4 = "kubeadm.k8s.io/v1beta4"
)

// TestMain silences klog: kubeadm's loaders log a warning for every v1beta3
// document, and everything that matters is returned as an error anyway.
func TestMain(m *testing.M) {
	flag.Parse()
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

var testCredentials = sync.OnceValues(func() (kubeadm.Credentials, error) {
	raw, err := os.ReadFile(secretsFile)
	if err != nil {
		return kubeadm.Credentials{}, err
	}
	b, err := pki.Parse(raw)
	if err != nil {
		return kubeadm.Credentials{}, err
	}
	hash, err := b.CACertHash()
	if err != nil {
		return kubeadm.Credentials{}, err
	}
	return kubeadm.Credentials{Token: b.BootstrapToken, CACertHash: hash, KeyAlgorithm: b.KeyAlgorithm}, nil
})

// validSpecs returns testdata/specs/valid-*.yaml by case name.
func validSpecs(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(specsDir, "valid-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no valid-*.yaml in %s", specsDir)
	}
	out := map[string]string{}
	for _, f := range files {
		out[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "valid-"), ".yaml")] = f
	}
	return out
}

func loadPlan(t *testing.T, path string) (*spec.Spec, *plan.Cluster) {
	t.Helper()
	s, r, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(true); err != nil {
		t.Fatalf("%s is not valid (strict): %v", path, err)
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatalf("plan %s: %v", path, err)
	}
	return s, c
}

// expectations are what a user checks in a node's kubeadm config, derived
// from the spec itself rather than from the plan under test.
type expectations struct {
	version     string // "v1.36.3"
	api         string // v1beta3 below v1.31, v1beta4 from v1.31
	endpoint    string // domain:port
	domain      string
	port        int
	apiServerIP string // first address of the (first) service network
	clusterDNS  string
	kubeProxy   bool // a KubeProxyConfiguration is rendered
	podCIDR     string
	serviceCIDR string
	initNode    string
	controlPlanes,
	workers []string
	hosts map[string]spec.Host
}

func expect(t *testing.T, s *spec.Spec) expectations {
	t.Helper()
	cs := s.Cluster.Spec
	ver := version.MustParseSemantic(cs.Kubernetes.Version)
	e := expectations{
		version:       cs.Kubernetes.Version,
		api:           v1beta4,
		domain:        cs.ControlPlaneEndpoint.Domain,
		port:          cs.ControlPlaneEndpoint.Port,
		endpoint:      net.JoinHostPort(cs.ControlPlaneEndpoint.Domain, fmt.Sprint(cs.ControlPlaneEndpoint.Port)),
		kubeProxy:     !cs.Kubernetes.DisableKubeProxy,
		podCIDR:       cs.Network.KubePodsCIDR,
		serviceCIDR:   cs.Network.KubeServiceCIDR,
		controlPlanes: s.Roles[spec.RoleControlPlane],
		workers:       s.Roles[spec.RoleWorker],
		hosts:         map[string]spec.Host{},
	}
	if ver.LessThan(version.MustParseSemantic("v1.31.0")) {
		e.api = v1beta3
	}
	svc := netip.MustParsePrefix(strings.Split(cs.Network.KubeServiceCIDR, ",")[0])
	e.apiServerIP = svc.Addr().Next().String()
	// kubeadm puts CoreDNS's service on the 10th address of the service network.
	dns := svc.Addr()
	for range 10 {
		dns = dns.Next()
	}
	e.clusterDNS = dns.String()
	if cs.Kubernetes.NodeLocalDNSEnabled() {
		e.clusterDNS = "169.254.25.10" // KubeKey's NodeLocalDNS, on by default
	}
	e.initNode = e.controlPlanes[0]
	for _, h := range cs.Hosts {
		e.hosts[h.Name] = h
	}
	return e
}

// addresses returns a host's internal addresses: IPv4, then IPv6 if any.
func (e expectations) addresses(name string) []string {
	var out []string
	for a := range strings.SplitSeq(e.hosts[name].InternalAddress, ",") {
		out = append(out, strings.TrimSpace(a))
	}
	return out
}

// TestKubeadmAcceptsEveryConfig renders every node of every valid spec and
// has kubeadm's own loader and validation judge the result, then checks what
// an operator would check by hand.
func TestKubeadmAcceptsEveryConfig(t *testing.T) {
	t.Parallel()
	cred, err := testCredentials()
	if err != nil {
		t.Fatal(err)
	}
	for name, path := range validSpecs(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, c := loadPlan(t, path)
			e := expect(t, s)
			if c.KubeadmAPI != e.api {
				t.Errorf("plan.KubeadmAPI = %s for %s, want %s", c.KubeadmAPI, e.version, e.api)
			}
			rendered := 0
			for _, n := range c.Nodes {
				b, err := kubeadm.Render(c, n, cred)
				if err != nil {
					t.Errorf("%s: render: %v", n.Name, err)
					continue
				}
				isCP := slices.Contains(e.controlPlanes, n.Name)
				isWorker := slices.Contains(e.workers, n.Name)
				if !isCP && !isWorker {
					if b != nil {
						t.Errorf("%s runs no kubeadm but got a config:\n%s", n.Name, b)
					}
					continue
				}
				rendered++
				switch {
				case n.Name == e.initNode:
					checkInit(t, n.Name, b, e, cred)
				case isCP:
					checkJoin(t, n.Name, b, e, cred, true)
				default:
					checkJoin(t, n.Name, b, e, cred, false)
				}
			}
			if rendered == 0 {
				t.Error("no node got a kubeadm config")
			}
		})
	}
}

// documents splits a config into its documents and checks each one with
// kubeadm's strict decoder (unknown, duplicate or mistyped fields are errors)
// and that every kubeadm document is in the expected API version.
func documents(t *testing.T, node string, b []byte, api string) kubeadmapi.DocumentMap {
	t.Helper()
	docs, err := kubeadmutil.SplitConfigDocuments(b)
	if err != nil {
		t.Fatalf("%s: split documents: %v", node, err)
	}
	schemes := []*runtime.Scheme{kubeadmscheme.Scheme, componentconfigs.Scheme}
	for gvk, doc := range docs {
		if err := strict.VerifyUnmarshalStrict(schemes, gvk, doc); err != nil {
			t.Errorf("%s: strict decoding %s: %v", node, gvk.Kind, err)
		}
		if gvk.Group == kubeadmapi.GroupName && gvk.GroupVersion().String() != api {
			t.Errorf("%s: %s is %s, want %s", node, gvk.Kind, gvk.GroupVersion(), api)
		}
	}
	return docs
}

func kinds(docs kubeadmapi.DocumentMap) []string {
	var out []string
	for gvk := range docs {
		out = append(out, gvk.Kind)
	}
	slices.Sort(out)
	return out
}

// fullValidation reports whether the kubeadm library validates this target
// version as is; older targets are validated "structure only", with the
// kubernetesVersion swapped for the library's own (kubeadm refuses to deploy
// a control plane older than its minimum, which says nothing about the file).
func fullValidation(e expectations) bool {
	return e.api == v1beta4 && !version.MustParseSemantic(e.version).LessThan(kubeadmconstants.MinimumControlPlaneVersion)
}

// libraryVersion is the version old ClusterConfigurations are validated as.
func libraryVersion() string { return "v" + kubeadmconstants.CurrentKubernetesVersion.String() }

func checkInit(t *testing.T, node string, b []byte, e expectations, cred kubeadm.Credentials) {
	t.Helper()
	docs := documents(t, node, b, e.api)
	want := []string{"ClusterConfiguration", "InitConfiguration", "KubeProxyConfiguration", "KubeletConfiguration"}
	if !e.kubeProxy {
		want = slices.DeleteFunc(want, func(k string) bool { return k == "KubeProxyConfiguration" })
	}
	if got := kinds(docs); !slices.Equal(got, want) {
		t.Errorf("%s: documents %v, want %v", node, got, want)
	}
	var cc struct {
		KubernetesVersion string `json:"kubernetesVersion"`
	}
	for gvk, doc := range docs {
		if gvk.Kind == "ClusterConfiguration" {
			if err := yaml.Unmarshal(doc, &cc); err != nil {
				t.Fatalf("%s: %v", node, err)
			}
		}
	}
	if cc.KubernetesVersion != e.version {
		t.Errorf("%s: kubernetesVersion %q, want %q", node, cc.KubernetesVersion, e.version)
	}

	input := b
	if !fullValidation(e) {
		input = withKubernetesVersion(t, docs, libraryVersion())
	}
	// What `kubeadm config validate` runs: strict decoding, defaulting, validation.
	if err := kubeadmconfig.ValidateConfig(input, e.api == v1beta3, false); err != nil {
		t.Fatalf("%s: kubeadm config validate (full=%t): %v\n%s", node, fullValidation(e), err, b)
	}
	// What `kubeadm init --config` loads.
	ic, err := kubeadmconfig.BytesToInitConfiguration(input, true)
	if err != nil {
		t.Fatalf("%s: kubeadm BytesToInitConfiguration: %v", node, err)
	}
	if errs := validation.ValidateInitConfiguration(ic); len(errs) > 0 {
		t.Errorf("%s: ValidateInitConfiguration: %v", node, errs.ToAggregate())
	}

	addrs := e.addresses(node)
	if ic.LocalAPIEndpoint.AdvertiseAddress == "" || ic.LocalAPIEndpoint.AdvertiseAddress != addrs[0] {
		t.Errorf("%s: advertiseAddress %q, want %q", node, ic.LocalAPIEndpoint.AdvertiseAddress, addrs[0])
	}
	if ic.NodeRegistration.Name == "" || ic.NodeRegistration.Name != node {
		t.Errorf("%s: nodeRegistration.name %q, want %q", node, ic.NodeRegistration.Name, node)
	}
	checkEndpoint(t, node, "controlPlaneEndpoint", ic.ControlPlaneEndpoint, e)
	if len(ic.BootstrapTokens) != 1 || ic.BootstrapTokens[0].Token.String() != cred.Token {
		t.Errorf("%s: bootstrap tokens %v, want the bundle's", node, ic.BootstrapTokens)
	}
	if ic.Networking.PodSubnet != e.podCIDR || ic.Networking.ServiceSubnet != e.serviceCIDR {
		t.Errorf("%s: networking pod %q service %q, want %q and %q", node, ic.Networking.PodSubnet, ic.Networking.ServiceSubnet, e.podCIDR, e.serviceCIDR)
	}
	checkTaints(t, node, ic.NodeRegistration.Taints, e)
	checkCertSANs(t, node, ic.APIServer.CertSANs, e)
	checkComponentConfigs(t, node, docs, e)
}

// checkCertSANs: the LB domain, every control plane's name and addresses and
// the kubernetes service IP are in; no worker's name or address is.
func checkCertSANs(t *testing.T, node string, sans []string, e expectations) {
	t.Helper()
	want := []string{e.domain, e.apiServerIP}
	for _, cp := range e.controlPlanes {
		want = append(want, cp)
		want = append(want, e.addresses(cp)...)
	}
	for _, w := range want {
		if !slices.Contains(sans, w) {
			t.Errorf("%s: certSANs %v lack %q", node, sans, w)
		}
	}
	for _, w := range e.workers {
		if slices.Contains(e.controlPlanes, w) {
			continue
		}
		for _, bad := range append([]string{w, e.hosts[w].Address}, e.addresses(w)...) {
			if slices.Contains(sans, bad) {
				t.Errorf("%s: certSANs %v contain worker %s's %q", node, sans, w, bad)
			}
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(sans)))) != len(sans) {
		t.Errorf("%s: certSANs %v hold duplicates", node, sans)
	}
}

// checkTaints: a control plane that is also a worker takes workloads (no
// taint); a pure control plane keeps kubeadm's default NoSchedule taint.
func checkTaints(t *testing.T, node string, taints []corev1.Taint, e expectations) {
	t.Helper()
	tainted := slices.ContainsFunc(taints, func(tt corev1.Taint) bool {
		return tt.Key == kubeadmconstants.LabelNodeRoleControlPlane
	})
	if worker := slices.Contains(e.workers, node); worker == tainted {
		t.Errorf("%s: worker=%t but control-plane taint=%t (%v)", node, worker, tainted, taints)
	}
}

func checkEndpoint(t *testing.T, node, field, got string, e expectations) {
	t.Helper()
	if got != e.endpoint {
		t.Errorf("%s: %s %q, want %q", node, field, got, e.endpoint)
	}
	host, port, err := net.SplitHostPort(got)
	if err != nil || net.ParseIP(host) != nil || port != fmt.Sprint(e.port) {
		t.Errorf("%s: %s %q is not domain:port", node, field, got)
	}
}

func checkComponentConfigs(t *testing.T, node string, docs kubeadmapi.DocumentMap, e expectations) {
	t.Helper()
	for gvk, doc := range docs {
		switch gvk.Kind {
		case "KubeletConfiguration":
			var kc kubeletv1beta1.KubeletConfiguration
			if err := yaml.UnmarshalStrict(doc, &kc); err != nil {
				t.Errorf("%s: KubeletConfiguration: %v", node, err)
				continue
			}
			if !slices.Equal(kc.ClusterDNS, []string{e.clusterDNS}) {
				t.Errorf("%s: kubelet clusterDNS %v, want [%s]", node, kc.ClusterDNS, e.clusterDNS)
			}
			if kc.CgroupDriver != "systemd" {
				t.Errorf("%s: kubelet cgroupDriver %q, want systemd", node, kc.CgroupDriver)
			}
			// The client certificate rotates; the serving one is kubelet's
			// own (README, certificate renewal).
			if !kc.RotateCertificates || kc.ServerTLSBootstrap {
				t.Errorf("%s: kubelet rotateCertificates %t serverTLSBootstrap %t, want true and false", node, kc.RotateCertificates, kc.ServerTLSBootstrap)
			}
			checkEviction(t, node, &kc, e)
		case "KubeProxyConfiguration":
			var pc kubeproxyv1alpha1.KubeProxyConfiguration
			if err := yaml.UnmarshalStrict(doc, &pc); err != nil {
				t.Errorf("%s: KubeProxyConfiguration: %v", node, err)
				continue
			}
			if pc.ClusterCIDR != e.podCIDR {
				t.Errorf("%s: kube-proxy clusterCIDR %q, want %q", node, pc.ClusterCIDR, e.podCIDR)
			}
		}
	}
}

// checkEviction checks the eviction a user relies on: KubeKey's soft memory
// eviction, and every hard threshold the kubelet has by default still there
// (a partial evictionHard drops the others), each value in the kubelet's
// form. (The kubelet's own decoder, validation and eviction parser, under
// k8s.io/kubernetes/pkg/kubelet, need modules ksgen does not require,
// k8s.io/cloud-provider among them; kubeadm's validation above reads the
// document as kubeadm uploads it.)
func checkEviction(t *testing.T, node string, kc *kubeletv1beta1.KubeletConfiguration, e expectations) {
	t.Helper()
	hard := map[string]bool{}
	for sig, v := range kc.EvictionHard {
		if !evictionValue(v) {
			t.Errorf("%s: evictionHard %s: %q is neither a quantity nor a percentage", node, sig, v)
		}
		hard[sig] = true
	}
	for sig, v := range kc.EvictionSoft {
		if !evictionValue(v) {
			t.Errorf("%s: evictionSoft %s: %q is neither a quantity nor a percentage", node, sig, v)
		}
		if _, err := time.ParseDuration(kc.EvictionSoftGracePeriod[sig]); err != nil {
			t.Errorf("%s: evictionSoft %s has no grace period: %v", node, sig, err)
		}
	}
	// kubelet's defaults (pkg/kubelet/eviction/defaults_linux.go); the
	// imagefs inodes one since v1.30.
	wantHard := []string{"memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "pid.available"}
	if !version.MustParseSemantic(e.version).LessThan(version.MustParseSemantic("v1.30.0")) {
		wantHard = append(wantHard, "imagefs.inodesFree")
	}
	for _, sig := range wantHard {
		if !hard[sig] {
			t.Errorf("%s: no hard eviction threshold for %s: %v", node, sig, kc.EvictionHard)
		}
	}
	if kc.EvictionSoftGracePeriod["memory.available"] != "2m" || kc.EvictionSoft["memory.available"] != "10%" {
		t.Errorf("%s: soft eviction %v grace %v, want memory.available 10%% for 2m", node, kc.EvictionSoft, kc.EvictionSoftGracePeriod)
	}
	if kc.EvictionMaxPodGracePeriod != 120 || kc.EvictionPressureTransitionPeriod.Duration != 30*time.Second {
		t.Errorf("%s: evictionMaxPodGracePeriod %d, evictionPressureTransitionPeriod %s, want 120 and 30s", node, kc.EvictionMaxPodGracePeriod, kc.EvictionPressureTransitionPeriod.Duration)
	}
}

// evictionValue is the kubelet's form of a threshold: a percentage or a quantity.
func evictionValue(v string) bool {
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		return err == nil && f > 0 && f <= 100
	}
	q, err := resource.ParseQuantity(v)
	return err == nil && q.Sign() > 0
}

func checkJoin(t *testing.T, node string, b []byte, e expectations, cred kubeadm.Credentials, controlPlane bool) {
	t.Helper()
	docs := documents(t, node, b, e.api)
	if got := kinds(docs); !slices.Equal(got, []string{"JoinConfiguration"}) {
		t.Errorf("%s: documents %v, want [JoinConfiguration]", node, got)
	}
	// A JoinConfiguration carries no kubernetesVersion: kubeadm validates it
	// fully whatever the target version.
	if err := kubeadmconfig.ValidateConfig(b, e.api == v1beta3, false); err != nil {
		t.Fatalf("%s: kubeadm config validate: %v\n%s", node, err, b)
	}
	jc, err := kubeadmconfig.BytesToJoinConfiguration(b, kubeadmconfig.LoadOrDefaultConfigurationOptions{SkipCRIDetect: true})
	if err != nil {
		t.Fatalf("%s: kubeadm BytesToJoinConfiguration: %v", node, err)
	}
	if errs := validation.ValidateJoinConfiguration(jc); len(errs) > 0 {
		t.Errorf("%s: ValidateJoinConfiguration: %v", node, errs.ToAggregate())
	}

	if jc.NodeRegistration.Name == "" || jc.NodeRegistration.Name != node {
		t.Errorf("%s: nodeRegistration.name %q, want %q", node, jc.NodeRegistration.Name, node)
	}
	bt := jc.Discovery.BootstrapToken
	if bt == nil {
		t.Fatalf("%s: no bootstrap-token discovery", node)
	}
	checkEndpoint(t, node, "discovery apiServerEndpoint", bt.APIServerEndpoint, e)
	if bt.Token != cred.Token || jc.Discovery.TLSBootstrapToken != cred.Token {
		t.Errorf("%s: discovery token %q / TLS bootstrap token %q, want the bundle's", node, bt.Token, jc.Discovery.TLSBootstrapToken)
	}
	if !slices.Equal(bt.CACertHashes, []string{cred.CACertHash}) {
		t.Errorf("%s: caCertHashes %v, want [%s]", node, bt.CACertHashes, cred.CACertHash)
	}
	if bt.UnsafeSkipCAVerification || bytes.Contains(b, []byte("unsafeSkipCAVerification")) {
		t.Errorf("%s: discovery skips CA verification:\n%s", node, b)
	}
	checkTaints(t, node, jc.NodeRegistration.Taints, e)

	if !controlPlane {
		if jc.ControlPlane != nil {
			t.Errorf("%s: a worker joins with controlPlane %+v", node, jc.ControlPlane)
		}
		return
	}
	if jc.ControlPlane == nil {
		t.Fatalf("%s: a control plane joins without controlPlane", node)
	}
	addrs := e.addresses(node)
	if got := jc.ControlPlane.LocalAPIEndpoint.AdvertiseAddress; got == "" || got != addrs[0] {
		t.Errorf("%s: controlPlane advertiseAddress %q, want %q", node, got, addrs[0])
	}
	// The CA material is pre-placed: no upload-certs key, no 2-hour window.
	if jc.ControlPlane.CertificateKey != "" || bytes.Contains(b, []byte("certificateKey")) {
		t.Errorf("%s: control-plane join carries a certificateKey", node)
	}
}

// withKubernetesVersion returns the documents joined again, with the
// ClusterConfiguration's kubernetesVersion set to v.
func withKubernetesVersion(t *testing.T, docs kubeadmapi.DocumentMap, v string) []byte {
	t.Helper()
	gvks := make([]schema.GroupVersionKind, 0, len(docs))
	for gvk := range docs {
		gvks = append(gvks, gvk)
	}
	sort.Slice(gvks, func(i, j int) bool { return gvks[i].String() < gvks[j].String() })
	var out [][]byte
	for _, gvk := range gvks {
		doc := docs[gvk]
		if gvk.Group == kubeadmapi.GroupName && gvk.Kind == "ClusterConfiguration" {
			var m map[string]any
			if err := yaml.Unmarshal(doc, &m); err != nil {
				t.Fatal(err)
			}
			m["kubernetesVersion"] = v
			var err error
			if doc, err = yaml.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, doc)
	}
	return bytes.Join(out, []byte("\n---\n"))
}
