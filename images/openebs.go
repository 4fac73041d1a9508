package images

// OpenEBS local PV (hostpath) is the default StorageClass KubeKey installs
// when KubeSphere is enabled (cmd/kk/pkg/plugins/storage): the same
// provisioner and helper image tags KubeKey pins (cmd/kk/pkg/images:
// provisioner-localpv and linux-utils 3.3.0).
const (
	OpenEBSVersion = "3.3.0"
	// OpenEBSClass is the StorageClass name KubeKey gives the local PV class.
	OpenEBSClass = "local"
)

// OpenEBSImages lists the provisioner and the helper image it starts to
// create and remove hostpath volumes.
func OpenEBSImages() []string {
	return []string{
		"docker.io/openebs/provisioner-localpv:" + OpenEBSVersion,
		"docker.io/openebs/linux-utils:" + OpenEBSVersion,
	}
}

// openEBSAsset is OpenEBS's own versioned hostpath-only operator manifest
// (namespace, RBAC, provisioner Deployment); the StorageClass is rendered
// from the spec.
func openEBSAsset() Asset {
	return Asset{
		URL:  "https://openebs.github.io/charts/versioned/" + OpenEBSVersion + "/hostpath-operator.yaml",
		Path: "openebs/" + OpenEBSVersion + "/hostpath-operator.yaml",
	}
}
