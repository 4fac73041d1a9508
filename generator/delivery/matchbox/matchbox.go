package matchbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/output/tree"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
)

// Group is a matchbox group: machines matched by selector boot profile.
type Group struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Profile  string            `json:"profile"`
	Selector map[string]string `json:"selector"`
	Metadata map[string]string `json:"metadata"`
}

// Profile is a matchbox profile: what to network-boot, and the Ignition
// config (ignition_id, a file under ignition/) matchbox serves at /ignition.
type Profile struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Boot       Boot   `json:"boot"`
	IgnitionID string `json:"ignition_id,omitempty"`
	GenericID  string `json:"generic_id,omitempty"`
}

// Boot is a profile's kernel, initrds and kernel arguments.
type Boot struct {
	Kernel string   `json:"kernel"`
	Initrd []string `json:"initrd"`
	Args   []string `json:"args"`
}

// Options say where machines find matchbox and which OS images to boot.
type Options struct {
	// URL is matchbox's HTTP endpoint, e.g. http://matchbox.example:8080.
	URL string
	// FCOSVersion and FlatcarVersion name the PXE images under
	// assets/fedora-coreos/ and assets/flatcar/<version>/.
	FCOSVersion    string
	FlatcarVersion string
	// InstallDev is the disk Fedora CoreOS installs to.
	InstallDev string
}

// Defaults for Options.
const (
	DefaultFCOSVersion    = "42.20250929.3.0"
	DefaultFlatcarVersion = "4230.2.3"
	DefaultInstallDev     = "/dev/sda"
)

// Index is the export's index.json: which hosts got a group, and why the
// others did not.
type Index struct {
	Matchbox string            `json:"matchbox"`
	Hosts    []string          `json:"hosts"`
	Skipped  map[string]string `json:"skipped,omitempty"`
}

// Export turns a rendered tree's index and Ignition configs (read by
// ignition(host), nil when absent) into matchbox's data directory. A host
// it cannot boot over PXE (no MAC, no Ignition OS, no config.ign) gets no
// group and a warning.
func Export(idx *generator.Index, ignition func(host string) ([]byte, error), opts Options) ([]tree.File, []string, error) {
	if opts.URL == "" {
		return nil, nil, fmt.Errorf("matchbox: no server URL (--matchbox-url: matchbox's HTTP endpoint as the machines reach it, e.g. http://10.0.0.2:8080)")
	}
	opts.URL = strings.TrimSuffix(opts.URL, "/")
	if opts.FCOSVersion == "" {
		opts.FCOSVersion = DefaultFCOSVersion
	}
	if opts.FlatcarVersion == "" {
		opts.FlatcarVersion = DefaultFlatcarVersion
	}
	if opts.InstallDev == "" {
		opts.InstallDev = DefaultInstallDev
	}
	var files []tree.File
	out := Index{Matchbox: opts.URL, Skipped: map[string]string{}}
	skip := func(host, why string) { out.Skipped[host] = why }
	for _, n := range idx.Nodes {
		if n.MAC == "" {
			skip(n.Name, "no MAC address in the ksgen document (spec.hosts.NAME.mac)")
			continue
		}
		mac, err := net.ParseMAC(n.MAC)
		if err != nil {
			return nil, nil, fmt.Errorf("host %s: mac %q: %w", n.Name, n.MAC, err)
		}
		if !osprofile.Of(n.OS).PXE {
			skip(n.Name, "OS "+n.OS+" has no PXE boot (matchbox boots Fedora CoreOS and Flatcar)")
			continue
		}
		ign, err := ignition(n.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("host %s: %w", n.Name, err)
		}
		if ign == nil {
			skip(n.Name, "no config.ign in the rendered tree (rendered without --format ignition?)")
			continue
		}
		role := "node"
		if len(n.Roles) > 0 {
			role = n.Roles[0]
		}
		// A profile per host: ignition_id is a profile's, and every host's
		// Ignition config is its own.
		p := profile(n.OS, opts)
		p.ID = n.OS + "-" + role + "-" + n.Name
		p.Name = fmt.Sprintf("%s %s %s", osName(n.OS), role, n.Name)
		p.IgnitionID = n.Name + ".ign"
		g := Group{
			ID:       n.Name,
			Name:     n.Name + " (" + strings.Join(n.Roles, ", ") + ")",
			Profile:  p.ID,
			Selector: map[string]string{"mac": mac.String()},
			Metadata: map[string]string{"node": n.Name, "os": n.OS},
		}
		gj, err := marshal(g)
		if err != nil {
			return nil, nil, err
		}
		pj, err := marshal(p)
		if err != nil {
			return nil, nil, err
		}
		files = append(files,
			tree.File{Path: "groups/" + n.Name + ".json", Mode: fileset.ModePublic, Content: gj},
			tree.File{Path: "profiles/" + p.ID + ".json", Mode: fileset.ModePublic, Content: pj},
			tree.File{Path: "ignition/" + p.IgnitionID, Mode: fileset.ModeSecret, Content: ign},
			tree.File{Path: "ipxe/" + n.Name + ".ipxe", Mode: fileset.ModePublic, Content: ipxe(n.Name, n.OS, opts)},
		)
		out.Hosts = append(out.Hosts, n.Name)
	}
	warnings := skipped(out.Skipped)
	if len(out.Hosts) == 0 {
		// An export that boots nothing is a mistake, not a success.
		return nil, nil, fmt.Errorf("matchbox: no host can boot over PXE:\n%s", strings.Join(warnings, "\n"))
	}
	slices.Sort(out.Hosts)
	ij, err := marshal(out)
	if err != nil {
		return nil, nil, err
	}
	files = append(files, tree.File{Path: tree.IndexFile, Mode: fileset.ModePublic, Content: ij})
	return files, warnings, nil
}

// skipped says why hosts got no group, one line per reason: a cluster
// without MACs (or of cloud-init hosts) is one line with a count, not one
// line per host.
func skipped(why map[string]string) []string {
	hosts := map[string][]string{}
	var reasons []string // in the order of their first host
	for _, host := range slices.Sorted(maps.Keys(why)) {
		if hosts[why[host]] == nil {
			reasons = append(reasons, why[host])
		}
		hosts[why[host]] = append(hosts[why[host]], host)
	}
	var out []string
	for _, reason := range reasons {
		if h := hosts[reason]; len(h) == 1 {
			out = append(out, fmt.Sprintf("host %s gets no matchbox group: %s", h[0], reason))
		} else {
			out = append(out, fmt.Sprintf("%d hosts get no matchbox group (%s): %s", len(h), strings.Join(h, ", "), reason))
		}
	}
	return out
}

func marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

func osName(os string) string { return osprofile.Of(os).Display }

// profile is the PXE boot for an OS, fetching its Ignition config from
// matchbox by MAC (iPXE's ${mac:hexhyp}). Fedora CoreOS boots live and
// installs to InstallDev with the config (coreos.inst.*); Flatcar runs
// from RAM with the config (ignition.config.url).
func profile(os string, opts Options) Profile {
	ignURL := opts.URL + "/ignition?mac=${mac:hexhyp}"
	if os == osprofile.Flatcar {
		dir := "/assets/flatcar/" + opts.FlatcarVersion + "/"
		return Profile{Boot: Boot{
			Kernel: dir + "flatcar_production_pxe.vmlinuz",
			Initrd: []string{dir + "flatcar_production_pxe_image.cpio.gz"},
			Args: []string{
				"initrd=flatcar_production_pxe_image.cpio.gz",
				"flatcar.first_boot=yes",
				"ignition.config.url=" + ignURL,
				"console=tty0", "console=ttyS0",
			},
		}}
	}
	base := "/assets/fedora-coreos/fedora-coreos-" + opts.FCOSVersion + "-live-"
	return Profile{Boot: Boot{
		Kernel: base + "kernel-x86_64",
		Initrd: []string{"--name main " + base + "initramfs.x86_64.img"},
		Args: []string{
			"initrd=main",
			"coreos.live.rootfs_url=" + opts.URL + base + "rootfs.x86_64.img",
			"ignition.firstboot",
			"ignition.platform.id=metal",
			"coreos.inst.install_dev=" + opts.InstallDev,
			"coreos.inst.ignition_url=" + ignURL,
			"console=tty0", "console=ttyS0",
		},
	}}
}

// ipxe is a stand-alone iPXE script for one host, for setups without
// matchbox: any HTTP server at Options.URL serving this export's ignition/
// directory and the OS images under assets/.
func ipxe(host, os string, opts Options) []byte {
	p := profile(os, opts)
	ignURL := opts.URL + "/ignition/" + host + ".ign"
	var args []string
	for _, a := range p.Boot.Args {
		if k, _, _ := strings.Cut(a, "="); k == "coreos.inst.ignition_url" || k == "ignition.config.url" {
			a = k + "=" + ignURL
		}
		args = append(args, a)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!ipxe\n# ksgen: %s (%s) without matchbox\n", host, osName(os))
	fmt.Fprintf(&b, "kernel %s%s %s\n", opts.URL, p.Boot.Kernel, strings.Join(args, " "))
	for _, i := range p.Boot.Initrd {
		if name, path, ok := strings.Cut(strings.TrimPrefix(i, "--name "), " "); ok && strings.HasPrefix(i, "--name ") {
			fmt.Fprintf(&b, "initrd --name %s %s%s\n", name, opts.URL, path)
		} else {
			fmt.Fprintf(&b, "initrd %s%s\n", opts.URL, i)
		}
	}
	b.WriteString("boot\n")
	return []byte(b.String())
}
