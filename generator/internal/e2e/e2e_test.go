package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/plan"
)

// Budgets of the phases after the build; the whole test is bounded by
// go test -timeout as well (see make e2e).
const (
	clusterLife      = 40 * time.Minute // namespace holders exit by then whatever happens
	bootstrapTimeout = 15 * time.Minute
	settleTimeout    = 3 * time.Minute
)

// e2eHost is a host of testdata/cluster.yaml.
type e2eHost struct{ name, ip, role string }

// TestCluster renders testdata/cluster.yaml with the ksgen command and
// brings the cluster up from the output alone: each node runs its own
// generated bootstrap (kubeadm init or join), kubelet runs as the rendered
// unit says, and the worker reaches the API through its own HAProxy.
func TestCluster(t *testing.T) {
	if os.Getenv("KSGEN_E2E") == "" {
		t.Skip("the end-to-end cluster runs with make e2e (KSGEN_E2E=1, root, about 15 minutes)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("make e2e needs root: it makes namespaces, mounts and cgroups")
	}
	for _, c := range []string{"containerd", "runc", "ctr", "unshare", "nsenter", "ip", "curl", "haproxy", "ldd"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s not found: .ci/run installs containerd, runc, haproxy, iproute2, curl", c)
		}
	}
	start := time.Now()
	phase := func(name string, since time.Time) {
		t.Logf("phase %-10s %6.1fs (total %6.1fs)", name, time.Since(since).Seconds(), time.Since(start).Seconds())
	}
	work := t.TempDir()
	specFile, err := filepath.Abs("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}

	// Build: Kubernetes at the spec's version and etcd from the Go module
	// proxy, the pause stand-in, and the ksgen command itself.
	t0 := time.Now()
	version, allHosts := loadCluster(t, specFile)
	// The late worker boots only once the token's original TTL has passed.
	var e2eHosts []e2eHost
	var late e2eHost
	for _, h := range allHosts {
		if h.name == lateWorker {
			late = h
		} else {
			e2eHosts = append(e2eHosts, h)
		}
	}
	if late.name == "" {
		t.Fatalf("testdata/cluster.yaml has no host %s", lateWorker)
	}
	kube, err := consumers.KubernetesBinaries(version)
	if err != nil {
		t.Fatal(err)
	}
	etcd, err := consumers.EtcdBinaries()
	if err != nil {
		t.Fatal(err)
	}
	crictl, err := consumers.CrictlBinary()
	if err != nil {
		t.Fatal(err)
	}
	ksgen := filepath.Join(work, "ksgen")
	goBuild(t, ksgen, "github.com/ksgen/ksgen/cmd/ksgen", "")
	pause := filepath.Join(work, "pause")
	goBuild(t, pause, ".", "testdata/pause")
	phase("build", t0)

	// Render, as a user would.
	t0 = time.Now()
	out := filepath.Join(work, "out")
	bundle := filepath.Join(work, "ksgen-secrets.yaml")
	ksgenRun(t, ksgen, "secrets", "gen", "-o", bundle)
	ksgenRun(t, ksgen, "validate", "-f", specFile)
	ksgenRun(t, ksgen, "render", "-f", specFile, "--secrets", bundle, "-o", out)
	imageList := strings.Fields(string(ksgenRun(t, ksgen, "images", "list", "-f", specFile)))
	phase("render", t0)

	// Images: what `ksgen images list` names, packed from what was built.
	t0 = time.Now()
	archives := packImages(t, work, imageList, programs{kube: kube, etcd: etcd, pause: pause})
	phase("images", t0)

	// Nodes: namespaces, rootfs, cgroups, containerd with the images.
	t0 = time.Now()
	net, err := NewNetwork(work, clusterLife)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Close)
	nodes := map[string]*Node{}
	for _, h := range allHosts {
		// Whatever a run killed before its cleanup left behind.
		if err := RemoveCgroups(cgroupRoot(h.name)); err != nil {
			t.Fatal(err)
		}
	}
	makeNode := func(h e2eHost) *Node {
		n, err := NewNode(h.name, h.ip, filepath.Join(out, h.name, "rootfs"), filepath.Join(work, "nodes", h.name), net, clusterLife)
		if n != nil {
			t.Cleanup(func() { teardown(t, n) })
		}
		if err != nil {
			t.Fatal(err)
		}
		nodes[h.name] = n
		bins := map[string]string{}
		for _, c := range []string{"kubeadm", "kubelet", "kubectl"} {
			bins["/usr/local/bin/"+c] = filepath.Join(kube, c)
		}
		bins["/usr/local/bin/crictl"] = crictl
		if err := n.LayRootfs(bins); err != nil {
			t.Fatal(err)
		}
		if err := n.MakeCgroups(cgroupRoot(h.name)); err != nil {
			t.Fatal(err)
		}
		startContainerd(t, n)
		for _, a := range archives {
			if _, err := n.Run(context.Background(), nil, "ctr", "-n", "k8s.io", "images", "import", a); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	for _, h := range e2eHosts {
		makeNode(h)
	}
	phase("nodes", t0)

	// Boot: every node at once, as machines powered on together; joiners
	// retry until the first control plane answers.
	t0 = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), clusterLife)
	t.Cleanup(cancel)
	for _, h := range e2eHosts {
		superviseKubelet(ctx, nodes[h.name])
		if h.role == "control-plane" {
			superviseTimer(ctx, nodes[h.name], "ksgen-join-window.service", "join-window", joinWindowEvery)
		}
	}
	bootCtx, bootCancel := context.WithTimeout(ctx, bootstrapTimeout)
	defer bootCancel()
	var wg sync.WaitGroup
	errs := make([]error, len(e2eHosts))
	for i, h := range e2eHosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t1 := time.Now()
			errs[i] = bootstrap(bootCtx, nodes[h.name], "bootstrap")
			t.Logf("%s: bootstrap done in %.1fs (err=%v)", h.name, time.Since(t1).Seconds(), errs[i])
		}()
	}
	wg.Wait()
	for i, h := range e2eHosts {
		if errs[i] != nil {
			t.Fatalf("%s: bootstrap: %v", h.name, errs[i])
		}
	}
	phase("boot", t0)

	// The cluster: three nodes with the spec's names, addresses and roles.
	t0 = time.Now()
	m1 := nodes["master1"]
	kubectl := func(n *Node, kubeconfig string, args ...string) ([]byte, error) {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return n.Run(c, nil, append([]string{"kubectl", "--kubeconfig", kubeconfig}, args...)...)
	}
	// ksgen-node-roles.timer fires a minute after boot and every minute:
	// fire it once, once the worker has registered, as systemd would.
	waitFor(t, settleTimeout, "node1 to register", func() error {
		_, err := kubectl(m1, "/etc/kubernetes/admin.conf", "get", "node", "node1")
		return err
	})
	if err := runService(ctx, m1, "ksgen-node-roles.service", "node-roles"); err != nil {
		t.Fatalf("master1: ksgen-node-roles.service: %v", err)
	}
	checkNodes(t, e2eHosts, func() ([]byte, error) {
		return kubectl(m1, "/etc/kubernetes/admin.conf", "get", "nodes", "-o", "json")
	})
	checkJoins(t, nodes, func() error {
		_, err := kubectl(m1, "/etc/kubernetes/admin.conf", "-n", "kube-system", "get", "secret", "kubeadm-certs")
		return err
	})
	phase("nodes-ok", t0)

	// The operator's access from the bundle alone (ksgen kubeconfig, ksgen
	// status), run in master1's network as an operator's machine on the
	// cluster's network would: a short-lived admin certificate lists every
	// node; one whose lifetime has passed is refused by the API server.
	t0 = time.Now()
	admin := filepath.Join(work, "admin.kubeconfig")
	ksgenRun(t, ksgen, "kubeconfig", "-f", specFile, "--secrets", bundle, "--ttl", "1h", "-o", admin)
	names, err := kubectl(m1, admin, "get", "nodes", "-o", "name")
	if err != nil {
		t.Fatalf("kubectl with ksgen kubeconfig's admin.kubeconfig: %v", err)
	}
	for _, h := range e2eHosts {
		if !strings.Contains(string(names), "node/"+h.name+"\n") {
			t.Errorf("kubectl with ksgen kubeconfig's credentials lists %q, not %s", names, h.name)
		}
	}
	expired := filepath.Join(work, "expired.kubeconfig")
	ksgenRun(t, ksgen, "kubeconfig", "-f", specFile, "--secrets", bundle, "--ttl", "2s", "-o", expired)
	time.Sleep(3 * time.Second)
	if out, err := kubectl(m1, expired, "get", "nodes"); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("an expired admin certificate: kubectl said %q, %v; want Unauthorized", out, err)
	}
	// Without a CNI (this test runs none) no node is Ready, so status must
	// exit non-zero and name every host with the kubelet's reason.
	sc, cancel := context.WithTimeout(ctx, time.Minute)
	status, err := m1.Run(sc, nil, ksgen, "status", "-f", specFile, "--secrets", bundle)
	cancel()
	if err == nil {
		t.Errorf("ksgen status exited 0 on a cluster without a CNI:\n%s", status)
	}
	for _, h := range e2eHosts {
		if !strings.Contains(err.Error(), h.name+" (NotReady") {
			t.Errorf("ksgen status does not name %s as NotReady:\n%s\n%v", h.name, status, err)
		}
	}
	t.Logf("ksgen status:\n%s%v", status, err)
	phase("operator", t0)

	// The worker reaches the API through its local HAProxy.
	t0 = time.Now()
	w := nodes["node1"]
	hosts, err := os.ReadFile(w.Path("/etc/hosts"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^127\.0\.0\.1 lb\.kubesphere\.local$`).Match(hosts) {
		t.Fatalf("node1: lb.kubesphere.local does not point at the local HAProxy:\n%s", hosts)
	}
	kubeletConf, err := os.ReadFile(w.Path("/etc/kubernetes/kubelet.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(kubeletConf, []byte("server: https://lb.kubesphere.local:6443")) {
		t.Fatalf("node1: kubelet.conf does not use the LB domain:\n%s", kubeletConf)
	}
	readyz := func() error {
		b, err := kubectl(w, "/etc/kubernetes/kubelet.conf", "get", "--raw", "/readyz")
		if err == nil && strings.TrimSpace(string(b)) != "ok" {
			err = fmt.Errorf("readyz: %q", b)
		}
		return err
	}
	if err := readyz(); err != nil {
		t.Fatalf("node1: /readyz through HAProxy: %v", err)
	}
	phase("lb", t0)

	// Failover: stop master1's apiserver as kubelet would (its manifest
	// leaves); the worker still reaches the API through HAProxy.
	t0 = time.Now()
	manifest := m1.Path("/etc/kubernetes/manifests/kube-apiserver.yaml")
	if err := os.Rename(manifest, m1.Path("/etc/kubernetes/kube-apiserver.yaml.stopped")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, settleTimeout, "master1's apiserver to stop", func() error {
		if _, err := m1.Run(ctx, nil, "curl", "-ksf", "--max-time", "2", "https://10.250.7.11:6443/readyz"); err == nil {
			return fmt.Errorf("still answers")
		}
		return nil
	})
	// HAProxy marks a server down after two failed checks 2s apart.
	time.Sleep(6 * time.Second)
	for i := range 20 {
		if err := readyz(); err != nil {
			t.Fatalf("node1: request %d through HAProxy with master1's apiserver down: %v", i+1, err)
		}
	}
	before := leaseRenewTime(t, func() ([]byte, error) {
		return kubectl(nodes["master2"], "/etc/kubernetes/admin.conf", "-n", "kube-node-lease", "get", "lease", "node1", "-o", "json")
	})
	waitFor(t, settleTimeout, "node1's kubelet to renew its lease through HAProxy", func() error {
		after := leaseRenewTime(t, func() ([]byte, error) {
			return kubectl(nodes["master2"], "/etc/kubernetes/admin.conf", "-n", "kube-node-lease", "get", "lease", "node1", "-o", "json")
		})
		if !after.After(before) {
			return fmt.Errorf("renewTime still %s", before)
		}
		return nil
	})
	phase("failover", t0)

	// A rerun on a configured node changes nothing.
	t0 = time.Now()
	for _, h := range e2eHosts {
		n := nodes[h.name]
		sum := treeSum(t, n.Path("/etc/kubernetes"), n.Path("/etc/hosts"), n.Path("/var/lib/ksgen"))
		if err := bootstrap(ctx, n, "bootstrap-rerun"); err != nil {
			t.Fatalf("%s: rerun: %v", h.name, err)
		}
		if log, _ := os.ReadFile(filepath.Join(n.Dir, "bootstrap-rerun.log")); !bytes.Contains(log, []byte("already bootstrapped")) {
			t.Errorf("%s: rerun did not say it was already bootstrapped:\n%s", h.name, log)
		}
		if again := treeSum(t, n.Path("/etc/kubernetes"), n.Path("/etc/hosts"), n.Path("/var/lib/ksgen")); again != sum {
			t.Errorf("%s: rerunning the bootstrap changed /etc/kubernetes, /etc/hosts or /var/lib/ksgen", h.name)
		}
	}
	phase("rerun", t0)

	// Certificate renewal on master2 (master1's apiserver is still stopped),
	// as ksgen-renew-certs.service runs it, with the threshold forced above
	// a year: kubeadm renews every certificate, crictl restarts the control
	// plane, and kube-apiserver serves a new serial.
	t0 = time.Now()
	m2 := nodes["master2"]
	served := func() string {
		b, err := m2.Run(ctx, nil, "sh", "-c", "openssl s_client -connect 10.250.7.12:6443 </dev/null 2>/dev/null | openssl x509 -noout -serial")
		if err != nil {
			t.Fatalf("master2: the serial kube-apiserver serves: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	expiration := func() string {
		b, err := m2.Run(ctx, nil, "kubeadm", "certs", "check-expiration")
		if err != nil {
			t.Fatalf("master2: kubeadm certs check-expiration: %v", err)
		}
		return string(b)
	}
	servedBefore, expBefore := served(), expiration()
	argv, err := ServiceCommand(m2.Path("/"), "ksgen-renew-certs.service")
	if err != nil {
		t.Fatal(err)
	}
	p, err := m2.Start(ctx, "renew-certs", nil, append(argv, "400")...)
	if err != nil {
		t.Fatal(err)
	}
	renewLog := filepath.Join(m2.Dir, "renew-certs.log")
	if err := p.Wait(); err != nil {
		log, _ := os.ReadFile(renewLog)
		t.Fatalf("master2: ksgen-renew-certs.service: %v\n%s", err, log)
	}
	servedAfter, expAfter := served(), expiration()
	t.Logf("master2: kubeadm certs check-expiration before renewal:\n%s\nafter:\n%s", expBefore, expAfter)
	if servedAfter == servedBefore || !strings.HasPrefix(servedAfter, "serial=") {
		log, _ := os.ReadFile(renewLog)
		t.Fatalf("master2: kube-apiserver serves %q, before renewal %q\n%s", servedAfter, servedBefore, log)
	}
	t.Logf("master2: kube-apiserver served %s before renewal, %s after", servedBefore, servedAfter)
	waitFor(t, settleTimeout, "master2's API to answer with the renewed admin.conf", func() error {
		_, err := kubectl(m2, "/root/.kube/config", "get", "--raw", "/readyz")
		return err
	})
	phase("renewal", t0)

	// The join window: the bundle's token outlives its 3-minute TTL because
	// the keepers renew it; after ksgen token rotate and the manifest, the
	// new token works and the old one is refused. master1's apiserver is
	// stopped, so master2 answers.
	t0 = time.Now()
	lateJoin := func() {
		n := makeNode(late)
		superviseKubelet(ctx, n)
		c, cancel := context.WithTimeout(ctx, bootstrapTimeout)
		defer cancel()
		if err := bootstrap(c, n, "bootstrap"); err != nil {
			dumpLogs(t, n)
			t.Fatalf("%s: bootstrap: %v", late.name, err)
		}
		waitFor(t, settleTimeout, late.name+" to register", func() error {
			_, err := kubectl(nodes["master2"], "/etc/kubernetes/admin.conf", "get", "node", late.name)
			return err
		})
	}
	checkJoinWindow(ctx, t, nodes["master2"], ksgen, specFile, bundle, filepath.Join(work, "out-rotated"), lateJoin)
	phase("joinwindow", t0)
}

// lateWorker is the host of testdata/cluster.yaml that boots after the
// bootstrap token's original TTL has passed.
const lateWorker = "node2"

// joinWindowEvery is how often the stand-in for ksgen-join-window.timer
// fires (the unit says every minute; the test's token lives 3 minutes).
const joinWindowEvery = 20 * time.Second

// superviseTimer stands in for a systemd timer: it runs the unit's service
// every period, logged to Dir/<name>.log, until ctx ends.
func superviseTimer(ctx context.Context, n *Node, unit, name string, every time.Duration) {
	go func() {
		for ctx.Err() == nil {
			if err := runService(ctx, n, unit, name); err != nil && ctx.Err() == nil {
				appendLog(filepath.Join(n.Dir, name+".log"), "e2e: "+err.Error())
			}
			select {
			case <-ctx.Done():
			case <-time.After(every):
			}
		}
	}()
}

// checkJoinWindow checks, on control plane cp, what kubeadm join needs of a
// token (the API server authenticates it, and cluster-info carries a
// signature for its ID): the bundle's token after its TTL has passed, when a
// worker booted then (lateJoin) joins with it; then, after ksgen token rotate
// and its manifest, the new token and not the old.
func checkJoinWindow(ctx context.Context, t *testing.T, cp *Node, ksgen, specFile, bundle, rotatedOut string, lateJoin func()) {
	t.Helper()
	kubectl := func(stdin []byte, args ...string) ([]byte, error) {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := cp.Command(c, nil, append([]string{"kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return stdout.Bytes(), nil
	}
	// status is the HTTP status of GET /api with the token as bearer.
	status := func(token string) string {
		out, _ := cp.Run(ctx, nil, "curl", "-sk", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
			"-H", "Authorization: Bearer "+token, "https://"+cp.IP+":6443/api")
		return string(out)
	}
	signed := func(id string) bool {
		out, err := kubectl(nil, "-n", "kube-public", "get", "configmap", "cluster-info", "-o", "jsonpath={.data.jws-kubeconfig-"+id+"}")
		return err == nil && len(out) > 0
	}
	readToken := func() (token, id string) {
		raw, err := os.ReadFile(bundle)
		if err != nil {
			t.Fatal(err)
		}
		b, err := pki.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return b.BootstrapToken, b.TokenID()
	}
	oldToken, oldID := readToken()

	// kubeadm init made the token with a 3-minute TTL; wait until that has
	// passed, then the token must still work.
	out, err := kubectl(nil, "-n", "kube-system", "get", "secret", "bootstrap-token-"+oldID, "-o", "jsonpath={.metadata.creationTimestamp}")
	if err != nil {
		t.Fatalf("the bundle's token: %v", err)
	}
	created, err := time.Parse(time.RFC3339, string(out))
	if err != nil {
		t.Fatal(err)
	}
	if wait := time.Until(created.Add(3*time.Minute + 30*time.Second)); wait > 0 {
		t.Logf("waiting %s for the token's original TTL to pass", wait.Round(time.Second))
		time.Sleep(wait)
	}
	if got := status(oldToken); got != "200" {
		t.Fatalf("the bundle's token, past its original TTL (created %s): GET /api answered %q, want 200", created, got)
	}
	if !signed(oldID) {
		t.Fatalf("cluster-info has no signature for token %s", oldID)
	}
	t.Logf("token %s still authenticates %s after kubeadm created it with a 3m TTL", oldID, time.Since(created).Round(time.Second))
	// A worker booted now, from the first render, joins with it.
	lateJoin()
	t.Logf("%s joined with token %s, %s after it was created with a 3m TTL", lateWorker, oldID, time.Since(created).Round(time.Second))

	// Rotate, re-render, tell the cluster.
	ksgenRun(t, ksgen, "token", "rotate", "--secrets", bundle)
	newToken, newID := readToken()
	ksgenRun(t, ksgen, "render", "-f", specFile, "--secrets", bundle, "-o", rotatedOut, "--format", "none")
	if join, err := os.ReadFile(filepath.Join(rotatedOut, "node1", "kubeadm.yaml")); err != nil || !bytes.Contains(join, []byte("token: "+newToken)) {
		t.Fatalf("the re-rendered worker's join config does not carry the new token (%v):\n%s", err, join)
	}
	manifest := ksgenRun(t, ksgen, "token", "manifest", "--secrets", bundle)
	if _, err := kubectl(manifest, "apply", "--server-side", "--force-conflicts", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, settleTimeout, "the keepers to install token "+newID+" and revoke "+oldID, func() error {
		if got := status(newToken); got != "200" {
			return fmt.Errorf("new token: GET /api answered %q", got)
		}
		if !signed(newID) {
			return fmt.Errorf("cluster-info has no signature for %s yet", newID)
		}
		if got := status(oldToken); got != "401" {
			return fmt.Errorf("old token: GET /api answered %q, want 401", got)
		}
		return nil
	})
	t.Logf("after rotation: token %s authenticates and is signed, token %s is refused (401)", newID, oldID)
}

// loadCluster reads the spec as ksgen does: its Kubernetes version and
// each host's name, address and role.
func loadCluster(t *testing.T, file string) (string, []e2eHost) {
	s, report, err := spec.LoadFile(file)
	if err == nil {
		err = report.Err(false)
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []e2eHost
	for _, n := range c.Nodes {
		role := "worker"
		if n.ControlPlane {
			role = "control-plane"
		}
		hosts = append(hosts, e2eHost{n.Name, n.IPv4, role})
	}
	return s.Cluster.Spec.Kubernetes.Version, hosts
}

func goBuild(t *testing.T, out, pkg, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

func ksgenRun(t *testing.T, ksgen string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(ksgen, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ksgen %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// programs is what the test built or took that its images carry.
type programs struct {
	kube  string // KubernetesBinaries' directory
	etcd  consumers.Etcd
	pause string
	// The booted e2e's: the test image's root (Debian's iptables, cp and
	// the libraries they load), flannel and the CNI plugins, and CoreDNS.
	// Without them kube-proxy is the bare binary and pause stands in for
	// CoreDNS, which stays Pending with no CNI anyway.
	base    string
	cni     *consumers.CNI
	coreDNS string
}

// packImages packs every image the cluster runs from what the test built,
// under the names `ksgen images list` gives; an image it does not know how
// to make fails the test, so a new image in the product reaches this list.
func packImages(t *testing.T, work string, refs []string, p programs) []string {
	t.Helper()
	var archives []string
	for _, ref := range refs {
		repo := path.Base(strings.SplitN(ref, ":", 2)[0])
		img := Image{Ref: ref}
		needs := func(what string, have bool) {
			if !have {
				t.Fatalf("image %s needs %s, which only the booted e2e builds", ref, what)
			}
		}
		switch repo {
		case "kube-apiserver", "kube-controller-manager", "kube-scheduler":
			img.Files = map[string]string{"/usr/local/bin/" + repo: filepath.Join(p.kube, repo)}
		case "kube-proxy":
			img.Files = map[string]string{"/usr/local/bin/kube-proxy": filepath.Join(p.kube, repo)}
			if p.base != "" {
				maps.Copy(img.Files, iptablesFiles(t, p.base))
			}
		case "etcd":
			img.Files = map[string]string{"/usr/local/bin/etcd": p.etcd.Server, "/usr/local/bin/etcdctl": p.etcd.Etcdctl}
		case "pause":
			img.Files = map[string]string{"/pause": p.pause}
			img.Entrypoint = []string{"/pause"}
		case "coredns":
			img.Files = map[string]string{"/coredns": p.coreDNS}
			if p.coreDNS == "" {
				img.Files["/coredns"] = p.pause
			}
			img.Entrypoint = []string{"/coredns"}
		case "flannel":
			// Its images/Dockerfile: flanneld and install-conf under
			// /opt/bin, with iptables for --ip-masq.
			needs("flannel", p.cni != nil && p.base != "")
			img.Files = iptablesFiles(t, p.base)
			img.Files["/opt/bin/flanneld"] = p.cni.Flanneld
			img.Files["/opt/bin/install-conf"] = p.cni.InstallConf
			img.Entrypoint = []string{"/opt/bin/flanneld"}
		case "flannel-cni-plugin":
			// The init container runs `cp -f /flannel /opt/cni/bin/flannel`.
			needs("the flannel CNI plugin", p.cni != nil && p.base != "")
			img.Files = map[string]string{"/flannel": filepath.Join(p.cni.Plugins, "flannel"), "/usr/bin/cp": filepath.Join(p.base, "usr/bin/cp")}
		case "haproxy":
			bin, err := exec.LookPath("haproxy") // Debian's, with its libraries below
			if err != nil {
				t.Fatal(err)
			}
			img.Files = map[string]string{"/usr/local/sbin/haproxy": bin}
			// What the official image's entrypoint runs: master-worker, foreground.
			img.Cmd = []string{"haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"}
		default:
			t.Fatalf("the e2e test does not know how to build image %s", ref)
		}
		withLibraries(t, p.base, img.Files)
		a := filepath.Join(work, "images", repo+".tar")
		if err := os.MkdirAll(filepath.Dir(a), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := img.WriteArchive(a); err != nil {
			t.Fatal(err)
		}
		archives = append(archives, a)
	}
	return archives
}

func cgroupRoot(node string) string { return "/ksgen-e2e-" + node }

// startContainerd runs the containerd the spec's Kubernetes pairs (2.x,
// built from the Go module proxy: Debian's 1.6 cannot read config version
// 3) with the node's own config.toml, changed only where this machine
// differs: no CAP_SYS_RESOURCE for the sandbox's OOM score. Its cgroupfs
// driver (no systemd manages cgroups here) is the rendered one: the spec's
// kubeadm patch sets the kubelet's, and ksgen's containerd config follows
// it. Its shim comes from the same build; runc is the machine's.
func startContainerd(t *testing.T, n *Node) {
	t.Helper()
	ctrd, err := consumers.ContainerdBinaries()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(n.Path("/etc/containerd/config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	runtime := []byte(`[plugins."io.containerd.cri.v1.runtime"]` + "\n")
	adapted := bytes.Replace(cfg, runtime, append(slices.Clone(runtime), "  restrict_oom_score_adj = true\n"...), 1)
	if !bytes.HasPrefix(cfg, []byte("version = 3\n")) || bytes.Count(adapted, []byte("SystemdCgroup = false")) != 1 || !bytes.Contains(adapted, []byte("restrict_oom_score_adj")) {
		t.Fatalf("%s: containerd's config.toml changed shape; adapt startContainerd:\n%s", n.Name, cfg)
	}
	file := filepath.Join(n.Dir, "containerd-e2e.toml")
	if err := os.WriteFile(file, adapted, 0o644); err != nil {
		t.Fatal(err)
	}
	path := "PATH=" + ctrd.Dir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if _, err := n.Start(context.Background(), "containerd", []string{path}, ctrd.Containerd, "--config", file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, n.Name+"'s containerd socket", func() error {
		_, err := os.Stat(n.Path("/run/containerd/containerd.sock"))
		return err
	})
}

// superviseKubelet stands in for systemd's kubelet.service: once kubeadm
// has written /var/lib/kubelet/config.yaml it runs what the rendered unit
// and drop-in say, and restarts it when it exits, until ctx ends.
func superviseKubelet(ctx context.Context, n *Node) {
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(n.Path("/var/lib/kubelet/config.yaml")); err == nil {
				argv, err := ServiceCommand(n.Path("/"), "kubelet.service")
				if err == nil {
					var p *Proc
					if p, err = n.Start(ctx, "kubelet", nil, argv...); err == nil {
						_ = p.Wait()
					}
				}
				if err != nil {
					appendLog(filepath.Join(n.Dir, "kubelet.log"), "e2e: "+err.Error())
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}()
}

// fakes stand in for what needs systemd as init or would change the whole
// machine rather than the node. Each logs its arguments to Dir/fakes.log.
var fakes = map[string]string{
	"systemctl":   "systemd is not init here: the test starts containerd and kubelet itself",
	"swapoff":     "swap is the machine's, not the node's",
	"timedatectl": "the clock is the machine's",
	// Network sysctls belong to the node's network namespace; the others
	// would change the machine, so only net.* keys of sysctl.d are applied.
	"sysctl": `if [ "$1" = --system ]; then
  cat /etc/sysctl.d/*.conf 2>/dev/null | tr -d ' \t' | grep '^net\.' | while IFS== read -r key value; do
    /usr/sbin/sysctl -qw "$key=$value" || echo "fake sysctl: cannot set $key here"
  done
fi`,
}

// runService runs what a rendered oneshot service runs, logged to
// Dir/<name>.log.
func runService(ctx context.Context, n *Node, unit, name string) error {
	argv, err := ServiceCommand(n.Path("/"), unit)
	if err != nil {
		return err
	}
	p, err := n.Start(ctx, name, nil, argv...)
	if err != nil {
		return err
	}
	return p.Wait()
}

// bootstrap runs what the node's ksgen-bootstrap.service runs, with fakes first
// in PATH and a bounded number of attempts, logged to Dir/<name>.log.
func bootstrap(ctx context.Context, n *Node, name string) error {
	fakeDir := filepath.Join(n.Dir, "fakes")
	if err := os.MkdirAll(fakeDir, 0o755); err != nil {
		return err
	}
	for cmd, body := range fakes {
		if !strings.Contains(body, "\n") {
			body = "# " + body
		}
		script := fmt.Sprintf("#!/bin/sh\n# e2e fake %s\necho \"fake %s $*\" >> %s/fakes.log\n%s\n", cmd, cmd, n.Dir, body)
		if err := os.WriteFile(filepath.Join(fakeDir, cmd), []byte(script), 0o755); err != nil {
			return err
		}
	}
	argv, err := ServiceCommand(n.Path("/"), "ksgen-bootstrap.service")
	if err != nil {
		return err
	}
	env := []string{"PATH=" + fakeDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "KSGEN_MAX_ATTEMPTS=8", "HOME=/root"}
	p, err := n.Start(ctx, name, env, argv...)
	if err != nil {
		return err
	}
	return p.Wait()
}

// checkNodes waits until the three nodes are registered, then checks
// their names, addresses and roles.
func checkNodes(t *testing.T, e2eHosts []e2eHost, get func() ([]byte, error)) {
	t.Helper()
	type node struct {
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Taints []struct{ Key, Effect string } `json:"taints"`
		} `json:"spec"`
		Status struct {
			Addresses []struct{ Type, Address string } `json:"addresses"`
		} `json:"status"`
	}
	var list struct{ Items []node }
	waitFor(t, settleTimeout, "3 registered nodes", func() error {
		b, err := get()
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		if len(list.Items) != len(e2eHosts) {
			return fmt.Errorf("%d nodes", len(list.Items))
		}
		return nil
	})
	byName := map[string]node{}
	for _, n := range list.Items {
		byName[n.Metadata.Name] = n
	}
	for _, h := range e2eHosts {
		n, ok := byName[h.name]
		if !ok {
			t.Errorf("node %s is not registered", h.name)
			continue
		}
		var ip string
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				ip = a.Address
			}
		}
		if ip != h.ip {
			t.Errorf("node %s: InternalIP %q, want %s", h.name, ip, h.ip)
		}
		for _, role := range []string{"control-plane", "worker"} {
			if _, ok := n.Metadata.Labels["node-role.kubernetes.io/"+role]; ok != (h.role == role) {
				t.Errorf("node %s: %s role label %v, want role %s", h.name, role, ok, h.role)
			}
		}
		// Control planes that are not also workers keep kubeadm's taint.
		tainted := slices.ContainsFunc(n.Spec.Taints, func(t struct{ Key, Effect string }) bool {
			return t.Key == "node-role.kubernetes.io/control-plane" && t.Effect == "NoSchedule"
		})
		if tainted != (h.role == "control-plane") {
			t.Errorf("node %s: control-plane NoSchedule taint %v, want role %s (taints %v)", h.name, tainted, h.role, n.Spec.Taints)
		}
		if n.Metadata.Labels["kubernetes.io/hostname"] != h.name {
			t.Errorf("node %s: kubernetes.io/hostname %q", h.name, n.Metadata.Labels["kubernetes.io/hostname"])
		}
		t.Logf("node %s %s labels %v", h.name, ip, n.Metadata.Labels)
	}
}

// checkJoins checks how the nodes joined: the second control plane with the
// CA material its payload placed (no certificateKey, no kubeadm-certs Secret
// that upload-certs would leave), the worker with its CA-pinned token
// through the LB domain.
func checkJoins(t *testing.T, nodes map[string]*Node, getCertsSecret func() error) {
	t.Helper()
	read := func(n *Node, path string) []byte {
		b, err := os.ReadFile(n.Path(path))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	m1, m2, w := nodes["master1"], nodes["master2"], nodes["node1"]
	for _, f := range []string{"/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/sa.pub"} {
		if !bytes.Equal(read(m1, f), read(m2, f)) {
			t.Errorf("%s differs between master1 and master2", f)
		}
	}
	join := read(m2, "/etc/kubernetes/kubeadm-config.yaml")
	if !bytes.Contains(join, []byte("controlPlane:")) || bytes.Contains(join, []byte("certificateKey")) {
		t.Errorf("master2's JoinConfiguration: want controlPlane and no certificateKey:\n%s", join)
	}
	if err := getCertsSecret(); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("kube-system/kubeadm-certs: want NotFound (no upload-certs), got %v", err)
	}
	join = read(w, "/etc/kubernetes/kubeadm-config.yaml")
	for _, want := range []string{"apiServerEndpoint: lb.kubesphere.local:6443", "caCertHashes:\n      - sha256:"} {
		if !bytes.Contains(join, []byte(want)) {
			t.Errorf("node1's JoinConfiguration lacks %q:\n%s", want, join)
		}
	}
	if bytes.Contains(join, []byte("unsafeSkipCAVerification")) {
		t.Error("node1 joins with unsafeSkipCAVerification")
	}
}

func leaseRenewTime(t *testing.T, get func() ([]byte, error)) time.Time {
	t.Helper()
	var lease struct {
		Spec struct {
			RenewTime time.Time `json:"renewTime"`
		} `json:"spec"`
	}
	b, err := get()
	if err == nil {
		err = json.Unmarshal(b, &lease)
	}
	if err != nil {
		t.Fatalf("node1's lease: %v", err)
	}
	return lease.Spec.RenewTime
}

// waitFor polls check every second until it succeeds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s: %v", limit, what, err)
		}
		time.Sleep(time.Second)
	}
}

// treeSum hashes the paths, names, modes and contents under roots.
func treeSum(t *testing.T, roots ...string) string {
	t.Helper()
	h := sha256.New()
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %v\n", p, info.Mode())
			if info.Mode().IsRegular() {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				h.Write(b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func appendLog(file, line string) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
}

// dumpLogs prints the tail of a node's logs.
func dumpLogs(t *testing.T, n *Node) {
	for _, name := range []string{"bootstrap", "kubelet", "containerd"} {
		b, _ := os.ReadFile(filepath.Join(n.Dir, name+".log"))
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		t.Logf("=== %s %s.log (last lines)\n%s", n.Name, name, strings.Join(lines, "\n"))
	}
}

// teardown resets the node with kubeadm, stops every process by PID,
// removes its cgroups and checks that none of its mounts is left.
func teardown(t *testing.T, n *Node) {
	if t.Failed() {
		dumpLogs(t, n)
	}
	if _, err := os.Stat(n.Path("/usr/local/bin/kubeadm")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		if _, err := n.Run(ctx, nil, "kubeadm", "reset", "-f", "--cri-socket", "unix:///run/containerd/containerd.sock"); err != nil {
			t.Logf("%s: kubeadm reset: %v", n.Name, err)
		}
		cancel()
	}
	n.Close()
	if err := RemoveCgroups(cgroupRoot(n.Name)); err != nil {
		t.Errorf("%s: cgroups: %v", n.Name, err)
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && bytes.Contains(mi, []byte(n.Dir)) {
		t.Errorf("%s: mounts under %s are left in the machine's namespace", n.Name, n.Dir)
	}
}
