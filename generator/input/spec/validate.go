package spec

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/ksgen/ksgen/generator/profile/clouds"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
	"github.com/ksgen/ksgen/images"
)

// Role names. "master" is KubeKey's old name for control-plane; ksgen also
// knows "loadbalancer" hosts (keepalived + HAProxy) from its own document.
const (
	RoleEtcd         = "etcd"
	RoleControlPlane = "control-plane"
	RoleMaster       = "master"
	RoleWorker       = "worker"
	RoleRegistry     = "registry"
	RoleLoadBalancer = "loadbalancer"
)

// RoleNames are the role groups a spec may name, in roleGroups and in the
// ksgen document's roles.
var RoleNames = []string{RoleEtcd, RoleControlPlane, RoleMaster, RoleWorker, RoleRegistry, RoleLoadBalancer}

var (
	knownPlugins  = []string{"calico", "flannel", "cilium", "none"}
	hostRange     = regexp.MustCompile(`^(.*)\[(\d+):(\d+)\](.*)$`)
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// validator carries the spec and report through the checks.
type validator struct {
	s *Spec
	r *Report
	// unknownIn marks the roles whose groups name hosts that spec.hosts
	// lacks: an empty role there is that finding's echo, not a second one.
	unknownIn map[string]bool
	// noHosts is set when spec.hosts is empty but the file names hosts:
	// that is the one finding about them.
	noHosts bool
}

// NearestLine returns the line of path, or of its nearest ancestor in the file.
func (s *Spec) NearestLine(path string) int {
	for p := path; p != ""; {
		if l, ok := s.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func (v *validator) errorf(path string, cause error, format string, args ...any) {
	v.r.add(Error, path, v.s.NearestLine(path), fail(cause, format, args...))
}

func (v *validator) warnf(path string, cause error, format string, args ...any) {
	v.r.add(Warning, path, v.s.NearestLine(path), fail(cause, format, args...))
}

func (s *Spec) validate(r *Report) {
	v := &validator{s: s, r: r, unknownIn: map[string]bool{}}
	addrs := v.hosts()
	v.roles()
	v.endpoint()
	v.etcd()
	v.kubernetes()
	v.network(addrs)
	v.registry()
	v.nodeLocalDNS()
	v.system()
	v.addons()
	v.config()
	v.kubeadmPatches()
	v.kubesphere()
	v.storage()
	v.kubesphereComponents()
}

// hosts checks names and addresses and returns every internal address by host.
func (v *validator) hosts() map[string][]netip.Addr {
	hosts := v.s.Cluster.Spec.Hosts
	names := map[string]string{}
	addrOwner := map[netip.Addr]string{}
	out := map[string][]netip.Addr{}
	var passwords []string // hosts with an SSH password, and the first one's path
	var first string
	for i, h := range hosts {
		p := fmt.Sprintf("spec.hosts[%d]", i)
		if h.Name == "" {
			v.errorf(p+".name", ErrRequired, "host has no name")
			continue
		}
		if errs := validation.IsDNS1123Subdomain(h.Name); len(errs) > 0 {
			v.errorf(p+".name", ErrInvalidValue, "host name %q is not a valid node name: %s", h.Name, errs[0])
		}
		if first, dup := names[h.Name]; dup {
			v.errorf(p+".name", ErrDuplicateHost, "host %q is already defined at %s", h.Name, first)
		}
		names[h.Name] = p
		if h.InternalAddress == "" {
			v.errorf(p+".internalAddress", ErrRequired, "host %q has no address or internalAddress", h.Name)
			continue
		}
		if _, err := netip.ParseAddr(h.Address); err != nil {
			v.errorf(p+".address", ErrInvalidIP, "address %q of host %q is not an IP address", h.Address, h.Name)
		}
		parts := strings.Split(h.InternalAddress, ",")
		if len(parts) > 2 {
			v.errorf(p+".internalAddress", ErrInvalidIP, "internalAddress %q: at most one IPv4 and one IPv6 address, comma-separated", h.InternalAddress)
			continue
		}
		for j, part := range parts {
			a, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil && len(parts) == 1 {
				v.errorf(p+".internalAddress", ErrInvalidIP, "internalAddress %q of host %q is not an IP address", h.InternalAddress, h.Name)
				continue
			}
			if err != nil {
				v.errorf(p+".internalAddress", ErrInvalidIP, "internalAddress %q of host %q: %q is not an IP address", h.InternalAddress, h.Name, part)
				continue
			}
			if j == 1 && (!a.Is6() || len(out[h.Name]) == 0 || out[h.Name][0].Is6()) {
				v.errorf(p+".internalAddress", ErrInvalidIP, "internalAddress %q: the second address must be IPv6 after an IPv4 one", h.InternalAddress)
			}
			if owner, dup := addrOwner[a]; dup {
				v.errorf(p+".internalAddress", ErrDuplicateAddress, "address %s of host %q is also the address of host %q", a, h.Name, owner)
			}
			addrOwner[a] = h.Name
			out[h.Name] = append(out[h.Name], a)
		}
		for _, k := range slices.Sorted(maps.Keys(h.Labels)) {
			val := h.Labels[k]
			lp := p + ".labels." + k
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				v.errorf(lp, ErrInvalidValue, "label key %q: %s", k, errs[0])
			}
			if errs := validation.IsValidLabelValue(val); len(errs) > 0 {
				v.errorf(lp, ErrInvalidValue, "label %q value %q: %s", k, val, errs[0])
			}
		}
		if h.Password != "" {
			passwords = append(passwords, h.Name)
			if first == "" {
				first = p + ".password"
			}
		}
	}
	// One warning for them all, at the first: kk create config writes a
	// password on every host, and six identical lines hide the others.
	switch len(passwords) {
	case 0:
	case 1:
		v.warnf(first, ErrSSHPassword, "host %q has an SSH password; ksgen never uses it and it appears in no output", passwords[0])
	default:
		v.warnf(first, ErrSSHPassword, "%d hosts have SSH passwords (%s); ksgen never uses them and they appear in no output", len(passwords), strings.Join(passwords, ", "))
	}
	return out
}

// roles expands roleGroups (with node[2:10] ranges) into s.Roles.
func (v *validator) roles() {
	known := map[string]bool{}
	for _, h := range v.s.Cluster.Spec.Hosts {
		known[h.Name] = true
	}
	v.s.Roles = map[string][]string{}
	if len(known) == 0 && v.namesHosts() {
		return
	}
	// inRole[target][name]: name is in v.s.Roles[target] (a lookup, as
	// a fleet's range names thousands of hosts).
	inRole := map[string]map[string]bool{}
	for _, role := range slices.Sorted(maps.Keys(v.s.Cluster.Spec.RoleGroups)) {
		rp := "spec.roleGroups." + role
		if !slices.Contains(RoleNames, role) {
			v.errorf(rp, ErrUnknownField, "unknown role group %q (known: %s)", role, strings.Join(RoleNames, ", "))
			continue
		}
		target := role
		if role == RoleMaster {
			target = RoleControlPlane
		}
		for i, entry := range v.s.Cluster.Spec.RoleGroups[role] {
			p := fmt.Sprintf("%s[%d]", rp, i)
			names, err := expandRange(entry)
			if err != nil {
				v.errorf(p, ErrBadRange, "%v", err)
				continue
			}
			// One finding per entry, however many hosts a range names.
			var missing []string
			for _, name := range names {
				if !known[name] {
					missing = append(missing, name)
					continue
				}
				if inRole[target][name] {
					if role != RoleMaster && !slices.Contains(v.s.Cluster.Spec.RoleGroups[RoleMaster], name) {
						v.errorf(p, ErrDuplicateHost, "host %q is listed twice in roleGroups.%s", name, role)
					}
					continue
				}
				if inRole[target] == nil {
					inRole[target] = map[string]bool{}
				}
				inRole[target][name] = true
				v.s.Roles[target] = append(v.s.Roles[target], name)
			}
			if len(missing) > 0 {
				v.unknownIn[target] = true
			}
			switch {
			case len(missing) == 0:
			case missing[0] == entry:
				v.errorf(p, ErrUnknownHost, "host %q is not in spec.hosts", entry)
			case len(missing) == 1:
				v.errorf(p, ErrUnknownHost, "host %q (from range %q) is not in spec.hosts", missing[0], entry)
			default:
				list := strings.Join(missing[:min(3, len(missing))], ", ")
				if len(missing) > 3 {
					list += ", …"
				}
				v.errorf(p, ErrUnknownHost, "range %q names %d hosts that are not in spec.hosts (%s)", entry, len(missing), list)
			}
		}
	}
	// A control-plane group of unknown hosts is reported above, host by host.
	if len(v.s.Roles[RoleControlPlane]) == 0 && !v.unknownIn[RoleControlPlane] {
		v.errorf("spec.roleGroups", ErrNoControlPlane, "roleGroups has no control-plane (or master) host")
	}
}

// namesHosts reports the one cause of a cascade: spec.hosts is empty, yet
// roleGroups (or the ksgen document's hosts) name hosts. Every "not in
// spec.hosts" and "no control-plane host" would only echo it, so it is the
// one finding.
func (v *validator) namesHosts() bool {
	var names, from []string
	add := func(name string) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	groups := v.s.Cluster.Spec.RoleGroups
	for _, role := range slices.Sorted(maps.Keys(groups)) {
		for _, entry := range groups[role] {
			expanded, err := expandRange(entry)
			if err != nil {
				expanded = []string{entry}
			}
			for _, name := range expanded {
				add(name)
			}
		}
	}
	if len(names) > 0 {
		from = append(from, "roleGroups")
	}
	if hosts := v.s.Config.Spec.Hosts; len(hosts) > 0 {
		from = append(from, "the ksgen document's hosts")
		for _, name := range slices.Sorted(maps.Keys(hosts)) {
			add(name)
		}
	}
	if len(names) == 0 {
		return false
	}
	v.noHosts = true
	for role := range groups {
		v.unknownIn[role] = true
		if role == RoleMaster {
			v.unknownIn[RoleControlPlane] = true
		}
	}
	list := strings.Join(names[:min(4, len(names))], ", ")
	if len(names) > 4 {
		list += ", …"
	}
	verb := "names"
	if len(from) > 1 {
		verb = "name"
	}
	v.errorf("spec.hosts", ErrRequired, "no hosts, but %s %s %d (%s): define each here, with its name and addresses", strings.Join(from, " and "), verb, len(names), list)
	return true
}

// maxRange bounds the hosts one range may name: Kubernetes supports 5000 nodes.
const maxRange = 10000

// expandRange turns "node[2:4]" into node2, node3, node4; other names pass through.
func expandRange(entry string) ([]string, error) {
	if !strings.ContainsAny(entry, "[]") {
		return []string{entry}, nil
	}
	m := hostRange.FindStringSubmatch(entry)
	if m == nil {
		return nil, fmt.Errorf("%q is not a host name or a range like node[2:10]", entry)
	}
	from, err1 := strconv.Atoi(m[2])
	to, err2 := strconv.Atoi(m[3])
	if err1 != nil || err2 != nil || from > to {
		return nil, fmt.Errorf("range %q must go from a smaller to a larger number", entry)
	}
	if to-from >= maxRange {
		return nil, fmt.Errorf("range %q names more than %d hosts", entry, maxRange)
	}
	out := make([]string, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, m[1]+strconv.Itoa(i)+m[4])
	}
	return out, nil
}

func (v *validator) endpoint() {
	ep := v.s.Cluster.Spec.ControlPlaneEndpoint
	const p = "spec.controlPlaneEndpoint"
	switch ep.InternalLoadbalancer {
	case "", "haproxy", "kube-vip":
	case ProxyNginx:
		v.errorf(p+".internalLoadbalancer", ErrInvalidValue, "internalLoadbalancer %q: want haproxy, kube-vip or empty (for nginx on the workers, set haproxy here and the ksgen document's loadBalancer.proxy: nginx)", ep.InternalLoadbalancer)
	default:
		v.errorf(p+".internalLoadbalancer", ErrInvalidValue, "internalLoadbalancer %q: want haproxy, kube-vip or empty", ep.InternalLoadbalancer)
	}
	if ep.Address != "" {
		if _, err := netip.ParseAddr(ep.Address); err != nil {
			v.errorf(p+".address", ErrInvalidIP, "address %q is not an IP address", ep.Address)
		}
	}
	if ep.InternalLoadbalancer == "haproxy" && ep.Address != "" {
		v.errorf(p+".address", ErrConflict, "internalLoadbalancer haproxy runs its own load balancer on every worker; remove address %q or the internal load balancer", ep.Address)
	}
	if ep.InternalLoadbalancer == "kube-vip" && ep.Address == "" {
		v.errorf(p+".address", ErrRequired, "internalLoadbalancer kube-vip needs address: the virtual IP it announces")
	}
	if ep.KubeVip.Mode != "ARP" && ep.KubeVip.Mode != "BGP" {
		v.errorf(p+".kubevip.mode", ErrInvalidValue, "kubevip.mode %q: want ARP or BGP", ep.KubeVip.Mode)
	}
	if ep.Port < 1 || ep.Port > 65535 {
		v.errorf(p+".port", ErrPort, "port %d is not between 1 and 65535", ep.Port)
	}
	if errs := validation.IsDNS1123Subdomain(ep.Domain); len(errs) > 0 {
		v.errorf(p+".domain", ErrInvalidValue, "domain %q: %s", ep.Domain, errs[0])
	}
	externalDNS := ep.ExternalDNS != nil && *ep.ExternalDNS
	if len(v.s.Roles[RoleControlPlane]) > 1 && ep.InternalLoadbalancer == "" && ep.Address == "" && !externalDNS {
		v.warnf(p, ErrNoLoadBalancer, "%d control planes but no load balancer: set internalLoadbalancer, an address, or externalDNS: true; until then every node talks to the first control plane only", len(v.s.Roles[RoleControlPlane]))
	}
	v.loadBalancer()
}

func (v *validator) etcd() {
	e := v.s.Cluster.Spec.Etcd
	const p = "spec.etcd"
	members := len(v.s.Roles[RoleEtcd])
	switch e.Type {
	case "kubekey":
		if members == 0 && !v.unknownIn[RoleEtcd] {
			v.errorf("spec.roleGroups", ErrNoEtcd, "etcd.type kubekey runs etcd on the etcd role hosts, but roleGroups has no etcd host")
		}
		// Two members with one address are reported by hosts(): every
		// internal address is unique across spec.hosts.
		v.etcdKubeKey(e)
	case "kubeadm":
		members = len(v.s.Roles[RoleControlPlane])
	case "external":
		members = 0
		v.etcdExternal(e.External)
	default:
		v.errorf(p+".type", ErrInvalidValue, "etcd.type %q: want kubekey, kubeadm or external", e.Type)
	}
	if members > 0 && members%2 == 0 {
		v.warnf(p, ErrEvenEtcd, "%d etcd members: an even count tolerates no more failures than %d; use an odd number", members, members-1)
	}
	for _, port := range []struct {
		name string
		val  *int
	}{{"port", e.Port}, {"peerPort", e.PeerPort}} {
		if *port.val < 1 || *port.val > 65535 {
			v.errorf(p+"."+port.name, ErrPort, "%s %d is not between 1 and 65535", port.name, *port.val)
		}
	}
}

// etcdExternal checks an external etcd's endpoints and which files it names;
// that the files exist and belong together is checked where they are read,
// at render time (generator/internal/render/etcd), since only then is the spec's directory known.
func (v *validator) etcdExternal(x ExternalEtcd) {
	const p = "spec.etcd.external"
	if len(x.Endpoints) == 0 {
		v.errorf(p+".endpoints", ErrRequired, "etcd.type external needs external.endpoints")
	}
	seen := map[string]int{}
	https := false
	for i, ep := range x.Endpoints {
		ip := fmt.Sprintf("%s.endpoints[%d]", p, i)
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			v.errorf(ip, ErrInvalidValue, "endpoint %q must be an http(s)://host:port URL", ep)
			continue
		}
		https = https || u.Scheme == "https"
		key := strings.ToLower(u.Host)
		if first, dup := seen[key]; dup {
			v.errorf(ip, ErrDuplicateAddress, "endpoint %q names the same member as endpoints[%d]", ep, first)
			continue
		}
		seen[key] = i
	}
	if https && x.CAFile == "" {
		v.errorf(p+".caFile", ErrRequired, "https endpoints need caFile, the CA kube-apiserver verifies etcd with")
	}
	if x.CertFile != "" && x.KeyFile == "" {
		v.errorf(p+".keyFile", ErrRequired, "certFile needs keyFile, the key of the client certificate")
	}
	if x.KeyFile != "" && x.CertFile == "" {
		v.errorf(p+".certFile", ErrRequired, "keyFile needs certFile, the client certificate of the key")
	}
}

// etcdKubeKey checks what ksgen writes into a kubekey member's environment
// file and backup units: values etcd would refuse at start, and values that
// could not be written into a systemd environment file unchanged.
func (v *validator) etcdKubeKey(e Etcd) {
	const p = "spec.etcd"
	if *e.Port == *e.PeerPort {
		v.errorf(p+".peerPort", ErrConflict, "peerPort %d is also the client port: each member listens on both at one address", *e.PeerPort)
	}
	for _, d := range []struct {
		field string
		val   *string
	}{{"dataDir", e.DataDir}, {"backupDir", &e.BackupDir}, {"backupScript", &e.BackupScriptDir}} {
		if d.val == nil || *d.val == "" {
			continue // dataDir: the default
		}
		if !safePath.MatchString(*d.val) || path.Clean(*d.val) != *d.val {
			v.errorf(p+"."+d.field, ErrInvalidValue, "%s %q must be a clean absolute path of letters, digits and ._+@-", d.field, *d.val)
		}
	}
	positive := []struct {
		field string
		val   *int
		min   int
	}{
		{"heartbeatInterval", e.HeartbeatInterval, 1},
		{"electionTimeout", e.ElectionTimeout, 1},
		{"snapshotCount", e.SnapshotCount, 1},
		{"autoCompactionRetention", e.AutoCompactionRetention, 0},
		{"maxSnapshots", e.MaxSnapshots, 0},
		{"maxWals", e.MaxWals, 0},
		{"keepBackupNumber", &e.KeepBackupNumber, 1},
	}
	for _, f := range positive {
		if f.val != nil && *f.val < f.min {
			v.errorf(p+"."+f.field, ErrInvalidValue, "%s %d must be at least %d", f.field, *f.val, f.min)
		}
	}
	if _, ok := BackupCalendar(e.BackupPeriod); !ok {
		v.errorf(p+".backupPeriod", ErrInvalidValue, "backupPeriod %d minutes does not repeat evenly on the clock: want %s (daily at %s)", e.BackupPeriod, backupPeriodsText(), DailyBackupTime[:5])
	}
	for _, f := range []struct {
		field string
		val   *int64
		min   int64
	}{{"quotaBackendBytes", e.QuotaBackendBytes, 0}, {"maxRequestBytes", e.MaxRequestBytes, 1}} {
		if f.val != nil && *f.val < f.min {
			v.errorf(p+"."+f.field, ErrInvalidValue, "%s %d must be at least %d", f.field, *f.val, f.min)
		}
	}
	// etcd refuses an election timeout under 5 heartbeats or over 50 s;
	// KubeKey's defaults (250 ms, 5000 ms) fill what the spec leaves out.
	heartbeat, election := 250, 5000
	if e.HeartbeatInterval != nil {
		heartbeat = *e.HeartbeatInterval
	}
	if e.ElectionTimeout != nil {
		election = *e.ElectionTimeout
	}
	if heartbeat > 0 && election > 0 {
		ep := p + ".electionTimeout"
		if e.ElectionTimeout == nil {
			ep = p + ".heartbeatInterval"
		}
		if election < 5*heartbeat {
			v.errorf(ep, ErrInvalidValue, "electionTimeout %d ms must be at least 5 heartbeatIntervals (%d ms): etcd refuses to start otherwise", election, 5*heartbeat)
		}
		if election > 50000 {
			v.errorf(ep, ErrInvalidValue, "electionTimeout %d ms is over etcd's maximum of 50000 ms", election)
		}
	}
	if e.Metrics != nil && *e.Metrics != "" && *e.Metrics != "basic" && *e.Metrics != "extensive" {
		v.errorf(p+".metrics", ErrInvalidValue, "metrics %q: want basic or extensive", *e.Metrics)
	}
	if e.LogLevel != nil && *e.LogLevel != "" && !slices.Contains([]string{"debug", "info", "warn", "error", "panic", "fatal"}, *e.LogLevel) {
		v.errorf(p+".logLevel", ErrInvalidValue, "logLevel %q: want debug, info, warn, error, panic or fatal", *e.LogLevel)
	}
	for _, k := range slices.Sorted(maps.Keys(e.ExtraArgs)) {
		ap := p + ".extraArgs." + k
		if !etcdFlag.MatchString(k) {
			v.errorf(ap, ErrInvalidValue, "extraArgs key %q is not an etcd flag name (like max-txn-ops)", k)
		}
		if !envSafe(e.ExtraArgs[k]) {
			v.errorf(ap, ErrInvalidValue, "extraArgs %s value %q: no quotes, backslashes or control characters (it is written into /etc/etcd.env)", k, e.ExtraArgs[k])
		}
	}
}

// safePath is a path that reads the same in an environment file, a unit and
// a shell script, unquoted.
var safePath = regexp.MustCompile(`^/[A-Za-z0-9._+@/-]*$`)

// etcdFlag is an etcd flag name, with or without its leading dashes.
var etcdFlag = regexp.MustCompile(`^(--)?[a-z0-9]+(-[a-z0-9]+)*$`)

// envSafe reports whether s reads back unchanged from a systemd
// EnvironmentFile line NAME=s: no quotes, backslashes or control characters,
// and no surrounding spaces.
func envSafe(s string) bool {
	if strings.TrimSpace(s) != s || strings.ContainsAny(s, `\'"`) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func (v *validator) kubernetes() {
	k := v.s.Cluster.Spec.Kubernetes
	const p = "spec.kubernetes"
	if _, err := KubernetesVersion(k.Version); err != nil {
		v.errorf(p+".version", ErrVersion, "%v", err)
	}
	if k.Type != "kubernetes" {
		// The type comes from kubernetes.type, or else from a version suffix (v1.28.2-k3s).
		tp := p + ".version"
		if _, ok := v.s.lines[p+".type"]; ok {
			tp = p + ".type"
		}
		v.errorf(tp, ErrUnsupported, "Kubernetes type %q: ksgen renders kubeadm clusters only (no k3s or k8e)", k.Type)
	}
	v.criSocket()
	if !k.AutoRenewCertsEnabled() {
		v.warnf(p+".autoRenewCerts", ErrNoRenewal, "autoRenewCerts is false: the certificates kubeadm issues on the control planes (kube-apiserver's, and those in admin.conf, controller-manager.conf and scheduler.conf) expire a year after kubeadm ran and nothing renews them; run `kubeadm certs renew all` on every control plane before then, or set it true")
	}
	if v.s.noContainerManager {
		v.warnf(p+".containerManager", ErrDefaultRuntime, "containerManager is not set: KubeKey would install docker, its default; ksgen installs containerd. Write containerManager: containerd to say so")
	}
	if k.ContainerManager != "containerd" {
		v.errorf(p+".containerManager", ErrUnsupported, "containerManager %q: ksgen configures containerd only; docker with cri-dockerd, cri-o and isula are out of scope", k.ContainerManager)
	}
	switch k.ProxyMode {
	case "ipvs", "iptables", "nftables":
	default:
		v.errorf(p+".proxyMode", ErrInvalidValue, "proxyMode %q: want ipvs, iptables or nftables", k.ProxyMode)
	}
	if errs := validation.IsDNS1123Subdomain(k.DNSDomain); len(errs) > 0 {
		v.errorf(p+".dnsDomain", ErrInvalidValue, "dnsDomain %q: %s", k.DNSDomain, errs[0])
	}
	if k.MaxPods < 1 {
		v.errorf(p+".maxPods", ErrInvalidValue, "maxPods %d must be positive", k.MaxPods)
	}
	if k.NodeCidrMaskSize < 8 || k.NodeCidrMaskSize > 30 {
		v.errorf(p+".nodeCidrMaskSize", ErrInvalidValue, "nodeCidrMaskSize %d: want 8 to 30", k.NodeCidrMaskSize)
	}
	for i, san := range k.ApiserverCertExtraSans {
		if net.ParseIP(san) == nil && len(validation.IsDNS1123Subdomain(strings.TrimPrefix(san, "*."))) > 0 {
			v.errorf(fmt.Sprintf("%s.apiserverCertExtraSans[%d]", p, i), ErrInvalidValue, "%q is neither an IP address nor a DNS name", san)
		}
	}
	for _, args := range []struct {
		name string
		list []string
	}{{"apiserverArgs", k.ApiServerArgs}, {"controllerManagerArgs", k.ControllerManagerArgs}, {"schedulerArgs", k.SchedulerArgs}, {"kubeletArgs", k.KubeletArgs}, {"kubeProxyArgs", k.KubeProxyArgs}} {
		for i, a := range args.list {
			if name, _, ok := strings.Cut(strings.TrimLeft(a, "-"), "="); !ok || name == "" {
				v.errorf(fmt.Sprintf("%s.%s[%d]", p, args.name, i), ErrInvalidValue, "argument %q: want name=value", a)
			}
		}
	}
}

// network checks the CIDRs, that pods, services and nodes do not overlap.
func (v *validator) network(addrs map[string][]netip.Addr) {
	n := v.s.Cluster.Spec.Network
	const p = "spec.network"
	if !slices.Contains(knownPlugins, n.Plugin) {
		v.errorf(p+".plugin", ErrUnsupported, "network plugin %q: ksgen deploys %s", n.Plugin, strings.Join(knownPlugins, ", "))
	}
	if !backendName.MatchString(n.Flannel.BackendMode) {
		v.errorf(p+".flannel.backendMode", ErrInvalidValue, "backendMode %q is not a flannel backend type like vxlan or host-gw", n.Flannel.BackendMode)
	}
	pods, okPods := v.cidrs(p+".kubePodsCIDR", n.KubePodsCIDR)
	svcs, okSvcs := v.cidrs(p+".kubeServiceCIDR", n.KubeServiceCIDR)
	if !okPods || !okSvcs {
		return
	}
	if len(pods) != len(svcs) {
		v.errorf(p+".kubeServiceCIDR", ErrInvalidCIDR, "dual-stack needs an IPv4 and an IPv6 CIDR in both kubePodsCIDR and kubeServiceCIDR")
	}
	for _, a := range pods {
		// kube-controller-manager gives every node a /64 of an IPv6 pod
		// network and allows at most 16 bits between the two masks.
		if a.Addr().Is6() && (a.Bits() < 48 || a.Bits() > 63) {
			v.errorf(p+".kubePodsCIDR", ErrInvalidCIDR, "IPv6 pod network %s: want a /48 to /63, so that every node gets a /64", a)
		}
	}
	for _, a := range pods {
		for _, b := range svcs {
			if a.Overlaps(b) {
				v.errorf(p+".kubeServiceCIDR", ErrOverlap, "service network %s overlaps pod network %s", b, a)
			}
		}
	}
	if vip, err := netip.ParseAddr(v.s.Cluster.Spec.ControlPlaneEndpoint.Address); err == nil {
		for _, c := range append(append([]netip.Prefix{}, pods...), svcs...) {
			if c.Contains(vip) {
				v.errorf("spec.controlPlaneEndpoint.address", ErrOverlap, "address %s is inside the cluster network %s", vip, c)
			}
		}
	}
	for i, h := range v.s.Cluster.Spec.Hosts {
		for _, a := range addrs[h.Name] {
			for _, c := range append(append([]netip.Prefix{}, pods...), svcs...) {
				if c.Contains(a) {
					v.errorf(fmt.Sprintf("spec.hosts[%d].internalAddress", i), ErrOverlap, "node address %s of host %q is inside the cluster network %s", a, h.Name, c)
				}
			}
		}
	}
}

// cidrs parses "v4" or "v4,v6" CIDRs.
func (v *validator) cidrs(path, value string) ([]netip.Prefix, bool) {
	var out []netip.Prefix
	parts := strings.Split(value, ",")
	for _, part := range parts {
		pr, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			v.errorf(path, ErrInvalidCIDR, "%q is not a network in CIDR form (like 10.233.64.0/18)", part)
			return nil, false
		}
		if pr != pr.Masked() {
			v.errorf(path, ErrInvalidCIDR, "%q has host bits set: the network is %s", part, pr.Masked())
			return nil, false
		}
		out = append(out, pr)
	}
	if len(out) > 2 || (len(out) == 2 && out[0].Addr().Is6() == out[1].Addr().Is6()) {
		v.errorf(path, ErrInvalidCIDR, "%q: at most one IPv4 and one IPv6 CIDR", value)
		return nil, false
	}
	return out, true
}

// config checks the ksgen document.
func (v *validator) config() {
	c := v.s.Config.Spec
	const p = "ksgen.spec"
	v.oneOf(p+".os", c.OS, osprofile.Names)
	for _, role := range slices.Sorted(maps.Keys(c.Roles)) {
		rp := p + ".roles." + role
		if !slices.Contains(RoleNames, role) {
			v.errorf(rp, ErrUnknownField, "unknown role %q (known: %s)", role, strings.Join(RoleNames, ", "))
		}
		v.nodeSettings(rp, c.Roles[role])
	}
	hosts := map[string]bool{}
	for _, h := range v.s.Cluster.Spec.Hosts {
		hosts[h.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(c.Hosts)) {
		hp := p + ".hosts." + name
		if !hosts[name] && !v.noHosts {
			v.errorf(hp, ErrUnknownHost, "host %q is not in spec.hosts", name)
		}
		v.nodeSettings(hp, c.Hosts[name])
	}
	for i, u := range c.Users {
		if u.Name == "" {
			v.errorf(fmt.Sprintf("%s.users[%d].name", p, i), ErrRequired, "user has no name")
		}
	}
	if d, err := time.ParseDuration(c.BootstrapTokenTTL); err != nil || d < 0 {
		v.errorf(p+".bootstrapTokenTTL", ErrInvalidValue, "bootstrapTokenTTL %q is not a duration like 24h", c.BootstrapTokenTTL)
	}
	if ttl, err := time.ParseDuration(c.BootstrapTokenTTL); err == nil && ttl >= 0 {
		if _, _, err := c.JoinWindowDuration(); err != nil {
			v.errorf(p+".joinWindow", ErrInvalidValue, "%v", err)
		}
	}
	v.oneOf(p+".binaries.source", c.Binaries.Source, []string{"image", "download"})
	for i, d := range c.Binaries.Downloads {
		dp := fmt.Sprintf("%s.binaries.downloads[%d]", p, i)
		if u, err := url.Parse(d.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || hasControl(d.URL) {
			v.errorf(dp+".url", ErrInvalidValue, "url %q must be http(s)://", d.URL)
		}
		if !sha256Pattern.MatchString(d.SHA256) {
			v.errorf(dp+".sha256", ErrInvalidValue, "sha256 %q must be 64 lowercase hex digits", d.SHA256)
		}
		if d.Name != "" && !slices.Contains(images.BinaryNames, d.Name) {
			v.errorf(dp+".name", ErrInvalidValue, "name %q is not a binary ksgen downloads (%s)", d.Name, strings.Join(images.BinaryNames, ", "))
		}
		if d.Name != "" && d.Path == "" {
			continue
		}
		if !safePath.MatchString(d.Path) || path.Clean(d.Path) != d.Path {
			v.errorf(dp+".path", ErrInvalidValue, "path %q must be a clean absolute path of letters, digits and ._+@-", d.Path)
		}
	}
	if m := c.Binaries.Mirror; m != "" {
		if u, err := url.Parse(m); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || hasControl(m) {
			v.errorf(p+".binaries.mirror", ErrInvalidValue, "mirror %q must be an http(s):// base URL", m)
		}
		if c.Binaries.Source != "download" {
			v.errorf(p+".binaries.mirror", ErrInvalidValue, "a mirror serves downloads: set binaries.source: download")
		}
	}
	if c.Budget.Cloud != "" {
		v.oneOf(p+".budget.cloud", c.Budget.Cloud, clouds.Names)
	}
	if c.Budget.Bytes < 0 {
		v.errorf(p+".budget.bytes", ErrInvalidValue, "budget.bytes %d must not be negative", c.Budget.Bytes)
	}
}

func (v *validator) nodeSettings(path string, n NodeSettings) {
	v.hostResources(path+".resources", n.Resources)
	if n.OS != "" {
		v.oneOf(path+".os", n.OS, osprofile.Names)
	}
	if n.Interface != "" && !ifName.MatchString(n.Interface) {
		v.errorf(path+".interface", ErrInvalidValue, "interface %q is not a network interface name (up to 15 letters, digits and _.-)", n.Interface)
	}
	if n.MAC != "" {
		if _, err := net.ParseMAC(n.MAC); err != nil {
			v.errorf(path+".mac", ErrInvalidValue, "mac %q is not a MAC address", n.MAC)
		}
	}
	if n.Network != nil {
		for i, a := range n.Network.Addresses {
			if _, err := netip.ParsePrefix(a); err != nil {
				v.errorf(fmt.Sprintf("%s.network.addresses[%d]", path, i), ErrInvalidCIDR, "%q is not an address in CIDR form (like 192.168.1.10/24)", a)
			}
		}
		if len(n.Network.Addresses) == 0 {
			v.errorf(path+".network.addresses", ErrRequired, "a static network needs at least one address")
		}
		if g := n.Network.Gateway; g != "" {
			if _, err := netip.ParseAddr(g); err != nil {
				v.errorf(path+".network.gateway", ErrInvalidValue, "gateway %q is not an IP address", g)
			}
		}
		for i, d := range n.Network.Nameservers {
			if _, err := netip.ParseAddr(d); err != nil {
				v.errorf(fmt.Sprintf("%s.network.nameservers[%d]", path, i), ErrInvalidValue, "nameserver %q is not an IP address", d)
			}
		}
	}
}

func (v *validator) kubesphere() {
	ks := v.s.KubeSphere
	if ks == nil {
		return
	}
	const p = "kubesphere.metadata.labels.version"
	ver := ks.Version()
	if _, err := version.ParseSemantic(ver); err != nil || !strings.HasPrefix(ver, "v") {
		v.errorf(p, ErrRequired, "the ClusterConfiguration needs metadata.labels.version like v3.4.1, got %q", ver)
		return
	}
	r, ok := images.KubeSphere(ver)
	if !ok {
		v.errorf(p, ErrUnsupported, "KubeSphere %s: ksgen installs %s", ver, strings.Join(images.KubeSphereVersions(), ", "))
		return
	}
	k8s, err := KubernetesVersion(v.s.Cluster.Spec.Kubernetes.Version)
	if err != nil {
		return // reported by kubernetes()
	}
	if k8s.Minor() < r.MinMinor || k8s.Minor() > r.MaxMinor {
		v.errorf(p, ErrUnsupported, "KubeSphere %s supports Kubernetes v1.%d to v1.%d, not %s", ver, r.MinMinor, r.MaxMinor, v.s.Cluster.Spec.Kubernetes.Version)
	}
}

// oneOf checks a value against a list; the message names the field (path's last element).
func (v *validator) oneOf(path, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		field := path[strings.LastIndex(path, ".")+1:]
		v.errorf(path, ErrInvalidValue, "%s %q: want one of %s", field, value, strings.Join(allowed, ", "))
	}
}

// KubernetesVersion parses and range-checks a Kubernetes version.
func KubernetesVersion(s string) (*version.Version, error) {
	ver, err := version.ParseSemantic(s)
	if err != nil || !strings.HasPrefix(s, "v") {
		return nil, fmt.Errorf("version %q is not like v1.36.3", s)
	}
	if ver.LessThan(version.MustParseSemantic(images.MinKubernetesVersion)) || ver.Major() != 1 || ver.Minor() > images.MaxKubernetesMinor {
		return nil, fmt.Errorf("version %s: ksgen supports v1.22 to v1.%d", s, images.MaxKubernetesMinor)
	}
	return ver, nil
}
