package spec

import (
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// The checks in this file cover the spec values ksgen writes into a script,
// an environment file or a one-line config (chrony, hosts.toml, sed
// expressions): each is refused here, with its path and line, unless it has
// the form its consumer expects. Scripts quote them too (templates.ShellQuote);
// this is what makes them mean what the user meant.

var (
	// timezonePattern is an IANA zone name (Asia/Shanghai, Etc/GMT+8, UTC):
	// slash-separated components of letters, digits and _+-, each starting
	// with a letter. It needs no tz database on the build machine.
	timezonePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z][A-Za-z0-9_+-]*)*$`)
	// urlPath is the path of a registry mirror: plain segments.
	urlPath = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*/?$`)
	// repoPath is an image repository path below a registry host
	// (kubesphereio, library/sub): lowercase components as in image names.
	repoPath = regexp.MustCompile(`^[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$`)
	// ifName is a Linux interface name (IFNAMSIZ 16, with the NUL).
	ifName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
	// backendName is a flannel backend type (vxlan, host-gw, wireguard).
	backendName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// system checks spec.system: the timezone and the NTP servers.
func (v *validator) system() {
	sys := v.s.Cluster.Spec.System
	const p = "spec.system"
	if tz := sys.Timezone; tz != "" && (!timezonePattern.MatchString(tz) || len(tz) > 64) {
		v.errorf(p+".timezone", ErrInvalidValue, "timezone %q is not an IANA zone name like Asia/Shanghai or UTC", tz)
	}
	for i, s := range sys.NtpServers {
		if problem := hostProblem(s); problem != "" {
			v.errorf(fmt.Sprintf("%s.ntpServers[%d]", p, i), ErrInvalidValue, "NTP server %q must be a host name or IP address: %s", s, problem)
		}
	}
}

// criSocket checks kubernetes.containerRuntimeEndpoint: kubelet, kubeadm,
// crictl and the bootstrap script all read it.
func (v *validator) criSocket() {
	s := v.s.Cluster.Spec.Kubernetes.ContainerRuntimeEndpoint
	if s == "" {
		return
	}
	p := strings.TrimPrefix(s, "unix://")
	if !safePath.MatchString(p) || path.Clean(p) != p {
		v.errorf("spec.kubernetes.containerRuntimeEndpoint", ErrInvalidValue, "containerRuntimeEndpoint %q must be unix:// and a clean absolute path of letters, digits and ._+@-", s)
	}
}

func (v *validator) registry() {
	reg := v.s.Cluster.Spec.Registry
	const p = "spec.registry"
	if d := reg.ContainerdDataDir; d != "" {
		if !safePath.MatchString(d) || path.Clean(d) != d {
			v.errorf(p+".containerdDataDir", ErrInvalidValue, "containerdDataDir %q must be a clean absolute path of letters, digits and ._+@-", d)
		} else if d != DefaultContainerdRoot {
			v.warnf(p+".containerdDataDir", ErrImagesElsewhere, "containerd keeps its images in %s, but a baked image pre-pulls them into %s: nodes pull every image again from the registry at first boot", d, DefaultContainerdRoot)
		}
	}
	for _, f := range []struct {
		field string
		set   bool
		why   string
	}{
		{"dockerDataDir", reg.DockerDataDir != "", "ksgen runs containerd, not docker"},
		{"registryDataDir", reg.RegistryDataDir != "", "ksgen installs no registry on registry hosts"},
		{"remoteMirrors", reg.RemoteMirrors != nil, "ksgen configures containerd's mirrors from registryMirrors only"},
	} {
		if f.set {
			v.warnf(p+"."+f.field, ErrIgnored, "%s is ignored: %s", f.field, f.why)
		}
	}
	for i, m := range reg.RegistryMirrors {
		mp := fmt.Sprintf("%s.registryMirrors[%d]", p, i)
		if !strings.HasPrefix(m, "https://") && !strings.HasPrefix(m, "http://") {
			v.errorf(mp, ErrInvalidValue, "mirror %q must be an http(s):// URL", m)
			continue
		}
		if problem := urlProblem(m); problem != "" {
			v.errorf(mp, ErrInvalidValue, "mirror %q must be an http(s)://host[:port][/path] URL: %s", m, problem)
		}
	}
	for i, r := range reg.InsecureRegistries {
		if problem := hostPortProblem(r); problem != "" {
			v.errorf(fmt.Sprintf("%s.insecureRegistries[%d]", p, i), ErrInvalidValue, "insecure registry %q must be host[:port]: %s", r, problem)
		}
	}
	for _, host := range slices.Sorted(maps.Keys(reg.Auths)) {
		if problem := hostPortProblem(host); problem != "" {
			v.errorf(p+".auths."+host, ErrInvalidValue, "auths key %q must be a registry's host[:port]: %s", host, problem)
		}
	}
	if pr := reg.PrivateRegistry; pr != "" {
		host, repo, _ := strings.Cut(strings.TrimSuffix(pr, "/"), "/")
		if strings.Contains(pr, "://") || hostPortProblem(host) != "" || (repo != "" && !repoPath.MatchString(repo)) {
			v.errorf(p+".privateRegistry", ErrInvalidValue, "privateRegistry %q must be host[:port][/namespace], without a scheme", pr)
		}
	}
	if ns := reg.NamespaceOverride; ns != "" && !repoPath.MatchString(ns) {
		v.errorf(p+".namespaceOverride", ErrInvalidValue, "namespaceOverride %q must be an image namespace: lowercase letters, digits and ._-", ns)
	}
}

// addons checks what the addons step writes into addons.env and runs: names
// and namespaces become marker files and Kubernetes names, sources go to
// kubectl and helm. Every value is quoted there, so only what has a fixed
// form is checked; sources are one line, and no value holds a NUL, which a
// shell variable cannot.
func (v *validator) addons() {
	for i, a := range v.s.Cluster.Spec.Addons {
		p := fmt.Sprintf("spec.addons[%d]", i)
		if errs := validation.IsDNS1123Subdomain(a.Name); len(errs) > 0 {
			v.errorf(p+".name", ErrInvalidValue, "addon name %q: %s", a.Name, errs[0])
		}
		if a.Namespace != "" {
			if errs := validation.IsDNS1123Label(a.Namespace); len(errs) > 0 {
				v.errorf(p+".namespace", ErrInvalidValue, "addon namespace %q: %s", a.Namespace, errs[0])
			}
		}
		ch := a.Sources.Chart
		if ch.Repo != "" {
			if problem := urlProblem(ch.Repo); problem != "" {
				v.errorf(p+".sources.chart.repo", ErrInvalidValue, "chart repo %q must be an http(s)://host[:port][/path] URL: %s", ch.Repo, problem)
			}
		}
		fields := []struct{ path, val string }{
			{".sources.chart.name", ch.Name}, {".sources.chart.path", ch.Path},
			{".sources.chart.version", ch.Version}, {".sources.chart.valuesFile", ch.ValuesFile},
		}
		for j, y := range a.Sources.Yaml.Path {
			fields = append(fields, struct{ path, val string }{fmt.Sprintf(".sources.yaml.path[%d]", j), y})
		}
		for _, f := range fields {
			if hasControl(f.val) {
				v.errorf(p+f.path, ErrInvalidValue, "%q holds a control character", f.val)
			}
		}
		// A chart value may hold any text but NUL, which no shell variable can.
		for j, s := range ch.Values {
			if strings.ContainsRune(s, 0) {
				v.errorf(fmt.Sprintf("%s.sources.chart.values[%d]", p, j), ErrInvalidValue, "%q holds a NUL character", s)
			}
		}
	}
}

// hostProblem says why s is not a host name or an IP address, or "".
func hostProblem(s string) string {
	if _, err := netip.ParseAddr(s); err == nil {
		return ""
	}
	if errs := validation.IsDNS1123Subdomain(strings.ToLower(s)); len(errs) > 0 {
		return errs[0]
	}
	return ""
}

// hostPortProblem says why s is not host[:port] (an IPv6 address in
// brackets), or "".
func hostPortProblem(s string) string {
	if strings.Contains(s, "/") {
		return "no scheme or path"
	}
	host, port := s, ""
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.HasSuffix(s, "]") {
		host, port = s[:i], s[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return fmt.Sprintf("port %q is not a number from 1 to 65535", port)
		}
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		if a, err := netip.ParseAddr(host[1 : len(host)-1]); err != nil || !a.Is6() || a.Zone() != "" {
			return fmt.Sprintf("%s is not an IPv6 address in brackets", host)
		}
		return ""
	}
	return hostProblem(host)
}

// urlProblem says why s is not an http(s)://host[:port][/path] URL, or "".
func urlProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err.Error()
	case u.Scheme != "http" && u.Scheme != "https":
		return "the scheme is not http or https"
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "":
		return "no user, query or fragment"
	case !urlPath.MatchString(u.EscapedPath()):
		return fmt.Sprintf("path %q: letters, digits and ._~- only", u.EscapedPath())
	case u.Host == "":
		return "no host"
	}
	return hostPortProblem(u.Host)
}

// hasControl reports whether s holds an ASCII control character.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// nodeLocalDNS checks dns.nodelocaldns.externalZones, which become server
// blocks of NodeLocalDNS's Corefile: zone names, name servers as
// host[:port], and rewrite rules on one line without braces.
func (v *validator) nodeLocalDNS() {
	const p = "spec.dns.nodelocaldns.externalZones"
	for i, z := range v.s.Cluster.Spec.DNS.NodeLocalDNS.ExternalZones {
		zp := fmt.Sprintf("%s[%d]", p, i)
		if len(z.Zones) == 0 || len(z.Nameservers) == 0 {
			v.errorf(zp, ErrRequired, "an external zone needs zones and nameservers")
		}
		for j, name := range z.Zones {
			if errs := validation.IsDNS1123Subdomain(strings.TrimSuffix(name, ".")); len(errs) > 0 {
				v.errorf(fmt.Sprintf("%s.zones[%d]", zp, j), ErrInvalidValue, "zone %q: %s", name, errs[0])
			}
		}
		for j, ns := range z.Nameservers {
			if problem := hostPortProblem(ns); problem != "" {
				v.errorf(fmt.Sprintf("%s.nameservers[%d]", zp, j), ErrInvalidValue, "name server %q must be host[:port]: %s", ns, problem)
			}
		}
		for j, r := range z.Rewrite {
			if strings.ContainsAny(r, "{}\n\r#") || strings.TrimSpace(r) == "" {
				v.errorf(fmt.Sprintf("%s.rewrite[%d]", zp, j), ErrInvalidValue, "rewrite %q must be one CoreDNS rewrite rule on one line, without braces or #", r)
			}
		}
	}
}
