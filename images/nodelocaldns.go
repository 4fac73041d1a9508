package images

// NodeLocalDNS is the DNS cache KubeKey runs on every node by default
// (cmd/kk/pkg/plugins/dns): k8s-dns-node-cache, at the tag KubeKey v3 mirrors
// as kubesphere/k8s-dns-node-cache:1.22.20 (kk v3.0.x ran 1.15.12, from
// before registry.k8s.io; 1.22.20 is the newest tag KubeKey pins).
const (
	NodeLocalDNSImage = "registry.k8s.io/dns/k8s-dns-node-cache:1.22.20"
	// NodeLocalDNSAddress is the link-local address it answers on, KubeKey's.
	NodeLocalDNSAddress = "169.254.25.10"
)
