package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/plan"
)

var updateGolden = flag.Bool("update", false, "rewrite cmd/ksgen/testdata/*.golden from the current output")

// checkGolden compares got with testdata/<name>, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/ksgen -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/ksgen -run %s -update rewrites it)\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

const statusSpec = "testdata/status-kubesphere.yaml"

// ksInstallerDone is the end of ks-installer's log once every task
// succeeded: its summary, then the final message.
const ksInstallerDone = `task monitoring status is successful  (2/2)
total: 2     completed:2
**************************************************
#####################################################
###              Welcome to KubeSphere!           ###
#####################################################

Console: http://10.0.7.11:30880
Account: admin
Password: P@88w0rd
`

const ksInstallerRunning = `Start installing monitoring
**************************************************
task monitoring status is running
task multicluster status is successful  (1/2)
total: 2     completed:1
**************************************************
`

// cluster is what a fake API holds for statusSpec.
type cluster struct {
	ready      map[string]bool // registered nodes and their Ready status
	calicoUp   int32           // calico-node pods ready, of len(ready)
	openebs    bool            // the provisioner is available
	installer  corev1.PodPhase // ks-installer's phase, "" for no pod
	installLog string
}

func completeCluster() cluster {
	return cluster{
		ready:    map[string]bool{"master1": true, "master2": true, "master3": true, "node1": true, "node2": true},
		calicoUp: 5, openebs: true, installer: corev1.PodRunning, installLog: ksInstallerDone,
	}
}

func (c cluster) objects() []runtime.Object {
	var objs []runtime.Object
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range c.ready {
			if !yield(n) {
				return
			}
		}
	}) {
		cond := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"}
		if !c.ready[name] {
			cond = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
				Message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"}
		}
		objs = append(objs, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{cond},
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.26.15"},
			},
		})
	}
	desired := int32(len(c.ready))
	objs = append(objs, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "calico-system", Name: "calico-node"},
		Status:     appsv1.DaemonSetStatus{DesiredNumberScheduled: desired, NumberReady: c.calicoUp, NumberAvailable: c.calicoUp, NumberUnavailable: desired - c.calicoUp},
	})
	one := int32(1)
	avail := int32(0)
	if c.openebs {
		avail = 1
	}
	objs = append(objs, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "openebs", Name: "openebs-localpv-provisioner"},
		Spec:       appsv1.DeploymentSpec{Replicas: &one},
		Status:     appsv1.DeploymentStatus{AvailableReplicas: avail, ReadyReplicas: avail},
	})
	if c.installer != "" {
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kubesphere-system", Name: "ks-installer-7d9d8d5b4-x2x9q", Labels: map[string]string{"app": "ks-installer"}},
			Status:     corev1.PodStatus{Phase: c.installer},
		})
	}
	return objs
}

// fakeChecker reads c through client-go's fake clientset.
func (c cluster) fakeChecker() *statusChecker {
	sc := newStatusChecker(fake.NewClientset(c.objects()...))
	sc.logs = func(_ context.Context, ns, pod string) (string, error) {
		if ns != "kubesphere-system" || !strings.HasPrefix(pod, "ks-installer-") {
			return "", os.ErrNotExist
		}
		return c.installLog, nil
	}
	return sc
}

func statusPlan(t *testing.T) *plan.Cluster {
	t.Helper()
	c, err := loadPlan(statusSpec, false, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStatusCheck(t *testing.T) {
	t.Parallel()
	c := statusPlan(t)
	for _, tc := range []struct {
		name    string
		cluster func() cluster
		golden  string
		failing []string
	}{
		{"complete", completeCluster, "status-complete.golden", nil},
		{"in progress", func() cluster {
			c := completeCluster()
			delete(c.ready, "node2")
			c.ready["node1"] = false
			c.calicoUp, c.openebs, c.installLog = 3, false, ksInstallerRunning
			return c
		}, "status-progress.golden", []string{
			"node1 (NotReady: KubeletNotReady container runtime network not ready: NetworkReady=false rea…)",
			"node2 (not registered)",
			"cni calico (3/4 ready (DaemonSet calico-system/calico-node))",
			"storage openebs (0/1 available (Deployment openebs/openebs-localpv-provisioner))",
			"kubesphere v3.4.1 (installing: total: 2 completed:1)",
		}},
		{"nothing yet", func() cluster { return cluster{ready: map[string]bool{}} }, "status-empty.golden", []string{
			"master1 (not registered)", "master2 (not registered)", "master3 (not registered)", "node1 (not registered)", "node2 (not registered)",
			"cni calico (0/0 ready (DaemonSet calico-system/calico-node))",
			"storage openebs (0/1 available (Deployment openebs/openebs-localpv-provisioner))",
			"kubesphere v3.4.1 (ks-installer not created yet)",
		}},
		{"installer pending", func() cluster {
			c := completeCluster()
			c.installer = corev1.PodPending
			return c
		}, "", []string{"kubesphere v3.4.1 (ks-installer pending)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, err := tc.cluster().fakeChecker().check(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Failing(); !slices.Equal(got, tc.failing) {
				t.Errorf("failing:\n%q\nwant\n%q", got, tc.failing)
			}
			if st.Complete() != (len(tc.failing) == 0) {
				t.Errorf("Complete() = %v with failing %v", st.Complete(), tc.failing)
			}
			if tc.golden == "" {
				return
			}
			var out bytes.Buffer
			if err := printStatus(&out, st); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, out.String())
		})
	}
}

// TestConsoleURL checks where the banner sends the operator: the VIP when
// ksgen's load balancers forward ks-console, else the first control plane.
func TestConsoleURL(t *testing.T) {
	t.Parallel()
	if got, want := consoleURL(statusPlan(t)), "http://10.0.7.100:30880"; got != want {
		t.Errorf("load-balancer hosts: console %s, want %s", got, want)
	}
	c, err := loadPlan("../../testdata/config-sample.yaml", false, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := consoleURL(c), "http://172.16.0.2:30880"; got != want {
		t.Errorf("internal HAProxy: console %s, want %s", got, want)
	}
}

// TestStatusWait waits on a fake cluster that completes after a few looks,
// and on one where node2 never registers: the first returns with the
// banner, the second fails at the timeout naming node2.
func TestStatusWait(t *testing.T) {
	t.Parallel()
	c := statusPlan(t)
	f := &statusFlags{wait: true, timeout: 5 * time.Second, interval: 20 * time.Millisecond}

	t.Run("completes", func(t *testing.T) {
		t.Parallel()
		cl := completeCluster()
		cl.installLog = ksInstallerRunning
		sc := cl.fakeChecker()
		var mu sync.Mutex
		looks := 0
		sc.logs = func(context.Context, string, string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			looks++
			if looks < 4 {
				return ksInstallerRunning, nil
			}
			return ksInstallerDone, nil
		}
		var stdout, stderr lockedBuffer
		if err := watchStatus(context.Background(), sc, c, f, "https://test", &stdout, &stderr); err != nil {
			t.Fatalf("wait: %v\nstderr:\n%s", err, stderr.String())
		}
		if !strings.Contains(stdout.String(), "Console: http://10.0.7.100:30880") || !strings.Contains(stdout.String(), "cluster status is complete") {
			t.Errorf("stdout has no banner or completion line:\n%s", stdout.String())
		}
		if n := strings.Count(stderr.String(), "waiting: "); n != 1 {
			t.Errorf("progress printed %d times, want once (it did not change):\n%s", n, stderr.String())
		}
	})

	t.Run("times out", func(t *testing.T) {
		t.Parallel()
		cl := completeCluster()
		delete(cl.ready, "node2")
		cl.calicoUp = 4
		f := *f
		f.timeout = 200 * time.Millisecond
		var stdout, stderr lockedBuffer
		err := watchStatus(context.Background(), cl.fakeChecker(), c, &f, "https://test", &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") || !strings.Contains(err.Error(), "node2 (not registered)") {
			t.Fatalf("error %v, want a timeout naming node2", err)
		}
		if strings.Contains(err.Error(), "master1") || strings.Contains(stdout.String(), "Welcome") {
			t.Errorf("a Ready host is named, or the banner printed:\n%v\n%s", err, stdout.String())
		}
		if !strings.Contains(stdout.String(), "node2    worker") {
			t.Errorf("the last table was not printed:\n%s", stdout.String())
		}
	})
}

// apiObjects serves a fake cluster's objects over the API paths status
// reads, as kube-apiserver encodes them.
func apiObjects(t *testing.T, c cluster) http.Handler {
	t.Helper()
	paths := map[string]any{}
	nodes := &corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}}
	pods := &corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
	for _, o := range c.objects() {
		switch o := o.(type) {
		case *corev1.Node:
			nodes.Items = append(nodes.Items, *o)
		case *corev1.Pod:
			pods.Items = append(pods.Items, *o)
			paths["/api/v1/namespaces/kubesphere-system/pods/"+o.Name+"/log"] = c.installLog
		case *appsv1.DaemonSet:
			o.TypeMeta = metav1.TypeMeta{Kind: "DaemonSet", APIVersion: "apps/v1"}
			paths["/apis/apps/v1/namespaces/"+o.Namespace+"/daemonsets/"+o.Name] = o
		case *appsv1.Deployment:
			o.TypeMeta = metav1.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"}
			paths["/apis/apps/v1/namespaces/"+o.Namespace+"/deployments/"+o.Name] = o
		}
	}
	paths["/api/v1/nodes"] = nodes
	paths["/api/v1/namespaces/kubesphere-system/pods"] = pods
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := paths[r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure", Reason: metav1.StatusReasonNotFound, Code: 404, Message: r.URL.Path + " not found"})
			return
		}
		if r.URL.Path == "/api/v1/namespaces/kubesphere-system/pods" && r.URL.Query().Get("labelSelector") != "app=ks-installer" {
			http.Error(w, "unexpected selector "+r.URL.Query().Get("labelSelector"), http.StatusBadRequest)
			return
		}
		if s, ok := v.(string); ok {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(s))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	})
}

// TestStatusCLI runs ksgen status against a loopback HTTPS server that
// requires client certificates from the bundle CA: the command issues its
// own credential, prints the table and the banner, and exits 0; with node2
// missing, --wait fails naming it.
func TestStatusCLI(t *testing.T) {
	t.Parallel()
	b := loadTestBundle(t)
	done := fakeAPIServer(t, b, apiObjects(t, completeCluster()))
	stdout, stderr, err := ksgen(t, "status", "-f", statusSpec, "--secrets", testBundle, "--server", done.URL)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, stderr)
	}
	checkGolden(t, "status-complete.golden", stdout)

	partial := completeCluster()
	delete(partial.ready, "node2")
	partial.calicoUp = 4
	srv := fakeAPIServer(t, b, apiObjects(t, partial))
	stdout, stderr, err = ksgen(t, "status", "-f", statusSpec, "--secrets", testBundle, "--server", srv.URL, "--wait", "--timeout", "300ms", "--interval", "50ms")
	if err == nil || !strings.Contains(err.Error(), "node2 (not registered)") || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("status --wait on a cluster without node2: error %v, want a timeout naming node2\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "waiting: 4/5 hosts Ready") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	if strings.Contains(stdout, "Welcome") {
		t.Errorf("banner printed for an incomplete cluster:\n%s", stdout)
	}

	// A server whose CA is not the bundle's: --wait gives up at once.
	other, err := pki.Generate(pki.Options{KeyAlgorithm: pki.AlgorithmECDSA})
	if err != nil {
		t.Fatal(err)
	}
	foreign := fakeAPIServer(t, other, apiObjects(t, completeCluster()))
	start := time.Now()
	_, _, err = ksgen(t, "status", "-f", statusSpec, "--secrets", testBundle, "--server", foreign.URL, "--wait", "--timeout", "1m", "--interval", "50ms")
	if err == nil || !strings.Contains(err.Error(), "unknown authority") || !strings.Contains(err.Error(), "waiting will not help") {
		t.Errorf("status --wait against another CA's server: %v, want an immediate certificate error", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("status --wait against another CA's server took %s: it waited", d)
	}

	// No bundle, no credential: an error before any request.
	if _, _, err := ksgen(t, "status", "-f", statusSpec, "--secrets", "no-such.yaml", "--server", done.URL); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("status without a bundle: %v", err)
	}
}
