package kubeadm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubeletapis "k8s.io/kubelet/pkg/apis"
	bootstraptokenv1 "k8s.io/kubernetes/cmd/kubeadm/app/apis/bootstraptoken/v1"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	kubeadmv1beta4 "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
)

// ConfigPath is where every node finds its kubeadm configuration.
const ConfigPath = "/etc/kubernetes/kubeadm-config.yaml"

// Credentials are the secrets a kubeadm config carries.
type Credentials struct {
	Token      string // bootstrap token "abcdef.0123456789abcdef"
	CACertHash string // "sha256:…" of the cluster CA's public key
	// KeyAlgorithm of the bundle ("rsa" or "ecdsa"), so that certificates
	// kubeadm issues on the node use the same one.
	KeyAlgorithm string
	// EncryptionConfig is the path of the apiserver's encryption-at-rest
	// configuration on control planes, or "" when Secrets are not encrypted.
	EncryptionConfig string
}

// Render returns the kubeadm configuration for a node, or nil when the node
// does not run kubeadm (etcd-only and load-balancer hosts). The spec's
// kubeadm patches for the node are applied and their result validated.
func Render(c *plan.Cluster, n *plan.Node, cred Credentials) ([]byte, error) {
	docs, err := render(c, n, cred)
	if err != nil || docs == nil {
		return nil, err
	}
	if err := applyPatches(c, n, docs); err != nil {
		return nil, err
	}
	return printStream(docs)
}

// document is one rendered document, as JSON until it is printed.
type document struct {
	kind string
	json []byte
	// component documents are printed by sigs.k8s.io/yaml, kubeadm's own by
	// yaml.v3; both sort keys, so a patched document prints like an unpatched one.
	component bool
}

// render builds the node's documents before patches.
func render(c *plan.Cluster, n *plan.Node, cred Credentials) ([]*document, error) {
	gv, err := schema.ParseGroupVersion(c.KubeadmAPI)
	if err != nil {
		return nil, err
	}
	var docs []*document
	// add converts obj to gv and keeps its JSON; timeouts, when set, are
	// pinned (see pinTimeouts).
	add := func(kind string, obj runtime.Object, timeouts *kubeadmapi.Timeouts) error {
		out, err := kubeadmscheme.Scheme.ConvertToVersion(obj, gv)
		if err == nil && timeouts != nil {
			err = pinTimeouts(out, timeouts)
		}
		var js []byte
		if err == nil {
			js, err = json.Marshal(out)
		}
		if err != nil {
			return fmt.Errorf("encode %T as %s: %w", obj, gv, err)
		}
		docs = append(docs, &document{kind: kind, json: js})
		return nil
	}
	switch n.Action {
	case plan.Init:
		init, err := initConfiguration(c, n, cred)
		if err != nil {
			return nil, err
		}
		// A copy: the conversion writes through to the object's timeouts.
		if err := add(plan.KindInitConfiguration, init, init.Timeouts.DeepCopy()); err != nil {
			return nil, err
		}
		cluster := clusterConfiguration(c, cred)
		if err := add(plan.KindClusterConfiguration, &cluster, nil); err != nil {
			return nil, err
		}
		comps, err := componentConfigs(c)
		if err != nil {
			return nil, err
		}
		docs = append(docs, comps...)
	case plan.JoinControlPlane, plan.Join:
		join := joinConfiguration(c, n, cred)
		if err := add(plan.KindJoinConfiguration, join, join.Timeouts.DeepCopy()); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	return docs, nil
}

// pinTimeouts sets a converted v1beta4 Init or Join configuration's
// timeouts to what ksgen asked for. kubeadm's conversion to v1beta4
// overwrites controlPlaneComponentHealthCheck with a process-wide value
// that decoding any v1beta3 ClusterConfiguration sets, so without this the
// output would depend on what the process did before. v1beta3 Init and
// Join carry no timeouts.
func pinTimeouts(obj runtime.Object, t *kubeadmapi.Timeouts) error {
	var dst **kubeadmv1beta4.Timeouts
	switch o := obj.(type) {
	case *kubeadmv1beta4.InitConfiguration:
		dst = &o.Timeouts
	case *kubeadmv1beta4.JoinConfiguration:
		dst = &o.Timeouts
	default:
		return nil
	}
	var out kubeadmv1beta4.Timeouts
	if err := kubeadmv1beta4.Convert_kubeadm_Timeouts_To_v1beta4_Timeouts(t, &out, nil); err != nil {
		return err
	}
	*dst = &out
	return nil
}

// printStream joins the documents as one YAML stream.
func printStream(docs []*document) ([]byte, error) {
	out := make([][]byte, len(docs))
	for i, d := range docs {
		var err error
		if d.component {
			out[i], err = yaml.JSONToYAML(d.json)
		} else {
			out[i], err = jsonToYAML(d.json)
		}
		if err != nil {
			return nil, fmt.Errorf("print %s: %w", d.kind, err)
		}
	}
	return bytes.Join(out, []byte("---\n")), nil
}

// manifestsPreflight is kubeadm's check that /etc/kubernetes/manifests is
// empty, which fails on nodes whose load balancer runs as a static pod.
const manifestsPreflight = "DirAvailable--etc-kubernetes-manifests"

// File wraps a rendered config as the payload file (0600: it holds the token).
func File(content []byte) fileset.File {
	return fileset.File{Path: ConfigPath, Mode: fileset.ModeSecret, Content: content}
}

func initConfiguration(c *plan.Cluster, n *plan.Node, cred Credentials) (*kubeadmapi.InitConfiguration, error) {
	token, err := bootstraptokenv1.NewBootstrapTokenString(cred.Token)
	if err != nil {
		return nil, fmt.Errorf("bootstrap token: %w", err)
	}
	ttl := c.BootstrapTokenTTL
	init := &kubeadmapi.InitConfiguration{
		BootstrapTokens: []bootstraptokenv1.BootstrapToken{{
			Token:       token,
			Description: "ksgen: joins the nodes rendered with this cluster's secrets bundle",
			TTL:         &metav1.Duration{Duration: ttl},
			Usages:      []string{"signing", "authentication"},
			Groups:      []string{"system:bootstrappers:kubeadm:default-node-token"},
		}},
		NodeRegistration: nodeRegistration(c, n),
		LocalAPIEndpoint: kubeadmapi.APIEndpoint{AdvertiseAddress: n.IPv4, BindPort: int32(c.APIServerPort)},
		// Not nil: see joinConfiguration.
		Timeouts: &kubeadmapi.Timeouts{},
	}
	if !c.KubeProxy {
		init.SkipPhases = []string{"addon/kube-proxy"}
	}
	return init, nil
}

func joinConfiguration(c *plan.Cluster, n *plan.Node, cred Credentials) *kubeadmapi.JoinConfiguration {
	j := &kubeadmapi.JoinConfiguration{
		NodeRegistration: nodeRegistration(c, n),
		CACertPath:       "/etc/kubernetes/pki/ca.crt",
		Discovery: kubeadmapi.Discovery{
			BootstrapToken: &kubeadmapi.BootstrapTokenDiscovery{
				Token:             cred.Token,
				APIServerEndpoint: c.Endpoint.HostPort(),
				CACertHashes:      []string{cred.CACertHash},
			},
			TLSBootstrapToken: cred.Token,
		},
		// kubeadm's conversions dereference Timeouts and panic when it is nil
		// (v1beta3 always, v1beta4 after the process decoded any v1beta3
		// ClusterConfiguration); empty timeouts leave kubeadm's defaults.
		Timeouts: &kubeadmapi.Timeouts{},
	}
	if n.Action == plan.JoinControlPlane {
		// No certificateKey: the CA material is already on the node, so
		// join does not depend on a 2-hour upload-certs window.
		j.ControlPlane = &kubeadmapi.JoinControlPlane{
			LocalAPIEndpoint: kubeadmapi.APIEndpoint{AdvertiseAddress: n.IPv4, BindPort: int32(c.APIServerPort)},
		}
	}
	return j
}

func nodeRegistration(c *plan.Cluster, n *plan.Node) kubeadmapi.NodeRegistrationOptions {
	args := []kubeadmapi.Arg{{Name: "node-ip", Value: n.NodeIP()}}
	if labels := selfLabels(n.Labels); labels != "" {
		args = append(args, kubeadmapi.Arg{Name: "node-labels", Value: labels})
	}
	args = mergeArgs(args, c.Kubernetes.KubeletArgs)
	nr := kubeadmapi.NodeRegistrationOptions{
		Name:             n.Name,
		CRISocket:        c.CRISocket,
		KubeletExtraArgs: args,
		ImagePullPolicy:  corev1.PullIfNotPresent,
	}
	if n.LocalLB != plan.NoLocalLB {
		// The node's load-balancer static pod is in place before kubeadm runs.
		nr.IgnorePreflightErrors = []string{manifestsPreflight}
	}
	if n.ControlPlane && n.Worker {
		// KubeKey removes the control-plane taint from hosts that are also workers.
		nr.Taints = []corev1.Taint{}
	}
	return nr
}

// selfLabels is the node's labels that the kubelet may set on itself, sorted;
// the NodeRestriction admission plugin refuses the others.
func selfLabels(labels map[string]string) string {
	var out []string
	for k, v := range labels {
		if isSelfLabel(k) {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func isSelfLabel(key string) bool {
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return true
	}
	restricted := prefix == "kubernetes.io" || prefix == "k8s.io" ||
		strings.HasSuffix(prefix, ".kubernetes.io") || strings.HasSuffix(prefix, ".k8s.io")
	return !restricted || kubeletapis.IsKubeletLabel(key)
}

func clusterConfiguration(c *plan.Cluster, cred Credentials) kubeadmapi.ClusterConfiguration {
	k := c.Kubernetes
	gates := featureGates(k.FeatureGates)
	withGates := func(args []kubeadmapi.Arg) []kubeadmapi.Arg {
		if gates != "" {
			args = append(args, kubeadmapi.Arg{Name: "feature-gates", Value: gates})
		}
		return args
	}
	cm := []kubeadmapi.Arg{{Name: "bind-address", Value: "0.0.0.0"}, {Name: "cluster-signing-duration", Value: "87600h"}}
	if strings.Contains(c.PodCIDR, ",") {
		cm = append(cm, kubeadmapi.Arg{Name: "node-cidr-mask-size-ipv4", Value: fmt.Sprint(k.NodeCIDRMaskSize)}, kubeadmapi.Arg{Name: "node-cidr-mask-size-ipv6", Value: "64"})
	} else {
		cm = append(cm, kubeadmapi.Arg{Name: "node-cidr-mask-size", Value: fmt.Sprint(k.NodeCIDRMaskSize)})
	}
	cc := kubeadmapi.ClusterConfiguration{
		KubernetesVersion:    c.KubernetesVersion(),
		ClusterName:          k.ClusterName,
		ControlPlaneEndpoint: c.Endpoint.HostPort(),
		CertificatesDir:      "/etc/kubernetes/pki",
		ImageRepository:      imageRepository(c),
		DNS:                  kubeadmapi.DNS{ImageMeta: kubeadmapi.ImageMeta{ImageRepository: images.DNSRepository(c.Registry.PrivateRegistry)}},
		Networking: kubeadmapi.Networking{
			PodSubnet:     c.PodCIDR,
			ServiceSubnet: c.ServiceCIDR,
			DNSDomain:     c.DNSDomain,
		},
		APIServer: kubeadmapi.APIServer{
			ControlPlaneComponent: kubeadmapi.ControlPlaneComponent{
				ExtraArgs: mergeArgs(withGates([]kubeadmapi.Arg{{Name: "bind-address", Value: "0.0.0.0"}}), k.APIServerArgs),
			},
			CertSANs: c.CertSANs,
		},
		ControllerManager:   kubeadmapi.ControlPlaneComponent{ExtraArgs: mergeArgs(withGates(cm), k.ControllerManagerArgs)},
		Scheduler:           kubeadmapi.ControlPlaneComponent{ExtraArgs: mergeArgs(withGates([]kubeadmapi.Arg{{Name: "bind-address", Value: "0.0.0.0"}}), k.SchedulerArgs)},
		Etcd:                etcd(c),
		EncryptionAlgorithm: kubeadmapi.EncryptionAlgorithmRSA2048,
	}
	if cred.EncryptionConfig != "" {
		dir := path.Dir(cred.EncryptionConfig)
		cc.APIServer.ExtraArgs = append(cc.APIServer.ExtraArgs, kubeadmapi.Arg{Name: "encryption-provider-config", Value: cred.EncryptionConfig})
		cc.APIServer.ExtraVolumes = []kubeadmapi.HostPathMount{{Name: "encryption-config", HostPath: dir, MountPath: dir, ReadOnly: true, PathType: corev1.HostPathDirectoryOrCreate}}
	}
	if cred.KeyAlgorithm == "ecdsa" {
		cc.EncryptionAlgorithm = kubeadmapi.EncryptionAlgorithmECDSAP256
	}
	return cc
}

// etcd is kubeadm's etcd block: local (stacked) for the kubeadm type, else
// external with the endpoints and client files the plan names.
func etcd(c *plan.Cluster) kubeadmapi.Etcd {
	e := c.Etcd
	if e.Type == plan.EtcdKubeadm {
		return kubeadmapi.Etcd{Local: &kubeadmapi.LocalEtcd{DataDir: e.DataDir}}
	}
	return kubeadmapi.Etcd{External: &kubeadmapi.ExternalEtcd{
		Endpoints: slices.Clone(e.Endpoints),
		CAFile:    e.CAFile,
		CertFile:  e.CertFile,
		KeyFile:   e.KeyFile,
	}}
}

// imageRepository is where kubeadm pulls from: the private registry when
// there is one, else registry.k8s.io, always written out. kubeadm before
// v1.25 defaults to k8s.gcr.io, which the baked image, containerd's sandbox
// image and `ksgen images list` do not name (images.Repository is the one
// answer for all four).
func imageRepository(c *plan.Cluster) string {
	return images.Repository(c.Registry.PrivateRegistry, c.Registry.NamespaceOverride)
}

func featureGates(gates map[string]bool) string {
	var out []string
	for k, v := range gates {
		out = append(out, fmt.Sprintf("%s=%t", k, v))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// mergeArgs overlays KubeKey's "name=value" argument strings on defaults.
func mergeArgs(base []kubeadmapi.Arg, overrides []string) []kubeadmapi.Arg {
	out := slices.Clone(base)
	for _, o := range overrides {
		name, value, _ := strings.Cut(strings.TrimLeft(o, "-"), "=")
		i := slices.IndexFunc(out, func(a kubeadmapi.Arg) bool { return a.Name == name })
		if i >= 0 {
			out[i].Value = value
		} else {
			out = append(out, kubeadmapi.Arg{Name: name, Value: value})
		}
	}
	return out
}

// jsonToYAML prints a kubeadm document as YAML, keys sorted, as yaml.v3
// prints it: by printYAML when it can.
func jsonToYAML(js []byte) ([]byte, error) {
	var doc any
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	if out, ok := printYAML(doc); ok {
		return out, nil
	}
	return emitYAML(doc)
}

// emitYAML prints doc with yaml.v3's emitter, indent 2.
func emitYAML(doc any) ([]byte, error) {
	var out bytes.Buffer
	enc := yamlv3.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
