package spec

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/ksgen/ksgen/images"
)

// componentSwitches say which ClusterConfiguration field turns each
// pluggable component on, as ks-installer reads them (v3.3 and v3.4).
var componentSwitches = []struct {
	name, path string
	on         func(any) bool
}{
	{images.ComponentAlerting, "alerting.enabled", isTrue},
	{images.ComponentAuditing, "auditing.enabled", isTrue},
	{images.ComponentDevOps, "devops.enabled", isTrue},
	{images.ComponentEvents, "events.enabled", isTrue},
	{images.ComponentLogging, "logging.enabled", isTrue},
	{images.ComponentMetricsServer, "metrics_server.enabled", isTrue},
	{images.ComponentMulticluster, "multicluster.clusterRole", oneOf("host", "member")},
	{images.ComponentNetworkPolicy, "network.networkpolicy.enabled", isTrue},
	{images.ComponentIPPool, "network.ippool.type", oneOf("calico")},
	{images.ComponentTopology, "network.topology.type", oneOf("weave-scope")},
	{images.ComponentOpenPitrix, "openpitrix.store.enabled", isTrue},
	{images.ComponentServiceMesh, "servicemesh.enabled", isTrue},
	{images.ComponentEdgeRuntime, "kubeedge.enabled", isTrue}, // v3.3.0
	{images.ComponentEdgeRuntime, "edgeruntime.enabled", isTrue},
	{images.ComponentGatekeeper, "gatekeeper.enabled", isTrue},
	{images.ComponentRedisHA, "common.redis.enabled", isTrue},
	{images.ComponentOpenLDAP, "common.openldap.enabled", isTrue},
}

func isTrue(v any) bool { b, ok := v.(bool); return ok && b }

func oneOf(values ...string) func(any) bool {
	return func(v any) bool { s, ok := v.(string); return ok && slices.Contains(values, s) }
}

// lookup returns the value at a dotted path of the ClusterConfiguration's spec.
func (k *KubeSphere) lookup(path string) any {
	var cur any = k.Spec
	for _, key := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[key]
	}
	return cur
}

// EtcdMonitoring reports whether the ClusterConfiguration turns on
// KubeSphere's etcd monitoring (etcd.monitoring: true).
func (k *KubeSphere) EtcdMonitoring() bool { return k.lookup("etcd.monitoring") == true }

// Components returns the pluggable components the ClusterConfiguration
// turns on (images.Component*), sorted, with the shared parts they pull in:
// the log agent for logging, events and auditing, and the in-cluster log
// store unless an external Elasticsearch or OpenSearch is configured.
func (k *KubeSphere) Components() []string {
	var out []string
	for _, sw := range componentSwitches {
		if sw.on(k.lookup(sw.path)) {
			if sw.path == "edgeruntime.enabled" && k.lookup("edgeruntime.kubeedge.enabled") == false {
				continue
			}
			out = append(out, sw.name)
		}
	}
	if slices.ContainsFunc(out, func(c string) bool {
		return c == images.ComponentLogging || c == images.ComponentEvents || c == images.ComponentAuditing
	}) {
		out = append(out, images.ComponentFluentBit)
		external := false
		for _, p := range []string{"common.es.externalElasticsearchHost", "common.es.externalElasticsearchUrl", "common.opensearch.externalOpensearchHost"} {
			if s, ok := k.lookup(p).(string); ok && s != "" {
				external = true
			}
		}
		if !external {
			out = append(out, images.ComponentLogStore)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// requirement is what a component requests from the cluster, from
// KubeSphere's "Enable Pluggable Components — Overview" (v3.3/v3.4: the
// requests of each replica times the replicas it runs) and, for the
// minimal installation (ks-core and monitoring), its installation
// prerequisites (2 cores, 4 GB).
type requirement struct {
	cpu, memory string
	perNode     bool   // a DaemonSet: once per schedulable node
	persistent  string // the ClusterConfiguration field naming its StorageClass, "" for none
}

var requirements = map[string]requirement{
	images.ComponentMonitoring:  {cpu: "2", memory: "4G", persistent: "monitoring.storageClass"},
	images.ComponentOpenPitrix:  {cpu: "300m", memory: "300Mi", persistent: "persistence.storageClass"},
	images.ComponentDevOps:      {cpu: "470m", memory: "8.6G", persistent: "persistence.storageClass"},
	images.ComponentLogStore:    {cpu: "150m", memory: "6G", persistent: "persistence.storageClass"},
	images.ComponentFluentBit:   {cpu: "20m", memory: "50Mi", perNode: true},
	images.ComponentEvents:      {cpu: "90m", memory: "120Mi"},
	images.ComponentAuditing:    {cpu: "20m", memory: "50Mi"},
	images.ComponentAlerting:    {cpu: "80m", memory: "80M"},
	images.ComponentServiceMesh: {cpu: "1", memory: "3.5G"},
	images.ComponentRedisHA:     {persistent: "persistence.storageClass"},
	images.ComponentOpenLDAP:    {persistent: "persistence.storageClass"},
}

// devOpsNodeMemory is the memory one node needs for DevOps' Jenkins
// ("the memory of one of the nodes must be larger than 8 G").
var devOpsNodeMemory = resource.MustParse("8G")

// kubesphereComponents warns when the enabled components need more than the
// declared hosts have, or a StorageClass nothing will create.
func (v *validator) kubesphereComponents() {
	ks := v.s.KubeSphere
	if ks == nil {
		return
	}
	r, ok := images.KubeSphere(ks.Version())
	if !ok {
		return // reported by kubesphere()
	}
	comps := ks.Components()
	if r.Helm {
		if len(comps) > 0 {
			v.warnf("kubesphere.spec", ErrIgnored, "KubeSphere %s installs components as extensions from its marketplace; %s in the ClusterConfiguration has no effect", r.Version, strings.Join(comps, ", "))
		}
		return
	}
	all := append([]string{images.ComponentMonitoring}, comps...)
	v.componentResources(all)
	v.componentStorage(all)
}

func (v *validator) componentResources(comps []string) {
	nodes := v.s.Roles[RoleWorker]
	if len(nodes) == 0 {
		return
	}
	var haveCPU, haveMem resource.Quantity
	var biggest resource.Quantity
	for _, h := range nodes {
		c, m, ok := v.s.HostSize(h)
		if !ok {
			return // sizes are checked only when every schedulable host declares one
		}
		haveCPU.Add(c)
		haveMem.Add(m)
		if m.Cmp(biggest) > 0 {
			biggest = m
		}
	}
	var needCPU, needMem resource.Quantity
	for _, c := range comps {
		req, ok := requirements[c]
		if !ok || req.cpu == "" {
			continue
		}
		cpu, mem := resource.MustParse(req.cpu), resource.MustParse(req.memory)
		times := 1
		if req.perNode {
			times = len(nodes)
		}
		for range times {
			needCPU.Add(cpu)
			needMem.Add(mem)
		}
	}
	const p = "kubesphere.spec"
	if needCPU.Cmp(haveCPU) > 0 || needMem.Cmp(haveMem) > 0 {
		v.warnf(p, ErrTooSmall, "KubeSphere with %s requests %s cores and %s; the %d worker hosts declare %s cores and %s",
			strings.Join(comps, ", "), formatCPU(needCPU), formatMemory(needMem), len(nodes), formatCPU(haveCPU), formatMemory(haveMem))
	}
	if slices.Contains(comps, images.ComponentDevOps) && biggest.Cmp(devOpsNodeMemory) <= 0 {
		v.warnf("kubesphere.spec.devops.enabled", ErrTooSmall, "DevOps needs one worker with more than 8 GB of memory; the largest declares %s", formatMemory(biggest))
	}
}

func (v *validator) componentStorage(comps []string) {
	ks := v.s.KubeSphere
	byClass := map[string][]string{}
	from := map[string]string{} // the field that first named each class
	for _, c := range comps {
		field := requirements[c].persistent
		if field == "" {
			continue
		}
		class, _ := ks.lookup(field).(string)
		if class == "" && field != "persistence.storageClass" {
			field = "persistence.storageClass"
			class, _ = ks.lookup(field).(string)
		}
		byClass[class] = append(byClass[class], c)
		if _, ok := from[class]; !ok {
			from[class] = "kubesphere.spec." + field
		}
	}
	for _, class := range slices.Sorted(maps.Keys(byClass)) {
		if v.s.hasStorageClass(class) {
			continue
		}
		comps := strings.Join(byClass[class], ", ")
		if class == "" {
			v.warnf(from[class], ErrNoStorage,
				"KubeSphere's %s need a default StorageClass and none will exist: OpenEBS is off (ksgen.spec.storage.openebs.enabled) and ksgen.spec.storage.defaultStorageClass names none from spec.addons", comps)
			continue
		}
		v.warnf(from[class], ErrNoStorage,
			"KubeSphere's %s need StorageClass %q and nothing in the spec creates it", comps, class)
	}
}
