package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ksgen/ksgen/generator/delivery/fleet"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
)

// KubeSphere's defaults, as its installer's final message gives them.
const (
	consolePort       = 30880
	consoleAccount    = "admin"
	consolePassword   = "P@88w0rd"
	kubesphereNS      = "kubesphere-system"
	ksInstallerLabel  = "app=ks-installer"
	ksConsole         = "ks-console"
	ksInstallerBanner = "Welcome to KubeSphere!"
	// ksInstallerTail is how many log lines status reads from ks-installer:
	// its final message follows the last task's summary.
	ksInstallerTail = 2000
)

// cniWorkloads is the DaemonSet that runs each network plugin's agent on
// every node, as the init node's addons step installs it: Calico through
// the Tigera operator, flannel's own manifest, Cilium's chart in kube-system.
var cniWorkloads = map[string][2]string{
	"calico":  {"calico-system", "calico-node"},
	"flannel": {"kube-flannel", "kube-flannel-ds"},
	"cilium":  {"kube-system", "cilium"},
}

// openEBSProvisioner is the Deployment of OpenEBS local PV's hostpath
// operator manifest.
var openEBSProvisioner = [2]string{"openebs", "openebs-localpv-provisioner"}

// hostStatus is one spec host as the API shows it.
type hostStatus struct {
	Name  string
	Roles []string
	// Expected is false for hosts that never register (etcd-only,
	// registry and load-balancer hosts run no kubeadm).
	Expected   bool
	Registered bool
	Ready      bool
	Kubelet    string
	Detail     string
	// Report is the host's first-boot state as ksgen serve has it; nil when
	// reports are not read.
	Report *fleet.Node
}

// componentStatus is one cluster component after kubeadm: CNI, storage,
// KubeSphere.
type componentStatus struct {
	Name  string
	Done  bool
	State string
}

// clusterStatus is one look at the cluster.
type clusterStatus struct {
	Hosts      []hostStatus
	Components []componentStatus
	// Console is KubeSphere's console URL, "" without KubeSphere.
	Console string
	// Reports is true when the hosts carry ksgen serve's reports;
	// ReportsErr says why they could not be read.
	Reports    bool
	ReportsErr string
	// APIDown is true when the API never answered: the hosts are what
	// their reports show.
	APIDown bool
}

// Complete reports whether every expected host is registered and Ready and
// every component is done.
func (s *clusterStatus) Complete() bool { return len(s.Failing()) == 0 }

// Failing names what is not done yet: hosts first, in spec order, then
// components.
func (s *clusterStatus) Failing() []string {
	var out []string
	for _, h := range s.Hosts {
		switch {
		case !h.Expected:
		case s.APIDown && h.Report != nil && h.Report.Phase() == fleet.PhaseBootstrapped:
			// Its bootstrap says it finished; the API is what is missing.
		case !h.Registered:
			out = append(out, h.Name+" ("+h.Detail+reported(h.Report)+")")
		case !h.Ready:
			out = append(out, h.Name+" (NotReady"+prefixed(": ", h.Detail)+reported(h.Report)+")")
		}
	}
	for _, c := range s.Components {
		if !c.Done {
			out = append(out, c.Name+" ("+c.State+")")
		}
	}
	return out
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// Summary is one line of progress: ready hosts and each component's state.
func (s *clusterStatus) Summary() string {
	ready, expected := 0, 0
	for _, h := range s.Hosts {
		if h.Expected {
			expected++
			if h.Ready {
				ready++
			}
		}
	}
	parts := []string{fmt.Sprintf("%d/%d hosts Ready", ready, expected)}
	for _, c := range s.Components {
		parts = append(parts, c.Name+": "+c.State)
	}
	return strings.Join(parts, "; ")
}

// statusChecker reads the cluster through a clientset.
type statusChecker struct {
	cs kubernetes.Interface
	// logs returns the last lines of a pod's log; a field so that tests of
	// the logic can stand in for the fake clientset, whose logs are fixed.
	logs func(ctx context.Context, namespace, pod string) (string, error)
	// reports reads the nodes' first-boot reports; nil without --serve-url.
	reports reportsFunc
}

func newStatusChecker(cs kubernetes.Interface) *statusChecker {
	return &statusChecker{cs: cs, logs: func(ctx context.Context, namespace, pod string) (string, error) {
		tail := int64(ksInstallerTail)
		raw, err := cs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
		return string(raw), err
	}}
}

// check looks at the cluster once. An error means the API could not be
// read; a cluster that is not done yet is not an error.
func (sc *statusChecker) check(ctx context.Context, c *plan.Cluster) (*clusterStatus, error) {
	list, err := sc.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	nodes := map[string]*corev1.Node{}
	for i := range list.Items {
		nodes[list.Items[i].Name] = &list.Items[i]
	}
	st := &clusterStatus{Hosts: hostsOf(c, nodes)}
	sc.addReports(ctx, st)
	if cni, err := sc.cni(ctx, c.CNI); err != nil {
		return nil, err
	} else if cni != nil {
		st.Components = append(st.Components, *cni)
	}
	if c.OpenEBS.Enabled {
		s, err := sc.deployment(ctx, "storage openebs", openEBSProvisioner[0], openEBSProvisioner[1])
		if err != nil {
			return nil, err
		}
		st.Components = append(st.Components, s)
	}
	if ks := c.KubeSphere; ks != nil {
		s, err := sc.kubesphere(ctx, ks.Version)
		if err != nil {
			return nil, err
		}
		st.Components = append(st.Components, s)
		st.Console = consoleURL(c)
	}
	return st, nil
}

// hostsOf is every spec host, in spec order, as the API's nodes show it.
func hostsOf(c *plan.Cluster, nodes map[string]*corev1.Node) []hostStatus {
	var out []hostStatus
	hosts := slices.Clone(c.Nodes)
	slices.SortStableFunc(hosts, func(a, b *plan.Node) int { return a.Index - b.Index })
	for _, n := range hosts {
		h := hostStatus{Name: n.Name, Roles: n.Roles, Expected: n.Action != plan.None}
		if node, ok := nodes[n.Name]; ok {
			h.Registered = true
			h.Kubelet = node.Status.NodeInfo.KubeletVersion
			h.Ready, h.Detail = nodeReady(node)
		} else if h.Expected {
			h.Detail = "not registered"
		} else {
			h.Detail = "registers no node (" + strings.Join(n.Roles, ",") + ")"
		}
		out = append(out, h)
	}
	return out
}

// nodeReady reads a node's Ready condition, and why it is not Ready.
func nodeReady(n *corev1.Node) (bool, string) {
	for _, cond := range n.Status.Conditions {
		if cond.Type != corev1.NodeReady {
			continue
		}
		if cond.Status == corev1.ConditionTrue {
			return true, ""
		}
		why := cond.Reason
		if cond.Message != "" {
			why = strings.TrimSpace(why + " " + oneLine(cond.Message, 60))
		}
		return false, why
	}
	return false, "no Ready condition yet"
}

// oneLine cuts s at its first line break and at n runes.
func oneLine(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// cni is the network plugin's DaemonSet, ready on every node it schedules
// to; nil when ksgen installs no CNI (plugin none or unknown).
func (sc *statusChecker) cni(ctx context.Context, plugin string) (*componentStatus, error) {
	w, ok := cniWorkloads[plugin]
	if !ok {
		return nil, nil
	}
	st := componentStatus{Name: "cni " + plugin}
	ds, err := sc.cs.AppsV1().DaemonSets(w[0]).Get(ctx, w[1], metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		st.State = "DaemonSet " + w[0] + "/" + w[1] + " not created yet"
		return &st, nil
	case err != nil:
		return nil, fmt.Errorf("read DaemonSet %s/%s: %w", w[0], w[1], err)
	}
	st.Done = daemonSetReady(ds)
	st.State = fmt.Sprintf("%d/%d ready (DaemonSet %s/%s)", ds.Status.NumberReady, ds.Status.DesiredNumberScheduled, w[0], w[1])
	return &st, nil
}

func daemonSetReady(ds *appsv1.DaemonSet) bool {
	s := ds.Status
	return s.DesiredNumberScheduled > 0 && s.NumberReady == s.DesiredNumberScheduled && s.NumberUnavailable == 0
}

// deployment is done when a Deployment has all its replicas available.
func (sc *statusChecker) deployment(ctx context.Context, name, namespace, deploy string) (componentStatus, error) {
	st := componentStatus{Name: name}
	d, err := sc.cs.AppsV1().Deployments(namespace).Get(ctx, deploy, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		st.State = "Deployment " + namespace + "/" + deploy + " not created yet"
		return st, nil
	case err != nil:
		return st, fmt.Errorf("read Deployment %s/%s: %w", namespace, deploy, err)
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st.Done = want > 0 && d.Status.AvailableReplicas >= want
	st.State = fmt.Sprintf("%d/%d available (Deployment %s/%s)", d.Status.AvailableReplicas, want, namespace, deploy)
	return st, nil
}

// kubesphere is KubeSphere's installation state. v3: ks-installer is done
// when its log shows its final message, the content of
// /kubesphere/playbooks/kubesphere_running that it prints once every task
// succeeded; KubeKey reads that same file through kubectl exec. Meanwhile
// the last log line is the progress. v4 (the ks-core chart): ks-console is
// available.
func (sc *statusChecker) kubesphere(ctx context.Context, version string) (componentStatus, error) {
	name := "kubesphere " + version
	if r, ok := images.KubeSphere(version); ok && r.Helm {
		return sc.deployment(ctx, name, kubesphereNS, ksConsole)
	}
	st := componentStatus{Name: name}
	pods, err := sc.cs.CoreV1().Pods(kubesphereNS).List(ctx, metav1.ListOptions{LabelSelector: ksInstallerLabel})
	if err != nil {
		return st, fmt.Errorf("list ks-installer pods: %w", err)
	}
	if len(pods.Items) == 0 {
		st.State = "ks-installer not created yet"
		return st, nil
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	pod := pods.Items[0]
	if pod.Status.Phase != corev1.PodRunning {
		st.State = "ks-installer " + strings.ToLower(string(pod.Status.Phase))
		return st, nil
	}
	log, err := sc.logs(ctx, kubesphereNS, pod.Name)
	if err != nil {
		st.State = "ks-installer running (log unreadable: " + oneLine(err.Error(), 60) + ")"
		return st, nil
	}
	if strings.Contains(log, ksInstallerBanner) {
		st.Done, st.State = true, "installed (ks-installer finished)"
		return st, nil
	}
	st.State = "installing"
	if last := lastLine(log); last != "" {
		st.State += ": " + oneLine(strings.Join(strings.Fields(last), " "), 70)
	}
	return st, nil
}

// lastLine is the last line of s with text in it.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && strings.Trim(l, "*") != "" {
			return l
		}
	}
	return ""
}

// consoleURL is where ks-console's NodePort answers: the VIP when ksgen's
// load balancers forward it, else the first control plane's address.
func consoleURL(c *plan.Cluster) string {
	addr := ""
	if len(c.LoadBalancers) > 0 && c.Endpoint.Address != "" {
		for _, p := range c.Endpoint.Ports {
			if p.Port == consolePort {
				addr = c.Endpoint.Address
			}
		}
	}
	if addr == "" && len(c.ControlPlanes) > 0 {
		addr = c.ControlPlanes[0].Address
	}
	return "http://" + net.JoinHostPort(addr, strconv.Itoa(consolePort))
}

// printStatus writes the host table, the component table and, once the
// cluster is complete with KubeSphere, the console banner.
func printStatus(w io.Writer, st *clusterStatus) error {
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	// With reports, a BOOTSTRAP column shows each host's last reported phase.
	bootstrap := func(h hostStatus) string {
		if h.Report == nil {
			return ""
		}
		return h.Report.Phase() + "\t"
	}
	header := "HOST\tROLES\tREGISTERED\tREADY\tKUBELET\tDETAIL"
	if st.Reports {
		header = "HOST\tROLES\tREGISTERED\tREADY\tKUBELET\tBOOTSTRAP\tDETAIL"
	}
	fmt.Fprintln(tw, header)
	yes := func(expected, b bool) string {
		switch {
		case !expected:
			return "-"
		case st.APIDown:
			return "?" // the API never answered
		case b:
			return "yes"
		}
		return "no"
	}
	for _, h := range st.Hosts {
		kubelet := h.Kubelet
		if kubelet == "" {
			kubelet = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s\n", h.Name, strings.Join(h.Roles, ","),
			yes(h.Expected || h.Registered, h.Registered), yes(h.Expected || h.Registered, h.Ready), kubelet, bootstrap(h),
			strings.Join(slices.DeleteFunc([]string{h.Detail, reportedError(h)}, func(s string) bool { return s == "" }), "; "))
	}
	if len(st.Components) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "COMPONENT\tDONE\tSTATE")
		for _, c := range st.Components {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, yes(true, c.Done), c.State)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := io.WriteString(w, trimLines(table.String())); err != nil {
		return err
	}
	if st.ReportsErr != "" {
		if _, err := fmt.Fprintf(w, "\nfirst-boot reports unavailable: %s\n", st.ReportsErr); err != nil {
			return err
		}
	}
	if st.Console != "" && st.Complete() {
		return printBanner(w, st.Console)
	}
	return nil
}

// trimLines drops the padding tabwriter leaves after an empty last cell.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// printBanner is the final message KubeKey shows once KubeSphere is
// installed: where the console is and its default account.
func printBanner(w io.Writer, console string) error {
	rule := strings.Repeat("#", 53)
	_, err := fmt.Fprintf(w, `
%s
###              Welcome to KubeSphere!           ###
%s

Console: %s
Account: %s
Password: %s

NOTE: Please change the default password after login.
%s
`, rule, rule, console, consoleAccount, consolePassword, rule)
	return err
}
