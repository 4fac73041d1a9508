package generator

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/render/binaries"
	"github.com/ksgen/ksgen/generator/internal/render/kubeadm"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
	"github.com/ksgen/ksgen/images"
)

// Validate is ksgen's one full validation. It completes r, the report of
// spec.Load, with what needs the plan: the kubeadm configs every node would
// get (patches included) and the files the spec names (external etcd
// certificates). ksgen validate, ksgen render, GenerateTo and the invalid
// corpus all call it, so they agree on what is wrong and on what is only a
// warning. It returns the plan once spec.Load found no errors; whether the
// findings it adds stop the run is r.Err(strict)'s to say.
func Validate(s *spec.Spec, r *spec.Report) (*plan.Cluster, error) {
	if s == nil || r.HasErrors(false) {
		return nil, r.Err(false)
	}
	c, err := plan.New(s)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	for _, f := range kubeadm.Check(c) {
		r.Entries = append(r.Entries, kubeadmEntry(f))
	}
	if !r.HasErrors(false) {
		driver, err := kubeadm.CgroupDriver(c)
		var f *kubeadm.Finding
		switch {
		case errors.As(err, &f):
			r.Entries = append(r.Entries, kubeadmEntry(*f))
		case err != nil:
			return nil, err
		}
		c.CgroupDriver = driver
	}
	r.Entries = append(r.Entries, checkBinaries(s, c)...)
	r.Entries = append(r.Entries, checkNetwork(s, c)...)
	r.Entries = append(r.Entries, checkContainerdDownload(s, c)...)
	// The external etcd files are read here, once: the render takes them
	// from the plan.
	files, err := plan.ReadExternalEtcd(s)
	var e *spec.EntryError
	switch {
	case errors.As(err, &e):
		r.Entries = append(r.Entries, e.Entry)
	case err != nil:
		return nil, err
	}
	c.Etcd.External = files
	return c, nil
}

// kubeadmEntry is a kubeadm finding as an error of the spec's report.
func kubeadmEntry(f kubeadm.Finding) spec.Entry {
	return spec.Entry{Severity: spec.Error, Path: f.Path, Line: f.Line, Err: f.Err}
}

// checkBinaries says whether the OSes, the binaries source and the image
// recipe agree, and what the user must provide when they do not: with
// source download, every binary a node fetches needs a sha256 (an error
// naming the binary, its version and the way out); with source image, a
// node whose OS images/packer does not bake and whose stock image has no
// kubeadm needs an image the user bakes (a warning: they may have one).
func checkBinaries(s *spec.Spec, c *plan.Cluster) []spec.Entry {
	const path = "ksgen.spec.binaries.source"
	type key struct{ name, version, arch string }
	hosts := map[key][]string{}
	var keys []key
	unbaked := hostsByOS{}
	for _, n := range c.Nodes {
		_, missing := binaries.Needed(c, n)
		for _, m := range missing {
			k := key{m.Binary.Name, m.Binary.Version, m.Arch}
			if hosts[k] == nil {
				keys = append(keys, k)
			}
			hosts[k] = append(hosts[k], n.Name)
		}
		prof := osprofile.Of(n.OS)
		if c.Binaries.Source == binaries.SourceImage && n.Kubelet && !prof.Bake && !prof.Ships(osprofile.Kubeadm) {
			unbaked.add(n.OS, n.Name)
		}
	}
	var out []spec.Entry
	for _, k := range keys {
		out = append(out, spec.NewEntry(s, spec.Error, path, spec.ErrNoPin,
			"%s %s (linux/%s), which hosts %s download, has no sha256 in ksgen's pin table (images/checksums.go): add {name: %s, url: URL, sha256: SUM} to ksgen.spec.binaries.downloads (the sum from the upstream release), or choose a pinned version",
			k.name, k.version, k.arch, strings.Join(hosts[k], ", "), k.name))
	}
	rt := images.ContainerdFor(c.KubernetesVersion())
	for _, os := range unbaked.oses() {
		// The image's containerd must read the config too: ksgen cannot
		// know a stock image's version, and a 1.7 refuses a version-3
		// config.toml while a 1.6 reads it and drops every CRI setting.
		runtime := ""
		if rt.ConfigVersion() >= 3 && osprofile.Of(os).Ships(osprofile.Containerd) {
			runtime = fmt.Sprintf(" and a containerd 2.x (Kubernetes %s gets containerd %s's config.toml, version 3, which containerd 1.7 refuses and 1.6 reads without its CRI settings; download installs containerd %s and runc %s)",
				c.KubernetesVersion(), rt.Containerd, rt.Containerd, rt.Runc)
		}
		out = append(out, spec.NewEntry(s, spec.Warning, path, spec.ErrNoBinaries,
			"hosts %s run %s, whose stock image has no kubeadm, kubelet or kubectl and whose image images/packer does not bake: set binaries.source: download (pinned URLs, or binaries.mirror offline), or boot an image you baked with them in %s%s",
			unbaked.hosts(os), os, osprofile.Of(os).BinDir, runtime))
	}
	return out
}

// checkNetwork says which static addresses (ksgen's network setting) a
// payload cannot carry: an Ignition OS's file must name its interface or
// MAC (an error), and a cloud-init OS takes its address from the
// datasource's network-config, which cloud-init applies before it reads
// user-data (a warning: the user may give it there).
func checkNetwork(s *spec.Spec, c *plan.Cluster) []spec.Entry {
	var out []spec.Entry
	datasource, first := hostsByOS{}, map[string]string{}
	for _, n := range c.Nodes {
		st := n.Settings
		if st.Network == nil {
			continue
		}
		path := "ksgen.spec.hosts." + n.Name + ".network"
		if s.Config.Spec.Hosts[n.Name].Network == nil {
			for _, r := range n.Roles {
				if s.Config.Spec.Roles[r].Network != nil {
					path = "ksgen.spec.roles." + r + ".network"
				}
			}
		}
		switch osprofile.Of(n.OS).Network {
		case osprofile.NetworkDatasource:
			if datasource[n.OS] == nil {
				first[n.OS] = path
			}
			datasource.add(n.OS, n.Name)
		default:
			if st.Interface == "" && st.MAC == "" {
				out = append(out, spec.NewEntry(s, spec.Error, path, spec.ErrRequired,
					"host %s's static network needs interface or mac: the %s file ksgen writes must match one interface", n.Name, osprofile.Of(n.OS).Network))
			}
		}
	}
	for _, os := range datasource.oses() {
		out = append(out, spec.NewEntry(s, spec.Warning, first[os], spec.ErrUnsupported,
			"hosts %s run %s, whose cloud-init applies a static address from its datasource's network-config before it reads user-data: ksgen's network setting is not in their user-data; give it in the datasource (a NoCloud seed's network-config, the cloud's metadata)",
			datasource.hosts(os), os))
	}
	return out
}

// checkContainerdDownload refuses a binaries.downloads entry that replaces
// the pinned containerd 2.x with a 1.x release where the config.toml is
// version 3, which containerd 1.7 refuses and 1.6 reads without its CRI
// settings.
func checkContainerdDownload(s *spec.Spec, c *plan.Cluster) []spec.Entry {
	rt := images.ContainerdFor(c.KubernetesVersion())
	if rt.ConfigVersion() < 3 {
		return nil
	}
	var out []spec.Entry
	for i, d := range c.Binaries.Downloads {
		m := containerdRelease.FindStringSubmatch(path.Base(d.URL))
		if d.Name != osprofile.Containerd || m == nil || m[1] != "1" {
			continue
		}
		out = append(out, spec.NewEntry(s, spec.Error, fmt.Sprintf("ksgen.spec.binaries.downloads[%d].url", i), spec.ErrUnsupported,
			"containerd %s reads no version-3 config.toml, which Kubernetes %s gets (it pairs with containerd %s): download a containerd 2.x, or drop the entry for the pinned %s",
			m[0][len("containerd-"):], c.KubernetesVersion(), rt.Containerd, rt.Containerd))
	}
	return out
}

// containerdRelease matches the version in a containerd release archive's
// name (containerd-2.3.4-linux-amd64.tar.gz, cri-containerd-1.7.22-…).
var containerdRelease = regexp.MustCompile(`containerd-(\d+)\.\d+\.\d+`)

// hostsByOS collects the hosts a finding names, by OS: one entry per OS,
// in a stable order.
type hostsByOS map[string][]string

func (h hostsByOS) add(os, host string)    { h[os] = append(h[os], host) }
func (h hostsByOS) oses() []string         { return slices.Sorted(maps.Keys(h)) }
func (h hostsByOS) hosts(os string) string { return strings.Join(h[os], ", ") }
