package spec

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// reservedLBNames are HAProxy sections (nginx upstreams) ksgen writes itself.
var reservedLBNames = []string{"kube-apiserver", "healthz"}

// loadBalancer checks keepalived + HAProxy for the endpoint's VIP: on the
// hosts of the loadbalancer role group, or with
// ksgen.spec.loadBalancer.controlPlanes on the control planes. It also
// checks that a VIP (kube-vip's or keepalived's) is no host's address.
func (v *validator) loadBalancer() {
	ep := v.s.Cluster.Spec.ControlPlaneEndpoint
	lb := v.s.Config.Spec.LoadBalancer
	const (
		p  = "spec.controlPlaneEndpoint"
		lp = "ksgen.spec.loadBalancer"
		rp = "spec.roleGroups." + RoleLoadBalancer
	)
	switch lb.Proxy {
	case "", ProxyHAProxy, ProxyNginx:
	default:
		v.errorf(lp+".proxy", ErrInvalidValue, "proxy %q: want %s or %s", lb.Proxy, ProxyHAProxy, ProxyNginx)
	}
	if lb.VirtualRouterID != 0 && (lb.VirtualRouterID < 1 || lb.VirtualRouterID > 255) {
		v.errorf(lp+".virtualRouterID", ErrInvalidValue, "virtualRouterID %d: want 1 to 255", lb.VirtualRouterID)
	}
	hosts := v.s.Roles[RoleLoadBalancer]
	var who, where string // what runs keepalived, and the field that says so
	switch {
	case len(hosts) > 0:
		who, where = "loadbalancer hosts", rp
		if lb.ControlPlanes {
			v.errorf(lp+".controlPlanes", ErrConflict, "controlPlanes runs keepalived and HAProxy on the control planes, but roleGroups.loadbalancer names hosts for them; use one or the other")
		}
		v.loadBalancerHosts(rp)
	case lb.ControlPlanes:
		who, where = "keepalived and HAProxy on the control planes", lp+".controlPlanes"
		if ep.Port == DefaultPort {
			v.errorf(p+".port", ErrConflict, "with keepalived and HAProxy on the control planes, HAProxy listens on the VIP at port %d, where the apiservers of the same hosts listen; choose another port, such as 8443", ep.Port)
		}
	}
	v.loadBalancerPorts(lp+".ports", lb, ep.Port, who != "")
	if lb.Proxy == ProxyNginx && who == "" && ep.InternalLoadbalancer != "haproxy" {
		v.warnf(lp+".proxy", ErrIgnored, "proxy %s: ksgen runs no load balancer here (it does for internalLoadbalancer: haproxy, loadbalancer hosts or loadBalancer.controlPlanes)", lb.Proxy)
	}
	vip, vipErr := netip.ParseAddr(ep.Address)
	if who != "" {
		switch {
		case ep.Address == "":
			path := p + ".address"
			if _, ok := v.s.lines[p]; !ok {
				path = where // no controlPlaneEndpoint in the file: point at what asks for a VIP
			}
			v.errorf(path, ErrRequired, "%s need controlPlaneEndpoint.address: the virtual IP keepalived announces", who)
		case vipErr == nil && !vip.Is4():
			v.errorf(p+".address", ErrUnsupported, "address %s: keepalived on ksgen's %s announces IPv4 virtual IPs only", ep.Address, who)
		}
		if ep.InternalLoadbalancer != "" {
			v.errorf(p+".internalLoadbalancer", ErrConflict, "internalLoadbalancer %s and the %s both serve the endpoint; remove one", ep.InternalLoadbalancer, who)
		}
	}
	if vipErr == nil && (who != "" || ep.InternalLoadbalancer == "kube-vip") {
		for i, h := range v.s.Cluster.Spec.Hosts {
			for _, a := range append([]string{h.Address}, strings.Split(h.InternalAddress, ",")...) {
				if ha, err := netip.ParseAddr(strings.TrimSpace(a)); err == nil && ha == vip {
					v.errorf(p+".address", ErrConflict, "address %s is the address of host %q (spec.hosts[%d]); a virtual IP must be free", vip, h.Name, i)
					break
				}
			}
		}
	}
}

// loadBalancerHosts checks that load-balancer hosts have no other role: they
// run no kubeadm.
func (v *validator) loadBalancerHosts(rp string) {
	for i, entry := range v.s.Cluster.Spec.RoleGroups[RoleLoadBalancer] {
		names, err := expandRange(entry)
		if err != nil {
			continue // reported by roles()
		}
		for _, name := range names {
			var also []string
			for _, role := range []string{RoleControlPlane, RoleWorker, RoleEtcd, RoleRegistry} {
				if slices.Contains(v.s.Roles[role], name) {
					also = append(also, role)
				}
			}
			if len(also) > 0 {
				v.errorf(fmt.Sprintf("%s[%d]", rp, i), ErrConflict, "host %q is a loadbalancer host and also %s; load balancers run no kubeadm, so give them no other role (for keepalived and HAProxy on the control planes, set ksgen loadBalancer.controlPlanes instead)", name, strings.Join(also, ", "))
			}
		}
	}
}

// loadBalancerPorts checks the ports forwarded to the workers: those of
// the ksgen document always, KubeKey's defaults when keepalived runs.
func (v *validator) loadBalancerPorts(path string, lb LoadBalancer, endpointPort int, used bool) {
	if lb.Ports == nil {
		for _, port := range DefaultLoadBalancerPorts {
			if used && port.Port == endpointPort {
				v.errorf("spec.controlPlaneEndpoint.port", ErrConflict, "port %d is also where the load balancers forward %s to the workers; choose another port, or set ksgen loadBalancer.ports", port.Port, port.Name)
			}
		}
		return
	}
	var names []string
	var ports []int
	for i, port := range lb.Ports {
		pp := fmt.Sprintf("%s[%d]", path, i)
		if errs := validation.IsDNS1123Label(port.Name); len(errs) > 0 {
			v.errorf(pp+".name", ErrInvalidValue, "name %q: %s", port.Name, errs[0])
		} else if slices.Contains(reservedLBNames, port.Name) {
			v.errorf(pp+".name", ErrConflict, "name %q is ksgen's own HAProxy section; choose another", port.Name)
		} else if slices.Contains(names, port.Name) {
			v.errorf(pp+".name", ErrConflict, "name %q is used twice", port.Name)
		}
		names = append(names, port.Name)
		switch {
		case port.Port < 1 || port.Port > 65535:
			v.errorf(pp+".port", ErrPort, "port %d is not between 1 and 65535", port.Port)
		case port.Port == endpointPort:
			v.errorf(pp+".port", ErrConflict, "port %d is the control-plane endpoint's port", port.Port)
		case slices.Contains(ports, port.Port):
			v.errorf(pp+".port", ErrConflict, "port %d is forwarded twice", port.Port)
		case lb.ControlPlanes && port.Port == DefaultPort:
			v.errorf(pp+".port", ErrConflict, "port %d is where the apiservers listen on the control planes", port.Port)
		}
		ports = append(ports, port.Port)
		if port.TargetPort < 0 || port.TargetPort > 65535 {
			v.errorf(pp+".targetPort", ErrPort, "targetPort %d is not between 1 and 65535", port.TargetPort)
		}
	}
}
