package lb

import (
	"fmt"

	"github.com/ksgen/ksgen/generator/internal/render/manifest"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The load balancers' static pods are built as typed Pods, as kubelet reads
// them, and encoded by manifest.YAML: a field that does not exist cannot be
// written, and every pod shares one layout.

// configAnnotation carries a digest of the pod's config files: a changed
// config changes the manifest, so kubelet restarts the pod.
const configAnnotation = "ksgen.io/config-sha256"

// staticPod is the frame every load-balancer pod shares: kube-system, the
// host's network, node-critical priority, one container.
func staticPod(name, label, configDigest string, c corev1.Container, volumes ...corev1.Volume) *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
		Spec: corev1.PodSpec{
			HostNetwork:       true,
			PriorityClassName: "system-node-critical",
			Containers:        []corev1.Container{c},
			Volumes:           volumes,
		},
	}
	if label != "" {
		pod.Labels = map[string]string{"k8s-app": label}
	}
	if configDigest != "" {
		pod.Annotations = map[string]string{configAnnotation: configDigest}
	}
	return pod
}

// proxyContainer is HAProxy's or nginx's container: small requests and
// probes on the proxy's own /healthz.
func proxyContainer(name, image string) corev1.Container {
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Host: "127.0.0.1", Path: "/healthz", Port: intstr.FromInt32(HealthPort),
	}}}
	return corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Resources:       requests("25m", "32Mi"),
		LivenessProbe:   probe,
		ReadinessProbe:  probe,
	}
}

// proxyPodSpec finishes a proxy's pod: DNS for the host network, Linux only.
func proxyPodSpec(pod *corev1.Pod) *corev1.Pod {
	pod.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	pod.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	return pod
}

func requests(cpu, memory string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(memory),
	}}
}

// hostDir is a read-only host directory mounted at mountPath.
func hostDir(name, path, mountPath string) (corev1.Volume, corev1.VolumeMount) {
	t := corev1.HostPathDirectory
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &t}}},
		corev1.VolumeMount{Name: name, MountPath: mountPath, ReadOnly: true}
}

func capabilities(add ...corev1.Capability) *corev1.SecurityContext {
	return &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: add}}
}

// encodePod is a static pod's manifest.
func encodePod(pod *corev1.Pod) ([]byte, error) {
	out, err := manifest.YAML(pod)
	if err != nil {
		return nil, fmt.Errorf("static pod %s: %w", pod.Name, err)
	}
	return out, nil
}

// haproxyPod runs HAProxy with its config from configDir. root runs it as
// root with only CAP_NET_BIND_SERVICE, for ports below 1024 (the image's
// user is not root).
func haproxyPod(image, configDir, digest string, root bool) *corev1.Pod {
	c := proxyContainer("haproxy", image)
	vol, mount := hostDir("etc-haproxy", configDir, "/usr/local/etc/haproxy")
	c.VolumeMounts = []corev1.VolumeMount{mount}
	if root {
		zero := int64(0)
		c.SecurityContext = &corev1.SecurityContext{
			RunAsUser:    &zero,
			RunAsGroup:   &zero,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}},
		}
	}
	return proxyPodSpec(staticPod("haproxy", "kube-haproxy", digest, c, vol))
}

// nginxPod runs nginx's master as root (the image's default: it binds ports
// below 1024 on load-balancer hosts and starts its workers as the image's
// nginx user). The command bypasses the image's entrypoint scripts, which
// edit /etc/nginx, and reads ksgen's config from the host.
func nginxPod(image, configDir, digest string) *corev1.Pod {
	c := proxyContainer("nginx", image)
	c.Command = []string{"nginx", "-c", configDir + "/nginx.conf", "-g", "daemon off;"}
	vol, mount := hostDir("etc-nginx", configDir, configDir)
	c.VolumeMounts = []corev1.VolumeMount{mount}
	return proxyPodSpec(staticPod("nginx", "kube-nginx", digest, c, vol))
}

// keepalivedPod runs keepalived's VRRP for the VIP, with the capabilities
// it needs to move the address and send its adverts.
func keepalivedPod(image, configDir, digest string) *corev1.Pod {
	vol, mount := hostDir("etc-keepalived", configDir, "/etc/keepalived")
	c := corev1.Container{
		Name:            "keepalived",
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"/usr/local/sbin/keepalived"},
		Args:            []string{"--dont-fork", "--log-console", "--vrrp", "--use-file=/etc/keepalived/keepalived.conf"},
		Resources:       requests("10m", "16Mi"),
		SecurityContext: capabilities("NET_ADMIN", "NET_BROADCAST", "NET_RAW"),
		VolumeMounts:    []corev1.VolumeMount{mount},
	}
	return staticPod("keepalived", "kube-keepalived", digest, c, vol)
}

// kubeVipSettings are kube-vip's environment: the VIP and how it is
// announced, control-plane load balancing only, leader election on a Lease.
type kubeVipSettings struct {
	Image, VIP, Interface, CIDR, NodeIP, BGPPeers, Kubeconfig string
	Port                                                      int
	BGP                                                       bool
}

func kubeVipPod(s kubeVipSettings) *corev1.Pod {
	env := []corev1.EnvVar{{Name: "address", Value: s.VIP}, {Name: "port", Value: fmt.Sprint(s.Port)}}
	if s.Interface != "" {
		env = append(env, corev1.EnvVar{Name: "vip_interface", Value: s.Interface})
	}
	env = append(env,
		corev1.EnvVar{Name: "vip_cidr", Value: s.CIDR},
		corev1.EnvVar{Name: "cp_enable", Value: "true"},
		corev1.EnvVar{Name: "cp_namespace", Value: "kube-system"},
		corev1.EnvVar{Name: "svc_enable", Value: "false"},
		corev1.EnvVar{Name: "vip_leaderelection", Value: "true"},
		corev1.EnvVar{Name: "vip_leasename", Value: "plndr-cp-lock"},
		corev1.EnvVar{Name: "vip_leaseduration", Value: "5"},
		corev1.EnvVar{Name: "vip_renewdeadline", Value: "3"},
		corev1.EnvVar{Name: "vip_retryperiod", Value: "1"},
	)
	if s.BGP {
		env = append(env,
			corev1.EnvVar{Name: "bgp_enable", Value: "true"},
			corev1.EnvVar{Name: "bgp_routerid", Value: s.NodeIP},
			corev1.EnvVar{Name: "bgp_as", Value: "65000"},
			corev1.EnvVar{Name: "bgp_peeras", Value: "65000"},
			corev1.EnvVar{Name: "bgp_peers", Value: s.BGPPeers},
		)
	} else {
		env = append(env, corev1.EnvVar{Name: "vip_arp", Value: "true"})
	}
	file := corev1.HostPathFile
	c := corev1.Container{
		Name:            "kube-vip",
		Image:           s.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            []string{"manager"},
		Env:             env,
		SecurityContext: capabilities("NET_ADMIN", "NET_RAW"),
		VolumeMounts:    []corev1.VolumeMount{{Name: "kubeconfig", MountPath: "/etc/kubernetes/admin.conf"}},
	}
	pod := staticPod("kube-vip", "", "", c, corev1.Volume{Name: "kubeconfig", VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: s.Kubeconfig, Type: &file},
	}})
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"kubernetes"}}}
	return pod
}
