package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/ksgen/ksgen/generator/input/pki"
)

// testBundle is the fixed test bundle, the one the golden trees use.
const testBundle = "../../testdata/test-secrets.yaml"

func loadTestBundle(t *testing.T) *pki.Bundle {
	t.Helper()
	raw, err := os.ReadFile(testBundle)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pki.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeAPIServer is an HTTPS server on 127.0.0.1 that, like kube-apiserver,
// presents a certificate from the bundle's cluster CA and accepts only client
// certificates that CA signed (and that are valid now); h sees only such
// requests.
func fakeAPIServer(t *testing.T, b *pki.Bundle, h http.Handler) *httptest.Server {
	t.Helper()
	serving, err := b.IssueCert(b.CA, pki.CertSpec{
		Name: "test-apiserver", CommonName: "kube-apiserver",
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(serving.Cert, serving.Key)
	if err != nil {
		t.Fatal(err)
	}
	clients := x509.NewCertPool()
	if !clients.AppendCertsFromPEM(b.CA.Cert) {
		t.Fatal("bundle CA is not PEM")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = ln
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}
