package etcd_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/plan"
)

const fixtures = "../../../../testdata/specs/external-etcd"

func externalCluster() cluster {
	return cluster{
		hosts: []string{"master1=10.3.0.1", "master2=10.3.0.2", "master3=10.3.0.3", "node1=10.3.0.9"},
		roles: map[string][]string{"control-plane": {"master1", "master2", "master3"}, "worker": {"node1"}},
		etcd: `    type: external
    external:
      endpoints: ["https://10.3.0.31:2379", "https://10.3.0.32:2379"]
      caFile: external-etcd/ca.pem
      certFile: external-etcd/client.pem
      keyFile: external-etcd/client-key.pem
`,
	}
}

// externalDir is a spec directory holding the fixture files in external-etcd/.
func externalDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "external-etcd"), 0o755))
	for _, f := range []string{"ca.pem", "client.pem", "client-key.pem"} {
		raw, err := os.ReadFile(filepath.Join(fixtures, f))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, "external-etcd", f), raw, 0o600))
	}
	return dir
}

func TestExternalFilesOnControlPlanes(t *testing.T) {
	t.Parallel()
	r := render(t, load(t, externalDir(t), externalCluster().yaml()))
	want := map[string]struct {
		fixture string
		mode    os.FileMode
	}{
		"/etc/ssl/etcd/ssl/external-ca.pem":         {"ca.pem", 0o644},
		"/etc/ssl/etcd/ssl/external-client.pem":     {"client.pem", 0o644},
		"/etc/ssl/etcd/ssl/external-client-key.pem": {"client-key.pem", 0o600},
	}
	for _, n := range []string{"master1", "master2", "master3"} {
		for path, w := range want {
			raw, err := os.ReadFile(filepath.Join(fixtures, w.fixture))
			must(t, err)
			f := r.file(t, n, path)
			if !bytes.Equal(f.Content, raw) || f.Mode != w.mode {
				t.Errorf("%s:%s: not the fixture %s with mode %o (mode %o)", n, path, w.fixture, w.mode, f.Mode)
			}
		}
		if n != "master1" {
			continue // joiners read the ClusterConfiguration from the cluster
		}
		e := clusterEtcd(t, r[n]["kubeadm.yaml"].Content)["external"].(map[string]any)
		for _, k := range []string{"caFile", "certFile", "keyFile"} {
			if _, ok := want[e[k].(string)]; !ok {
				t.Errorf("kubeadm %s %v is not a placed file", k, e[k])
			}
		}
		if eps := e["endpoints"].([]any); len(eps) != 2 || eps[0] != "https://10.3.0.31:2379" {
			t.Errorf("kubeadm endpoints %v", eps)
		}
	}
	for path := range r["node1"] {
		if strings.Contains(path, "etcd") {
			t.Errorf("worker receives %s", path)
		}
	}
}

// testPKI is throwaway external etcd material, made per test run.
type testPKI struct {
	ca, otherCA, client, otherClient, expired, serverOnly, key, otherKey []byte
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(t, err)
		return k
	}
	now := time.Now()
	serial := int64(1)
	sign := func(tmpl *x509.Certificate, parent *x509.Certificate, pub any, signer *ecdsa.PrivateKey) (*x509.Certificate, []byte) {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		must(t, err)
		c, err := x509.ParseCertificate(der)
		must(t, err)
		return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	caTmpl := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	leaf := func(cn string, usage x509.ExtKeyUsage, notAfter time.Time) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-2 * time.Hour), NotAfter: notAfter,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	}
	caKey, otherCAKey, key, otherKey := newKey(), newKey(), newKey(), newKey()
	tmpl := caTmpl("test-etcd-ca")
	caCert, caPEM := sign(tmpl, tmpl, &caKey.PublicKey, caKey)
	otmpl := caTmpl("other-ca")
	otherCACert, otherPEM := sign(otmpl, otmpl, &otherCAKey.PublicKey, otherCAKey)
	var p testPKI
	p.ca, p.otherCA = caPEM, otherPEM
	_, p.client = sign(leaf("client", x509.ExtKeyUsageClientAuth, now.Add(time.Hour)), caCert, &key.PublicKey, caKey)
	_, p.otherClient = sign(leaf("client", x509.ExtKeyUsageClientAuth, now.Add(time.Hour)), otherCACert, &key.PublicKey, otherCAKey)
	_, p.expired = sign(leaf("client", x509.ExtKeyUsageClientAuth, now.Add(-time.Hour)), caCert, &key.PublicKey, caKey)
	_, p.serverOnly = sign(leaf("server", x509.ExtKeyUsageServerAuth, now.Add(time.Hour)), caCert, &key.PublicKey, caKey)
	der, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	p.key = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	der, err = x509.MarshalPKCS8PrivateKey(otherKey)
	must(t, err)
	p.otherKey = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return p
}

// lineOf is the 1-based line of the first line of doc containing s.
func lineOf(t *testing.T, doc, s string) int {
	t.Helper()
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the spec", s)
	return 0
}

func TestExternalFileErrors(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t)
	cases := []struct {
		name  string
		files map[string][]byte // ca.pem, client.pem, client-key.pem; nil: absent
		field string
		cause error
		msg   string
	}{
		{name: "missing CA", files: map[string][]byte{"client.pem": p.client, "client-key.pem": p.key},
			field: "caFile", cause: plan.ErrFileUnreadable, msg: "cannot read the external etcd CA: open "},
		{name: "missing key", files: map[string][]byte{"ca.pem": p.ca, "client.pem": p.client},
			field: "keyFile", cause: plan.ErrFileUnreadable, msg: "no such file or directory"},
		{name: "key of another certificate", files: map[string][]byte{"ca.pem": p.ca, "client.pem": p.client, "client-key.pem": p.otherKey},
			field: "keyFile", cause: plan.ErrKeyMismatch, msg: "keyFile external-etcd/client-key.pem is not the key of certFile external-etcd/client.pem"},
		{name: "certificate of another CA", files: map[string][]byte{"ca.pem": p.ca, "client.pem": p.otherClient, "client-key.pem": p.key},
			field: "certFile", cause: plan.ErrNotSignedByCA, msg: "is not a client certificate signed by caFile external-etcd/ca.pem"},
		{name: "CA of another certificate", files: map[string][]byte{"ca.pem": p.otherCA, "client.pem": p.client, "client-key.pem": p.key},
			field: "certFile", cause: plan.ErrNotSignedByCA, msg: "signed by unknown authority"},
		{name: "server certificate", files: map[string][]byte{"ca.pem": p.ca, "client.pem": p.serverOnly, "client-key.pem": p.key},
			field: "certFile", cause: plan.ErrNotSignedByCA, msg: "is not a client certificate"},
		{name: "expired", files: map[string][]byte{"ca.pem": p.ca, "client.pem": p.expired, "client-key.pem": p.key},
			field: "certFile", cause: plan.ErrExpired, msg: "expired on "},
		{name: "CA not PEM", files: map[string][]byte{"ca.pem": []byte("not a certificate"), "client.pem": p.client, "client-key.pem": p.key},
			field: "caFile", cause: plan.ErrNotCertificate, msg: "caFile external-etcd/ca.pem: "},
		{name: "key not PEM", files: map[string][]byte{"ca.pem": p.ca, "client.pem": p.client, "client-key.pem": p.client},
			field: "keyFile", cause: plan.ErrNotPrivateKey, msg: "is not a PEM RSA, ECDSA or Ed25519 private key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			must(t, os.Mkdir(filepath.Join(dir, "external-etcd"), 0o755))
			for name, content := range tc.files {
				must(t, os.WriteFile(filepath.Join(dir, "external-etcd", name), content, 0o600))
			}
			doc := externalCluster().yaml()
			s := load(t, dir, doc)
			_, err := plan.ReadExternalEtcd(s)
			var entry *spec.EntryError
			if !errors.As(err, &entry) {
				t.Fatalf("ReadExternalEtcd: %v, want a *spec.EntryError", err)
			}
			wantPath := "spec.etcd.external." + tc.field
			wantLine := lineOf(t, doc, tc.field+":")
			if entry.Entry.Path != wantPath || entry.Entry.Line != wantLine || entry.Entry.Severity != spec.Error {
				t.Errorf("finding at %s line %d (%v), want %s line %d", entry.Entry.Path, entry.Entry.Line, entry.Entry.Severity, wantPath, wantLine)
			}
			if !errors.Is(err, tc.cause) {
				t.Errorf("error %q does not match %v", err, tc.cause)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			// Generate stops with the same finding and writes nothing.
			out, gerr := generator.Generate(s, bundle(t), generator.Options{Formats: []string{generator.FormatNone}})
			if out != nil || gerr == nil || !strings.Contains(gerr.Error(), wantPath+": ") || !strings.Contains(gerr.Error(), "(line ") {
				t.Errorf("Generate: %v, want the finding with its path and line", gerr)
			}
		})
	}
}

// The fixtures the golden spec uses belong together.
func TestExternalFixturesMatch(t *testing.T) {
	t.Parallel()
	s := load(t, externalDir(t), externalCluster().yaml())
	x, err := plan.ReadExternalEtcd(s)
	if err != nil {
		t.Fatal(err)
	}
	if x == nil || len(x.CA) == 0 || len(x.Cert) == 0 || len(x.Key) == 0 {
		t.Fatalf("ReadExternalEtcd = %+v", x)
	}
	// Other types read nothing.
	if x, err := plan.ReadExternalEtcd(load(t, t.TempDir(), dedicated.yaml())); x != nil || err != nil {
		t.Errorf("kubekey: ReadExternal = %v, %v", x, err)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	base := dedicated
	cases := []struct {
		name     string
		c        cluster
		path     string
		cause    error
		msg      string
		severity spec.Severity
	}{
		{name: "even members", c: cluster{hosts: base.hosts, roles: map[string][]string{"etcd": {"etcd1", "etcd2"}, "control-plane": {"cp1"}}},
			path: "spec.etcd", cause: spec.ErrEvenEtcd, msg: "2 etcd members", severity: spec.Warning},
		{name: "no members", c: cluster{hosts: base.hosts, roles: map[string][]string{"control-plane": {"cp1"}}},
			path: "spec.roleGroups", cause: spec.ErrNoEtcd, msg: "no etcd host"},
		{name: "members share an address", c: cluster{hosts: []string{"cp1=10.2.0.1", "etcd1=10.2.0.11", "etcd2=10.2.0.11", "etcd3=10.2.0.13"},
			roles: map[string][]string{"etcd": {"etcd1", "etcd2", "etcd3"}, "control-plane": {"cp1"}}},
			path: "spec.hosts[2].internalAddress", cause: spec.ErrDuplicateAddress, msg: `is also the address of host "etcd1"`},
		{name: "external without endpoints", c: withEtcd(base, "    type: external\n"),
			path: "spec.etcd.external.endpoints", cause: spec.ErrRequired, msg: "needs external.endpoints"},
		{name: "external duplicate endpoint", c: withEtcd(base, "    type: external\n    external:\n      endpoints: [\"http://10.9.0.1:2379\", \"http://10.9.0.1:2379/\"]\n"),
			path: "spec.etcd.external.endpoints[1]", cause: spec.ErrDuplicateAddress, msg: "names the same member as endpoints[0]"},
		{name: "external endpoint not a URL", c: withEtcd(base, "    type: external\n    external:\n      endpoints: [\"10.9.0.1:2379\"]\n"),
			path: "spec.etcd.external.endpoints[0]", cause: spec.ErrInvalidValue, msg: "must be an http(s)://host:port URL"},
		{name: "https without CA", c: withEtcd(base, "    type: external\n    external:\n      endpoints: [\"https://10.9.0.1:2379\"]\n"),
			path: "spec.etcd.external.caFile", cause: spec.ErrRequired, msg: "https endpoints need caFile"},
		{name: "cert without key", c: withEtcd(base, "    type: external\n    external:\n      endpoints: [\"https://10.9.0.1:2379\"]\n      caFile: ca.pem\n      certFile: c.pem\n"),
			path: "spec.etcd.external.keyFile", cause: spec.ErrRequired, msg: "certFile needs keyFile"},
		{name: "election under 5 heartbeats", c: withEtcd(base, "    heartbeatInterval: 300\n    electionTimeout: 1000\n"),
			path: "spec.etcd.electionTimeout", cause: spec.ErrInvalidValue, msg: "at least 5 heartbeatIntervals (1500 ms)"},
		{name: "heartbeat over the default election", c: withEtcd(base, "    heartbeatInterval: 2000\n"),
			path: "spec.etcd.heartbeatInterval", cause: spec.ErrInvalidValue, msg: "electionTimeout 5000 ms must be at least 5 heartbeatIntervals"},
		{name: "election over 50 s", c: withEtcd(base, "    electionTimeout: 60000\n"),
			path: "spec.etcd.electionTimeout", cause: spec.ErrInvalidValue, msg: "over etcd's maximum"},
		{name: "zero snapshot count", c: withEtcd(base, "    snapshotCount: 0\n"),
			path: "spec.etcd.snapshotCount", cause: spec.ErrInvalidValue, msg: "snapshotCount 0 must be at least 1"},
		{name: "negative keep", c: withEtcd(base, "    keepBackupNumber: -1\n"),
			path: "spec.etcd.keepBackupNumber", cause: spec.ErrInvalidValue, msg: "at least 1"},
		{name: "backup period off the clock", c: withEtcd(base, "    backupPeriod: 90\n"),
			path: "spec.etcd.backupPeriod", cause: spec.ErrInvalidValue, msg: "backupPeriod 90 minutes does not repeat evenly"},
		{name: "backup period over a day", c: withEtcd(base, "    backupPeriod: 2880\n"),
			path: "spec.etcd.backupPeriod", cause: spec.ErrInvalidValue, msg: "or 1440 (daily at 02:00)"},
		{name: "negative backup period", c: withEtcd(base, "    backupPeriod: -30\n"),
			path: "spec.etcd.backupPeriod", cause: spec.ErrInvalidValue, msg: "backupPeriod -30 minutes"},
		{name: "negative quota", c: withEtcd(base, "    quotaBackendBytes: -5\n"),
			path: "spec.etcd.quotaBackendBytes", cause: spec.ErrInvalidValue, msg: "at least 0"},
		{name: "metrics", c: withEtcd(base, "    metrics: full\n"),
			path: "spec.etcd.metrics", cause: spec.ErrInvalidValue, msg: "want basic or extensive"},
		{name: "log level", c: withEtcd(base, "    logLevel: verbose\n"),
			path: "spec.etcd.logLevel", cause: spec.ErrInvalidValue, msg: "want debug, info"},
		{name: "relative data dir", c: withEtcd(base, "    dataDir: var/lib/etcd\n"),
			path: "spec.etcd.dataDir", cause: spec.ErrInvalidValue, msg: "clean absolute path"},
		{name: "backup dir with a quote", c: withEtcd(base, "    backupDir: \"/var/back'up\"\n"),
			path: "spec.etcd.backupDir", cause: spec.ErrInvalidValue, msg: "clean absolute path"},
		{name: "backup dir with shell", c: withEtcd(base, "    backupDir: /var/$(reboot)\n"),
			path: "spec.etcd.backupDir", cause: spec.ErrInvalidValue, msg: "clean absolute path"},
		{name: "same ports", c: withEtcd(base, "    port: 2380\n"),
			path: "spec.etcd.peerPort", cause: spec.ErrConflict, msg: "also the client port"},
		{name: "extra arg name", c: withEtcd(base, "    extraArgs: {\"Max_Txn\": \"1\"}\n"),
			path: "spec.etcd.extraArgs.Max_Txn", cause: spec.ErrInvalidValue, msg: "not an etcd flag name"},
		{name: "extra arg newline", c: withEtcd(base, "    extraArgs: {\"max-txn-ops\": \"1\\nETCD_NAME=evil\"}\n"),
			path: "spec.etcd.extraArgs.max-txn-ops", cause: spec.ErrInvalidValue, msg: "no quotes, backslashes or control characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := tc.c.yaml()
			_, r := spec.Load([]byte(doc))
			for _, e := range r.Entries {
				if e.Path == tc.path && errors.Is(e.Err, tc.cause) && e.Severity == tc.severity {
					if !strings.Contains(e.Err.Error(), tc.msg) {
						t.Errorf("%s: %q does not say %q", tc.path, e.Err, tc.msg)
					}
					if e.Line == 0 {
						t.Errorf("%s: no line", e)
					}
					return
				}
			}
			t.Errorf("no %v %v at %s; report:\n%v", tc.severity, tc.cause, tc.path, r.Entries)
		})
	}
	// The valid specs of this package raise nothing.
	for _, c := range []cluster{threeMembers, dedicated} {
		if _, r := spec.Load([]byte(c.yaml())); len(r.Entries) != 0 {
			t.Errorf("valid spec reports %v", r.Entries)
		}
	}
}

func withEtcd(c cluster, etcdLines string) cluster {
	c.etcd = etcdLines
	return c
}
