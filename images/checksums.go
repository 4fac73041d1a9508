package images

import "slices"

// The sha256 of every download the image bakes, by component, version and
// architecture: the file Binaries names (the Kubernetes binary itself, the
// release archive otherwise). Every value is copied from a public table,
// named above its block; none was computed here. A version missing from this
// table has no pin: `ksgen images packer-vars` then asks for one
// (--sha256 NAME=SUM) instead of baking an unchecked file.
var sha256Sums = map[string]map[string]map[string]string{
	// kubeadm, kubelet, kubectl v1.22–v1.32: kubesphere/kubekey
	// version/components.json (commit 00a5dbdd71fe28ad2ec042ef0f46d759e187ed5b);
	// v1.33–v1.35: kubernetes-sigs/kubespray
	// roles/kubespray_defaults/vars/main/checksums.yml
	// (commit 005bdce7f1867958838a2d0bb4f7e67893d98f64).
	"kubeadm": {
		"v1.22.10": {"amd64": "df5e090a3c0e24b92b26f22f1d7689b6ea860099ea89b97edf5d4c19fa6da0ca", "arm64": "8ea22a05b428de70a430711e8f75553e1be2925977ab773b5be1c240bc5b9fcd"},
		"v1.22.17": {"amd64": "75244faf5726baf432ff2a76d5f188772173adb5ca1c33634d56ba13dbd6e4dc", "arm64": "90a1e3c98fabaf4c6dfca5cef4d33a3212a9d624ec2e6249e7ac747f10dcad67"},
		"v1.23.17": {"amd64": "6d3f732fe1eabd91c98ff0ee66c6c8b4fcbdee9e99c2c8606f0fa5ff57b4ea65", "arm64": "cf1bca6b464f30ea078a9cf4d902033fb80527b03c2f39409e19fb8b3886c75e"},
		"v1.24.17": {"amd64": "774bae9f86c093fd28c7649cf4a84cb3555a70d29ea5dba438abc990dd0febc9", "arm64": "1d484faddd1b789c67cdadb315d53250d9906e5b727c9254131c01b2f8f17beb"},
		"v1.25.16": {"amd64": "11c70502ac5bad303b5b4103b9eb5b2a83376cf6a1bce878b6018c6ca44a7d6e", "arm64": "55cc8e3c5985858b9f683bf6c7352d76f073d3dc136f450e8761c0ed7092c0f3"},
		"v1.26.15": {"amd64": "7e0f5bd34ddc6fac932cf9a137c57ade150ec53f9558d693e336ed9948d6ba76", "arm64": "881a76cc98da0fe91394cb26f909186d0dcbf378262d11803ccf76f2a84a9039"},
		"v1.27.16": {"amd64": "33622018f83515331ac70c2041eba5d814a6d78a40b8869f089ea502f63a1421", "arm64": "39fb88ab0f6b943bbe61dde5d7ea58ce728045a0556f9b6f56d66fe1f20affcc"},
		"v1.28.15": {"amd64": "0555b2c2fd30efcdb44b7fba5460c3dc3d3e39f2301e1eef7894a9f8976e1b4c", "arm64": "e907b9e8e47a42ea5c1a15d0f7f493337dd35fc53540d344af6fecf191f5764e"},
		"v1.29.12": {"amd64": "bce712631bc425726b45930e58b00790c2ab3deec4282f86af353ea907817c46", "arm64": "d953ed504c2ddd08272d45cc94439fc69b7ffd77ff1d0c78917b3275a5c9c044"},
		"v1.30.8":  {"amd64": "ffe1a2b6345fae55e059afe7eed90ae9f46f0a755fde5fc17b9113134ab8b79e", "arm64": "7bca884b54e2c3988e81250f8eba6a49d718994dd7fe67d14905cb65dcec8b56"},
		"v1.31.4":  {"amd64": "6c8e2fd2fa2cab51debf215fcb9149b94e7046f69ff558290066875200975cf6", "arm64": "4598c2f0c69e60feb47a070376da358f16efe0e1403c6aca97fa8f7ab1d0e7c0"},
		"v1.32.0":  {"amd64": "8a10abe691a693d6deeeb1c992bc75da9d8c76718a22327688f7eb1d7c15f0d6", "arm64": "5da9746a449a3b8a8312b6dd8c48dcb861036cf394306cfbc66a298ba1e8fbde"},
		"v1.33.8":  {"amd64": "8259af514dc3655e8abec1a69b637f31cce2ecb940a80ae4a268e5287890f009", "arm64": "b5248b51e66e4716261f2c926fe2f08a293795e6863099e7792b4d57dbb9109e"},
		"v1.34.4":  {"amd64": "b967f1fa0e36621c402d38bb560eb4a943954d5cf5a00e5150842f6f5da73455", "arm64": "d8028b7e8c8d6c9b3fc3da6bc88d4d0cfb33df1b4b026a7d6e8c35d1471c9f6e"},
		"v1.35.1":  {"amd64": "8a7ff344eef1bfba88f9a74b3fdc9ea4448c94f1b3cefb8c0aeeaf1f96e05053", "arm64": "80097a3c4ef824f4edfe131d2bd429772c4be3a460c42a44f2320164a917de32"},
	},
	"kubelet": {
		"v1.22.10": {"amd64": "c1aa6e9f59cfc765d33b382f604140699ab97c9c4212a905d5e1bcd7ef9a5c8b", "arm64": "2376a7ecc044bc4b5cdae9a0a14d058ae5c1803450f3a8ffdce656785e9e251e"},
		"v1.22.17": {"amd64": "48d200775000567256a8c114cf4f5d389468b175c3add6b232ec3b26f03e8564", "arm64": "dd76d33b2a72693b9a88614cef72367dd737d74433fd9e65129684086719d632"},
		"v1.23.17": {"amd64": "588dde06e2515601380787cb5fcb07ae3d3403130e1a5556b013b7b7fb4ab230", "arm64": "95e25ee4d2f34f628ba42685c6ae1ba6efdf86f2e76b5cceb0b48de4d66522a7"},
		"v1.24.17": {"amd64": "babf327f3089982b271ac0acff51009eb0d649f7d1f4fbd976419ee76864f633", "arm64": "dc83bc7a47715f1fa29ea7f1e1d13e3626a8bfbe3a6793d8cb97273289fe9bba"},
		"v1.25.16": {"amd64": "b159f4b0ce7987385902faf6b97530489a6340d728a9688c5791d8d18144b4b7", "arm64": "5f379fc59db0efc288236dbd0abd32b1b0206d1c435001b9c0c3996171e20ffd"},
		"v1.26.15": {"amd64": "20db3c21d8e7215a581e48393be5b924267f1bb82ac69e22bd701a10df9f3974", "arm64": "4de64168aa08fe2149ec4a29cfaa683947a8ad866090aaf2c75336ce547b85b0"},
		"v1.27.16": {"amd64": "1b390641b47c6f9265ed8d19b48a8aa334ac28c825ad7ee8201717a5d9e8b759", "arm64": "2d3cfefc64e1ff5f1e1b8bcba0589a4a9b247f7bcd43cb78645f346687cbbef3"},
		"v1.28.15": {"amd64": "b07a27fd5bd2419c9c623de15c1dd339af84eb27e9276c81070071065db00036", "arm64": "7dfb8087ee0eff9a3f667e1ec749b5a57a0848e59ce9ed42ad00e7ece1c55274"},
		"v1.29.12": {"amd64": "45475d908f6c44bfbf994fec91a4d5ceebf41d93c9f3867e687b2fa67b57b5b0", "arm64": "92237be83840bf8dd2318cb281ce309e907e0b665cac6b7629a5fa43a11ae606"},
		"v1.30.8":  {"amd64": "7b5191dfed6a27faadefebdc4a3b602b9a76adfc58fd04c50307f1377eabc590", "arm64": "fdda0047c8c6a59956db72c781705eb705018d00ba594afffdb15ef630f81e28"},
		"v1.31.4":  {"amd64": "9062fbb2b6054ecab07b9e841b0a49ab4acc224860b01c218d01ba95017c5e49", "arm64": "fb6f02f3324a72307acc11998eb5b1c3778167ae165c98f9d49bd011498e72f8"},
		"v1.32.0":  {"amd64": "5ad4965598773d56a37a8e8429c3dc3d86b4c5c26d8417ab333ae345c053dae2", "arm64": "bda9b2324c96693b38c41ecea051bab4c7c434be5683050b5e19025b50dbc0bf"},
		"v1.33.8":  {"amd64": "1caa69c5328cfa774218f75f0621a6f10a1b97e095af85015f468aeb8fdf956a", "arm64": "e835f15be6d8b7b27b963a46c4a054f7663c26741f17e003bfcb8271350cf882"},
		"v1.34.4":  {"amd64": "03b8fea715a7ef82eeaf518dee34c72670c57cc7bc40dc1320c04fbf4f15172f", "arm64": "c78845473c434ee85a2444eeab87f8b20f524e3ab6854a078f79468f44aad8f5"},
		"v1.35.1":  {"amd64": "e7343310e03ff0d424df4397bdfa4468947d6d1f0f93dac586c1e8d6e4086d5d", "arm64": "73475c6db8fd8a9780b1b378fa2f917875e6146166c24603c1abc6eafd4493a8"},
	},
	"kubectl": {
		"v1.22.10": {"amd64": "225bc8d4ac86e3a9e36b85d2d9cb90cd4b4afade29ba0292f47834ecf570abf2", "arm64": "6ce1a1315225d7d62f7d17083c9f87d4f3f5684c80da108799c99780ad520cb3"},
		"v1.22.17": {"amd64": "7506a0ae7a59b35089853e1da2b0b9ac0258c5309ea3d165c3412904a9051d48", "arm64": "8fc2f8d5c80a6bf60be06f8cf28679a05ce565ce0bc81e70aaac38e0f7da6259"},
		"v1.23.17": {"amd64": "f09f7338b5a677f17a9443796c648d2b80feaec9d6a094ab79a77c8a01fde941", "arm64": "c4a48fdc6038beacbc5de3e4cf6c23639b643e76656aabe2b7798d3898ec7f05"},
		"v1.24.17": {"amd64": "3e9588e3326c7110a163103fc3ea101bb0e85f4d6fd228cf928fa9a2a20594d5", "arm64": "66885bda3a202546778c77f0b66dcf7f576b5a49ff9456acf61329da784a602d"},
		"v1.25.16": {"amd64": "5a9bc1d3ebfc7f6f812042d5f97b82730f2bdda47634b67bddf36ed23819ab17", "arm64": "d6c23c80828092f028476743638a091f2f5e8141273d5228bf06c6671ef46924"},
		"v1.26.15": {"amd64": "b75f359e6fad3cdbf05a0ee9d5872c43383683bb8527a9e078bb5b8a44350a41", "arm64": "1396313f0f8e84ab1879757797992f1af043e1050283532e0fd8469902632216"},
		"v1.27.16": {"amd64": "97ea7cd771d0c6e3332614668a40d2c5996f0053ff11b44b198ea84dba0818cb", "arm64": "2f50cb29d73f696ffb57437d3e2c95b22c54f019de1dba19e2b834e0b4501eb9"},
		"v1.28.15": {"amd64": "1f7651ad0b50ef4561aa82e77f3ad06599b5e6b0b2a5fb6c4f474d95a77e41c5", "arm64": "7d45d9620e67095be41403ed80765fe47fcfbf4b4ed0bf0d1c8fe80345bda7d3"},
		"v1.29.12": {"amd64": "35fc028853e6f5299a53f22ab58273ea2d882c0f261ead0a2eed5b844b12dbfb", "arm64": "1cf2c00bb4f5ee6df69678e95af8ba9a4d4b1050ddefb0ae9d84b5c6f6c0e817"},
		"v1.30.8":  {"amd64": "7f39bdcf768ce4b8c1428894c70c49c8b4d2eee52f3606eb02f5f7d10f66d692", "arm64": "e51d6a76fade0871a9143b64dc62a5ff44f369aa6cb4b04967d93798bf39d15b"},
		"v1.31.4":  {"amd64": "298e19e9c6c17199011404278f0ff8168a7eca4217edad9097af577023a5620f", "arm64": "b97e93c20e3be4b8c8fa1235a41b4d77d4f2022ed3d899230dbbbbd43d26f872"},
		"v1.32.0":  {"amd64": "646d58f6d98ee670a71d9cdffbf6625aeea2849d567f214bc43a35f8ccb7bf70", "arm64": "ba4004f98f3d3a7b7d2954ff0a424caa2c2b06b78c17b1dccf2acc76a311a896"},
		"v1.33.8":  {"amd64": "7f9c3faab7c9f9cc3f318d49eb88efc60eb3b3a7ce9eee5feb39b1280e108a29", "arm64": "76e284669f1f6343bd9fe2a011757809c8c01cf51da9f85ee6ef4eb93c8393a8"},
		"v1.34.4":  {"amd64": "d50c359d95e0841eaad08ddc27c7be37cba8fdccfba5c8e2ded65e121ff112db", "arm64": "5b982c0644ab1e27780246b9085a5886651b4a7ed86243acbb2bacc1bea01dda"},
		"v1.35.1":  {"amd64": "36e2f4ac66259232341dd7866952d64a958846470f6a9a6a813b9117bd965207", "arm64": "706256e21a4e9192ee62d1a007ac0bfcff2b0b26e92cc7baad487a6a5d08ff82"},
	},
	// containerd-<v>-linux-<arch>.tar.gz (containerd_archive_checksums),
	// runc.<arch>, cni-plugins-linux-<arch>-<v>.tgz, crictl-<v>-linux-<arch>.tar.gz
	// and helm-<v>-linux-<arch>.tar.gz: kubernetes-sigs/kubespray
	// roles/kubespray_defaults/vars/main/checksums.yml
	// (commit 005bdce7f1867958838a2d0bb4f7e67893d98f64). KubeKey's
	// components.json agrees where both list a version (containerd 1.7.13,
	// runc v1.1.12, kubelet v1.28–v1.30).
	"containerd": {
		ContainerdVersion: {"amd64": "f8b2d935d1f86003f4e0c1af3b9f0d2820bacabe6dc9f562785b74af24c5e468", "arm64": "48d0a8461ae829b12b07c3663b14b70287d0607a0792719c51b4e4dd700b02ce"},
	},
	"runc": {
		RuncVersion: {"amd64": "a83c0804ebc16826829e7925626c4793da89a9b225bbcc468f2b338ea9f8e8a8", "arm64": "050ee97c266bf7d31e1474568ffcbb2a3ff2208087aaa238c8bbe7e398414126"},
	},
	"cni-plugins": {
		CNIPluginsVersion: {"amd64": "b8e811578fb66023f90d2e238d80cec3bdfca4b44049af74c374d4fae0f9c090", "arm64": "01e0e22acc7f7004e4588c1fe1871cc86d7ab562cd858e1761c4641d89ebfaa4"},
	},
	"crictl": {
		CrictlVersion: {"amd64": "2e141e5b22cb189c40365a11807d69b76b9b3caced89fac2f4ec879408ce2177", "arm64": "519071de89b64c43e2a1661bb5489c6c3fd5e9e5fcef75e50e542b0c891f1118"},
	},
	"helm": {
		HelmVersion: {"amd64": "9318379b847e333460d33d291d4c088156299a26cd93d570a7f5d0c36e50b5bb", "arm64": "1888301aeb7d08a03b6d9f4d2b73dcd09b89c41577e80e3455c113629fc657a4"},
	},
	// etcd EtcdVersion (v3.6.8): no stored table lists it (kubespray's stops
	// at 3.5.27, KubeKey's at v3.5.13), so it has no pin here.
}

// SHA256 returns the pinned sha256 of a component's download, or "" when
// ksgen has none for that version and architecture.
func SHA256(component, version, arch string) string {
	return sha256Sums[component][version][arch]
}

// PinnedKubernetesVersions lists, oldest first, the Kubernetes versions whose
// kubeadm, kubelet and kubectl have pins for every architecture.
func PinnedKubernetesVersions() []string {
	var out []string
	for v := range sha256Sums["kubeadm"] {
		pinned := true
		for _, c := range []string{"kubeadm", "kubelet", "kubectl"} {
			for _, arch := range Arches {
				pinned = pinned && SHA256(c, v, arch) != ""
			}
		}
		if pinned {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, compareVersions)
	return out
}

// Arches are the architectures the image can be baked for.
var Arches = []string{"amd64", "arm64"}
