package addons

import (
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// Paths on the init node.
const (
	Script  = firstboot.Dir + "/addons.sh"
	EnvFile = "/etc/ksgen/addons.env"
	CCFile  = "/etc/kubernetes/addons/kubesphere-cluster-configuration.yaml"
	URLFile = firstboot.StateDir + "/kubesphere-console-url"
	// SCFile is OpenEBS's StorageClass, rendered from the plan.
	SCFile   = "/etc/kubernetes/addons/openebs-local-storageclass.yaml"
	httpPort = 30880
)

// FlannelHealthPort is flanneld's health server on every node (hostNetwork).
// kube-flannel.yml says 8081, where the workers' load balancer already
// serves its /healthz (lb.HealthPort, KubeKey's port), so flanneld could not
// bind and crash-looped: 8471 sits beside flannel's VXLAN port 8472/udp.
const FlannelHealthPort = 8471

// Default retries and delay (seconds) of an addon whose spec sets none.
const (
	DefaultRetries = 5
	DefaultDelay   = 10
)

// Render adds the post-init steps to the init node; other nodes get nothing.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if n.Action != plan.Init {
		return nil
	}
	env, err := Env(c, n)
	if err != nil {
		return err
	}
	script, err := templates.Execute("addons.sh.tmpl", scriptData{
		AssetDir: images.AssetDir, EnvFile: EnvFile, BinDir: images.BinDir(n.OS),
	})
	if err != nil {
		return fmt.Errorf("addons script: %w", err)
	}
	p.AddFile(fileset.File{Path: Script, Mode: fileset.ModeExec, Content: script})
	p.AddFile(fileset.File{Path: EnvFile, Mode: fileset.ModePublic, Content: env})
	hook := func(slot firstboot.Slot, step string) error {
		f, err := firstboot.Exec(slot, Script, step)
		p.AddFile(f)
		return err
	}
	if err := hook(firstboot.CNI, "cni"); err != nil {
		return err
	}
	if c.NodeLocalDNS {
		dns, err := NodeLocalDNS(c)
		if err != nil {
			return err
		}
		p.AddFile(fileset.File{Path: NodeLocalDNSFile, Mode: fileset.ModePublic, Content: dns})
		if err := hook(firstboot.NodeLocalDNS, "nodelocaldns"); err != nil {
			return err
		}
	}
	if c.OpenEBS.Enabled {
		sc, err := StorageClass(c.OpenEBS)
		if err != nil {
			return err
		}
		p.AddFile(fileset.File{Path: SCFile, Mode: fileset.ModePublic, Content: sc})
		if err := hook(firstboot.Storage, "storage"); err != nil {
			return err
		}
	}
	if len(c.Addons) > 0 {
		if err := hook(firstboot.Addons, "addons"); err != nil {
			return err
		}
	}
	if c.KubeSphere != nil {
		cc, err := ClusterConfiguration(c)
		if err != nil {
			return err
		}
		p.AddFile(fileset.File{Path: CCFile, Mode: fileset.ModeSecret, Content: cc})
		if err := hook(firstboot.KubeSphere, "kubesphere"); err != nil {
			return err
		}
	}
	return nil
}

// scriptData is the data of addons.sh.tmpl.
type scriptData struct{ AssetDir, EnvFile, BinDir string }

// ClusterConfiguration is the user's KubeSphere document as the node applies
// it: the same object, field for field, except that with etcd monitoring on
// KubeKey's placeholder etcd.endpointIps (localhost, or none) becomes the
// etcd members' addresses, as KubeKey fills it in.
func ClusterConfiguration(c *plan.Cluster) ([]byte, error) {
	ks := c.KubeSphere.ClusterConfiguration
	if c.KubeSphere.EtcdMonitoring {
		etcd, _ := ks.Spec["etcd"].(map[string]any)
		if ips, _ := etcd["endpointIps"].(string); ips == "" || ips == "localhost" {
			copied := *ks
			copied.Spec = maps.Clone(ks.Spec)
			filled := maps.Clone(etcd)
			filled["endpointIps"] = strings.Join(etcdAddresses(c), ",")
			copied.Spec["etcd"] = filled
			ks = &copied
		}
	}
	out, err := yaml.Marshal(ks)
	if err != nil {
		return nil, fmt.Errorf("KubeSphere ClusterConfiguration: %w", err)
	}
	return out, nil
}

// etcdAddresses are the hosts KubeSphere's Prometheus scrapes etcd on: the
// etcd members (kubekey), the control planes (stacked), or the external
// endpoints' hosts.
func etcdAddresses(c *plan.Cluster) []string {
	var out []string
	switch c.Etcd.Type {
	case plan.EtcdKubeKey:
		for _, m := range c.EtcdMembers {
			out = append(out, m.IPv4)
		}
	case plan.EtcdKubeadm:
		for _, m := range c.ControlPlanes {
			out = append(out, m.IPv4)
		}
	default:
		for _, ep := range c.Etcd.Endpoints {
			if u, err := url.Parse(ep); err == nil {
				out = append(out, u.Hostname())
			}
		}
	}
	return out
}

// etcdClientFiles are the CA, certificate and key on the init node that
// KubeSphere's etcd monitoring reads from the Secret kube-etcd-client-certs
// (KubeKey fills it from its etcd files): kube-apiserver's own etcd client
// files, or kubeadm's health-check client with stacked etcd. An external
// etcd without client files gets an empty Secret, as KubeSphere documents.
func etcdClientFiles(c *plan.Cluster) (ca, cert, key string) {
	if c.Etcd.Type == plan.EtcdKubeadm {
		return "/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "/etc/kubernetes/pki/etcd/healthcheck-client.key"
	}
	return c.Etcd.CAFile, c.Etcd.CertFile, c.Etcd.KeyFile
}

// StorageClass is OpenEBS local PV's hostpath class as KubeKey defines it
// (name "local", the spec's basePath), marked default only when the ksgen
// document names no other default class.
func StorageClass(o plan.OpenEBS) ([]byte, error) {
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	reclaim := corev1.PersistentVolumeReclaimDelete
	sc := storagev1.StorageClass{
		TypeMeta: metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
		ObjectMeta: metav1.ObjectMeta{
			Name: images.OpenEBSClass,
			Annotations: map[string]string{
				"storageclass.kubernetes.io/is-default-class":       strconv.FormatBool(o.Default),
				"storageclass.kubesphere.io/supported-access-modes": `["ReadWriteOnce"]`,
				"openebs.io/cas-type":                               "local",
				"cas.openebs.io/config": "- name: StorageType\n  value: hostpath\n- name: BasePath\n  value: " +
					strconv.Quote(o.BasePath) + "\n",
			},
		},
		Provisioner:       "openebs.io/local",
		VolumeBindingMode: &wait,
		ReclaimPolicy:     &reclaim,
	}
	out, err := yaml.Marshal(&sc)
	if err != nil {
		return nil, fmt.Errorf("OpenEBS StorageClass: %w", err)
	}
	return out, nil
}

// Env is the parameter file the apply script sources: shell assignments,
// every value quoted by templates.ShellQuote, so that `.` reads each one
// back byte for byte whatever it holds.
func Env(c *plan.Cluster, n *plan.Node) ([]byte, error) {
	var b strings.Builder
	// The values are literal data for addons.sh: say so to shellcheck.
	b.WriteString("# ksgen: parameters of " + Script + ", sourced by it; every value is single-quoted\n")
	b.WriteString("# shellcheck shell=bash disable=SC2016,SC2034\n")
	set := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, templates.ShellQuote(v)) }
	reg := c.Registry
	prefix, registry, imagePath := "", "", ""
	if reg.PrivateRegistry != "" {
		// images.Image's layout: <registry>/<namespace>/<name>:<tag>.
		prefix = strings.TrimSuffix(images.Image("x/x", reg.PrivateRegistry, reg.NamespaceOverride), "/x")
		i := strings.LastIndex(prefix, "/")
		registry, imagePath = prefix[:i], prefix[i+1:]
	}
	set("IMAGE_PREFIX", prefix)
	set("IMAGE_REGISTRY", registry)
	set("IMAGE_PATH", imagePath)
	set("CNI", c.CNI)
	v4, v6 := "", ""
	for _, s := range strings.Split(c.PodCIDR, ",") {
		pr, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("pod network: %w", err)
		}
		if pr.Addr().Is4() {
			v4 = pr.String()
		} else {
			v6 = pr.String()
		}
	}
	set("POD_CIDR_V4", v4)
	set("POD_CIDR_V6", v6)
	set("MTU", strconv.Itoa(c.Calico.VethMTU))
	switch c.CNI {
	case "calico":
		r := images.Calico(c.KubernetesVersion())
		set("CALICO_VERSION", r.Version)
		set("CALICO_SEPARATE_CRDS", strconv.FormatBool(r.SeparateCRDs))
		enc, enc6 := calicoEncapsulation(c.Calico)
		set("CALICO_ENCAPSULATION", enc)
		set("CALICO_ENCAPSULATION_V6", enc6)
		nat := "Enabled"
		if !c.Calico.NATOutgoing {
			nat = "Disabled"
		}
		set("CALICO_NAT_OUTGOING", nat)
	case "flannel":
		set("FLANNEL_VERSION", images.FlannelVersion)
		set("FLANNEL_BACKEND", c.FlannelBackend)
		set("FLANNEL_HEALTH_PORT", strconv.Itoa(FlannelHealthPort))
	case "cilium":
		set("CILIUM_VERSION", images.CiliumVersion)
	}
	if ks := c.KubeSphere; ks != nil {
		r, ok := images.KubeSphere(ks.Version)
		if !ok {
			return nil, fmt.Errorf("KubeSphere %s: ksgen installs %s", ks.Version, strings.Join(images.KubeSphereVersions(), ", "))
		}
		set("KS_VERSION", r.Version)
		set("KS_HELM", strconv.FormatBool(r.Helm))
		set("KS_WAIT_TRIES", "120")
		set("KS_CONSOLE_URL", fmt.Sprintf("http://%s:%d", n.IPv4, httpPort))
		monitoring := ks.EtcdMonitoring && !r.Helm
		set("KS_ETCD_MONITORING", strconv.FormatBool(monitoring))
		if monitoring {
			ca, cert, key := etcdClientFiles(c)
			set("KS_ETCD_CA", ca)
			set("KS_ETCD_CERT", cert)
			set("KS_ETCD_KEY", key)
		}
	}
	if c.OpenEBS.Enabled {
		set("OPENEBS_VERSION", images.OpenEBSVersion)
		set("OPENEBS_BASE_PATH", c.OpenEBS.BasePath)
	}
	set("ADDON_COUNT", strconv.Itoa(len(addonSteps(c.Addons))))
	for i, s := range addonSteps(c.Addons) {
		set(fmt.Sprintf("ADDON_%d_NAME", i), s.name)
		set(fmt.Sprintf("ADDON_%d_RETRIES", i), strconv.Itoa(s.retries))
		set(fmt.Sprintf("ADDON_%d_DELAY", i), strconv.Itoa(s.delay))
		q := make([]string, len(s.cmd))
		for j, a := range s.cmd {
			q[j] = templates.ShellQuote(a)
		}
		fmt.Fprintf(&b, "ADDON_%d_CMD=(%s)\n", i, strings.Join(q, " "))
	}
	return []byte(b.String()), nil
}

// calicoEncapsulation maps KubeKey's ipipMode/vxlanMode to the Tigera
// operator's IP pool encapsulation (IPv4, IPv6: IP-in-IP carries no IPv6).
func calicoEncapsulation(c plan.Calico) (string, string) {
	switch {
	case c.VXLANMode == "Always":
		return "VXLAN", "VXLAN"
	case c.VXLANMode == "CrossSubnet":
		return "VXLANCrossSubnet", "VXLANCrossSubnet"
	case c.IPIPMode == "Always":
		return "IPIP", "None"
	case c.IPIPMode == "CrossSubnet":
		return "IPIPCrossSubnet", "None"
	}
	return "None", "None"
}

type addonStep struct {
	name           string
	retries, delay int
	cmd            []string
}

// addonSteps turns spec.addons into commands, in order: one per yaml
// source, one per chart. Relative paths are assets baked into the image
// under AssetDir/addons/<name>/.
func addonSteps(list []plan.Addon) []addonStep {
	var out []addonStep
	for _, a := range list {
		s := addonStep{name: a.Name, retries: a.Retries, delay: a.Delay}
		if s.retries <= 0 {
			s.retries = DefaultRetries
		}
		if s.delay <= 0 {
			s.delay = DefaultDelay
		}
		asset := func(p string) string {
			if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "://") {
				return p
			}
			return path.Join(images.AssetDir, "addons", a.Name, p)
		}
		for _, y := range a.Yaml {
			cmd := []string{"kubectl", "apply", "-f", asset(y)}
			if a.Namespace != "" {
				cmd = append(cmd, "--namespace", a.Namespace)
			}
			out = append(out, addonStep{name: a.Name, retries: s.retries, delay: s.delay, cmd: cmd})
		}
		ch := a.Chart
		if ch.Name == "" && ch.Path == "" {
			continue
		}
		chart := ch.Name
		if ch.Path != "" {
			chart = asset(ch.Path)
		}
		cmd := []string{"helm", "upgrade", "--install", a.Name, chart}
		if ch.Repo != "" && ch.Path == "" {
			cmd = append(cmd, "--repo", ch.Repo)
		}
		if ch.Version != "" {
			cmd = append(cmd, "--version", ch.Version)
		}
		ns := a.Namespace
		if ns == "" {
			ns = "default"
		}
		cmd = append(cmd, "--namespace", ns, "--create-namespace")
		if ch.ValuesFile != "" {
			cmd = append(cmd, "--values", asset(ch.ValuesFile))
		}
		for _, v := range ch.Values {
			cmd = append(cmd, "--set", v)
		}
		if ch.Wait {
			cmd = append(cmd, "--wait")
		}
		s.cmd = cmd
		out = append(out, s)
	}
	return out
}
