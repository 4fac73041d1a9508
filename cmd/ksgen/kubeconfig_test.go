package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sversion "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ksgen/ksgen/generator/input/pki"
)

// clientCert reads the client certificate of a kubeconfig's current context.
func clientCert(t *testing.T, cfg *clientcmdapi.Config) *x509.Certificate {
	t.Helper()
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil {
		t.Fatalf("no current context %q", cfg.CurrentContext)
	}
	auth := cfg.AuthInfos[ctx.AuthInfo]
	if auth == nil {
		t.Fatalf("context %q names no user", cfg.CurrentContext)
	}
	cert, err := pki.ParseCert(auth.ClientCertificateData)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestKubeconfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out := filepath.Join(dir, "admin.kubeconfig")
	before := time.Now()
	stdout, stderr, err := ksgen(t, "kubeconfig", "-f", spec, "--secrets", testBundle, "--ttl", "2h", "-o", out)
	if err != nil {
		t.Fatalf("kubeconfig: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "kubectl --kubeconfig "+out) {
		t.Errorf("stdout does not say how to use it:\n%s", stdout)
	}
	if !strings.Contains(stderr, "lb.kubesphere.local") || !strings.Contains(stderr, "--server https://172.16.0.2:6443") {
		t.Errorf("stderr does not advise --server for the endpoint domain:\n%s", stderr)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	cfg, err := clientcmd.LoadFromFile(out)
	if err != nil {
		t.Fatalf("clientcmd cannot load it: %v", err)
	}
	if err := clientcmd.Validate(*cfg); err != nil {
		t.Errorf("clientcmd.Validate: %v", err)
	}
	cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	if cluster == nil || cluster.Server != "https://lb.kubesphere.local:6443" {
		t.Fatalf("cluster %+v, want the server https://lb.kubesphere.local:6443", cluster)
	}
	b := loadTestBundle(t)
	if string(cluster.CertificateAuthorityData) != string(b.CA.Cert) {
		t.Error("the kubeconfig does not trust exactly the bundle's cluster CA")
	}
	cert := clientCert(t, cfg)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(b.CA.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate does not chain to the bundle CA: %v", err)
	}
	if cert.Subject.CommonName != adminUser || !slices.Equal(cert.Subject.Organization, []string{"kubeadm:cluster-admins"}) {
		t.Errorf("subject %v, want CN=%s O=kubeadm:cluster-admins (v1.36)", cert.Subject, adminUser)
	}
	if ttl := cert.NotAfter.Sub(before); ttl < 2*time.Hour-time.Second || ttl > 2*time.Hour+time.Minute {
		t.Errorf("certificate valid until %s, %s after the command started; want 2h", cert.NotAfter, ttl)
	}
	if cert.NotBefore.After(before) {
		t.Errorf("NotBefore %s is after the command started (%s): no backdate", cert.NotBefore, before)
	}

	// An existing file is kept, unless --force.
	first, _ := os.ReadFile(out)
	if _, _, err := ksgen(t, "kubeconfig", "-f", spec, "--secrets", testBundle, "-o", out); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second write: error %v, want a refusal that names --force", err)
	}
	if again, _ := os.ReadFile(out); string(again) != string(first) {
		t.Error("the refused write changed the file")
	}
	if _, stderr, err := ksgen(t, "kubeconfig", "-f", spec, "--secrets", testBundle, "-o", out, "--force", "--server", "https://10.0.0.9:6443"); err != nil {
		t.Fatalf("--force: %v\n%s", err, stderr)
	} else if strings.Contains(stderr, "note:") {
		t.Errorf("--server given, yet stderr has a note:\n%s", stderr)
	}
	info, _ = os.Stat(out)
	cfg, err = clientcmd.LoadFromFile(out)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("after --force: %v, mode %v", err, info.Mode().Perm())
	}
	if cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].Server != "https://10.0.0.9:6443" {
		t.Error("--force --server did not replace the file")
	}
	if got, want := entries(t, dir), []string{"admin.kubeconfig", "config-sample.yaml"}; !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v (temporary files left behind?)", got, want)
	}
}

func TestKubeconfigStdout(t *testing.T) {
	t.Parallel()
	stdout, stderr, err := ksgen(t, "kubeconfig", "-f", "../../testdata/config-sample.yaml", "--secrets", testBundle, "-o", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if _, err := clientcmd.Load([]byte(stdout)); err != nil {
		t.Errorf("stdout is not a kubeconfig: %v", err)
	}
}

func TestKubeconfigRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing bundle", []string{"--secrets", "no-such-secrets.yaml"}, "does not exist"},
		{"default bundle missing", nil, "ksgen-secrets.yaml does not exist"},
		{"zero ttl", []string{"--secrets", testBundle, "--ttl", "0s"}, "--ttl 0s: must be positive"},
		{"ttl past the CA", []string{"--secrets", testBundle, "--ttl", "100000h"}, "outlive the cluster CA"},
		{"plain http", []string{"--secrets", testBundle, "--server", "http://10.0.0.1:6443"}, "want https://HOST:PORT"},
		{"invalid spec", []string{"--secrets", testBundle, "-f", "../../testdata/invalid/host-duplicate-name.yaml"}, "is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
			out := filepath.Join(dir, "admin.kubeconfig")
			args := append([]string{"kubeconfig", "-f", spec, "-o", out}, tc.args...)
			_, _, err := ksgen(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a refused run wrote %s (%v)", out, err)
			}
		})
	}
}

func TestAdminGroup(t *testing.T) {
	t.Parallel()
	// Through the command: a v1.22 cluster's admin is in system:masters.
	stdout, stderr, err := ksgen(t, "kubeconfig", "-f", "../../testdata/specs/valid-v1.22.yaml", "--secrets", testBundle, "-o", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	cfg, err := clientcmd.Load([]byte(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if got := clientCert(t, cfg).Subject.Organization; !slices.Equal(got, []string{"system:masters"}) {
		t.Errorf("v1.22: groups %v, want [system:masters]", got)
	}

	for v, want := range map[string]string{
		"v1.22.17": "system:masters",
		"v1.28.15": "system:masters",
		"v1.29.0":  "kubeadm:cluster-admins",
		"v1.36.3":  "kubeadm:cluster-admins",
	} {
		if got := AdminGroup(k8sversion.MustParseSemantic(v)); got != want {
			t.Errorf("AdminGroup(%s) = %s, want %s", v, got, want)
		}
	}
}

// TestKubeconfigLoopback uses the kubeconfig with client-go against an HTTPS
// server on 127.0.0.1 that requires client certificates from the bundle CA,
// as kube-apiserver does: the credential lists the nodes, and the same
// credential once expired is refused in the TLS handshake.
func TestKubeconfigLoopback(t *testing.T) {
	t.Parallel()
	b := loadTestBundle(t)
	srv := fakeAPIServer(t, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/nodes" {
			http.NotFound(w, r)
			return
		}
		peer := r.TLS.PeerCertificates[0]
		list := corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}}
		for _, name := range []string{"master1", "node1"} {
			list.Items = append(list.Items, corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"user": peer.Subject.CommonName, "group": strings.ReplaceAll(peer.Subject.Organization[0], ":", "_")}}})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&list)
	}))
	dir := t.TempDir()
	spec := copyInto(t, "../../testdata/config-sample.yaml", dir)
	out := filepath.Join(dir, "admin.kubeconfig")
	if _, stderr, err := ksgen(t, "kubeconfig", "-f", spec, "--secrets", testBundle, "--server", srv.URL, "-o", out); err != nil {
		t.Fatalf("kubeconfig: %v\n%s", err, stderr)
	}
	nodes := func(rawConfig []byte) ([]corev1.Node, error) {
		rc, err := clientcmd.RESTConfigFromKubeConfig(rawConfig)
		if err != nil {
			t.Fatal(err)
		}
		rc.Timeout = 10 * time.Second
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			t.Fatal(err)
		}
		list, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return list.Items, nil
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := nodes(raw)
	if err != nil {
		t.Fatalf("list nodes with the kubeconfig: %v", err)
	}
	if len(got) != 2 || got[0].Labels["user"] != adminUser || got[0].Labels["group"] != "kubeadm_cluster-admins" {
		t.Errorf("nodes %v: want 2, seen by %s in kubeadm:cluster-admins", got, adminUser)
	}

	// The same credential, issued three hours ago for one hour.
	c, err := loadPlan(spec, false, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := newAdminKubeconfig(c, b, srv.URL, time.Hour, time.Now().Add(-3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	raw, err = clientcmd.Write(*expired.config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes(raw); err == nil {
		t.Error("an expired certificate listed the nodes")
	} else {
		t.Logf("expired certificate refused: %v", err)
	}
}
