package fetch_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/output/fetch"
)

func bundle(t *testing.T) *pki.Bundle { return plantest.Bundle(t) }

func TestTokens(t *testing.T) {
	t.Parallel()
	b := bundle(t)
	t1, err := fetch.NewTokens(b)
	if err != nil {
		t.Fatal(err)
	}
	t2, _ := fetch.NewTokens(b)
	if t1.For("node1") != t2.For("node1") || len(t1.For("node1")) != 64 {
		t.Error("tokens are not deterministic 256-bit hex")
	}
	if t1.For("node1") == t1.For("node2") || !t1.Valid("node1", t1.For("node1")) || t1.Valid("node2", t1.For("node1")) {
		t.Error("a token opens another node's payload")
	}
	// The key does not come from the bootstrap token, which workers hold.
	other := *b
	other.BootstrapToken = "zzzzzz.zzzzzzzzzzzzzzzz"
	t3, _ := fetch.NewTokens(&other)
	if t3.For("node1") != t1.For("node1") {
		t.Error("tokens depend on the bootstrap token")
	}
}

func TestServeCert(t *testing.T) {
	t.Parallel()
	b := bundle(t)
	kp, err := fetch.ServeCert(b, []string{"127.0.0.1", "ksgen.example"})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(kp.Cert)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fetch.ServeCA(b).Cert)
	for _, name := range []string{"127.0.0.1", "ksgen.example"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The kubernetes CA, which kubelets and kubectl trust, does not vouch for it.
	kube := x509.NewCertPool()
	kube.AppendCertsFromPEM(b.CA.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: kube}); err == nil {
		t.Error("the serve certificate verifies against the kubernetes CA")
	}
	if _, err := fetch.ServeCert(b, nil); err == nil {
		t.Error("a certificate with no names was issued")
	}
}
