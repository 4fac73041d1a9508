package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// netcheckImage is the booted e2e's workload image (testdata/netcheck),
// imported on every node with the images ksgen names; pods run it with
// imagePullPolicy Never, as nothing can be pulled here.
const netcheckImage = "ksgen.test/netcheck:1"

// netPods starts one netcheck server pod on each worker (pinned by
// nodeName) and a Service over node1's, and returns each pod's IP by
// worker once every pod is Running.
func netPods(t *testing.T, m1 *Machine, kubectl func(...string) ([]byte, error), workers []string) map[string]string {
	t.Helper()
	var docs []string
	for _, w := range workers {
		docs = append(docs, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: net-%[1]s, namespace: default, labels: {app: net, node: %[1]s}}
spec:
  nodeName: %[1]s
  terminationGracePeriodSeconds: 1
  containers:
  - {name: net, image: %[2]s, imagePullPolicy: Never, command: [/netcheck, serve], ports: [{containerPort: 8080}]}
`, w, netcheckImage))
	}
	docs = append(docs, netService("net", workers[0]))
	applyManifest(t, m1, kubectl, "netcheck.yaml", strings.Join(docs, "---\n"))
	ips := map[string]string{}
	waitFor(t, bootSettleTimeout, "a netcheck pod Running on every worker", func() error {
		out, err := kubectl("get", "pods", "-l", "app=net", "-o", "json")
		if err != nil {
			return err
		}
		var list struct {
			Items []struct {
				Spec   struct{ NodeName string } `json:"spec"`
				Status struct {
					Phase string `json:"phase"`
					PodIP string `json:"podIP"`
				} `json:"status"`
			} `json:"items"`
		}
		if err := json.Unmarshal(out, &list); err != nil {
			return err
		}
		for _, p := range list.Items {
			if p.Status.Phase == "Running" && p.Status.PodIP != "" {
				ips[p.Spec.NodeName] = p.Status.PodIP
			}
		}
		if len(ips) != len(workers) {
			return fmt.Errorf("running on %v", ips)
		}
		return nil
	})
	return ips
}

// netService is a Service named name over the netcheck pod on worker.
func netService(name, worker string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  selector: {app: net, node: %s}
  ports: [{port: 8080, targetPort: 8080}]
`, name, worker)
}

// applyManifest writes a manifest into m's disk (/var/tmp: nspawn mounts a
// tmpfs on /tmp) and applies it there.
func applyManifest(t *testing.T, m *Machine, kubectl func(...string) ([]byte, error), name, body string) {
	t.Helper()
	file := filepath.Join(m.Root, "var/tmp", name)
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl("apply", "-f", "/var/tmp/"+name); err != nil {
		t.Fatalf("kubectl apply %s: %v\n%s", name, err, out)
	}
}

// checkNetwork is what a user checks of the pod network and DNS: a pod on
// each worker reaches the pod on the next worker by IP, and from a worker
// other than node1 a Service name resolves through CoreDNS to its
// ClusterIP, which answers from node1's pod.
func checkNetwork(t *testing.T, kubectl func(...string) ([]byte, error), workers []string, ips map[string]string) {
	t.Helper()
	for i, from := range workers {
		to := workers[(i+1)%len(workers)]
		want := "net-" + to
		waitFor(t, time.Minute, fmt.Sprintf("the pod on %s to reach the pod on %s by IP", from, to), func() error {
			out, err := kubectl("exec", "net-"+from, "--", "/netcheck", "get", "http://"+ips[to]+":8080/")
			if err != nil || string(out) != want {
				return fmt.Errorf("%q %v", out, err)
			}
			return nil
		})
	}
	checkService(t, kubectl, "net", workers)
}

// checkService checks that Service name (over node1's pod) resolves through
// CoreDNS to its ClusterIP from the pod on the last worker, and answers
// there by name.
func checkService(t *testing.T, kubectl func(...string) ([]byte, error), name string, workers []string) {
	t.Helper()
	from := "net-" + workers[len(workers)-1]
	clusterIP, err := kubectl("get", "service", name, "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		t.Fatalf("service %s: %v %s", name, err, clusterIP)
	}
	fqdn := name + ".default.svc.cluster.local"
	waitFor(t, 2*time.Minute, fqdn+" to resolve through CoreDNS from "+from, func() error {
		out, err := kubectl("exec", from, "--", "/netcheck", "lookup", fqdn)
		if err != nil || !slices.Contains(strings.Fields(string(out)), string(clusterIP)) {
			return fmt.Errorf("%q %v, want %s", out, err, clusterIP)
		}
		return nil
	})
	want := "net-" + workers[0]
	waitFor(t, 2*time.Minute, "service "+name+" to answer from "+from, func() error {
		out, err := kubectl("exec", from, "--", "/netcheck", "get", "http://"+name+":8080/")
		if err != nil || string(out) != want {
			return fmt.Errorf("%q %v", out, err)
		}
		return nil
	})
}
