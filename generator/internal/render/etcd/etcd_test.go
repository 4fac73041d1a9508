package etcd_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/util/keyutil"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/internal/render/etcd"
	"github.com/ksgen/ksgen/generator/output/tree"
)

// threeMembers is KubeKey's usual layout: three control-plane/etcd hosts
// and a worker, with every tuning field set.
var threeMembers = cluster{
	hosts: []string{"master1=10.1.0.1", "master2=10.1.0.2", "master3=10.1.0.3", "node1=10.1.0.9"},
	roles: map[string][]string{
		"etcd":          {"master1", "master2", "master3"},
		"control-plane": {"master1", "master2", "master3"},
		"worker":        {"node1"},
	},
	etcd: `    type: kubekey
    port: 12379
    peerPort: 12380
    dataDir: /data/etcd
    heartbeatInterval: 100
    electionTimeout: 1000
    snapshotCount: 5000
    autoCompactionRetention: 2
    quotaBackendBytes: 8589934592
    maxRequestBytes: 3145728
    maxSnapshots: 3
    maxWals: 4
    metrics: extensive
    logLevel: warn
    backupDir: /var/backups/etcd
    backupPeriod: 30
    keepBackupNumber: 7
    extraArgs:
      snapshot-count: "6000"
      max-txn-ops: "256"
`,
}

// dedicated puts etcd on hosts of its own (etcd-only payloads).
var dedicated = cluster{
	hosts: []string{"cp1=10.2.0.1", "etcd1=10.2.0.11", "etcd2=10.2.0.12", "etcd3=10.2.0.13", "node1=10.2.0.21"},
	roles: map[string][]string{
		"etcd":          {"etcd1", "etcd2", "etcd3"},
		"control-plane": {"cp1"},
		"worker":        {"node1"},
	},
}

func TestEnvFilePerMember(t *testing.T) {
	t.Parallel()
	r := render(t, load(t, t.TempDir(), threeMembers.yaml()))
	initial := "master1=https://10.1.0.1:12380,master2=https://10.1.0.2:12380,master3=https://10.1.0.3:12380"
	for _, m := range []struct{ name, ip string }{{"master1", "10.1.0.1"}, {"master2", "10.1.0.2"}, {"master3", "10.1.0.3"}} {
		t.Run(m.name, func(t *testing.T) {
			f := r.file(t, m.name, etcd.EnvFile)
			if f.Mode != 0o644 {
				t.Errorf("%s mode %o, want 644", etcd.EnvFile, f.Mode)
			}
			keys, env := envFile(t, f.Content)
			want := map[string]string{
				"ETCD_NAME":                        m.name,
				"ETCD_DATA_DIR":                    "/data/etcd",
				"ETCD_ADVERTISE_CLIENT_URLS":       "https://" + m.ip + ":12379",
				"ETCD_INITIAL_ADVERTISE_PEER_URLS": "https://" + m.ip + ":12380",
				"ETCD_INITIAL_CLUSTER_STATE":       "new",
				"ETCD_INITIAL_CLUSTER_TOKEN":       "k8s_etcd",
				"ETCD_INITIAL_CLUSTER":             initial,
				"ETCD_LISTEN_CLIENT_URLS":          "https://" + m.ip + ":12379,https://127.0.0.1:12379",
				"ETCD_LISTEN_PEER_URLS":            "https://" + m.ip + ":12380",
				"ETCD_METRICS":                     "extensive",
				"ETCD_ELECTION_TIMEOUT":            "1000",
				"ETCD_HEARTBEAT_INTERVAL":          "100",
				"ETCD_AUTO_COMPACTION_RETENTION":   "2",
				"ETCD_SNAPSHOT_COUNT":              "6000", // extraArgs beat the field
				"ETCD_QUOTA_BACKEND_BYTES":         "8589934592",
				"ETCD_MAX_REQUEST_BYTES":           "3145728",
				"ETCD_MAX_SNAPSHOTS":               "3",
				"ETCD_MAX_WALS":                    "4",
				"ETCD_LOG_LEVEL":                   "warn",
				"ETCD_MAX_TXN_OPS":                 "256",
				"ETCD_TRUSTED_CA_FILE":             "/etc/ssl/etcd/ssl/ca.pem",
				"ETCD_CERT_FILE":                   "/etc/ssl/etcd/ssl/member-" + m.name + ".pem",
				"ETCD_KEY_FILE":                    "/etc/ssl/etcd/ssl/member-" + m.name + "-key.pem",
				"ETCD_CLIENT_CERT_AUTH":            "true",
				"ETCD_PEER_TRUSTED_CA_FILE":        "/etc/ssl/etcd/ssl/ca.pem",
				"ETCD_PEER_CERT_FILE":              "/etc/ssl/etcd/ssl/member-" + m.name + ".pem",
				"ETCD_PEER_KEY_FILE":               "/etc/ssl/etcd/ssl/member-" + m.name + "-key.pem",
				"ETCD_PEER_CLIENT_CERT_AUTH":       "true",
				"ETCDCTL_ENDPOINTS":                "https://127.0.0.1:12379",
				"ETCDCTL_CACERT":                   "/etc/ssl/etcd/ssl/ca.pem",
				"ETCDCTL_CERT":                     "/etc/ssl/etcd/ssl/member-" + m.name + ".pem",
				"ETCDCTL_KEY":                      "/etc/ssl/etcd/ssl/member-" + m.name + "-key.pem",
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s=%q, want %q", k, env[k], v)
				}
			}
			for _, k := range keys {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected variable %s=%s", k, env[k])
				}
			}
			// Every file the environment names is in the member's payload.
			for _, k := range []string{"ETCD_TRUSTED_CA_FILE", "ETCD_CERT_FILE", "ETCD_KEY_FILE", "ETCD_PEER_CERT_FILE", "ETCD_PEER_KEY_FILE"} {
				if !r.has(m.name, env[k]) {
					t.Errorf("%s=%s is not in the payload", k, env[k])
				}
			}
		})
	}
}

func TestEnvFileDefaultsAreKubeKeys(t *testing.T) {
	t.Parallel()
	r := render(t, load(t, t.TempDir(), dedicated.yaml()))
	_, env := envFile(t, r.file(t, "etcd2", etcd.EnvFile).Content)
	for k, v := range map[string]string{
		"ETCD_DATA_DIR":                  "/var/lib/etcd",
		"ETCD_ADVERTISE_CLIENT_URLS":     "https://10.2.0.12:2379",
		"ETCD_LISTEN_PEER_URLS":          "https://10.2.0.12:2380",
		"ETCD_METRICS":                   "basic",
		"ETCD_ELECTION_TIMEOUT":          "5000",
		"ETCD_HEARTBEAT_INTERVAL":        "250",
		"ETCD_AUTO_COMPACTION_RETENTION": "8",
		"ETCD_SNAPSHOT_COUNT":            "10000",
	} {
		if env[k] != v {
			t.Errorf("%s=%q, want KubeKey's %q", k, env[k], v)
		}
	}
	for _, k := range []string{"ETCD_QUOTA_BACKEND_BYTES", "ETCD_MAX_REQUEST_BYTES", "ETCD_LOG_LEVEL", "ETCD_ENABLE_V2", "ETCD_PROXY"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s is set; unset fields are left to etcd, and etcd 3.6 has no v2 API or proxy", k)
		}
	}
}

func TestUnitsAndBackup(t *testing.T) {
	t.Parallel()
	r := render(t, load(t, t.TempDir(), threeMembers.yaml()))
	unit := string(r.file(t, "master2", "/etc/systemd/system/etcd.service").Content)
	for _, want := range []string{"Type=notify", "EnvironmentFile=/etc/etcd.env", "ExecStart=/usr/local/bin/etcd\n", "Restart=always", "WantedBy=multi-user.target"} {
		if !strings.Contains(unit, want) {
			t.Errorf("etcd.service lacks %q:\n%s", want, unit)
		}
	}
	script := r.file(t, "master2", "/usr/local/bin/kube-scripts/etcd-backup.sh")
	if script.Mode != 0o755 {
		t.Errorf("backup script mode %o, want 755", script.Mode)
	}
	for _, want := range []string{"ETCDCTL='/usr/local/bin/etcdctl'", "ENDPOINT='https://127.0.0.1:12379'", "BACKUP_DIR='/var/backups/etcd'", "KEEP=7", "snapshot save", "CERT='/etc/ssl/etcd/ssl/member-master2.pem'"} {
		if !bytes.Contains(script.Content, []byte(want)) {
			t.Errorf("backup script lacks %q:\n%s", want, script.Content)
		}
	}
	if out, err := exec.Command("bash", "-n", "-c", string(script.Content)).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("shellcheck"); err == nil {
		cmd := exec.Command("shellcheck", "-")
		cmd.Stdin = bytes.NewReader(script.Content)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") != "" {
		t.Error("shellcheck not found (.ci/run installs it)")
	}
	service := string(r.file(t, "master2", "/etc/systemd/system/backup-etcd.service").Content)
	if !strings.Contains(service, "ExecStart=/usr/local/bin/kube-scripts/etcd-backup.sh") || !strings.Contains(service, "Type=oneshot") {
		t.Errorf("backup-etcd.service:\n%s", service)
	}
	timer := string(r.file(t, "master2", "/etc/systemd/system/backup-etcd.timer").Content)
	for _, want := range []string{"OnCalendar=*-*-* *:00/30:00\n", "Persistent=true", "Unit=backup-etcd.service", "WantedBy=timers.target"} {
		if !strings.Contains(timer, want) {
			t.Errorf("backup-etcd.timer lacks %q:\n%s", want, timer)
		}
	}
	if strings.Contains(timer, "OnBootSec") || strings.Contains(timer, "OnUnitActiveSec") {
		t.Errorf("backup-etcd.timer counts from boot:\n%s", timer)
	}
	if r.has("node1", "/etc/systemd/system/etcd.service") || r.has("node1", etcd.EnvFile) {
		t.Error("a worker that is no etcd member runs etcd")
	}
}

// Flatcar's /usr is read-only: etcd comes from /opt/bin; a download named
// etcd is fetched on an etcd-only host, which gets no other download.
func TestBinaryPaths(t *testing.T) {
	t.Parallel()
	c := dedicated
	c.config = `apiVersion: ksgen.io/v1alpha1
kind: Config
spec:
  hosts:
    etcd1: {os: flatcar}
  binaries:
    source: download
    downloads:
    - {url: "https://example.invalid/etcd", sha256: "` + strings.Repeat("a", 64) + `", path: /opt/etcd/etcd}
    - {url: "https://example.invalid/kubelet", sha256: "` + strings.Repeat("b", 64) + `", path: /usr/local/bin/kubelet}
    - {name: kubeadm, url: "https://example.invalid/kubeadm", sha256: "` + strings.Repeat("c", 64) + `"}
    - {name: kubectl, url: "https://example.invalid/kubectl", sha256: "` + strings.Repeat("d", 64) + `"}
`
	r := render(t, load(t, t.TempDir(), c.yaml()), generator.FormatIgnition, generator.FormatCloudInit)
	for _, n := range []string{"etcd1", "etcd2"} {
		unit := string(r.file(t, n, "/etc/systemd/system/etcd.service").Content)
		if !strings.Contains(unit, "ExecStart=/opt/etcd/etcd\n") {
			t.Errorf("%s: etcd.service does not run the downloaded etcd:\n%s", n, unit)
		}
		bu := string(r[n]["config.bu"].Content) + string(r[n]["user-data"].Content) // flatcar's, ubuntu's
		if !strings.Contains(bu, "https://example.invalid/etcd") {
			t.Errorf("%s: the etcd download is not in the payload", n)
		}
		if strings.Contains(bu, "https://example.invalid/kubelet") {
			t.Errorf("%s: an etcd-only host downloads kubelet", n)
		}
	}
	// Without downloads, Flatcar's etcd lives in /opt/bin.
	c.config = "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  hosts:\n    etcd1: {os: flatcar}\n"
	r = render(t, load(t, t.TempDir(), c.yaml()))
	if unit := string(r.file(t, "etcd1", "/etc/systemd/system/etcd.service").Content); !strings.Contains(unit, "ExecStart=/opt/bin/etcd\n") {
		t.Errorf("flatcar etcd.service:\n%s", unit)
	}
	if script := string(r.file(t, "etcd1", "/usr/local/bin/kube-scripts/etcd-backup.sh").Content); !strings.Contains(script, "ETCDCTL='/opt/bin/etcdctl'") {
		t.Errorf("flatcar backup script does not use /opt/bin/etcdctl")
	}
}

func TestEtcdOnlyHostsGetNoKubelet(t *testing.T) {
	t.Parallel()
	r := render(t, load(t, t.TempDir(), dedicated.yaml()))
	for _, n := range []string{"etcd1", "etcd2", "etcd3"} {
		for _, want := range []string{etcd.EnvFile, "/etc/systemd/system/etcd.service", "/etc/hostname", "/etc/hosts", etcd.CAFile, etcd.MemberCert(n), etcd.MemberKey(n)} {
			if !r.has(n, want) {
				t.Errorf("%s lacks %s", n, want)
			}
		}
		for path := range r[n] {
			for _, bad := range []string{"kubelet", "kubeadm", "containerd", "ksgen-bootstrap", "/etc/kubernetes/", "apiserver-etcd-client"} {
				if strings.Contains(path, bad) {
					t.Errorf("etcd-only host %s receives %s", n, path)
				}
			}
		}
	}
	// The control plane is a client only.
	for _, bad := range []string{etcd.EnvFile, "/etc/systemd/system/etcd.service", etcd.MemberCert("cp1")} {
		if r.has("cp1", bad) {
			t.Errorf("cp1 is no etcd member but receives %s", bad)
		}
	}
}

// kubeadm's etcd.external names every member and files that are on every
// control plane.
func TestKubeadmPointsAtTheMembers(t *testing.T) {
	t.Parallel()
	r := render(t, load(t, t.TempDir(), dedicated.yaml()))
	ext := clusterEtcd(t, r["cp1"]["kubeadm.yaml"].Content)["external"].(map[string]any)
	want := []any{"https://10.2.0.11:2379", "https://10.2.0.12:2379", "https://10.2.0.13:2379"}
	if got := ext["endpoints"].([]any); !slices.Equal(got, want) {
		t.Errorf("endpoints %v, want %v", got, want)
	}
	for _, k := range []string{"caFile", "certFile", "keyFile"} {
		if !r.has("cp1", ext[k].(string)) {
			t.Errorf("%s %s is not in cp1's payload", k, ext[k])
		}
	}
}

// clusterEtcd returns the etcd block of a kubeadm config's ClusterConfiguration.
func clusterEtcd(t *testing.T, kcfg []byte) map[string]any {
	t.Helper()
	for _, doc := range strings.Split(string(kcfg), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		if m["kind"] == "ClusterConfiguration" {
			return m["etcd"].(map[string]any)
		}
	}
	t.Fatalf("no ClusterConfiguration in\n%s", kcfg)
	return nil
}

func TestCertificates(t *testing.T) {
	t.Parallel()
	b := bundle(t)
	r := render(t, load(t, t.TempDir(), dedicated.yaml()))
	ca := parseCert(t, b.EtcdCA.Cert)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	verify := func(name string, cert *x509.Certificate, usages ...x509.ExtKeyUsage) {
		t.Helper()
		for _, u := range usages {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{u}, CurrentTime: cert.NotBefore}); err != nil {
				t.Errorf("%s does not verify against the etcd CA for usage %v: %v", name, u, err)
			}
		}
		if !slices.Equal(cert.ExtKeyUsage, usages) {
			t.Errorf("%s usages %v, want %v", name, cert.ExtKeyUsage, usages)
		}
	}
	for i, n := range []string{"etcd1", "etcd2", "etcd3"} {
		ip := net.ParseIP("10.2.0." + []string{"11", "12", "13"}[i])
		cf, kf := r.file(t, n, etcd.MemberCert(n)), r.file(t, n, etcd.MemberKey(n))
		if cf.Mode != 0o644 || kf.Mode != 0o600 {
			t.Errorf("%s: certificate mode %o, key mode %o; want 644 and 600", n, cf.Mode, kf.Mode)
		}
		if got := r.file(t, n, etcd.CAFile).Content; !bytes.Equal(got, b.EtcdCA.Cert) {
			t.Errorf("%s: ca.pem is not the bundle's etcd CA certificate", n)
		}
		cert := parseCert(t, cf.Content)
		verify(n+" member certificate", cert, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
		keyMatches(t, n, cert, kf.Content)
		if cert.Subject.CommonName != "etcd-member-"+n {
			t.Errorf("%s: CN %q", n, cert.Subject.CommonName)
		}
		for _, host := range []string{n, "localhost"} {
			if err := cert.VerifyHostname(host); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		}
		for _, want := range []net.IP{ip, net.IPv4(127, 0, 0, 1)} {
			if err := cert.VerifyHostname(want.String()); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		}
		if err := cert.VerifyHostname("10.2.0.1"); err == nil {
			t.Errorf("%s: member certificate is valid for another host's address", n)
		}
		openssl(t, r, n, etcd.MemberCert(n), "sslserver", "sslclient")
	}
	cf, kf := r.file(t, "cp1", "/etc/ssl/etcd/ssl/apiserver-etcd-client.pem"), r.file(t, "cp1", "/etc/ssl/etcd/ssl/apiserver-etcd-client-key.pem")
	if cf.Mode != 0o644 || kf.Mode != 0o600 {
		t.Errorf("apiserver client: certificate mode %o, key mode %o; want 644 and 600", cf.Mode, kf.Mode)
	}
	cert := parseCert(t, cf.Content)
	verify("apiserver-etcd-client", cert, x509.ExtKeyUsageClientAuth)
	keyMatches(t, "apiserver-etcd-client", cert, kf.Content)
	if cert.Subject.CommonName != "kube-apiserver-etcd-client" {
		t.Errorf("apiserver-etcd-client CN %q", cert.Subject.CommonName)
	}
	openssl(t, r, "cp1", "/etc/ssl/etcd/ssl/apiserver-etcd-client.pem", "sslclient")
	for _, n := range []string{"node1", "etcd1"} {
		if r.has(n, "/etc/ssl/etcd/ssl/apiserver-etcd-client-key.pem") {
			t.Errorf("%s is no control plane but holds kube-apiserver's etcd client key", n)
		}
	}
	for path := range r["node1"] {
		if strings.Contains(path, "/etc/ssl/etcd") {
			t.Errorf("worker node1 receives %s", path)
		}
	}
}

// openssl checks a certificate with `openssl verify -purpose` against the
// node's ca.pem, as an operator would.
func openssl(t *testing.T, r rendered, node, certPath string, purposes ...string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl not found (.ci/run installs it)")
		}
		t.Log("openssl not found: skipping openssl verify")
		return
	}
	dir := t.TempDir()
	ca, cert := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem")
	must(t, os.WriteFile(ca, r.file(t, node, etcd.CAFile).Content, 0o644))
	must(t, os.WriteFile(cert, r.file(t, node, certPath).Content, 0o644))
	for _, p := range purposes {
		out, err := exec.Command("openssl", "verify", "-CAfile", ca, "-purpose", p, cert).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte(": OK")) {
			t.Errorf("openssl verify -purpose %s %s on %s: %v\n%s", p, certPath, node, err, out)
		}
	}
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("not one PEM certificate:\n%s", data)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func keyMatches(t *testing.T, name string, cert *x509.Certificate, keyPEM []byte) {
	t.Helper()
	k, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatalf("%s key: %v", name, err)
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(k.(crypto.Signer).Public()) {
		t.Errorf("%s: key does not match the certificate", name)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// No rendered file of any node, in any format, holds the etcd CA key
// (kubekey and external types); with stacked etcd only control planes do.
func TestNoEtcdCAKeyLeaves(t *testing.T) {
	t.Parallel()
	b := bundle(t)
	key := bytes.TrimSpace(b.EtcdCA.Key)
	block, _ := pem.Decode(b.EtcdCA.Key)
	body := []byte(strings.Split(string(pem.EncodeToMemory(block)), "\n")[1]) // first base64 line
	cases := []struct {
		name string
		c    cluster
		dir  func(t *testing.T) string
		// holders may hold the key (stacked etcd: kubeadm issues on the node)
		holders []string
	}{
		{name: "kubekey", c: threeMembers},
		{name: "kubekey dedicated", c: dedicated},
		{name: "external", c: externalCluster(), dir: externalDir},
		{name: "kubeadm", c: cluster{
			hosts: threeMembers.hosts,
			roles: map[string][]string{"control-plane": {"master1", "master2", "master3"}, "worker": {"node1"}},
			etcd:  "    type: kubeadm\n",
		}, holders: []string{"master1", "master2", "master3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.dir != nil {
				dir = tc.dir(t)
			}
			r := render(t, load(t, dir, tc.c.yaml()), generator.FormatIgnition, generator.FormatCloudInit)
			files := 0
			for node, nf := range r {
				for path, f := range nf {
					for _, content := range decodedContents(t, path, f.Content) {
						files++
						found := bytes.Contains(content, key) || bytes.Contains(content, body)
						if found && !slices.Contains(tc.holders, node) {
							t.Errorf("%s/%s holds the etcd CA key", node, path)
						}
						if found && f.Mode != 0o600 {
							t.Errorf("%s/%s holds the etcd CA key with mode %o", node, path, f.Mode)
						}
					}
				}
			}
			if files < 50 {
				t.Fatalf("scanned only %d files", files)
			}
			for _, h := range tc.holders {
				if got := r.file(t, h, "/etc/kubernetes/pki/etcd/ca.key"); !bytes.Equal(bytes.TrimSpace(got.Content), key) || got.Mode != 0o600 {
					t.Errorf("%s: stacked etcd needs the etcd CA key at /etc/kubernetes/pki/etcd/ca.key, 0600", h)
				}
			}
		})
	}
}

// Stacked etcd: kubeadm runs it; ksgen renders no etcd service.
func TestKubeadmStacked(t *testing.T) {
	t.Parallel()
	c := cluster{
		hosts: threeMembers.hosts,
		roles: map[string][]string{"etcd": {"master1", "master2", "master3"}, "control-plane": {"master1", "master2", "master3"}, "worker": {"node1"}},
		etcd:  "    type: kubeadm\n    dataDir: /data/etcd\n",
	}
	r := render(t, load(t, t.TempDir(), c.yaml()))
	local, ok := clusterEtcd(t, r["master1"]["kubeadm.yaml"].Content)["local"].(map[string]any)
	if !ok || local["dataDir"] != "/data/etcd" {
		t.Errorf("kubeadm etcd.local = %v, want dataDir /data/etcd", local)
	}
	for node, nf := range r {
		for path := range nf {
			if strings.Contains(path, "etcd.service") || strings.Contains(path, "etcd.env") || strings.Contains(path, "/etc/ssl/etcd") {
				t.Errorf("stacked etcd, yet %s receives %s", node, path)
			}
		}
	}
}

// The same spec and bundle give byte-identical files: certificates are
// derived from the bundle, not drawn at random.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := load(t, dir, threeMembers.yaml())
	a := render(t, s, generator.FormatIgnition, generator.FormatCloudInit)
	b := render(t, load(t, dir, threeMembers.yaml()), generator.FormatIgnition, generator.FormatCloudInit)
	n := 0
	for node, nf := range a {
		for path, f := range nf {
			g, ok := b[node][path]
			if !ok || !bytes.Equal(f.Content, g.Content) || f.Mode != g.Mode {
				t.Errorf("%s/%s differs between two renders", node, path)
			}
			if strings.Contains(path, "/etc/ssl/etcd/") {
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no etcd certificates rendered")
	}
}

// The etcd-only payload passes the same encoders as every other node.
func TestEncodes(t *testing.T) {
	t.Parallel()
	r := render(t, load(t, t.TempDir(), dedicated.yaml()), generator.FormatIgnition, generator.FormatCloudInit)
	c := dedicated
	c.config = "apiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  hosts:\n    etcd1: {os: fcos}\n"
	ign := render(t, load(t, t.TempDir(), c.yaml()), generator.FormatIgnition, generator.FormatCloudInit)
	for name, f := range map[string]tree.File{"user-data (ubuntu)": r["etcd1"]["user-data"], "config.ign (fcos)": ign["etcd1"]["config.ign"]} {
		if len(f.Content) == 0 || f.Mode != fs.FileMode(0o600) {
			t.Errorf("etcd1's %s missing or not 0600", name)
		}
	}
	if !bytes.Contains(r["etcd1"]["user-data"].Content, []byte("etcd.service")) {
		t.Error("etcd1's cloud-init does not enable etcd.service")
	}
}
