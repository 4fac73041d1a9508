package certrenew_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/certrenew"
	"github.com/ksgen/ksgen/images"
)

// TestRenewalWithKubeadm runs the rendered script of a stacked-etcd control
// plane with the real kubeadm, built from the Go module proxy, against the
// certificates and kubeconfigs kubeadm itself wrote (`kubeadm init phase
// certs all` and `kubeconfig all`) for ten days (certificateValidityPeriod):
//
//  1. with the default threshold, 10 days < 30: everything is renewed for
//     a year, the serials change, the names stay;
//  2. again: a year left, nothing is renewed;
//  3. with the threshold forced to 400 days: everything is renewed again.
//
// kubeadm keeps its kubeconfigs in /etc/kubernetes whatever --cert-dir says,
// so the script's kubeadm is the real one run with --rootfs (a chroot into
// the test's root): root, for chroot. crictl is faked and a loopback TLS
// server stands in for kube-apiserver, as in TestRenewal.
func TestRenewalWithKubeadm(t *testing.T) {
	if os.Getenv("KSGEN_E2E") == "" {
		t.Skip("runs with make e2e (KSGEN_E2E=1): it builds kubeadm from the Go module proxy")
	}
	if os.Geteuid() != 0 {
		t.Skip("kubeadm --rootfs chroots: needs root")
	}
	version := images.DefaultKubernetesVersion
	kube, err := consumers.KubernetesBinaries(version)
	if err != nil {
		t.Fatal(err)
	}
	kubeadm := filepath.Join(kube, "kubeadm")
	c := plantest.Plan(t, plantest.HA("  etcd: {type: kubeadm}\n"))
	_, files := plantest.Render(t, c, "cp1", certrenew.Render)
	script := files[certrenew.Script].Content

	dir := t.TempDir()
	root, fakeDir, bin := filepath.Join(dir, "root"), filepath.Join(dir, "fake"), filepath.Join(dir, "bin")
	kubeDir := filepath.Join(root, "etc/kubernetes")
	for _, d := range []string{kubeDir, fakeDir, bin} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(bin, "crictl"), []byte(fakes["crictl"]), 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "kubeadm"), []byte(`#!/bin/sh
echo "kubeadm $*" >> "$FAKE_DIR/calls"
exec `+kubeadm+` "$@" --rootfs "$KSGEN_ROOT"
`), 0o755))

	// The endpoint's port 1 refuses at once: renew falls back to kubeadm's
	// default configuration, as on a node whose API is down. kubeadm will
	// not advertise a loopback address; 10.0.0.1 only goes into the names.
	cfg := filepath.Join(dir, "kubeadm.yaml")
	must(t, os.WriteFile(cfg, []byte(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: {advertiseAddress: 10.0.0.1, bindPort: 6443}
nodeRegistration: {name: cp1, criSocket: unix:///run/containerd/containerd.sock}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: `+version+`
controlPlaneEndpoint: 127.0.0.1:1
certificatesDir: `+filepath.Join(kubeDir, "pki")+`
certificateValidityPeriod: 240h
`), 0o644))
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(kubeadm, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubeadm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("init", "phase", "certs", "all", "--config", cfg)
	run("init", "phase", "kubeconfig", "all", "--config", cfg, "--kubeconfig-dir", kubeDir)
	addr := fakeAPIServer(t, kubeDir+"/pki/apiserver.crt", kubeDir+"/pki/apiserver.key", filepath.Join(fakeDir, "restarted-id-kube-apiserver"))
	renewed := renewedFiles(t, script)

	expiration := func() string {
		return run("certs", "check-expiration", "--rootfs", root)
	}
	renew := func(args ...string) (map[string]*x509.Certificate, string) {
		t.Helper()
		must(t, os.RemoveAll(filepath.Join(fakeDir, "calls")))
		must(t, os.RemoveAll(filepath.Join(fakeDir, "restarted-id-kube-apiserver")))
		cmd := exec.Command("bash", append([]string{"-c", string(script), "renew-certs"}, args...)...)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "FAKE_DIR=" + fakeDir, "KSGEN_ROOT=" + root,
			"KSGEN_APISERVER=" + addr, "KSGEN_APISERVER_WAIT=30"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("renew-certs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return readCerts(t, root, renewed), string(out)
	}

	before := readCerts(t, root, renewed)
	if len(before) != len(renewed) {
		t.Fatalf("kubeadm wrote %d of the %d files the script renews", len(before), len(renewed))
	}
	t.Logf("kubeadm certs check-expiration, before:\n%s", expiration())

	steps := []struct {
		name    string
		args    []string
		renewed bool
	}{
		{"10 days left, default threshold", nil, true},
		{"a year left, default threshold", nil, false},
		{"a year left, threshold forced to 400 days", []string{"400"}, true},
	}
	for _, s := range steps {
		after, out := renew(s.args...)
		calls := readLines(t, filepath.Join(fakeDir, "calls"))
		if got := slices.Contains(calls, "kubeadm certs renew all"); got != s.renewed {
			t.Fatalf("%s: kubeadm certs renew all run: %v, want %v\n%s", s.name, got, s.renewed, out)
		}
		for _, f := range renewed {
			b, a := before[f], after[f]
			if !s.renewed {
				if !a.Equal(b) {
					t.Errorf("%s: %s changed", s.name, f)
				}
				continue
			}
			if a.SerialNumber.Cmp(b.SerialNumber) == 0 {
				t.Errorf("%s: %s has its old serial", s.name, f)
			}
			if left := time.Until(a.NotAfter); left < 364*24*time.Hour {
				t.Errorf("%s: %s renewed for %s only", s.name, f, left)
			}
			if a.Subject.String() != b.Subject.String() || !slices.Equal(a.DNSNames, b.DNSNames) || len(a.IPAddresses) != len(b.IPAddresses) {
				t.Errorf("%s: %s renewed with other names: %s %v %v, was %s %v %v", s.name, f, a.Subject, a.DNSNames, a.IPAddresses, b.Subject, b.DNSNames, b.IPAddresses)
			}
		}
		if s.renewed && !strings.Contains(out, "serves the renewed certificate") {
			t.Errorf("%s: output:\n%s", s.name, out)
		}
		t.Logf("%s:\n%s", s.name, out)
		before = after
	}
	after := expiration()
	t.Logf("kubeadm certs check-expiration, after:\n%s", after)
	// Every certificate row (the CAs follow, under their own header) now
	// says 364d or 365d left.
	leaves, _, _ := strings.Cut(after, "\nCERTIFICATE AUTHORITY ")
	rows := regexp.MustCompile(`(?m)^(\S+)\s+\w{3} \d\d, \d{4} \d\d:\d\d UTC\s+(\S+)\s`).FindAllStringSubmatch(leaves, -1)
	if len(rows) < len(renewed) {
		t.Fatalf("check-expiration lists %d certificates, want %d:\n%s", len(rows), len(renewed), after)
	}
	for _, r := range rows {
		if r[2] != "364d" && r[2] != "365d" {
			t.Errorf("check-expiration: %s has %s left", r[1], r[2])
		}
	}
}

// renewedFiles reads the script's renewed=( … ) list.
func renewedFiles(t *testing.T, script []byte) []string {
	t.Helper()
	s := string(script)
	i := strings.Index(s, "renewed=(\n")
	j := strings.Index(s[i:], "\n)\n")
	if i < 0 || j < 0 {
		t.Fatal("no renewed=( … ) list in the script")
	}
	var out []string
	for l := range strings.SplitSeq(s[i+len("renewed=(\n"):i+j], "\n") {
		out = append(out, strings.Trim(strings.TrimSpace(l), "'"))
	}
	return out
}

// readCerts parses each file that exists under root: a certificate, or a
// kubeconfig's client certificate.
func readCerts(t *testing.T, root string, files []string) map[string]*x509.Certificate {
	t.Helper()
	out := map[string]*x509.Certificate{}
	for _, f := range files {
		b, err := os.ReadFile(root + f)
		if os.IsNotExist(err) {
			continue
		}
		must(t, err)
		if strings.HasSuffix(f, ".conf") {
			m := regexp.MustCompile(`client-certificate-data: (\S+)`).FindSubmatch(b)
			if m == nil {
				t.Fatalf("%s has no client-certificate-data", f)
			}
			if b, err = base64.StdEncoding.DecodeString(string(m[1])); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM certificate", f)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		must(t, err)
		out[f] = cert
	}
	return out
}
