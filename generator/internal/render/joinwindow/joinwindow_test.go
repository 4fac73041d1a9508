package joinwindow_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/joinwindow"
)

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "kubectl" {
		os.Exit(fakeKubectl(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Tokens of the scenarios: the bundle's, the one `ksgen token rotate` made,
// and one an administrator created by hand.
const (
	tokenA = "aaaaaa.0123456789abcdef"
	tokenB = "bbbbbb.fedcba9876543210"
	tokenC = "cccccc.1111111111111111"
)

// script renders the keeper for a ksgen document's spec section.
func script(t *testing.T, ksgen string) []byte {
	t.Helper()
	c := plantest.Plan(t, plantest.HA("---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n"+ksgen))
	_, files := plantest.Render(t, c, "cp1", joinwindow.Render)
	f, ok := files[joinwindow.Script]
	if !ok || f.Mode != 0o755 {
		t.Fatalf("no executable %s: %+v", joinwindow.Script, f)
	}
	return f.Content
}

func TestControlPlanesOnly(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(""))
	for _, name := range []string{"cp1", "cp2", "cp3"} {
		p, _ := plantest.Render(t, c, name, joinwindow.Render)
		units := map[string]bool{}
		for _, u := range p.Units {
			units[u.Name] = u.Enabled
			if u.Name == joinwindow.Timer && !strings.Contains(u.Contents, "Unit="+joinwindow.Service) {
				t.Errorf("%s: the timer does not start %s:\n%s", name, joinwindow.Service, u.Contents)
			}
		}
		if enabled, ok := units[joinwindow.Timer]; !ok || !enabled {
			t.Errorf("%s: %s missing or not enabled: %v", name, joinwindow.Timer, units)
		}
		if _, ok := units[joinwindow.Service]; !ok {
			t.Errorf("%s: no %s", name, joinwindow.Service)
		}
	}
	if _, files := plantest.Render(t, c, "w1", joinwindow.Render); len(files) > 0 {
		t.Errorf("a worker got %v; it has no credentials to manage tokens", files)
	}
	if f := joinwindow.TokenFile(tokenA); f.Mode != 0o600 || string(f.Content) != tokenA || f.Path != joinwindow.TokenPath {
		t.Errorf("token file %+v", f)
	}
}

func TestShellcheck(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("shellcheck"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck not found (.ci/run installs it)")
		}
		t.Skip("shellcheck not found")
	}
	for _, doc := range []string{"", "  joinWindow: 720h\n", "  joinWindow: never\n", "  bootstrapTokenTTL: 0s\n"} {
		cmd := exec.Command("shellcheck", "-")
		cmd.Stdin = bytes.NewReader(script(t, doc))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck (%q): %v\n%s", doc, err, out)
		}
	}
}

// cluster is the fake API server's state, its clock and the tools around it.
type cluster struct {
	t      *testing.T
	dir    string
	bin    string
	script string
	now    time.Time
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newCluster(t *testing.T, ksgen string) *cluster {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, bin: filepath.Join(dir, "bin"), script: filepath.Join(dir, "join-window"), now: t0}
	self, err := os.Executable()
	must(t, err)
	must(t, os.Mkdir(c.bin, 0o755))
	must(t, os.Symlink(self, filepath.Join(c.bin, "kubectl")))
	must(t, os.WriteFile(c.script, script(t, ksgen), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "admin.conf"), []byte("fake"), 0o600))
	return c
}

func (c *cluster) env(extra ...string) []string {
	return append([]string{
		"PATH=" + c.bin + ":/usr/bin:/bin",
		"FAKE_STORE=" + filepath.Join(c.dir, "store.json"),
		"FAKE_LOG=" + filepath.Join(c.dir, "calls"),
		"FAKE_NOW=" + strconv.FormatInt(c.now.Unix(), 10),
	}, extra...)
}

// keeper runs the keeper as a control plane whose token file holds token,
// and returns what it printed.
func (c *cluster) keeper(token string) string {
	c.t.Helper()
	out, err := c.tryKeeper(token)
	if err != nil {
		c.t.Fatalf("at %s: keeper: %v\n%s", c.now, err, out)
	}
	return out
}

func (c *cluster) tryKeeper(token string) (string, error) {
	tokenFile := filepath.Join(c.dir, "join-token")
	must(c.t, os.WriteFile(tokenFile, []byte(token), 0o600))
	cmd := exec.Command(c.script)
	cmd.Env = c.env("KSGEN_KUBECONFIG="+filepath.Join(c.dir, "admin.conf"), "KSGEN_TOKEN_FILE="+tokenFile,
		"KSGEN_NOW="+strconv.FormatInt(c.now.Unix(), 10))
	out, err := cmd.CombinedOutput()
	c.noSecretOnCommandLines()
	return string(out), err
}

// kubectl runs the fake as the operator would.
func (c *cluster) kubectl(stdin []byte, args ...string) {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, "kubectl"), append([]string{"--kubeconfig", filepath.Join(c.dir, "admin.conf"), "--namespace", "kube-system"}, args...)...)
	cmd.Env = c.env()
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
}

func (c *cluster) store() store {
	c.t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.dir, "store.json"))
	if os.IsNotExist(err) {
		return store{}
	}
	must(c.t, err)
	s := store{}
	must(c.t, json.Unmarshal(raw, &s))
	return s
}

func (c *cluster) save(s store) {
	c.t.Helper()
	raw, err := json.Marshal(s)
	must(c.t, err)
	must(c.t, os.WriteFile(filepath.Join(c.dir, "store.json"), raw, 0o600))
}

// bootstrapToken stores a token as kubeadm (init, or `kubeadm token create`)
// does: no ksgen label.
func (c *cluster) bootstrapToken(token string, ttl time.Duration) {
	id, secret, _ := strings.Cut(token, ".")
	data := object{"token-id": id, "token-secret": secret, "description": joinwindow.Description,
		"usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true", "auth-extra-groups": joinwindow.Groups}
	if ttl > 0 {
		data["expiration"] = c.now.Add(ttl).Format(time.RFC3339)
	}
	for k, v := range data {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v.(string)))
	}
	s := c.store()
	s["bootstrap-token-"+id] = object{"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
		"metadata": object{"name": "bootstrap-token-" + id, "namespace": "kube-system", "creationTimestamp": c.now.Format(time.RFC3339)},
		"data":     data}
	c.save(s)
}

// advance moves the clock, and then runs kube-controller-manager's token
// cleaner: expired bootstrap tokens are deleted.
func (c *cluster) advance(d time.Duration) {
	c.now = c.now.Add(d)
	s := c.store()
	for name, obj := range s {
		if e := field(obj, "expiration"); obj["type"] == "bootstrap.kubernetes.io/token" && e != "" {
			if exp, _ := time.Parse(time.RFC3339, e); !c.now.Before(exp) {
				delete(s, name)
			}
		}
	}
	c.save(s)
}

// joins reports whether kubeadm join with token would authenticate now, as
// the API server's bootstrap authenticator decides.
func (c *cluster) joins(token string) bool {
	id, secret, _ := strings.Cut(token, ".")
	obj, ok := c.store()["bootstrap-token-"+id]
	if !ok || field(obj, "token-secret") != secret || field(obj, "usage-bootstrap-authentication") != "true" ||
		field(obj, "usage-bootstrap-signing") != "true" || field(obj, "auth-extra-groups") != joinwindow.Groups {
		return false
	}
	if e := field(obj, "expiration"); e != "" {
		exp, err := time.Parse(time.RFC3339, e)
		return err == nil && c.now.Before(exp)
	}
	return true
}

func (c *cluster) expiration(token string) string {
	id, _, _ := strings.Cut(token, ".")
	return field(c.store()["bootstrap-token-"+id], "expiration")
}

func field(obj object, k string) string {
	data, _ := obj["data"].(object)
	v, _ := data[k].(string)
	b, _ := base64.StdEncoding.DecodeString(v)
	return string(b)
}

// noSecretOnCommandLines checks that no token's secret half was ever an
// argument, where every user of the machine can read it.
func (c *cluster) noSecretOnCommandLines() {
	c.t.Helper()
	calls, _ := os.ReadFile(filepath.Join(c.dir, "calls"))
	for _, tok := range []string{tokenA, tokenB, tokenC} {
		_, secret, _ := strings.Cut(tok, ".")
		if bytes.Contains(calls, []byte(secret)) {
			c.t.Fatalf("the secret of %s is on a kubectl command line:\n%s", tok, calls)
		}
	}
}

func (c *cluster) wantJoins(token string, want bool) {
	c.t.Helper()
	if got := c.joins(token); got != want {
		c.t.Fatalf("at %s (t0+%s): joins with %s = %v, want %v; store: %v", c.now.Format(time.RFC3339), c.now.Sub(t0), token, got, want, c.store())
	}
}

func TestAlwaysOpen(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "") // the default: always, 24h TTL
	c.bootstrapToken(tokenA, 24*time.Hour)
	c.advance(time.Minute)
	c.keeper(tokenA)
	s := c.store()
	if field(s[joinwindow.StateSecret], "token") != tokenA {
		t.Fatalf("state Secret not seeded with the bundle's token: %v", s)
	}
	if s["bootstrap-token-aaaaaa"]["metadata"].(object)["labels"].(object)[joinwindow.Label] != "true" {
		t.Fatalf("kubeadm's token not adopted: %v", s["bootstrap-token-aaaaaa"])
	}
	if got, want := c.expiration(tokenA), c.now.Add(24*time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("expiration %s, want %s", got, want)
	}
	// A keeper run in the first half of the TTL changes nothing.
	c.advance(11 * time.Hour)
	before := c.expiration(tokenA)
	if out := c.keeper(tokenA); strings.Contains(out, "expires") || c.expiration(tokenA) != before {
		t.Errorf("a run with more than half the TTL left renewed the token: %s", out)
	}
	// A run every 6 hours for five days: the token never lapses.
	for range 20 {
		c.advance(6 * time.Hour)
		c.wantJoins(tokenA, true)
		c.keeper(tokenA)
	}
	// Every control plane off for six months: the token expires and is
	// cleaned up; the first keeper back creates it again.
	c.advance(180 * 24 * time.Hour)
	c.wantJoins(tokenA, false)
	out := c.keeper(tokenA)
	if !strings.Contains(out, "created bootstrap token aaaaaa") {
		t.Errorf("keeper output: %s", out)
	}
	c.wantJoins(tokenA, true)
}

func TestNoExpiry(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "  bootstrapTokenTTL: 0s\n")
	c.bootstrapToken(tokenA, 0)
	c.keeper(tokenA)
	if e := c.expiration(tokenA); e != "" {
		t.Errorf("a 0s TTL token got expiration %s", e)
	}
	c.advance(365 * 24 * time.Hour)
	c.wantJoins(tokenA, true)
}

func TestBoundedWindow(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "  joinWindow: 720h\n")
	c.bootstrapToken(tokenA, 24*time.Hour)
	c.advance(time.Minute)
	c.keeper(tokenA)
	// The window counts from kubeadm init, when the token was created.
	if got, want := c.expiration(tokenA), t0.Add(720*time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("expiration %s, want %s", got, want)
	}
	c.advance(719 * time.Hour)
	c.wantJoins(tokenA, true)
	c.keeper(tokenA)
	c.advance(2 * time.Hour)
	c.wantJoins(tokenA, false)
	for range 3 {
		if out := c.keeper(tokenA); !strings.Contains(out, "closed") {
			t.Errorf("keeper output: %s", out)
		}
		c.wantJoins(tokenA, false)
		c.advance(24 * time.Hour)
	}
	// A rotation opens a new window, counted from when it reaches the cluster.
	c.kubectl(joinwindow.StateManifest(tokenB), "apply", "--server-side", "--force-conflicts", "--filename", "-")
	rotated := c.now
	c.keeper(tokenA)
	c.wantJoins(tokenB, true)
	if got, want := c.expiration(tokenB), rotated.Add(720*time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("rotated token's expiration %s, want %s", got, want)
	}
}

func TestNever(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "  joinWindow: never\n  bootstrapTokenTTL: 2h\n")
	c.bootstrapToken(tokenA, 2*time.Hour)
	c.advance(time.Minute)
	c.keeper(tokenA)
	if got, want := c.expiration(tokenA), t0.Add(2*time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("expiration %s, want %s", got, want)
	}
	c.advance(time.Hour)
	c.wantJoins(tokenA, true)
	c.advance(time.Hour)
	c.keeper(tokenA)
	c.wantJoins(tokenA, false)
}

func TestRotate(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "")
	c.bootstrapToken(tokenA, 24*time.Hour)
	c.bootstrapToken(tokenC, time.Hour) // an administrator's own token
	c.advance(time.Minute)
	c.keeper(tokenA)
	// The operator tells the cluster about the rotated token; the control
	// planes' files still hold the old one.
	c.kubectl(joinwindow.StateManifest(tokenB), "apply", "--server-side", "--force-conflicts", "--filename", "-")
	c.advance(time.Minute)
	out := c.keeper(tokenA)
	if !strings.Contains(out, "created bootstrap token bbbbbb") || !strings.Contains(out, `"bootstrap-token-aaaaaa" deleted`) {
		t.Errorf("keeper output: %s", out)
	}
	c.wantJoins(tokenB, true)
	c.wantJoins(tokenA, false)
	c.wantJoins(tokenC, true)
	// Another control plane with the old file, and a new one rendered with
	// the rotated bundle, agree.
	c.advance(time.Minute)
	c.keeper(tokenA)
	c.keeper(tokenB)
	c.wantJoins(tokenB, true)
	c.wantJoins(tokenA, false)
}

func TestBeforeInit(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "")
	must(t, os.Remove(filepath.Join(c.dir, "admin.conf")))
	c.keeper(tokenA)
	if calls, _ := os.ReadFile(filepath.Join(c.dir, "calls")); len(calls) > 0 {
		t.Errorf("kubectl called before kubeadm wrote admin.conf:\n%s", calls)
	}
}

func TestRefusesABadToken(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ file, state string }{
		"bad token file":   {file: "not-a-token"},
		"bad state Secret": {file: tokenA, state: "AAAAAA.notatoken"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, "")
			c.bootstrapToken(tokenC, time.Hour)
			if tc.state != "" {
				c.kubectl(joinwindow.StateManifest(tc.state), "apply", "--server-side", "--force-conflicts", "--filename", "-")
			}
			before := c.store()
			if out, err := c.tryKeeper(tc.file); err == nil || !strings.Contains(out, "holds no bootstrap token") {
				t.Errorf("keeper: %v\n%s", err, out)
			}
			after, _ := json.Marshal(c.store())
			if b, _ := json.Marshal(before); !bytes.Equal(b, after) {
				t.Errorf("the keeper changed the cluster:\n%s\n%s", b, after)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
