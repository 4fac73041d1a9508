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

// Default is the OS of a node the ksgen document says nothing about.
const Default = FCOS

// Profile is what ksgen needs to know about one OS.
type Profile struct {
	Name string
	// Display is the OS's name for people (PXE profiles, messages).
	Display string
	// Ignition is true for OSes that boot an Ignition config; the others
	// boot cloud-init user-data.
	Ignition bool
	// IgnitionVariant is the Butane variant of the node's config.ign.
	IgnitionVariant string
	// BinDir holds kubeadm, kubelet and kubectl; EtcdBinDir etcd and etcdctl
	// on a kubekey-type etcd host. Flatcar's /usr is read-only: /opt/bin, as
	// Flatcar documents.
	BinDir, EtcdBinDir string
	// Chrony is chrony's config file; "" means the OS syncs time with
	// systemd-timesyncd.
	Chrony string
	// AdminGroup is the group of users who may use sudo.
	AdminGroup string
	// ContainerdEnv is true when the OS's containerd reads its own config
	// unless CONTAINERD_CONFIG points it at /etc/containerd/config.toml.
	ContainerdEnv bool
}

var profiles = map[string]Profile{
	FCOS: {Name: FCOS, Display: "Fedora CoreOS", Ignition: true, IgnitionVariant: "fcos",
		BinDir: "/usr/local/bin", EtcdBinDir: "/usr/local/bin", Chrony: "/etc/chrony.conf", AdminGroup: "wheel"},
	Flatcar: {Name: Flatcar, Display: "Flatcar", Ignition: true, IgnitionVariant: "flatcar",
		BinDir: "/opt/bin", EtcdBinDir: "/opt/bin", AdminGroup: "wheel", ContainerdEnv: true},
	Ubuntu: {Name: Ubuntu, Display: "Ubuntu", IgnitionVariant: "fcos",
		BinDir: "/usr/bin", EtcdBinDir: "/usr/local/bin", Chrony: "/etc/chrony/chrony.conf", AdminGroup: "sudo"},
	Debian: {Name: Debian, Display: "Debian", IgnitionVariant: "fcos",
		BinDir: "/usr/bin", EtcdBinDir: "/usr/local/bin", Chrony: "/etc/chrony/chrony.conf", AdminGroup: "sudo"},
	RHEL: {Name: RHEL, Display: "RHEL-family", IgnitionVariant: "fcos",
		BinDir: "/usr/bin", EtcdBinDir: "/usr/local/bin", Chrony: "/etc/chrony.conf", AdminGroup: "wheel"},
}

// Names lists every OS, in the order the ksgen document's docs give them.
var Names = []string{FCOS, Flatcar, Ubuntu, Debian, RHEL}

// Of is the profile of an OS; an unknown name (which validation refuses)
// gets the RHEL-family's layout, the most common one.
func Of(name string) Profile {
	if p, ok := profiles[name]; ok {
		return p
	}
	p := profiles[RHEL]
	p.Name, p.Display = name, name
	return p
}

// Known reports whether name is an OS ksgen renders for.
func Known(name string) bool { return slices.Contains(Names, name) }
