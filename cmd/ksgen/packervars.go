package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/output/tree"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
	"github.com/ksgen/ksgen/images"
)

type packerVarsFlags struct {
	file          string
	arch          string
	sums          []string
	allowUnpinned bool
	out           string
}

func newPackerVarsCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &packerVarsFlags{}
	cmd := &cobra.Command{
		Use:   "packer-vars -f FILE",
		Short: "Print the Packer variables (HCL) that bake an image for the cluster",
		Long: `packer-vars prints a .pkrvars.hcl file for images/packer/node.pkr.hcl: the
Kubernetes version, every binary with its URL, install path and sha256, the
images of 'ksgen images list' and the CNI, OpenEBS and KubeSphere assets.
The image's OS, which decides where kubeadm, kubelet and kubectl go, is the
OS of the spec's nodes (the ksgen document's os; ubuntu without one).

The sha256 pins come from images/checksums.go (binaries, copied from KubeKey's
and Kubespray's published tables) and images/assets.go (the upstream
manifests ksgen bakes). A download ksgen has no pin for (a Kubernetes version
outside the table, the Cilium and KubeSphere v4 charts, KubeSphere releases
other than v3.3.1) is an error naming it; supply its sum with --sha256
NAME=SUM (NAME is the binary name or the asset path printed), or pass
--allow-unpinned for a development image that accepts unchecked downloads.`,
		Example: `  ksgen images packer-vars -f config-sample.yaml -o cluster.pkrvars.hcl
  ksgen images packer-vars -f config-sample.yaml --allow-unpinned -o dev.pkrvars.hcl   # a development image
  packer build -var-file=cluster.pkrvars.hcl -only=qemu.node images/packer`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if !slices.Contains(images.Arches, f.arch) {
				return fmt.Errorf("--arch %q: the image is baked for %s", f.arch, strings.Join(images.Arches, " or "))
			}
			sums, err := parseSums(f.sums)
			if err != nil {
				return err
			}
			c, err := loadPlan(f.file, false, stderr)
			if err != nil {
				return err
			}
			os, unbaked, err := imageOS(c)
			if err != nil {
				return fmt.Errorf("%s: %w", f.file, err)
			}
			if unbaked != "" {
				fmt.Fprintf(stderr, "%s: warning: %s\n", f.file, unbaked)
			}
			ic := generator.Images(c)
			list, err := images.List(ic)
			if err != nil {
				return err
			}
			v := pinVars{
				cluster:  ic,
				images:   list,
				binaries: images.Binaries(ic, os, f.arch),
				assets:   images.Assets(ic),
			}
			if err := v.pin(sums); err != nil {
				return err
			}
			if missing := v.missing(); len(missing) > 0 {
				if !f.allowUnpinned {
					return missingError(missing, f.arch)
				}
				v.unpinned = true
				fmt.Fprintf(stderr, "warning: %d downloads are unpinned (allow_unpinned = true):\n%s", len(missing), missingList(missing))
			}
			if f.out == "" || f.out == "-" {
				_, err = io.WriteString(stdout, v.hcl())
				return err
			}
			// Written only once complete: a shell redirect would leave an
			// empty file behind when a pin is missing.
			return tree.WriteFile(f.out, 0o644, []byte(v.hcl()))
		},
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "cluster file (KubeKey config-sample.yaml)")
	cmd.Flags().StringVar(&f.arch, "arch", "amd64", "architecture: amd64 or arm64")
	cmd.Flags().StringArrayVar(&f.sums, "sha256", nil, "NAME=SUM: the sha256 of a download ksgen has no pin for (repeatable)")
	cmd.Flags().BoolVar(&f.allowUnpinned, "allow-unpinned", false, "write unpinned downloads with allow_unpinned = true (development images only)")
	cmd.Flags().StringVarP(&f.out, "output", "o", "-", "write the variables to this file, only once they are complete (- for stdout)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// imageOS is the OS the image is baked for: the OS of the nodes that run a
// kubelet, as the spec's ksgen document sets it (the default OS without
// one). It decides where the binaries go, so nodes whose baked OSes lay
// them out differently are an error. Nodes of an OS images/packer does not
// bake (Flatcar, FCOS beside Ubuntu) do not boot this image: unbaked says
// so, and it is an error only when no node runs an OS it bakes.
func imageOS(c *plan.Cluster) (os, unbaked string, err error) {
	byOS := map[string][]string{}
	var foreign []string
	for _, n := range c.Nodes {
		if !n.Kubelet {
			continue
		}
		if osprofile.Of(n.OS).Bake {
			byOS[n.OS] = append(byOS[n.OS], n.Name)
		} else {
			foreign = append(foreign, n.Name+" ("+n.OS+")")
		}
	}
	if len(foreign) > 0 {
		unbaked = fmt.Sprintf("hosts %s run an OS images/packer does not bake (it bakes %s): this image is not theirs; give them binaries.source: download in the ksgen document, or an image you bake for their OS",
			strings.Join(foreign, ", "), strings.Join(osprofile.Baked(), ", "))
	}
	oses := slices.Sorted(maps.Keys(byOS))
	if len(oses) == 0 {
		if len(foreign) > 0 {
			return "", "", errors.New(unbaked)
		}
		return osprofile.Default, "", nil
	}
	for _, os := range oses[1:] {
		if a, b := osprofile.Of(oses[0]), osprofile.Of(os); a.BinDir != b.BinDir || a.EtcdBinDir != b.EtcdBinDir {
			return "", "", fmt.Errorf("hosts run %s and %s, which keep their binaries in different directories: bake one image per OS from a spec for each", oses[0], os)
		}
	}
	return oses[0], unbaked, nil
}

// parseSums reads --sha256 NAME=SUM flags.
func parseSums(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		name, sum, ok := strings.Cut(f, "=")
		sum = strings.ToLower(strings.TrimSpace(sum))
		if b, err := hex.DecodeString(sum); !ok || name == "" || err != nil || len(b) != 32 {
			return nil, fmt.Errorf("--sha256 %q: want NAME=SUM with SUM 64 hex digits", f)
		}
		out[name] = sum
	}
	return out, nil
}

// pinVars is what packer-vars writes.
type pinVars struct {
	cluster  images.Cluster
	images   []string
	binaries []images.Binary
	assets   []images.Asset
	unpinned bool
}

// pin applies --sha256 sums over ksgen's pins: by binary name or asset
// path. A name that is neither is an error, so a typo cannot leave a
// download unpinned.
func (v *pinVars) pin(sums map[string]string) error {
	var names []string
	for i, b := range v.binaries {
		names = append(names, b.Name)
		if s, ok := sums[b.Name]; ok {
			v.binaries[i].SHA256 = s
			delete(sums, b.Name)
		}
	}
	for i, a := range v.assets {
		names = append(names, a.Path)
		if s, ok := sums[a.Path]; ok {
			v.assets[i].SHA256 = s
			delete(sums, a.Path)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		return fmt.Errorf("--sha256 %s: this cluster downloads no such file; names are %s", name, strings.Join(names, ", "))
	}
	return nil
}

// download is one file the image fetches without a pin.
type download struct{ name, version, url string }

func (v *pinVars) missing() []download {
	var out []download
	for _, b := range v.binaries {
		if b.SHA256 == "" {
			out = append(out, download{b.Name, b.Version, b.URL})
		}
	}
	for _, a := range v.assets {
		if a.SHA256 == "" {
			out = append(out, download{a.Path, "", a.URL})
		}
	}
	return out
}

func missingList(missing []download) string {
	var b strings.Builder
	for _, d := range missing {
		fmt.Fprintf(&b, "  %-44s %-8s %s\n", d.name, d.version, d.url)
	}
	return b.String()
}

func missingError(missing []download, arch string) error {
	pinned := images.PinnedKubernetesVersions()
	return fmt.Errorf("no sha256 pin for %d downloads (linux/%s):\n%s"+
		"ksgen pins kubeadm, kubelet and kubectl for Kubernetes %s (images/checksums.go) and the manifests in images/assets.go.\n"+
		"Pin each with --sha256 NAME=SUM (NAME is the first column above; SUM from the upstream release, e.g. the .sha256 file next to each Kubernetes binary),\n"+
		"or pass --allow-unpinned for a development image",
		len(missing), arch, missingList(missing), strings.Join(pinned, ", "))
}

// hcl writes the variables; %q's escapes are valid HCL string escapes for
// the URLs, paths, sums and image names written here.
func (v *pinVars) hcl() string {
	var b strings.Builder
	b.WriteString("# Generated by ksgen images packer-vars.\n")
	fmt.Fprintf(&b, "kubernetes_version = %q\n", v.cluster.KubernetesVersion)
	if v.unpinned {
		b.WriteString("# Some downloads are unpinned: a development image only.\nallow_unpinned = true\n")
	}
	b.WriteString("\nbinaries = [\n")
	for _, bin := range v.binaries {
		fmt.Fprintf(&b, "  { name = %q, url = %q, dest = %q, strip = %d, sha256 = %q },\n", bin.Name, bin.URL, bin.Dest, bin.Strip, bin.SHA256)
	}
	b.WriteString("]\n\nimages = [\n")
	for _, img := range v.images {
		fmt.Fprintf(&b, "  %q,\n", img)
	}
	b.WriteString("]\n\nassets = [\n")
	for _, a := range v.assets {
		fmt.Fprintf(&b, "  { url = %q, path = %q, sha256 = %q },\n", a.URL, a.Path, a.SHA256)
	}
	b.WriteString("]\n")
	return b.String()
}
