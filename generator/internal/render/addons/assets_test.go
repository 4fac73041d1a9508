package addons_test

import ksimages "github.com/ksgen/ksgen/images"

func imagesAssets(plugin, ks string, openebs bool) []string {
	var out []string
	for _, a := range ksimages.Assets(ksimages.Cluster{CNI: plugin, KubeSphere: ks, OpenEBS: openebs}) {
		out = append(out, a.Path)
	}
	return out
}
