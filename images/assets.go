package images

// AssetDir is where the image keeps versioned manifests and charts:
// AssetDir/<component>/<version>/<file>.
const AssetDir = "/opt/ksgen/assets"

// CNI plugins other than Calico (whose release follows the Kubernetes minor,
// see Pairing) and the images they run. flannel v0.28.9's kube-flannel.yml
// runs ghcr.io/flannel-io/flannel:v0.28.9 and flannel-cni-plugin
// v1.9.1-flannel3 (flannel-io/flannel Documentation/kube-flannel.yml @
// v0.28.9); its manifest asks nothing newer than apps/v1 and rbac/v1, which
// every Kubernetes ksgen renders for serves.
const (
	FlannelVersion   = "v0.28.9"
	FlannelCNIPlugin = "v1.9.1-flannel3"
	CiliumVersion    = "1.15.7"
)

// calicoComponents are the images the Tigera operator deploys for the
// Installation ksgen writes (no APIServer, Goldmane or Whisker resource, so
// no apiserver, webhooks, goldmane or whisker images), as
// <registry>/calico/<name>:<release> (tigera/operator
// pkg/components/calico.go and images.go at each operator tag).
var calicoComponents = []string{"cni", "node", "kube-controllers", "typha", "pod2daemon-flexvol", "csi", "node-driver-registrar"}

// CNIImages lists the images the cluster's CNI plugin runs ("none": none).
func CNIImages(c Cluster) []string {
	switch c.CNI {
	case "calico":
		r := Calico(c.KubernetesVersion)
		out := []string{"quay.io/tigera/operator:" + r.Operator}
		for _, name := range calicoComponents {
			out = append(out, r.Registry+"/calico/"+name+":"+r.Version)
		}
		return out
	case "flannel":
		return []string{"ghcr.io/flannel-io/flannel:" + FlannelVersion, "ghcr.io/flannel-io/flannel-cni-plugin:" + FlannelCNIPlugin}
	case "cilium":
		return []string{"quay.io/cilium/cilium:v" + CiliumVersion, "quay.io/cilium/operator-generic:v" + CiliumVersion}
	}
	return nil
}

// Asset is a versioned manifest or chart the image bakes under AssetDir,
// downloaded at build time from its URL and checked against SHA256.
type Asset struct {
	URL  string
	Path string // under AssetDir
	// SHA256 is the pin from assetPins, "" when ksgen has none.
	SHA256 string
}

// assetPins are the sha256 of the upstream files ksgen bakes, as recorded
// with each file's repository, path and tag in
// ../shared/upstream/PROVENANCE.md (raw.githubusercontent.com at the tag,
// byte for byte the file in the repository; openebs.github.io for OpenEBS).
// TestAssetPinsMatchUpstream recomputes them from the stored files.
var assetPins = map[string]string{
	"calico/v3.24.6/tigera-operator.yaml":         "4f5c9eb0cd0022fe3511d1e23a0412f54cbfcd9ec32f3c0b862c36a28d47f323",
	"calico/v3.26.5/tigera-operator.yaml":         "89fe91573b3703c761741dadf91ea49132a42f8b07cc6ff6fdf4d0a03b5e7593",
	"calico/v3.28.5/tigera-operator.yaml":         "69159fe3450ff0cf8b6db29e2b011a287ed5d8de341e81812c98aae69d3e51b5",
	"calico/v3.29.7/tigera-operator.yaml":         "a571ef21476c026618a7c7b092a3ab1744ec191e02492655d8c1468ac08f25f2",
	"calico/v3.30.7/tigera-operator.yaml":         "bcc9f89c1847ee5237c29c1b7e4a67c86296cb0139619093df6ca98ec14abf18",
	"calico/v3.30.7/operator-crds.yaml":           "53b2e2791915809db8016b72d4ceac9d1dd529d053984eb203c06b94c6639ee3",
	"calico/v3.31.7/tigera-operator.yaml":         "092c10b3d0cb73617aca51367ca59755348f4647e6d2e63fa4e5b81266203214",
	"calico/v3.31.7/operator-crds.yaml":           "380414d5756e9a1af29ddb1ad70cada07aa344ae7a2680ba7355248621f8adbf",
	"calico/v3.32.1/tigera-operator.yaml":         "f18e073794207d372606bc3ea6f8fd73972f86d6828f4ba666dfe0d4aa8ab07f",
	"calico/v3.32.1/operator-crds.yaml":           "192f8b2d934ef24b62e86b7e1a6e1762d1c8af26a916f78057bc13fa5ed60f71",
	"flannel/v0.28.9/kube-flannel.yml":            "e875824be2f552b45711dbda91af81b17eb961d00025d914d9fef18fad8f09c0",
	"openebs/3.3.0/hostpath-operator.yaml":        "1e2634b86470cb57a11e00ba96121e72f8319a8e8bb5851fd50e7e1499852b75",
	"kubesphere/v3.3.1/kubesphere-installer.yaml": "4a4d361358a2632389c5e0b79c5ac6f195e45389efaccf1d401b2b4cc6644fc4",
}

// Assets lists what the image needs for the cluster's CNI plugin, storage
// and KubeSphere version: the files the first-boot script applies, each with
// its pin.
func Assets(c Cluster) []Asset {
	var out []Asset
	switch c.CNI {
	case "calico":
		r := Calico(c.KubernetesVersion)
		raw := "https://raw.githubusercontent.com/projectcalico/calico/" + r.Version + "/manifests/"
		if r.SeparateCRDs {
			out = append(out, Asset{URL: raw + "operator-crds.yaml", Path: "calico/" + r.Version + "/operator-crds.yaml"})
		}
		out = append(out, Asset{URL: raw + "tigera-operator.yaml", Path: "calico/" + r.Version + "/tigera-operator.yaml"})
	case "flannel":
		out = append(out, Asset{URL: "https://raw.githubusercontent.com/flannel-io/flannel/" + FlannelVersion + "/Documentation/kube-flannel.yml", Path: "flannel/" + FlannelVersion + "/kube-flannel.yml"})
	case "cilium":
		out = append(out, Asset{URL: "https://helm.cilium.io/cilium-" + CiliumVersion + ".tgz", Path: "cilium/" + CiliumVersion + "/cilium-" + CiliumVersion + ".tgz"})
	}
	if c.OpenEBS {
		out = append(out, openEBSAsset())
	}
	if r, ok := KubeSphere(c.KubeSphere); ok {
		if r.Helm {
			out = append(out, Asset{URL: "https://charts.kubesphere.io/main/ks-core-" + KSCoreChart + ".tgz", Path: "kubesphere/" + r.Version + "/ks-core.tgz"})
		} else {
			out = append(out, Asset{URL: "https://raw.githubusercontent.com/kubesphere/ks-installer/" + r.Version + "/deploy/kubesphere-installer.yaml", Path: "kubesphere/" + r.Version + "/kubesphere-installer.yaml"})
		}
	}
	for i := range out {
		out[i].SHA256 = assetPins[out[i].Path]
	}
	return out
}

// KSCoreChart is the ks-core chart version that installs KubeSphere v4.1.3:
// the chart KubeSphere's v4.1 quick start installs; ks-core 1.1.3 carries
// v4.1.2, 1.1.4 the next release.
const KSCoreChart = "1.1.4"
