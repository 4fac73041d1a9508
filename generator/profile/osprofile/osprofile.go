package osprofile

import "slices"

// Names of the OSes, as the ksgen document's os field spells them.
const (
	FCOS    = "fcos"
	Flatcar = "flatcar"
	Ubuntu  = "ubuntu"
	Debian  = "debian"
	RHEL    = "rhel"
)

// LoginUser is the user that gets the node's SSH keys on every OS.
const LoginUser = "core"

// Default is the OS of a node the ksgen document says nothing about:
// Ubuntu, the OS most KubeKey hosts run, whose stock cloud images boot
// cloud-init user-data and for which images/packer bakes the image.
const Default = Ubuntu

// Payload formats: what an OS's first boot reads.
const (
	FormatIgnition  = "ignition"
	FormatCloudInit = "cloud-init"
)

// Binaries a node may need, by the names of the pin table (images).
const (
	Kubeadm    = "kubeadm"
	Kubelet    = "kubelet"
	Kubectl    = "kubectl"
	Containerd = "containerd"
	Runc       = "runc"
	CNIPlugins = "cni-plugins"
	Crictl     = "crictl"
	Etcd       = "etcd"
)

// Network configuration daemons: how the stock image configures a static
// address from a file ksgen writes. Cloud-init OSes take theirs from the
// datasource's network-config instead (NetworkDatasource).
const (
	NetworkManager    = "NetworkManager"
	NetworkNetworkd   = "systemd-networkd"
	NetworkDatasource = "cloud-init datasource"
)

// Time daemons.
const (
	Chronyd   = "chronyd"
	Timesyncd = "systemd-timesyncd"
)

// Profile is what ksgen needs to know about one OS.
type Profile struct {
	Name string
	// Display is the OS's name for people (PXE profiles, messages).
	Display string
	// Format is the payload the OS boots: FormatIgnition or FormatCloudInit.
	Format string
	// IgnitionVariant is the Butane variant of an Ignition OS's config.ign.
	IgnitionVariant string
	// BinDir holds kubeadm, kubelet, kubectl and crictl; EtcdBinDir etcd
	// and etcdctl on a kubekey-type etcd host. Flatcar's /usr is read-only:
	// /opt/bin, as Flatcar documents.
	BinDir, EtcdBinDir string
	// TimeDaemon syncs the clock on the stock image; Chrony is chronyd's
	// config file when TimeDaemon is Chronyd.
	TimeDaemon, Chrony string
	// AdminGroup is the group of users who may use sudo.
	AdminGroup string
	// Network is what configures a static address on the stock image.
	Network string
	// RuntimePrefix is where the pinned containerd release archive
	// unpacks (its bin/ beneath) and RuncPath where the pinned runc goes,
	// when ksgen installs them; Flatcar's /usr is read-only: /opt, as
	// Flatcar's guide to a custom containerd does.
	RuntimePrefix, RuncPath string
	// ContainerdEnv is true when the OS's containerd reads its own config
	// unless CONTAINERD_CONFIG points it at /etc/containerd/config.toml.
	ContainerdEnv bool
	// PXE is true when ksgen export matchbox can boot the OS over the
	// network (a live kernel and initramfs that read Ignition).
	PXE bool
	// Bake is true when images/packer bakes the OS's image: its source
	// cloud image boots the recipe's cloud-init seed, and /usr is writable.
	Bake bool
	// Stock lists the binaries the OS's stock image ships, in its own
	// paths: a node with binaries from the image runs them, and downloads
	// replace them with the pinned ones.
	Stock []string
}

// Ignition reports whether the OS boots an Ignition config.
func (p Profile) Ignition() bool { return p.Format == FormatIgnition }

// Ships reports whether the stock image has the binary.
func (p Profile) Ships(binary string) bool { return slices.Contains(p.Stock, binary) }

// Stock images, as their vendors publish them: Fedora CoreOS and Flatcar
// ship containerd and runc (not crictl, and CNI plugins not in /opt/cni/bin:
// Flatcar's kubeadm guide downloads both), and binaries.source: download
// replaces their containerd and runc with the pinned pair; Ubuntu, Debian
// and RHEL-family cloud images ship no container runtime. Ubuntu's and Debian's cloud
// images sync time with systemd-timesyncd, RHEL-family and Fedora CoreOS
// with chronyd.
var profiles = map[string]Profile{
	FCOS: {Name: FCOS, Display: "Fedora CoreOS", Format: FormatIgnition, IgnitionVariant: "fcos",
		BinDir: "/usr/local/bin", EtcdBinDir: "/usr/local/bin", TimeDaemon: Chronyd, Chrony: "/etc/chrony.conf",
		AdminGroup: "wheel", Network: NetworkManager, RuntimePrefix: "/usr/local", RuncPath: "/usr/local/sbin/runc", PXE: true, Stock: []string{Containerd, Runc}},
	Flatcar: {Name: Flatcar, Display: "Flatcar", Format: FormatIgnition, IgnitionVariant: "flatcar",
		BinDir: "/opt/bin", EtcdBinDir: "/opt/bin", TimeDaemon: Timesyncd,
		AdminGroup: "wheel", Network: NetworkNetworkd, RuntimePrefix: "/opt", RuncPath: "/opt/bin/runc", ContainerdEnv: true, PXE: true, Stock: []string{Containerd, Runc}},
	Ubuntu: {Name: Ubuntu, Display: "Ubuntu", Format: FormatCloudInit,
		BinDir: "/usr/bin", EtcdBinDir: "/usr/local/bin", TimeDaemon: Timesyncd, AdminGroup: "sudo", Network: NetworkDatasource,
		RuntimePrefix: "/usr/local", RuncPath: "/usr/local/sbin/runc", Bake: true},
	Debian: {Name: Debian, Display: "Debian", Format: FormatCloudInit,
		BinDir: "/usr/bin", EtcdBinDir: "/usr/local/bin", TimeDaemon: Timesyncd, AdminGroup: "sudo", Network: NetworkDatasource,
		RuntimePrefix: "/usr/local", RuncPath: "/usr/local/sbin/runc", Bake: true},
	RHEL: {Name: RHEL, Display: "RHEL-family", Format: FormatCloudInit,
		BinDir: "/usr/bin", EtcdBinDir: "/usr/local/bin", TimeDaemon: Chronyd, Chrony: "/etc/chrony.conf", AdminGroup: "wheel", Network: NetworkDatasource,
		RuntimePrefix: "/usr/local", RuncPath: "/usr/local/sbin/runc", Bake: true},
}

// Names lists every OS, in the order the ksgen document's docs give them.
var Names = []string{FCOS, Flatcar, Ubuntu, Debian, RHEL}

// Formats lists every payload format.
var Formats = []string{FormatIgnition, FormatCloudInit}

// Of is the profile of an OS; an unknown name (which validation refuses)
// gets the default OS's layout.
func Of(name string) Profile {
	if p, ok := profiles[name]; ok {
		return p
	}
	p := profiles[Default]
	p.Name, p.Display = name, name
	return p
}

// Baked lists the OSes images/packer bakes.
func Baked() []string {
	var out []string
	for _, name := range Names {
		if profiles[name].Bake {
			out = append(out, name)
		}
	}
	return out
}

// Known reports whether name is an OS ksgen renders for.
func Known(name string) bool { return slices.Contains(Names, name) }
