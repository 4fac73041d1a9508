package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/util/keyutil"
)

func TestIssueClientCert(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{AlgorithmRSA, AlgorithmECDSA} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			b := bundle(t, alg)
			ca := mustCert(t, b.CA.Cert)
			spec := ClientCertSpec{
				CommonName: "ksgen-admin", Organization: []string{"kubeadm:cluster-admins"},
				NotBefore: testNow, NotAfter: testNow.Add(24 * time.Hour),
			}
			kp, err := b.IssueClientCert(b.CA, spec)
			if err != nil {
				t.Fatal(err)
			}
			cert := mustCert(t, kp.Cert)
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow.Add(time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("certificate does not chain to the CA for client auth: %v", err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow.Add(25 * time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Error("certificate verifies after its NotAfter")
			}
			if cert.Subject.CommonName != spec.CommonName || !slices.Equal(cert.Subject.Organization, spec.Organization) {
				t.Errorf("subject %v, want CN %s O %v", cert.Subject, spec.CommonName, spec.Organization)
			}
			if !cert.NotBefore.Equal(spec.NotBefore) || !cert.NotAfter.Equal(spec.NotAfter) {
				t.Errorf("validity %s to %s, want %s to %s", cert.NotBefore, cert.NotAfter, spec.NotBefore, spec.NotAfter)
			}
			if cert.IsCA || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
				t.Errorf("IsCA %v, ExtKeyUsage %v: want a client-only leaf", cert.IsCA, cert.ExtKeyUsage)
			}
			key, err := keyutil.ParsePrivateKeyPEM(kp.Key)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(key.(*ecdsa.PrivateKey).Public(), cert.PublicKey) {
				t.Error("key does not match the certificate")
			}
			again, err := b.IssueClientCert(b.CA, spec)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(again.Key, kp.Key) || bytes.Equal(again.Cert, kp.Cert) {
				t.Error("two client certificates share a key or are the same certificate")
			}
		})
	}
}

func TestIssueClientCertRejects(t *testing.T) {
	t.Parallel()
	b := bundle(t, AlgorithmECDSA) // its CAs are valid for 1000 hours from testNow
	ok := ClientCertSpec{CommonName: "a", NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
	for _, tc := range []struct {
		name string
		ca   KeyPair
		edit func(*ClientCertSpec)
		want string
	}{
		{"no common name", b.CA, func(s *ClientCertSpec) { s.CommonName = "" }, "no CommonName"},
		{"empty validity", b.CA, func(s *ClientCertSpec) { s.NotAfter = s.NotBefore }, "is not before"},
		{"outlives the CA", b.CA, func(s *ClientCertSpec) { s.NotAfter = testNow.Add(2000 * time.Hour) }, "after the ca CA expires"},
		{"before the CA", b.CA, func(s *ClientCertSpec) { s.NotBefore = testNow.Add(-time.Hour) }, "before the ca CA is valid"},
		{"foreign CA", KeyPair{Cert: []byte("x")}, func(*ClientCertSpec) {}, "not one of the bundle's CAs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := ok
			tc.edit(&s)
			_, err := b.IssueClientCert(tc.ca, s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
