// Package images pins the versions ksgen renders for and lists the images a
// cluster runs. The Packer templates beside it bake those into an image.
package images

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
