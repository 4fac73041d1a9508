package addons

import (
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
)

// Images describes the cluster for images.List: the images ksgen's payloads
// make the nodes pull.
func Images(c *plan.Cluster) images.Cluster {
	ic := images.Cluster{
		KubernetesVersion: c.KubernetesVersion(),
		PrivateRegistry:   c.Registry.PrivateRegistry,
		NamespaceOverride: c.Registry.NamespaceOverride,
		StackedEtcd:       c.Etcd.Type == plan.EtcdKubeadm,
		KubeKeyEtcd:       c.Etcd.Type == plan.EtcdKubeKey,
		DisableKubeProxy:  !c.KubeProxy,
		HAProxy:           c.Endpoint.Mode == plan.LBInternal,
		KubeVip:           c.Endpoint.Mode == plan.LBKubeVip,
		Keepalived:        len(c.LoadBalancers) > 0,
		Proxy:             c.Endpoint.Proxy,
		CNI:               c.CNI,
	}
	if c.KubeSphere != nil {
		ic.KubeSphere = c.KubeSphere.Version
		ic.KubeSphereComponents = c.KubeSphere.Components
	}
	ic.OpenEBS = c.OpenEBS.Enabled
	ic.NodeLocalDNS = c.NodeLocalDNS
	return ic
}
