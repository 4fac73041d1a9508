package certrenew_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"maps"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/certrenew"
)

func TestControlPlanesGetTheTimer(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(""))
	calendars := map[string]bool{}
	for _, name := range []string{"cp1", "cp2", "cp3"} {
		p, files := plantest.Render(t, c, name, certrenew.Render)
		if f, ok := files[certrenew.Script]; !ok || f.Mode != fileset.ModeExec {
			t.Fatalf("%s: no executable %s", name, certrenew.Script)
		}
		units := map[string]fileset.Unit{}
		for _, u := range p.Units {
			units[u.Name] = u
		}
		timer, ok := units[certrenew.Timer]
		if !ok || !timer.Enabled || !strings.Contains(timer.Contents, "Unit="+certrenew.Service) {
			t.Fatalf("%s: %s missing, disabled or not starting %s: %+v", name, certrenew.Timer, certrenew.Service, timer)
		}
		cal := line(timer.Contents, "OnCalendar=")
		if !strings.HasPrefix(cal, "Mon *-*-* 03:") || calendars[cal] {
			t.Errorf("%s: OnCalendar=%s: want a Monday 03:xx no other control plane has", name, cal)
		}
		calendars[cal] = true
		if _, err := exec.LookPath("systemd-analyze"); err == nil {
			if out, err := exec.Command("systemd-analyze", "calendar", cal).CombinedOutput(); err != nil {
				t.Errorf("%s: systemd-analyze calendar %q: %v\n%s", name, cal, err, out)
			}
		}
		if svc := units[certrenew.Service].Contents; !strings.Contains(svc, "ExecStart="+certrenew.Script) || !strings.Contains(svc, "ConditionPathExists=/etc/kubernetes/admin.conf") {
			t.Errorf("%s: %s:\n%s", name, certrenew.Service, svc)
		}
		shellcheck(t, files[certrenew.Script].Content)
	}
	if _, files := plantest.Render(t, c, "w1", certrenew.Render); len(files) > 0 {
		t.Errorf("a worker got %v", slices.Collect(maps.Keys(files)))
	}

	off := plantest.Plan(t, plantest.HA("  kubernetes: {autoRenewCerts: false}\n"))
	if _, files := plantest.Render(t, off, "cp1", certrenew.Render); len(files) > 0 {
		t.Errorf("autoRenewCerts false still renders %v", slices.Collect(maps.Keys(files)))
	}
}

// What the script renews, restarts and watches follows the etcd type and
// the load balancer.
func TestScriptFollowsTheTopology(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, extra string
		want, not   []string
	}{
		{"kubekey etcd", "", []string{"'kube-apiserver'", "'/etc/ssl/etcd/ssl/apiserver-etcd-client.pem'", "'/etc/ssl/etcd/ssl/member-cp1.pem'", "'10.0.0.1:6443'"},
			[]string{"'etcd'", "pki/etcd/server.crt", "'kube-vip'"}},
		{"stacked etcd", "  etcd: {type: kubeadm}\n", []string{"'etcd'", "'/etc/kubernetes/pki/etcd/server.crt'", "'/etc/kubernetes/pki/apiserver-etcd-client.crt'"},
			[]string{"/etc/ssl/etcd"}},
		{"kube-vip", "", []string{"'kube-vip'"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := plantest.HA(tc.extra)
			if tc.name == "kube-vip" {
				s = strings.Replace(s, "controlPlaneEndpoint: {internalLoadbalancer: haproxy}", "controlPlaneEndpoint: {internalLoadbalancer: kube-vip, address: 10.0.0.100}", 1)
			}
			_, files := plantest.Render(t, plantest.Plan(t, s), "cp1", certrenew.Render)
			script := string(files[certrenew.Script].Content)
			for _, w := range tc.want {
				if !strings.Contains(script, w) {
					t.Errorf("script lacks %s", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(script, n) {
					t.Errorf("script has %s", n)
				}
			}
			shellcheck(t, []byte(script))
		})
	}
}

// fakes stand in for kubeadm and crictl. Each logs its arguments to
// $FAKE_DIR/calls. kubeadm "renews" by copying $FAKE_DIR/renewed over the
// root (unless FAKE_NO_RENEW is set); crictl prints one container per name
// and, on stop, marks the container restarted (unless FAKE_NO_RESTART).
var fakes = map[string]string{
	"kubeadm": `#!/bin/sh
echo "kubeadm $*" >> "$FAKE_DIR/calls"
if [ "$*" = "certs renew all" ] && [ -z "${FAKE_NO_RENEW:-}" ]; then
  cp -R "$FAKE_DIR/renewed/." "$KSGEN_ROOT/"
fi
`,
	"crictl": `#!/bin/sh
echo "crictl $*" >> "$FAKE_DIR/calls"
case "$1" in
  ps) for a in "$@"; do case "$a" in io.kubernetes.container.name=*) echo "id-${a#*=}" ;; esac; done ;;
  stop) [ -n "${FAKE_NO_RESTART:-}" ] || for id in "$@"; do case "$id" in id-*) touch "$FAKE_DIR/restarted-$id" ;; esac; done ;;
esac
`,
}

// TestRenewal runs the rendered script against a control plane's files
// made here, kubeadm and crictl faked, and a TLS server on loopback that
// stands in for kube-apiserver: it serves apiserver.crt as it was when it
// started until crictl has stopped its container, then the file's current
// certificate.
func TestRenewal(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(""))
	_, files := plantest.Render(t, c, "cp1", certrenew.Render)
	script := files[certrenew.Script].Content

	day := 24 * time.Hour
	kubeadmFiles := []string{"pki/apiserver.crt", "pki/apiserver-kubelet-client.crt", "pki/front-proxy-client.crt",
		"admin.conf", "controller-manager.conf", "scheduler.conf"} // no super-admin.conf: skipped
	restarts := []string{"crictl stop --timeout 30 id-kube-apiserver", "crictl stop --timeout 30 id-kube-controller-manager", "crictl stop --timeout 30 id-kube-scheduler"}
	for _, tc := range []struct {
		name    string
		left    map[string]time.Duration // validity left by file; default 200 days
		args    []string
		env     []string
		renewed bool
		fail    string // in the output when the script must fail
	}{
		{name: "more than 30 days left"},
		{name: "one certificate within 30 days", left: map[string]time.Duration{"pki/apiserver.crt": 10 * day}, renewed: true},
		{name: "a kubeconfig within 30 days", left: map[string]time.Duration{"scheduler.conf": 29 * day}, renewed: true},
		{name: "forced above a year", args: []string{"400"}, renewed: true},
		{name: "forced through the environment", env: []string{"KSGEN_RENEW_DAYS=400"}, renewed: true},
		{name: "kubeadm renews nothing", left: map[string]time.Duration{"pki/apiserver.crt": 10 * day}, env: []string{"FAKE_NO_RENEW=1"},
			renewed: true, fail: "pki/apiserver.crt was not renewed"},
		{name: "kube-apiserver keeps its old certificate", args: []string{"400"}, env: []string{"FAKE_NO_RESTART=1"},
			renewed: true, fail: "does not serve the renewed certificate"},
		{name: "etcd certificate ksgen issued is due", left: map[string]time.Duration{"/etc/ssl/etcd/ssl/member-cp1.pem": 5 * day},
			fail: "/etc/ssl/etcd/ssl/member-cp1.pem expires"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			root, fakeDir, bin := filepath.Join(dir, "root"), filepath.Join(dir, "fake"), filepath.Join(dir, "bin")
			kube := filepath.Join(root, "etc/kubernetes")
			for _, d := range []string{kube + "/pki", fakeDir + "/renewed/etc/kubernetes/pki", bin, root + "/etc/ssl/etcd/ssl"} {
				must(t, os.MkdirAll(d, 0o755))
			}
			for name, body := range fakes {
				must(t, os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755))
			}
			ca := newCA(t)
			left := func(f string) time.Duration {
				if d, ok := tc.left[f]; ok {
					return d
				}
				return 200 * day
			}
			for _, f := range kubeadmFiles {
				writeCert(t, ca, filepath.Join(kube, f), left(f))
				writeCert(t, ca, filepath.Join(fakeDir, "renewed/etc/kubernetes", f), 365*day)
			}
			// ksgen's etcd certificates last as long as the etcd CA.
			for _, f := range []string{"/etc/ssl/etcd/ssl/apiserver-etcd-client.pem", "/etc/ssl/etcd/ssl/member-cp1.pem"} {
				d, ok := tc.left[f]
				if !ok {
					d = 3650 * day
				}
				writeCert(t, ca, root+f, d)
			}
			addr := fakeAPIServer(t, kube+"/pki/apiserver.crt", kube+"/pki/apiserver.key", filepath.Join(fakeDir, "restarted-id-kube-apiserver"))

			cmd := exec.Command("bash", append([]string{"-c", string(script), "renew-certs"}, tc.args...)...)
			cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "FAKE_DIR=" + fakeDir, "KSGEN_ROOT=" + root,
				"KSGEN_APISERVER=" + addr, "KSGEN_APISERVER_WAIT=4"}, tc.env...)
			out, err := cmd.CombinedOutput()
			if tc.fail != "" {
				if err == nil || !strings.Contains(string(out), tc.fail) {
					t.Fatalf("err %v, want a failure saying %q:\n%s", err, tc.fail, out)
				}
			} else if err != nil {
				t.Fatalf("renew-certs: %v\n%s", err, out)
			}
			calls := readLines(t, filepath.Join(fakeDir, "calls"))
			kubeconfig, kerr := os.ReadFile(filepath.Join(root, "root/.kube/config"))
			if !tc.renewed {
				if len(calls) > 0 || kerr == nil {
					t.Fatalf("nothing was due, yet it ran %q and wrote root's kubeconfig (%v)\n%s", calls, kerr, out)
				}
				return
			}
			if !slices.Contains(calls, "kubeadm certs renew all") {
				t.Fatalf("kubeadm certs renew all not run: %q\n%s", calls, out)
			}
			var stops []string
			for _, c := range calls {
				if strings.HasPrefix(c, "crictl stop") {
					stops = append(stops, c)
				}
			}
			if !slices.Equal(stops, restarts) {
				t.Errorf("restarts %q, want %q", stops, restarts)
			}
			if tc.fail != "" {
				return
			}
			for _, f := range kubeadmFiles {
				want, _ := os.ReadFile(filepath.Join(fakeDir, "renewed/etc/kubernetes", f))
				if got, _ := os.ReadFile(filepath.Join(kube, f)); !bytes.Equal(got, want) {
					t.Errorf("%s not renewed", f)
				}
			}
			admin, _ := os.ReadFile(filepath.Join(kube, "admin.conf"))
			if !bytes.Equal(kubeconfig, admin) {
				t.Errorf("root's kubeconfig is not the renewed admin.conf (%v)", kerr)
			}
			if calls[len(calls)-1] != "kubeadm certs check-expiration" {
				t.Errorf("last call %q, want kubeadm certs check-expiration", calls[len(calls)-1])
			}
			if !strings.Contains(string(out), "serves the renewed certificate") {
				t.Errorf("output:\n%s", out)
			}
		})
	}
}

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial atomic.Int64

func newCA(t *testing.T) ca {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(3650 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return ca{cert, key}
}

// writeCert writes a certificate valid for left more, with its key beside
// it (.key for .crt), or a kubeconfig embedding both for a .conf file.
func writeCert(t *testing.T, ca ca, path string, left time.Duration) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: filepath.Base(path)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(left),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	must(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	if strings.HasSuffix(path, ".conf") {
		conf := "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    client-certificate-data: " +
			base64.StdEncoding.EncodeToString(certPEM) + "\n    client-key-data: " + base64.StdEncoding.EncodeToString(keyPEM) + "\n"
		must(t, os.WriteFile(path, []byte(conf), 0o600))
		return
	}
	must(t, os.WriteFile(path, certPEM, 0o644))
	must(t, os.WriteFile(strings.TrimSuffix(strings.TrimSuffix(path, ".crt"), ".pem")+".key", keyPEM, 0o600))
}

// fakeAPIServer serves certFile's certificate as it is now until restarted
// exists, then the file's current one; it returns its loopback address.
func fakeAPIServer(t *testing.T, certFile, keyFile, restarted string) string {
	t.Helper()
	first, err := tls.LoadX509KeyPair(certFile, keyFile)
	must(t, err)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if _, err := os.Stat(restarted); err != nil {
			return &first, nil
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		return &c, err
	}})
	must(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				_ = conn.(*tls.Conn).Handshake()
			}()
		}
	}()
	return l.Addr().String()
}

func shellcheck(t *testing.T, script []byte) {
	t.Helper()
	if _, err := exec.LookPath("shellcheck"); err != nil {
		if os.Getenv("CI") != "" {
			t.Error("shellcheck not found (.ci/run installs it)")
		}
		return
	}
	cmd := exec.Command("shellcheck", "-")
	cmd.Stdin = bytes.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

func line(contents, prefix string) string {
	for l := range strings.SplitSeq(contents, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	return ""
}

func readLines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	must(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
