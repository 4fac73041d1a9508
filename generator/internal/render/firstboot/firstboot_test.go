package firstboot_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/plan"
)

// The fakes stand in for the programs the script drives and for the
// cluster it joins. Each appends its arguments to calls.log. The cluster is
// a folder, cluster/: cluster-info (its content counts how often a cluster
// was published), nodes/<name> (the node's labels as kubectl prints them)
// and etcd/<name> (stacked etcd members). The node's own state is the
// scratch root's kube/ and etcd/ folders. Behaviour is set by files in bin/:
//
//	kill-at LABEL   the bootstrap's process group is killed at LABEL, once:
//	                "after-<phase>" right after the phase's marker is
//	                written, "kubeadm-mid" when kubeadm has left state but
//	                not finished, "kubeadm-done" when it finished but has
//	                not returned, "<hook>-mid" in the middle of a post hook,
//	                "prep" while containerd restarts
//	curl-fail N     the first N API probes fail
//	kubeadm-fail N  the first N kubeadm init/join runs fail half-way
//	api-down        kubectl gets no answer
var fakes = map[string]string{
	"fake-common": `log() { echo "$(basename "$0") $*" >> "$FAKE_DIR/calls.log"; }
countdown() { # countdown FILE: true while FILE holds a positive count, decrementing it
  f="$FAKE_DIR/$1"; [ -f "$f" ] || return 1
  n=$(cat "$f"); [ "$n" -gt 0 ] || return 1
  echo $((n - 1)) > "$f"; return 0; }
killpoint() { # killpoint LABEL: a power cut here, if the test asked for one
  if [ "$(cat "$FAKE_DIR/kill-at" 2>/dev/null)" = "$1" ]; then
    rm -f "$FAKE_DIR/kill-at"; echo "killed at $1" >> "$FAKE_DIR/calls.log"; kill -KILL 0
  fi; }
C="$FAKE_DIR/../cluster"; K="$KSGEN_KUBE_DIR"; E="$FAKE_DIR/../etcd"
`,
	"kubeadm": `. "$FAKE_DIR/fake-common"; log "$@"
case "$1" in
  reset)
    if [ -d "$E/member" ] && [ "$FAKE_ACTION" = init ]; then rm -rf "$C/cluster-info" "$C/nodes" "$C/etcd"; fi
    rm -f "$C/etcd/$FAKE_NODE"
    rm -rf "$K/pki"/* "$K/manifests"/* "$K"/*.conf "$E/member"; exit 0 ;;
  init)
    if [ "$2" = phase ]; then exit 0; fi
    [ -f "$K/pki/ca.crt" ] || { echo "fake kubeadm: CA missing" >&2; exit 3; }
    [ ! -e "$K/admin.conf" ] && [ ! -e "$E/member" ] || { echo "fake kubeadm: preflight: node already initialised" >&2; exit 1; }
    echo admin > "$K/admin.conf"; echo kubelet > "$K/kubelet.conf"; mkdir -p "$E/member"
    if countdown kubeadm-fail; then echo "fake kubeadm: init failed" >&2; exit 1; fi
    killpoint kubeadm-mid
    mkdir -p "$C/nodes" "$C/etcd"
    echo $(($(cat "$C/cluster-info" 2>/dev/null || echo 0) + 1)) > "$C/cluster-info"
    echo '{"node-role.kubernetes.io/control-plane":""}' > "$C/nodes/$FAKE_NODE"; touch "$C/etcd/$FAKE_NODE"
    log "completed init"; killpoint kubeadm-done; exit 0 ;;
  join)
    [ -f "$K/pki/ca.crt" ] || { echo "fake kubeadm: CA missing" >&2; exit 3; }
    [ ! -e "$K/kubelet.conf" ] && [ ! -e "$E/member" ] || { echo "fake kubeadm: preflight: kubelet.conf exists" >&2; exit 1; }
    echo bootstrap > "$K/bootstrap-kubelet.conf"
    if countdown kubeadm-fail; then echo "fake kubeadm: join failed" >&2; exit 1; fi
    [ "$FAKE_ACTION" = join-control-plane ] || killpoint kubeadm-mid
    echo kubelet > "$K/kubelet.conf"; echo '{}' > "$C/nodes/$FAKE_NODE"
    if [ "$FAKE_ACTION" = join-control-plane ]; then
      mkdir -p "$E/member"; touch "$C/etcd/$FAKE_NODE"; echo admin > "$K/admin.conf"; killpoint kubeadm-mid
      echo '{"node-role.kubernetes.io/control-plane":""}' > "$C/nodes/$FAKE_NODE"
    fi
    log "completed join"; killpoint kubeadm-done; exit 0 ;;
esac
exit 2`,
	"kubectl": `. "$FAKE_DIR/fake-common"; log "$@"
[ ! -e "$FAKE_DIR/api-down" ] || exit 1
case "$*" in
  *"get configmap cluster-info"*) [ ! -e "$C/cluster-info" ] || echo configmap/cluster-info ;;
  *"get node "*) all="$*"; n=${all##*get node }; n=${n%% *}; [ ! -e "$C/nodes/$n" ] || cat "$C/nodes/$n" ;;
  *) exit 2 ;;
esac`,
	// Reports to ksgen serve go to the real curl (report_test.go).
	"curl": `case "$*" in *"/report "*|*/report) exec /usr/bin/curl "$@" ;; esac
. "$FAKE_DIR/fake-common"; log "$@"; if countdown curl-fail; then exit 7; fi; [ -e "$C/cluster-info" ] || exit 7`,
	"sync":        `. "$FAKE_DIR/fake-common"; killpoint "after-$(basename "$1" .done)"`,
	"sleep":       `. "$FAKE_DIR/fake-common"; log "$@"`,
	"systemctl":   `. "$FAKE_DIR/fake-common"; log "$@"; if [ "$*" = "restart containerd" ]; then killpoint prep; fi`,
	"swapoff":     `. "$FAKE_DIR/fake-common"; log "$@"`,
	"sysctl":      `. "$FAKE_DIR/fake-common"; log "$@"; [ ! -e "$FAKE_DIR/sysctl-fail" ] || { echo "sysctl: permission denied on key net.bridge.bridge-nf-call-iptables" >&2; exit 1; }`,
	"timedatectl": `. "$FAKE_DIR/fake-common"; log "$@"`,
}

// postHook is a fake post step: it logs its start and end, and can be
// killed in between.
func postHook(name string) string {
	return fmt.Sprintf(`#!/bin/bash
. "$FAKE_DIR/fake-common"; log start; killpoint %[1]s-mid
if countdown %[1]s-fail; then log failing; exit 1; fi
log done`, name)
}

type sandbox struct {
	t      *testing.T
	node   *plan.Node
	script string
	dir    string
	env    []string
}

func newSandbox(t *testing.T, specFile, node string) *sandbox {
	t.Helper()
	s, r, err := spec.LoadFile(filepath.Join("../../../../testdata", specFile))
	if err != nil || r.Err(false) != nil {
		t.Fatalf("load spec: %v %v", err, r.Err(false))
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	n := c.NodeByName(node)
	p := &fileset.Set{Name: node}
	if err := firstboot.Render(c, n, p); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sb := &sandbox{t: t, node: n, dir: dir, script: filepath.Join(dir, "bootstrap.sh")}
	for _, f := range p.Files {
		if f.Path == firstboot.NodeName {
			sb.write("hooks/"+filepath.Base(f.Path), string(f.Content), f.Mode)
		}
		if f.Path == firstboot.Script {
			content := string(f.Content)
			if n.ControlPlane && c.Etcd.Type == plan.EtcdKubeadm {
				content = strings.Replace(content, "ETCD_DATA='"+c.Etcd.DataDir+"'", "ETCD_DATA='"+filepath.Join(dir, "etcd")+"'", 1)
			}
			sb.write("bootstrap.sh", content, 0o755)
		}
	}
	for name, body := range fakes {
		sb.write("bin/"+name, "#!/bin/bash\n"+body+"\n", 0o755)
	}
	sb.write("kube/pki/ca.crt", "CA", 0o644)
	sb.write("kube/pki/ca.key", "KEY", 0o600)
	sb.write("kube/kubeadm-config.yaml", "config", 0o600)
	if n.Action != plan.Init {
		// The cluster this node joins is up.
		sb.write("cluster/cluster-info", "1", 0o644)
		sb.write("cluster/nodes/"+c.Init.Name, `{"node-role.kubernetes.io/control-plane":""}`, 0o644)
		sb.write("cluster/etcd/"+c.Init.Name, "", 0o644)
	}
	sb.env = []string{
		"PATH=" + filepath.Join(dir, "bin") + ":/usr/bin:/bin",
		"FAKE_DIR=" + filepath.Join(dir, "bin"),
		"FAKE_NODE=" + node,
		"FAKE_ACTION=" + string(n.Action),
		"KSGEN_STATE_DIR=" + filepath.Join(dir, "state"),
		"KSGEN_RUN_DIR=" + filepath.Join(dir, "run"),
		"KSGEN_KUBE_DIR=" + filepath.Join(dir, "kube"),
		"KSGEN_HOOK_DIR=" + filepath.Join(dir, "hooks"),
		"KSGEN_ROOT_HOME=" + filepath.Join(dir, "root"),
		"KSGEN_FSTAB=" + filepath.Join(dir, "fstab"),
		"KSGEN_SETTLE_WAIT=20",
	}
	sb.write("fstab", "UUID=1 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n", 0o644)
	return sb
}

func (sb *sandbox) write(rel, content string, mode os.FileMode) {
	p := filepath.Join(sb.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		sb.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		sb.t.Fatal(err)
	}
}

func (sb *sandbox) read(rel string) string {
	b, _ := os.ReadFile(filepath.Join(sb.dir, rel))
	return string(b)
}

func (sb *sandbox) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(sb.dir, rel))
	return err == nil
}

// run starts the bootstrap in a process group of its own, as systemd would,
// so a kill point takes down the script and everything it started.
func (sb *sandbox) run(extraEnv ...string) (string, error) {
	cmd := exec.Command("bash", sb.script)
	cmd.Env = append(slices.Clone(sb.env), extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// boot is a reboot: /run is empty again.
func (sb *sandbox) boot(extraEnv ...string) (string, error) {
	if err := os.RemoveAll(filepath.Join(sb.dir, "run")); err != nil {
		sb.t.Fatal(err)
	}
	return sb.run(extraEnv...)
}

// calls returns the logged invocations of one fake.
func (sb *sandbox) calls(prog string) []string {
	var out []string
	for _, l := range strings.Split(sb.read("bin/calls.log"), "\n") {
		if rest, ok := strings.CutPrefix(l, prog+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

func count(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func TestInitRunsOnceAndWritesRootKubeconfig(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "config-sample.yaml", "master1")
	out, err := sb.run()
	if err != nil {
		t.Fatalf("bootstrap failed: %v\n%s", err, out)
	}
	kubeadm := sb.calls("kubeadm")
	want := "init --config " + filepath.Join(sb.dir, "kube/kubeadm-config.yaml")
	if count(kubeadm, "init") != 1 || kubeadm[0] != want {
		t.Fatalf("kubeadm calls = %q, want [%q]", kubeadm, want)
	}
	if c := sb.calls("curl"); len(c) != 0 {
		t.Errorf("init must not wait for an API, curl calls: %q", c)
	}
	if got := sb.read("root/.kube/config"); got != "admin\n" {
		t.Errorf("root kubeconfig = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(sb.dir, "root/.kube/config")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("root kubeconfig mode: %v %v", fi, err)
	}
	if !strings.Contains(sb.read("fstab"), "#/swap.img none swap") || !strings.HasPrefix(sb.read("fstab"), "UUID=1 /") {
		t.Errorf("fstab swap line not commented out, or other lines touched:\n%s", sb.read("fstab"))
	}
	if calls := sb.calls("systemctl"); !slices.Contains(calls, "enable containerd") || !slices.Contains(calls, "restart containerd") {
		t.Errorf("containerd not enabled and restarted with the payload's config: %q", calls)
	}
	for _, p := range []string{firstboot.PhasePrep, firstboot.PhaseKubeadm, firstboot.PhaseAdmin} {
		if !sb.exists("state/phases/" + p + ".done") {
			t.Errorf("no marker for phase %s", p)
		}
		if !strings.Contains(out, "phase "+p+": done") {
			t.Errorf("the journal does not say phase %s is done:\n%s", p, out)
		}
	}

	// A reboot of a configured node does nothing.
	out, err = sb.boot()
	if err != nil {
		t.Fatalf("second run failed: %v\n%s", err, out)
	}
	if count(sb.calls("kubeadm"), "init") != 1 {
		t.Errorf("second run called kubeadm again: %q", sb.calls("kubeadm"))
	}
	if !strings.Contains(out, "already bootstrapped") {
		t.Errorf("second run output %q does not say it is already bootstrapped", out)
	}
}

func TestJoinWaitsForTheAPIAndRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "config-sample.yaml", "node1")
	sb.write("bin/curl-fail", "2", 0o644)
	sb.write("bin/kubeadm-fail", "1", 0o644)
	out, err := sb.run()
	if err != nil {
		t.Fatalf("bootstrap failed: %v\n%s", err, out)
	}
	if got, want := sb.calls("sleep"), []string{"5", "10", "20"}; !slices.Equal(got, want) {
		t.Errorf("sleeps = %q, want %q (exponential backoff)", got, want)
	}
	calls := sb.calls("kubeadm")
	if joins, resets := count(calls, "join --config "), count(calls, "reset -f --cri-socket 'unix:///run/containerd/containerd.sock'")+count(calls, "reset -f --cri-socket unix:///run/containerd/containerd.sock"); joins != 2 || resets != 1 {
		t.Errorf("kubeadm calls %q: want 2 joins (one failed half-way) and 1 reset between them", calls)
	}
	if got := sb.calls("curl"); len(got) != 4 || !strings.Contains(got[0], "https://lb.kubesphere.local:6443/readyz") {
		t.Errorf("API probes = %q, want 4 probes of the endpoint", got)
	}
	// The reset emptied pki/; the seed copy put the CA back for the retry.
	if sb.read("kube/pki/ca.key") != "KEY" {
		t.Errorf("CA key not restored after reset")
	}
	for _, line := range []string{
		"attempt 1: the API at lb.kubesphere.local:6443 does not answer yet",
		"attempt 3: kubeadm join failed",
		"the API shows the earlier kubeadm join did not finish: resetting what it made",
		"succeeded after 4 attempt(s)",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("journal output lacks %q:\n%s", line, out)
		}
	}
	if sb.read("root/.kube/config") != "" {
		t.Errorf("a worker must not get an admin kubeconfig")
	}
}

func TestBackoffIsCappedAndGivingUpFails(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "config-sample.yaml", "master2")
	sb.write("bin/curl-fail", "100", 0o644)
	out, err := sb.run("KSGEN_MAX_ATTEMPTS=9")
	if err == nil {
		t.Fatalf("bootstrap succeeded although every attempt failed:\n%s", out)
	}
	if got, want := sb.calls("sleep"), []string{"5", "10", "20", "40", "80", "160", "300", "300"}; !slices.Equal(got, want) {
		t.Errorf("sleeps = %q, want %q", got, want)
	}
	if sb.exists("state/bootstrapped") || sb.exists("state/phases/kubeadm.done") {
		t.Errorf("a failed bootstrap marked the node as done")
	}
	for _, line := range []string{"giving up after 9 attempts", "phase kubeadm failed (exit 1); the next start resumes at this phase"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	// systemd starts it again: the start backs off, then resumes at kubeadm.
	out, err = sb.run("KSGEN_MAX_ATTEMPTS=1")
	if err == nil || !strings.Contains(out, "start after 1 failure(s) in this boot: waiting 10s") || !strings.Contains(out, "phase prep: done before") {
		t.Errorf("a restart after a failure must back off and resume at kubeadm (err %v):\n%s", err, out)
	}
	if got := sb.calls("sleep"); len(got) < 9 || got[8] != "10" {
		t.Errorf("sleeps = %q: the restart did not wait 10s first", got)
	}
}

func TestHooksRunAroundKubeadm(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "config-sample.yaml", "node2")
	sb.write("hooks/pre.d/10-first", "#!/bin/bash\necho pre >> \"$FAKE_DIR/calls.log\"\n", 0o755)
	sb.write("hooks/post.d/10-last", "#!/bin/bash\necho post >> \"$FAKE_DIR/calls.log\"\n", 0o755)
	if out, err := sb.run(); err != nil {
		t.Fatalf("bootstrap failed: %v\n%s", err, out)
	}
	log := sb.read("bin/calls.log")
	pre, join, post := strings.Index(log, "pre\n"), strings.Index(log, "kubeadm join"), strings.Index(log, "post\n")
	if pre < 0 || join < 0 || post < 0 || !(pre < join && join < post) {
		t.Errorf("want pre hook, join, post hook in that order:\n%s", log)
	}
	if !sb.exists("state/phases/post-10-last.done") {
		t.Errorf("the post hook left no marker")
	}
}

// A post step that fails fails the unit; the next start resumes at that step
// and never runs kubeadm again.
func TestFailedPostStepResumesThere(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "config-sample.yaml", "master1")
	sb.write("hooks/post.d/50-cni", postHook("cni"), 0o755)
	sb.write("hooks/post.d/70-kubesphere", postHook("kubesphere"), 0o755)
	sb.write("bin/kubesphere-fail", "1", 0o644)
	out, err := sb.run()
	if err == nil || !strings.Contains(out, "phase post-70-kubesphere failed (exit 1)") {
		t.Fatalf("a failed post step must fail the bootstrap and name its phase (err %v):\n%s", err, out)
	}
	out, err = sb.run()
	if err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	if got := count(sb.calls("50-cni"), "done"); got != 1 {
		t.Errorf("cni ran %d times to the end, want once", got)
	}
	if got := sb.calls("kubeadm"); count(got, "init --config") != 1 || count(got, "reset") != 0 {
		t.Errorf("kubeadm calls %q, want the one init", got)
	}
	if !sb.exists("state/bootstrapped") {
		t.Errorf("not bootstrapped after the restart:\n%s", out)
	}
}

// The sysctls and modules are applied best-effort: kubeadm's preflight is
// the judge of what the node needs.
func TestUnwritableSysctlIsNotFatal(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "config-sample.yaml", "node1")
	sb.write("bin/sysctl-fail", "", 0o644)
	out, err := sb.run()
	if err != nil {
		t.Fatalf("one unwritable sysctl stopped the bootstrap: %v\n%s", err, out)
	}
	if !strings.Contains(out, "net.bridge.bridge-nf-call-iptables") || !strings.Contains(out, "warning: some sysctls could not be applied") {
		t.Errorf("the failed sysctl is not logged:\n%s", out)
	}
}

// TestPowerCutAnywhereKeepsTheCluster kills the bootstrap at every phase
// boundary, inside kubeadm and in the middle of each post step, then boots
// the node again until it is done. Whatever the cut, the cluster survives:
// it was published once and never reset, the node joined exactly once, and
// no reset ran after kubeadm had finished.
func TestPowerCutAnywhereKeepsTheCluster(t *testing.T) {
	t.Parallel()
	type node struct {
		spec, name string
		hooks      []string
	}
	common := []string{"prep", "after-prep", "kubeadm-mid", "kubeadm-done", "after-kubeadm"}
	for _, n := range []node{
		{"config-sample.yaml", "master1", []string{"cni", "kubesphere"}},
		{"specs/valid-etcd-stacked.yaml", "master1", []string{"cni"}},
		{"specs/valid-etcd-stacked.yaml", "master2", []string{"apiserver-own"}},
		{"config-sample.yaml", "node1", []string{"apiserver-local"}},
	} {
		labels := slices.Clone(common)
		if strings.HasPrefix(n.name, "master") {
			labels = append(labels, "after-"+firstboot.PhaseAdmin)
		}
		for i, h := range n.hooks {
			file := fmt.Sprintf("%02d-%s", 50+i, h)
			labels = append(labels, h+"-mid", "after-post-"+file)
		}
		for _, label := range labels {
			t.Run(strings.TrimSuffix(filepath.Base(n.spec), ".yaml")+"/"+n.name+"/"+label, func(t *testing.T) {
				t.Parallel()
				sb := newSandbox(t, n.spec, n.name)
				for i, h := range n.hooks {
					sb.write(fmt.Sprintf("hooks/post.d/%02d-%s", 50+i, h), postHook(h), 0o755)
				}
				sb.write("bin/kill-at", label, 0o644)
				out, err := sb.boot()
				if !killed(err) {
					t.Fatalf("the bootstrap was not cut at %s (err %v):\n%s", label, err, out)
				}
				for boot := 2; !sb.exists("state/bootstrapped"); boot++ {
					if boot > 4 {
						t.Fatalf("not bootstrapped after %d boots:\n%s", boot-1, out)
					}
					out, err = sb.boot()
					if err != nil {
						t.Logf("boot %d: %v\n%s", boot, err, out)
					}
				}
				sb.checkIntact(t)
			})
		}
	}
}

// checkIntact asserts the cluster and the node came through whole.
func (sb *sandbox) checkIntact(t *testing.T) {
	t.Helper()
	log := strings.Split(sb.read("bin/calls.log"), "\n")
	completed, resetAfter := 0, false
	for _, l := range log {
		switch {
		case l == "kubeadm completed init" || l == "kubeadm completed join":
			completed++
		case strings.HasPrefix(l, "kubeadm reset") && completed > 0:
			resetAfter = true
		}
	}
	if completed != 1 {
		t.Errorf("kubeadm %s completed %d times, want exactly once:\n%s", sb.node.Action, completed, sb.read("bin/calls.log"))
	}
	if resetAfter {
		t.Errorf("kubeadm reset ran after kubeadm had completed:\n%s", sb.read("bin/calls.log"))
	}
	if got := strings.TrimSpace(sb.read("cluster/cluster-info")); got != "1" {
		t.Errorf("cluster-info generation %q: the cluster was lost or made again", got)
	}
	labels := sb.read("cluster/nodes/" + sb.node.Name)
	if labels == "" || sb.node.ControlPlane && !strings.Contains(labels, "control-plane") {
		t.Errorf("node %s registered as %q", sb.node.Name, labels)
	}
	if sb.node.ControlPlane && strings.Contains(sb.read("bootstrap.sh"), "ETCD_DATA='/") && (!sb.exists("cluster/etcd/"+sb.node.Name) || !sb.exists("etcd/member")) {
		t.Errorf("stacked etcd member of %s lost", sb.node.Name)
	}
	if sb.read("kube/pki/ca.key") != "KEY" {
		t.Errorf("the pre-placed CA key is gone")
	}
}

// When the API cannot be asked and the node holds etcd data, the data may
// be a running cluster's: nothing is reset until the API answers.
func TestEtcdDataIsNeverResetBlind(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "specs/valid-etcd-stacked.yaml", "master1")
	sb.write("bin/kill-at", "kubeadm-done", 0o644)
	if out, err := sb.boot(); !killed(err) {
		t.Fatalf("not cut (err %v):\n%s", err, out)
	}
	sb.write("bin/api-down", "", 0o644)
	out, err := sb.boot("KSGEN_MAX_ATTEMPTS=2")
	if err == nil {
		t.Fatalf("the bootstrap went on without knowing whether the etcd data is a cluster's:\n%s", out)
	}
	if count(sb.calls("kubeadm"), "reset") != 0 {
		t.Errorf("kubeadm reset ran while the API could not be asked:\n%s", out)
	}
	if !strings.Contains(out, "not resetting") {
		t.Errorf("the journal does not say why nothing was reset:\n%s", out)
	}
	if err := os.Remove(filepath.Join(sb.dir, "bin/api-down")); err != nil {
		t.Fatal(err)
	}
	if out, err := sb.boot(); err != nil {
		t.Fatalf("once the API answers the node must adopt its init: %v\n%s", err, out)
	}
	sb.checkIntact(t)
	if got := count(sb.calls("kubeadm"), "init phase "); got != 2 {
		t.Errorf("adopting an unrecorded init must finish its last phases (kubelet-finalize, addon): %d phase calls", got)
	}
}

// Every kind of node's script and the hooks pass shellcheck.
func TestScriptsPassShellcheck(t *testing.T) {
	t.Parallel()
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck is not installed (CI installs it)")
		}
		t.Skip("shellcheck is not installed")
	}
	dir := t.TempDir()
	var args []string
	for _, node := range []string{"master1", "master2", "node1"} {
		sb := newSandbox(t, "specs/valid-etcd-stacked.yaml", node)
		path := filepath.Join(dir, node+".sh")
		if err := os.WriteFile(path, []byte(sb.read("bootstrap.sh")), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	for i, h := range []func() (fileset.File, error){
		func() (fileset.File, error) { return firstboot.Exec(firstboot.CNI, firstboot.Dir+"/addons.sh", "cni") },
		func() (fileset.File, error) {
			return firstboot.Command(firstboot.KubeVipAdmin, "sed", "-i", "s|a|b|", "/x y")
		},
	} {
		f, err := h()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("hook%d", i))
		if err := os.WriteFile(path, f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	if out, err := exec.Command(sc, args...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// A hook hands its arguments over byte for byte, and finds its script
// through KSGEN_HOOK_DIR.
func TestHookArguments(t *testing.T) {
	t.Parallel()
	args := []string{"own", "10.0.0.2", "it's $(here) `x` \"y\"", ""}
	f, err := firstboot.Exec(firstboot.APIServerOwn, firstboot.Dir+"/sub/echo-args", args...)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != "/opt/ksgen/post.d/10-apiserver-own" || f.Mode != fileset.ModeExec {
		t.Errorf("hook at %s mode %v", f.Path, f.Mode)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub/echo-args"), []byte("#!/bin/sh\nprintf '[%s]' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", string(f.Content))
	cmd.Env = []string{"KSGEN_HOOK_DIR=" + dir, "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := ""
	for _, a := range args {
		want += "[" + a + "]"
	}
	if string(out) != want {
		t.Errorf("hook passed %q, want %q", out, want)
	}
	if _, err := firstboot.Exec(firstboot.CNI, "/usr/bin/elsewhere"); err == nil {
		t.Errorf("a hook script outside %s was accepted", firstboot.Dir)
	}
}
