package binaries

import (
	"fmt"
	"path"
	"strings"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
	"github.com/ksgen/ksgen/images"
)

// Where the downloads land and what checks and unpacks them.
const (
	DownloadDir = "/var/lib/ksgen/downloads"
	SumsFile    = "/opt/ksgen/binaries.sha256"
	Script      = "/opt/ksgen/install-binaries"
	Unit        = "ksgen-binaries.service"
	// doneFile marks the archives unpacked: later boots skip the unit.
	doneFile = "/var/lib/ksgen/binaries.done"
)

// Source values of the ksgen document's binaries.
const (
	SourceImage    = "image"
	SourceDownload = "download"
)

// dependents are the units that need the downloaded binaries: they
// Require ksgen-binaries.service (names as the containerd, kubelet, etcd and
// firstboot renderers give them).
var dependents = []string{"containerd.service", "etcd.service", "ksgen-bootstrap.service", "kubelet.service"}

// MissingPin is a binary a node would download that has no sha256.
type MissingPin struct {
	Binary images.Binary
	Arch   string
}

// Needed lists the binaries node n downloads, in images.Binaries' order,
// with their URLs and sums resolved: a named binaries.downloads entry wins,
// then the mirror, then the upstream URL, with the pin table's sum. Binaries
// without a sum are returned in missing as well.
func Needed(c *plan.Cluster, n *plan.Node) (out []images.Binary, missing []MissingPin) {
	cfg := c.Binaries
	if cfg.Source != SourceDownload {
		return nil, nil
	}
	arch := n.Arch
	ic := images.Cluster{KubernetesVersion: c.KubernetesVersion(), KubeKeyEtcd: c.Etcd.Type == plan.EtcdKubeKey}
	for _, b := range images.Binaries(ic, n.OS, arch) {
		// Even a binary the stock image ships is downloaded: containerd
		// and runc must pair with the Kubernetes version (the CRI API the
		// kubelet speaks, the config.toml version ksgen writes), and a
		// stock image's version is not known.
		if !needs(c, n, b.Name) {
			continue
		}
		named, explicit := -1, false
		for i, d := range cfg.Downloads {
			switch {
			case d.Name == b.Name:
				named = i
			case d.Name == "" && path.Base(d.Path) == b.Name:
				// An unnamed download of the binary itself (its path
				// ends in the name, like /opt/etcd/etcd) supplies it.
				explicit = true
			}
		}
		switch {
		case named >= 0:
			d := cfg.Downloads[named]
			b.URL, b.SHA256 = d.URL, d.SHA256
			if d.Path != "" {
				b.Dest = d.Path
			}
		case explicit:
			continue
		case cfg.Mirror != "":
			b.URL = images.Mirrored(cfg.Mirror, b.URL)
		}
		if b.SHA256 == "" {
			missing = append(missing, MissingPin{Binary: b, Arch: arch})
		}
		out = append(out, b)
	}
	return out, missing
}

// PinnedRuntime reports whether node n runs the pinned containerd (and
// runc) from its release archive, under its OS's RuntimePrefix: always
// with binaries.source: download, and on OSes whose stock image has none
// (from the baked image, as install-binaries.sh lays it out).
func PinnedRuntime(c *plan.Cluster, n *plan.Node) bool {
	return c.Binaries.Source == SourceDownload || !osprofile.Of(n.OS).Ships(osprofile.Containerd)
}

// needs reports whether node n runs what the binary is for.
func needs(c *plan.Cluster, n *plan.Node, name string) bool {
	switch name {
	case osprofile.Etcd:
		return n.Etcd && c.Etcd.Type == plan.EtcdKubeKey
	case "helm": // the addons run on the init node
		return n.Action == plan.Init
	}
	return n.Kubelet
}

// Render adds the node's downloads, the unit that checks and unpacks them,
// and the extra files of binaries.downloads (on nodes that run a kubelet).
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	cfg := c.Binaries
	if cfg.Source != SourceDownload {
		return nil
	}
	bins, missing := Needed(c, n)
	if len(missing) > 0 {
		// Validation refuses this first (generator.Validate); a caller that
		// skipped it still gets no unchecked download.
		return fmt.Errorf("binaries: %s %s has no sha256 pin", missing[0].Binary.Name, missing[0].Binary.Version)
	}
	if n.Kubelet {
		for _, d := range cfg.Downloads {
			if d.Name == "" {
				p.AddFile(fileset.File{Path: d.Path, Mode: fileset.ModeExec, Source: d.URL, SHA256: d.SHA256})
			}
		}
	}
	if len(bins) == 0 {
		return nil
	}
	var sums, unpack strings.Builder
	for _, b := range bins {
		dest := b.Dest
		if b.Archive() {
			dest = DownloadDir + "/" + path.Base(b.URL)
			fmt.Fprintf(&unpack, "mkdir -p %s\ntar -C %s --strip-components=%d --no-same-owner -xzf %s\n", b.Dest, b.Dest, b.Strip, dest)
		}
		mode := fileset.ModeExec
		if b.Archive() {
			mode = fileset.ModePublic
		}
		p.AddFile(fileset.File{Path: dest, Mode: mode, Source: b.URL, SHA256: b.SHA256})
		fmt.Fprintf(&sums, "%s  %s\n", b.SHA256, dest)
	}
	p.AddFile(fileset.File{Path: SumsFile, Mode: fileset.ModePublic, Content: []byte(sums.String())})
	p.AddFile(fileset.File{Path: Script, Mode: fileset.ModeExec, Content: []byte(
		"#!/bin/sh\n# ksgen: check every download against its pinned sha256 again, then unpack the archives.\nset -eu\n" +
			"sha256sum -c --quiet " + SumsFile + "\n" + unpack.String() +
			"mkdir -p " + path.Dir(doneFile) + "\ntouch " + doneFile + "\n")})
	p.AddUnit(fileset.Unit{Name: Unit, Enabled: true, Contents: "[Unit]\nDescription=ksgen: check and unpack the downloaded binaries\n" +
		"Before=" + strings.Join(dependents, " ") + "\nConditionPathExists=!" + doneFile + "\n\n" +
		"[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=" + Script + "\n\n" +
		"[Install]\nWantedBy=multi-user.target\n"})
	for _, u := range dependents {
		if u == "etcd.service" && !(n.Etcd && c.Etcd.Type == plan.EtcdKubeKey) || u != "etcd.service" && !n.Kubelet {
			continue
		}
		p.AddUnit(fileset.Unit{Name: u, DropIns: []fileset.DropIn{{Name: "05-ksgen-binaries.conf",
			Contents: "[Unit]\nRequires=" + Unit + "\nAfter=" + Unit + "\n"}}})
	}
	return nil
}
