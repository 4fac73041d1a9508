package bootstrap_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/bootstrap"
	"github.com/ksgen/ksgen/generator/payload"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/spec"
)

// The fakes stand in for the programs the script drives. Each appends its
// arguments to calls.log; their behaviour is set by files in the state dir:
//
//	curl-fail N     the first N API probes fail
//	kubeadm-fail N  the first N kubeadm init/join runs fail
var fakes = map[string]string{
	"fake-common": `log() { echo "$(basename "$0") $*" >> "$FAKE_DIR/calls.log"; }
countdown() { # countdown FILE: true while FILE holds a positive count, decrementing it
  f="$FAKE_DIR/$1"; [ -f "$f" ] || return 1
  n=$(cat "$f"); [ "$n" -gt 0 ] || return 1
  echo $((n - 1)) > "$f"; return 0; }
`,
	"kubeadm": `. "$FAKE_DIR/fake-common"; log "$@"
case "$1" in
  reset) rm -rf "$KSGEN_KUBE_DIR/pki"/* "$KSGEN_KUBE_DIR/manifests"/*; exit 0 ;;
  init|join)
    [ -f "$KSGEN_KUBE_DIR/pki/ca.crt" ] || { echo "fake kubeadm: CA missing" >&2; exit 3; }
    if countdown kubeadm-fail; then echo "fake kubeadm: $1 failed" >&2; exit 1; fi
    echo "fake admin" > "$KSGEN_KUBE_DIR/admin.conf"; exit 0 ;;
esac
exit 2`,
	"curl":        `. "$FAKE_DIR/fake-common"; log "$@"; if countdown curl-fail; then exit 7; fi; exit 0`,
	"sleep":       `. "$FAKE_DIR/fake-common"; log "$@"`,
	"systemctl":   `. "$FAKE_DIR/fake-common"; log "$@"`,
	"swapoff":     `. "$FAKE_DIR/fake-common"; log "$@"`,
	"sysctl":      `. "$FAKE_DIR/fake-common"; log "$@"`,
	"timedatectl": `. "$FAKE_DIR/fake-common"; log "$@"`,
}

type sandbox struct {
	t      *testing.T
	script string
	dir    string
	env    []string
}

func newSandbox(t *testing.T, node string) *sandbox {
	t.Helper()
	s, r, err := spec.LoadFile("../../testdata/config-sample.yaml")
	if err != nil || r.Err(false) != nil {
		t.Fatalf("load spec: %v %v", err, r.Err(false))
	}
	c, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	p := &payload.Node{Name: node}
	if err := bootstrap.Render(c, c.NodeByName(node), p); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sb := &sandbox{t: t, dir: dir, script: filepath.Join(dir, "bootstrap.sh")}
	for _, f := range p.Files {
		if f.Path == bootstrap.Script {
			sb.write("bootstrap.sh", string(f.Content), 0o755)
		}
	}
	for name, body := range fakes {
		sb.write("bin/"+name, "#!/bin/bash\n"+body+"\n", 0o755)
	}
	sb.write("kube/pki/ca.crt", "CA", 0o644)
	sb.write("kube/pki/ca.key", "KEY", 0o600)
	sb.write("kube/kubeadm-config.yaml", "config", 0o600)
	sb.env = []string{
		"PATH=" + filepath.Join(dir, "bin") + ":/usr/bin:/bin",
		"FAKE_DIR=" + filepath.Join(dir, "bin"),
		"KSGEN_STATE_DIR=" + filepath.Join(dir, "state"),
		"KSGEN_KUBE_DIR=" + filepath.Join(dir, "kube"),
		"KSGEN_HOOK_DIR=" + filepath.Join(dir, "hooks"),
		"KSGEN_ROOT_HOME=" + filepath.Join(dir, "root"),
		"KSGEN_FSTAB=" + filepath.Join(dir, "fstab"),
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

func (sb *sandbox) run(extraEnv ...string) (string, error) {
	cmd := exec.Command("bash", sb.script)
	cmd.Env = append(slices.Clone(sb.env), extraEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
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

func TestInitRunsOnceAndWritesRootKubeconfig(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "master1")
	out, err := sb.run()
	if err != nil {
		t.Fatalf("bootstrap failed: %v\n%s", err, out)
	}
	kubeadm := sb.calls("kubeadm")
	want := "init --config " + filepath.Join(sb.dir, "kube/kubeadm-config.yaml")
	if len(kubeadm) != 1 || kubeadm[0] != want {
		t.Fatalf("kubeadm calls = %q, want [%q]", kubeadm, want)
	}
	if c := sb.calls("curl"); len(c) != 0 {
		t.Errorf("init must not wait for an API, curl calls: %q", c)
	}
	if got := sb.read("root/.kube/config"); got != "fake admin\n" {
		t.Errorf("root kubeconfig = %q", got)
	}
	if !strings.Contains(sb.read("fstab"), "#/swap.img none swap") || !strings.Contains(sb.read("fstab"), "\nUUID=1 /") && !strings.HasPrefix(sb.read("fstab"), "UUID=1 /") {
		t.Errorf("fstab swap line not commented out, or other lines touched:\n%s", sb.read("fstab"))
	}
	if calls := sb.calls("systemctl"); !slices.Contains(calls, "enable containerd") || !slices.Contains(calls, "restart containerd") {
		t.Errorf("containerd not enabled and restarted with the payload's config: %q", calls)
	}

	// A reboot of a configured node does nothing.
	out, err = sb.run()
	if err != nil {
		t.Fatalf("second run failed: %v\n%s", err, out)
	}
	if len(sb.calls("kubeadm")) != 1 {
		t.Errorf("second run called kubeadm again: %q", sb.calls("kubeadm"))
	}
	if !strings.Contains(out, "already bootstrapped") {
		t.Errorf("second run output %q does not say it is already bootstrapped", out)
	}
}

func TestJoinWaitsForTheAPIAndRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "node1")
	sb.write("bin/curl-fail", "2", 0o644)
	sb.write("bin/kubeadm-fail", "1", 0o644)
	out, err := sb.run()
	if err != nil {
		t.Fatalf("bootstrap failed: %v\n%s", err, out)
	}
	if got, want := sb.calls("sleep"), []string{"5", "10", "20"}; !slices.Equal(got, want) {
		t.Errorf("sleeps = %q, want %q (exponential backoff)", got, want)
	}
	var joins, resets int
	for _, c := range sb.calls("kubeadm") {
		switch {
		case strings.HasPrefix(c, "join --config "):
			joins++
		case c == "reset -f --cri-socket unix:///run/containerd/containerd.sock":
			resets++
		default:
			t.Errorf("unexpected kubeadm call %q", c)
		}
	}
	if joins != 2 || resets != 1 {
		t.Errorf("joins = %d, resets = %d; want 2 joins (one failed) and 1 reset", joins, resets)
	}
	if got := sb.calls("curl"); len(got) != 4 || !strings.Contains(got[0], "https://lb.kubesphere.local:6443/readyz") {
		t.Errorf("API probes = %q, want 4 probes of the endpoint", got)
	}
	// The reset emptied pki/; the seed copy put the CA back for the retry.
	if sb.read("kube/pki/ca.key") != "KEY" {
		t.Errorf("CA key not restored after reset")
	}
	for _, attempt := range []string{"attempt 1: the API at lb.kubesphere.local:6443 does not answer yet", "attempt 3: kubeadm join failed; resetting this node", "succeeded after 4 attempt(s)"} {
		if !strings.Contains(out, attempt) {
			t.Errorf("journal output lacks %q:\n%s", attempt, out)
		}
	}
	if sb.read("root/.kube/config") != "" {
		t.Errorf("a worker must not get an admin kubeconfig")
	}
}

func TestBackoffIsCappedAndGivingUpFails(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "master2")
	sb.write("bin/kubeadm-fail", "100", 0o644)
	out, err := sb.run("KSGEN_MAX_ATTEMPTS=9")
	if err == nil {
		t.Fatalf("bootstrap succeeded although every attempt failed:\n%s", out)
	}
	if got, want := sb.calls("sleep"), []string{"5", "10", "20", "40", "80", "160", "300", "300"}; !slices.Equal(got, want) {
		t.Errorf("sleeps = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(sb.dir, "state/bootstrapped")); err == nil {
		t.Errorf("a failed bootstrap marked the node as done")
	}
	if !strings.Contains(out, "giving up after 9 attempts") {
		t.Errorf("output lacks the give-up message:\n%s", out)
	}
}

func TestHooksRunAroundKubeadm(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, "node2")
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
}
