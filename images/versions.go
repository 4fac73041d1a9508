// Package images pins the versions ksgen renders for and lists the images a
// cluster runs. The Packer templates beside it bake those into an image.
package images

import (
	"strings"

	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
)

// Kubernetes versions ksgen renders for. kubeadm's v1beta3 API starts at
// v1.22; the newest supported minor is the one of the kubeadm library ksgen
// is built with, so configs are always checked by a kubeadm that knows them.
const (
	DefaultKubernetesVersion = "v1.36.3"
	MinKubernetesVersion     = "v1.22.0"
	MaxKubernetesMinor       = 36
	// V1Beta4Since is the first Kubernetes version whose kubeadm reads v1beta4.
	V1Beta4Since = "v1.31.0"
)

// pauseByMinor is the pause image tag each kubeadm release pins (its
// constants.PauseVersion); the sandbox image containerd uses must match it.
var pauseByMinor = map[uint]string{
	22: "3.5", 23: "3.6", 24: "3.7", 25: "3.8", 26: "3.9", 27: "3.9", 28: "3.9",
	29: "3.9", 30: "3.9", 31: "3.10", 32: "3.10", 33: "3.10", 34: "3.10.1", 35: "3.10.1",
	36: kubeadmconstants.PauseVersion,
}

// PauseTag returns the pause image tag for a Kubernetes minor version.
func PauseTag(minor uint) string {
	if t, ok := pauseByMinor[minor]; ok {
		return t
	}
	return kubeadmconstants.PauseVersion
}

// DefaultRegistry is where kubeadm pulls from when no private registry is set.
const DefaultRegistry = "registry.k8s.io"

// Repository returns the repository kubeadm's images come from: the private
// registry (with its namespace override) when the spec sets one.
func Repository(privateRegistry, namespaceOverride string) string {
	if privateRegistry == "" {
		return DefaultRegistry
	}
	repo := strings.TrimSuffix(privateRegistry, "/")
	if namespaceOverride != "" {
		repo += "/" + namespaceOverride
	}
	return repo
}

// BinDir is where kubeadm, kubelet and kubectl live on a target OS: Flatcar's
// /usr is read-only, so its binaries go to /opt/bin, as Flatcar documents.
func BinDir(os string) string {
	switch os {
	case "flatcar":
		return "/opt/bin"
	case "fcos":
		return "/usr/local/bin"
	}
	return "/usr/bin"
}

// Images ksgen's own static pods run, pinned. KubeKey runs the same HAProxy
// (as kubesphere/haproxy); the upstream image is used here.
const (
	HAProxyImage = "docker.io/library/haproxy:2.9.6-alpine"
	KubeVipImage = "ghcr.io/kube-vip/kube-vip:v0.8.9"
)

// Image returns ref as pulled through the private registry when the spec has
// one: registry[/namespaceOverride]/<last path element>:<tag>, which is how
// KubeKey lays out a mirrored image set.
func Image(ref, privateRegistry, namespaceOverride string) string {
	if privateRegistry == "" {
		return ref
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	ns := namespaceOverride
	if ns == "" {
		ns = "kubesphereio"
	}
	return strings.TrimSuffix(privateRegistry, "/") + "/" + ns + "/" + name
}
