package addons

import (
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
)

// Images describes the cluster for images.List: the images ksgen's payloads
// make the nodes pull.
func Images(c *plan.Cluster) images.Cluster {
	cs := c.Spec.Cluster.Spec
	ic := images.Cluster{
		KubernetesVersion: cs.Kubernetes.Version,
		PrivateRegistry:   cs.Registry.PrivateRegistry,
		NamespaceOverride: cs.Registry.NamespaceOverride,
		StackedEtcd:       cs.Etcd.Type == "kubeadm",
		KubeKeyEtcd:       c.Etcd.Type == plan.EtcdKubeKey,
		DisableKubeProxy:  cs.Kubernetes.DisableKubeProxy,
		HAProxy:           c.Endpoint.Mode == plan.LBInternal,
		KubeVip:           c.Endpoint.Mode == plan.LBKubeVip,
		Keepalived:        len(c.LoadBalancers) > 0,
		Proxy:             c.Spec.Config.Spec.LoadBalancer.ProxyName(),
		CNI:               cs.Network.Plugin,
	}
	if c.Spec.KubeSphere != nil {
		ic.KubeSphere = c.Spec.KubeSphere.Version()
		ic.KubeSphereComponents = c.Spec.KubeSphere.Components()
	}
	ic.OpenEBS = c.Spec.OpenEBSEnabled()
	ic.NodeLocalDNS = c.NodeLocalDNS
	return ic
}
