package etcd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/internal/render/etcd"
)

// loopbackCluster has its three etcd members on 127.0.0.2-4 (loopback
// only), one of them the control plane and two etcd-only hosts, with a fast
// election so that losing a member costs about a second.
var loopbackCluster = cluster{
	hosts: []string{"etcd1=127.0.0.2", "etcd2=127.0.0.3", "etcd3=127.0.0.4"},
	roles: map[string][]string{"etcd": {"etcd1", "etcd2", "etcd3"}, "control-plane": {"etcd1"}},
	etcd: `    type: kubekey
    port: 32379
    peerPort: 32380
    heartbeatInterval: 100
    electionTimeout: 1000
    snapshotCount: 1000
    quotaBackendBytes: 268435456
    maxRequestBytes: 1572864
    logLevel: warn
    keepBackupNumber: 2
    extraArgs:
      max-txn-ops: "256"
`,
}

// TestRealCluster starts three etcd v3.6 processes with exactly the rendered
// environment files and certificates (only file paths rewritten into a
// scratch directory) and proves that they form one cluster over TLS, that
// kube-apiserver's rendered client certificate and kubeadm config reach it
// and can write and read, that a client without a certificate is refused,
// that the rendered backup script takes and prunes snapshots, and that the
// cluster stays writable after one member is killed. Every process is
// stopped by its id; every wait is bounded. As root, all of it runs in a
// network namespace of its own.
func TestRealCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real etcd cluster")
	}
	bins, err := consumers.EtcdBinaries()
	if err != nil {
		if consumers.IsMissing(err) && os.Getenv("CI") == "" {
			t.Skipf("cannot run etcd here: %v", err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	root := t.TempDir()
	r := render(t, load(t, root, loopbackCluster.yaml()))
	for node, files := range r {
		for path, f := range files {
			dst := filepath.Join(root, node, filepath.FromSlash(path))
			must(t, os.MkdirAll(filepath.Dir(dst), 0o700))
			must(t, os.WriteFile(dst, f.Content, f.Mode))
		}
	}
	// rootfs maps a path on node to its place in the scratch directory.
	rootfs := func(node, p string) string { return filepath.Join(root, node, "rootfs", filepath.FromSlash(p)) }

	ns := newNetns(t)
	members := []string{"etcd1", "etcd2", "etcd3"}
	procs := map[string]*proc{}
	t.Cleanup(func() {
		for _, name := range members {
			procs[name].stop(t)
		}
	})
	for _, name := range members {
		keys, env := envFile(t, r.file(t, name, etcd.EnvFile).Content)
		vars := []string{"PATH=/usr/bin:/bin"}
		for _, k := range keys {
			v := env[k]
			if strings.HasPrefix(v, "/") { // a file path: into the scratch root
				v = rootfs(name, v)
			}
			vars = append(vars, k+"="+v)
		}
		for _, v := range vars {
			for _, ip := range []string{"127.0.0.1:", "0.0.0.0:"} {
				if strings.Contains(v, ip) {
					t.Fatalf("%s: %s would listen beyond the member's own loopback address", name, v)
				}
			}
		}
		logf, err := os.Create(filepath.Join(root, name+".log"))
		must(t, err)
		defer logf.Close()
		cmd := ns.command(ctx, bins.Server)
		cmd.Env, cmd.Stdout, cmd.Stderr = vars, logf, logf
		procs[name] = start(t, cmd)
	}
	logs := func() string {
		var b strings.Builder
		for _, name := range members {
			raw, _ := os.ReadFile(filepath.Join(root, name+".log"))
			fmt.Fprintf(&b, "--- %s.log (last lines)\n%s\n", name, lastLines(string(raw), 15))
		}
		return b.String()
	}

	// kube-apiserver's view: the endpoints and files kubeadm's config names.
	ext := clusterEtcd(t, r["etcd1"]["kubeadm.yaml"].Content)["external"].(map[string]any)
	var endpoints []string
	for _, e := range ext["endpoints"].([]any) {
		endpoints = append(endpoints, e.(string))
	}
	if want := []string{"https://127.0.0.2:32379", "https://127.0.0.3:32379", "https://127.0.0.4:32379"}; !slices.Equal(endpoints, want) {
		t.Fatalf("kubeadm etcd endpoints %v, want %v", endpoints, want)
	}
	apiserver := []string{
		"--cacert=" + rootfs("etcd1", ext["caFile"].(string)),
		"--cert=" + rootfs("etcd1", ext["certFile"].(string)),
		"--key=" + rootfs("etcd1", ext["keyFile"].(string)),
	}
	etcdctl := func(eps []string, args ...string) (string, error) {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		full := append([]string{"--endpoints=" + strings.Join(eps, ","), "--dial-timeout=2s", "--command-timeout=4s"}, args...)
		cmd := ns.command(tctx, bins.Etcdctl, full...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + root}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	eventually := func(what string, d time.Duration, f func() error) {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			err := f()
			if err == nil {
				return
			}
			for _, name := range members {
				if p := procs[name]; p.exited() && !p.stopped {
					t.Fatalf("%s: member %s exited\n%s", what, name, logs())
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Fatalf("%s: not within %s: %v\n%s", what, d, err, logs())
			}
			time.Sleep(300 * time.Millisecond)
		}
	}

	began := time.Now()
	eventually("cluster health", 30*time.Second, func() error {
		out, err := etcdctl(endpoints, append(apiserver, "endpoint", "health", "-w", "json")...)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		var health []struct {
			Endpoint string `json:"endpoint"`
			Health   bool   `json:"health"`
		}
		if err := json.Unmarshal([]byte(out), &health); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		ok := 0
		for _, h := range health {
			if h.Health {
				ok++
			}
		}
		if ok != 3 {
			return fmt.Errorf("%d of 3 endpoints healthy: %s", ok, out)
		}
		return nil
	})
	t.Logf("3 members healthy %s after start", time.Since(began).Round(time.Millisecond))
	// etcd knows every variable the environment file sets.
	for _, name := range members {
		raw, _ := os.ReadFile(filepath.Join(root, name+".log"))
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.Contains(l, "unrecognized environment variable") || strings.Contains(l, "shadowed by corresponding command-line flag") {
				t.Errorf("%s: %s", name, l)
			}
		}
	}

	// One cluster of the three rendered members.
	out, err := etcdctl(endpoints, append(apiserver, "member", "list", "-w", "json")...)
	if err != nil {
		t.Fatalf("member list: %v\n%s", err, out)
	}
	var list struct {
		Members []struct {
			Name       string   `json:"name"`
			PeerURLs   []string `json:"peerURLs"`
			ClientURLs []string `json:"clientURLs"`
		} `json:"members"`
	}
	must(t, json.Unmarshal([]byte(out), &list))
	var got []string
	for _, m := range list.Members {
		got = append(got, fmt.Sprintf("%s %v %v", m.Name, m.PeerURLs, m.ClientURLs))
	}
	slices.Sort(got)
	want := []string{
		"etcd1 [https://127.0.0.2:32380] [https://127.0.0.2:32379]",
		"etcd2 [https://127.0.0.3:32380] [https://127.0.0.3:32379]",
		"etcd3 [https://127.0.0.4:32380] [https://127.0.0.4:32379]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("members\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// kube-apiserver's certificate writes and reads.
	if out, err := etcdctl(endpoints, append(apiserver, "put", "/ksgen/probe", "written-by-apiserver-cert")...); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("put with the apiserver-etcd-client certificate: %v\n%s", err, out)
	}
	for _, ep := range endpoints { // from every member
		out, err := etcdctl([]string{ep}, append(apiserver, "get", "/ksgen/probe", "--print-value-only")...)
		if err != nil || strings.TrimSpace(out) != "written-by-apiserver-cert" {
			t.Errorf("get from %s: %v %q", ep, err, out)
		}
	}

	// Without a client certificate, TLS refuses the client.
	if out, err := etcdctl(endpoints[:1], "--command-timeout=2s", "--cacert="+rootfs("etcd1", ext["caFile"].(string)), "get", "/ksgen/probe"); err == nil {
		t.Errorf("a client without a certificate read the key:\n%s", out)
	}
	eventually("etcd1 logs the refusal", 5*time.Second, func() error {
		raw, _ := os.ReadFile(filepath.Join(root, "etcd1.log"))
		if !strings.Contains(string(raw), "client didn't provide a certificate") {
			return errors.New("etcd1.log does not say the client gave no certificate")
		}
		return nil
	})

	// The rendered backup script snapshots through the member's own URL and
	// keeps the newest keepBackupNumber (2).
	backup(t, ctx, r, root, rootfs, ns, bins)

	// Losing a member keeps the cluster writable.
	procs["etcd3"].stop(t)
	eventually("write with one member down", 20*time.Second, func() error {
		out, err := etcdctl(endpoints[:2], append(apiserver, "put", "/ksgen/after-kill", "still-writable")...)
		if err != nil || !strings.Contains(out, "OK") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	out, err = etcdctl(endpoints[:2], append(apiserver, "get", "/ksgen/after-kill", "--print-value-only")...)
	if err != nil || strings.TrimSpace(out) != "still-writable" {
		t.Errorf("read after losing a member: %v %q", err, out)
	}
	t.Logf("whole run %s", time.Since(began).Round(time.Millisecond))
}

func backup(t *testing.T, ctx context.Context, r rendered, root string, rootfs func(node, p string) string, ns netns, bins consumers.Etcd) {
	t.Helper()
	script := string(r.file(t, "etcd1", "/usr/local/bin/kube-scripts/etcd-backup.sh").Content)
	// Rewrite only the paths: etcdctl to the built one, the rest into etcd1's root.
	assign := regexp.MustCompile(`(?m)^([A-Z_]+)='(/[^']*)'$`)
	script = assign.ReplaceAllStringFunc(script, func(line string) string {
		m := assign.FindStringSubmatch(line)
		if m[1] == "ETCDCTL" {
			return m[1] + "='" + bins.Etcdctl + "'"
		}
		return m[1] + "='" + rootfs("etcd1", m[2]) + "'"
	})
	if strings.Contains(script, "'/etc/") || strings.Contains(script, "'/var/") {
		t.Fatalf("backup script still names a host path:\n%s", script)
	}
	dir := rootfs("etcd1", "/var/backups/kube_etcd")
	must(t, os.MkdirAll(dir, 0o700))
	for _, old := range []string{"etcd-2000-01-01-00-00-00", "etcd-2000-01-02-00-00-00"} {
		must(t, os.MkdirAll(filepath.Join(dir, old), 0o700))
	}
	path := filepath.Join(root, "etcd-backup.sh")
	must(t, os.WriteFile(path, []byte(script), 0o755))
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := ns.command(tctx, "bash", path)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + root}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != "etcd-2000-01-02-00-00-00" || !strings.HasPrefix(names[1], "etcd-20") {
		t.Fatalf("backups after one run with keepBackupNumber 2: %v, want the newer old one and the new one", names)
	}
	snap := filepath.Join(dir, names[1], "snapshot.db")
	st, err := os.Stat(snap)
	if err != nil || st.Size() < 4096 || st.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot %s: %v (size %d, mode %v), want a 0600 bolt database", snap, err, sizeOf(st), modeOf(st))
	}
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return -1
	}
	return st.Size()
}

func modeOf(st os.FileInfo) os.FileMode {
	if st == nil {
		return 0
	}
	return st.Mode()
}

// proc is a started process, reaped as soon as it exits.
type proc struct {
	cmd     *exec.Cmd
	done    chan struct{}
	stopped bool // by the test
}

func start(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	must(t, cmd.Start())
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the process by its id and waits for it, bounded.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if p == nil {
		return
	}
	p.stopped = true
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("pid %d did not exit within 10s of SIGKILL", p.cmd.Process.Pid)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// netns runs commands in a network namespace of the test's own when the
// machine allows it (root, unshare, nsenter, ip): nothing the test starts can
// then reach, or collide with, anything outside. Elsewhere commands run on
// the host's loopback, which 127.0.0.2-4 are on too.
type netns struct{ path string }

func newNetns(t *testing.T) netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Log("not root: running etcd on the host's loopback")
		return netns{}
	}
	for _, tool := range []string{"unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("%s not found: running etcd on the host's loopback", tool)
			return netns{}
		}
	}
	holder := exec.Command("unshare", "--net", "--", "sh", "-c", "ip link set lo up && echo ready && exec sleep 600")
	stdout, err := holder.StdoutPipe()
	must(t, err)
	holder.Stderr = os.Stderr
	must(t, holder.Start())
	hp := &proc{cmd: holder, done: make(chan struct{})}
	t.Cleanup(func() { hp.stop(t) })
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = errors.New("unexpected " + line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("network namespace: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("network namespace: not ready within 10s")
	}
	go func() { _ = holder.Wait(); close(hp.done) }()
	return netns{path: fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)}
}

// command runs name in the namespace: nsenter joins it and execs name, so
// the process id is name's own.
func (n netns) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if n.path == "" {
		cmd = exec.CommandContext(ctx, name, args...)
	} else {
		cmd = exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.path, "--", name}, args...)...)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
