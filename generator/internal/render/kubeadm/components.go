package kubeadm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/ksgen/ksgen/generator/plan"
)

// componentConfigs renders the KubeletConfiguration and KubeProxyConfiguration
// the init node uploads for every node: KubeKey's settings, then the spec's
// raw overrides on top. Only the fields ksgen means are written (the typed
// structs would print every zero value), only fields that kubelets back to
// v1.22 know, and the result is checked by strict decoding into the types.
func componentConfigs(c *plan.Cluster) ([]*document, error) {
	k := c.Kubernetes
	kubelet := map[string]any{
		"apiVersion":           "kubelet.config.k8s.io/v1beta1",
		"kind":                 "KubeletConfiguration",
		"cgroupDriver":         "systemd",
		"rotateCertificates":   true,
		"maxPods":              k.MaxPods,
		"podPidsLimit":         k.PodPidsLimit,
		"clusterDNS":           []any{c.ClusterDNS},
		"clusterDomain":        c.DNSDomain,
		"containerLogMaxSize":  "5Mi",
		"containerLogMaxFiles": 3,
		"evictionHard":         evictionHard(c.Version),
		// KubeKey's soft eviction: pods get up to 2 minutes to leave once
		// memory runs low, before the hard threshold kills them.
		"evictionSoft":                     map[string]any{"memory.available": "10%"},
		"evictionSoftGracePeriod":          map[string]any{"memory.available": "2m"},
		"evictionMaxPodGracePeriod":        120,
		"evictionPressureTransitionPeriod": "30s",
		"kubeReserved":                     map[string]any{"cpu": "200m", "memory": "250Mi"},
		"systemReserved":                   map[string]any{"cpu": "200m", "memory": "250Mi"},
	}
	if len(k.FeatureGates) > 0 {
		kubelet["featureGates"] = k.FeatureGates
	}
	kb, err := componentDocument(plan.KindKubeletConfiguration, kubelet, k.KubeletConfiguration, &kubeletv1beta1.KubeletConfiguration{})
	if err != nil {
		return nil, fmt.Errorf("spec.kubernetes.kubeletConfiguration (line %d): %w", c.Line("spec.kubernetes.kubeletConfiguration"), err)
	}
	if !c.KubeProxy {
		return []*document{kb}, nil
	}
	proxy := map[string]any{
		"apiVersion":  "kubeproxy.config.k8s.io/v1alpha1",
		"kind":        "KubeProxyConfiguration",
		"mode":        k.ProxyMode,
		"clusterCIDR": c.PodCIDR,
	}
	if k.MasqueradeAll {
		proxy["iptables"] = map[string]any{"masqueradeAll": true}
	}
	if len(k.FeatureGates) > 0 {
		proxy["featureGates"] = k.FeatureGates
	}
	if k.ProxyMode == "ipvs" && c.Endpoint.Mode == plan.LBKubeVip {
		// kube-proxy in ipvs mode would otherwise sweep the VIP off kube-ipvs0.
		proxy["ipvs"] = map[string]any{"excludeCIDRs": []any{c.Endpoint.Address + hostBits(c.Endpoint.Address)}}
	}
	pb, err := componentDocument(plan.KindKubeProxyConfiguration, proxy, k.KubeProxyConfiguration, &kubeproxyv1alpha1.KubeProxyConfiguration{})
	if err != nil {
		return nil, fmt.Errorf("spec.kubernetes.kubeProxyConfiguration (line %d): %w", c.Line("spec.kubernetes.kubeProxyConfiguration"), err)
	}
	return []*document{kb, pb}, nil
}

// imagefsInodesSince is the kubelet that added imagefs.inodesFree to its
// default hard eviction thresholds (kubernetes/kubernetes#121834, v1.30).
var imagefsInodesSince = version.MustParseSemantic("v1.30.0")

// evictionHard is KubeKey's hard eviction (memory.available 5%, and ksgen's
// pid.available 10%) plus the kubelet's own default thresholds for the node
// and image filesystems: a partial evictionHard replaces the kubelet's
// defaults instead of adding to them, so the disk thresholds are written out.
func evictionHard(v *version.Version) map[string]any {
	hard := map[string]any{
		"memory.available":  "5%",
		"pid.available":     "10%",
		"nodefs.available":  "10%",
		"nodefs.inodesFree": "5%",
		"imagefs.available": "15%",
	}
	if v.AtLeast(imagefsInodesSince) {
		hard["imagefs.inodesFree"] = "5%"
	}
	return hard
}

func hostBits(addr string) string {
	if strings.Contains(addr, ":") {
		return "/128"
	}
	return "/32"
}

// componentDocument overlays the user's raw overrides on doc and checks the
// result decodes strictly into check, so a misspelt override is an error.
func componentDocument(kind string, doc, overrides map[string]any, check any) (*document, error) {
	mergeMaps(doc, overrides)
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(check); err != nil {
		return nil, err
	}
	return &document{kind: kind, json: raw, component: true}, nil
}

// mergeMaps overlays src on dst recursively; src wins on conflicts.
func mergeMaps(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeMaps(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// CgroupDriver is the kubelet's cgroup driver on every node: the
// KubeletConfiguration's cgroupDriver after the spec's raw overrides and
// the cluster's kubeadm patches (kubeadm uploads that one document for every
// node). containerd's SystemdCgroup follows it, so the pair always agrees.
func CgroupDriver(c *plan.Cluster) (string, error) {
	comps, err := componentConfigs(c)
	if err != nil {
		return "", err
	}
	doc := comps[0]
	if c.Init == nil {
		return "", errors.New("no node runs kubeadm init")
	}
	for _, p := range c.Init.KubeadmPatches {
		if p.Kind != plan.KindKubeletConfiguration {
			continue
		}
		out, perr := apply(c, doc, &p)
		if perr != nil {
			return "", perr.finding(c)
		}
		doc = &document{kind: doc.kind, json: out, component: true}
	}
	var kc struct {
		CgroupDriver string `json:"cgroupDriver"`
	}
	if err := json.Unmarshal(doc.json, &kc); err != nil {
		return "", err
	}
	return kc.CgroupDriver, nil
}
