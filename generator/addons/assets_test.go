package addons_test

import ksimages "github.com/ksgen/ksgen/images"

func imagesAssets(plugin, ks string) []string {
	var out []string
	for _, a := range ksimages.Assets(plugin, ks) {
		out = append(out, a.Path)
	}
	return out
}
