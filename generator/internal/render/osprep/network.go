package osprep

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
)

// NetworkdFile and NMKeyfile are where a node's static address goes on
// Flatcar (systemd-networkd, which Flatcar documents for static addresses
// through Ignition) and Fedora CoreOS (a NetworkManager keyfile, as its
// documentation does).
const (
	NetworkdFile = "/etc/systemd/network/00-ksgen.network"
	NMKeyfile    = "/etc/NetworkManager/system-connections/ksgen.nmconnection"
)

// network writes the node's static address (ksgen's network setting) in
// the form its OS's network daemon reads. Cloud-init OSes get none: cloud-init
// applies network config from its datasource before it reads user-data, and
// validation says so. The interface is matched by name, else by MAC
// (validation requires one of them).
func network(n *plan.Node, p *fileset.Set) {
	sn := n.Settings.Network
	if sn == nil {
		return
	}
	iface, mac := n.Settings.Interface, strings.ToLower(n.Settings.MAC)
	switch osprofile.Of(n.OS).Network {
	case osprofile.NetworkNetworkd:
		var b strings.Builder
		b.WriteString("# ksgen: the node's static address\n[Match]\n")
		if iface != "" {
			fmt.Fprintf(&b, "Name=%s\n", iface)
		} else {
			fmt.Fprintf(&b, "MACAddress=%s\n", mac)
		}
		b.WriteString("\n[Network]\n")
		for _, a := range sn.Addresses {
			fmt.Fprintf(&b, "Address=%s\n", a)
		}
		if sn.Gateway != "" {
			fmt.Fprintf(&b, "Gateway=%s\n", sn.Gateway)
		}
		for _, d := range sn.Nameservers {
			fmt.Fprintf(&b, "DNS=%s\n", d)
		}
		p.AddFile(public(NetworkdFile, b.String()))
	case osprofile.NetworkManager:
		var v4, v6 []string
		for _, a := range sn.Addresses {
			if pf, err := netip.ParsePrefix(a); err == nil && pf.Addr().Is4() {
				v4 = append(v4, a)
			} else {
				v6 = append(v6, a)
			}
		}
		var b strings.Builder
		b.WriteString("# ksgen: the node's static address\n[connection]\nid=ksgen\ntype=ethernet\n")
		if iface != "" {
			fmt.Fprintf(&b, "interface-name=%s\n", iface)
		} else {
			fmt.Fprintf(&b, "\n[ethernet]\nmac-address=%s\n", mac)
		}
		gw, _ := netip.ParseAddr(sn.Gateway)
		family := func(name string, addrs []string, gwOK bool) {
			fmt.Fprintf(&b, "\n[%s]\n", name)
			if len(addrs) == 0 {
				b.WriteString("method=" + map[string]string{"ipv4": "disabled", "ipv6": "auto"}[name] + "\n")
				return
			}
			b.WriteString("method=manual\n")
			for i, a := range addrs {
				fmt.Fprintf(&b, "address%d=%s\n", i+1, a)
			}
			if gwOK {
				fmt.Fprintf(&b, "gateway=%s\n", sn.Gateway)
			}
			var dns []string
			for _, d := range sn.Nameservers {
				if a, err := netip.ParseAddr(d); err == nil && a.Is4() == (name == "ipv4") {
					dns = append(dns, d)
				}
			}
			if len(dns) > 0 {
				fmt.Fprintf(&b, "dns=%s;\n", strings.Join(dns, ";"))
			}
		}
		family("ipv4", v4, gw.IsValid() && gw.Is4())
		family("ipv6", v6, gw.IsValid() && gw.Is6())
		// NetworkManager ignores a keyfile that others can read.
		p.AddFile(fileset.File{Path: NMKeyfile, Mode: fileset.ModeSecret, Content: []byte(b.String())})
	}
}
