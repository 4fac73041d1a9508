package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/pkiutil"
)

// CertSpec declares one leaf certificate to issue from a bundle CA.
type CertSpec struct {
	Name         string // e.g. "etcd-member-node1"; also the key-derivation label
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	Usages       []x509.ExtKeyUsage // server, client, or both
	// Validity caps the lifetime from the CA's NotBefore; 0 means until the
	// CA's NotAfter. NotAfter never exceeds the CA's.
	Validity time.Duration
}

// derivationSalt separates ksgen's leaf derivations from any other use of the
// CA key; bump the version to change every derived key and serial.
const derivationSalt = "ksgen.io/pki leaf v1"

// IssueCert issues a leaf certificate signed by ca, one of the bundle's CAs.
// It is deterministic: the same bundle and spec give byte-identical certificate
// and key, so renders are reproducible without storing leaf material. The leaf
// key is ECDSA P-256 whatever the CA's algorithm: its scalar and the serial are
// derived with HKDF-SHA256 from the CA private key and the spec, and the
// signature is deterministic (RSA PKCS#1 v1.5, or RFC 6979 ECDSA). Validity
// runs from the CA's NotBefore, so a leaf issued today and one issued next year
// from the same spec are the same certificate.
func (b *Bundle) IssueCert(ca KeyPair, spec CertSpec) (KeyPair, error) {
	kp, err := b.issueCert(ca, spec)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue certificate %q: %w", spec.Name, err)
	}
	return kp, nil
}

func (b *Bundle) issueCert(ca KeyPair, spec CertSpec) (KeyPair, error) {
	switch {
	case spec.Name == "":
		return KeyPair{}, errors.New("spec has no Name")
	case spec.CommonName == "":
		return KeyPair{}, errors.New("spec has no CommonName")
	case len(spec.Usages) == 0:
		return KeyPair{}, errors.New("spec has no Usages")
	case spec.Validity < 0:
		return KeyPair{}, fmt.Errorf("negative validity %s", spec.Validity)
	}
	field, ok := b.caField(ca)
	if !ok {
		return KeyPair{}, errors.New("CA is not one of the bundle's CAs")
	}
	caCert, caKey, err := ca.parse(field)
	if err != nil {
		return KeyPair{}, err
	}

	secret, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("%s: encode CA key for derivation: %w", field, err)
	}
	alt := certutil.AltNames{DNSNames: spec.DNSNames, IPs: spec.IPs}
	pkiutil.RemoveDuplicateAltNames(&alt) // also sorts the DNS names
	label, err := derivationLabel(spec, alt)
	if err != nil {
		return KeyPair{}, err
	}
	key, err := deriveP256Key(secret, "key "+label)
	if err != nil {
		return KeyPair{}, err
	}
	serial, err := deriveSerial(secret, "serial "+label)
	if err != nil {
		return KeyPair{}, err
	}

	notAfter := caCert.NotAfter
	if spec.Validity > 0 {
		if end := caCert.NotBefore.Add(spec.Validity); end.Before(notAfter) {
			notAfter = end
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   spec.CommonName,
			Organization: spec.Organization,
		},
		DNSNames:    alt.DNSNames,
		IPAddresses: alt.IPs,
		NotBefore:   caCert.NotBefore,
		NotAfter:    notAfter,
		// DigitalSignature only: the leaf key is ECDSA, for which RFC 5480
		// does not allow keyEncipherment (kubeadm sets it for RSA leaves).
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           spec.Usages,
		BasicConstraintsValid: true,
	}
	if _, isRSA := caKey.(*rsa.PrivateKey); isRSA {
		// Pin PKCS#1 v1.5, which is deterministic; PSS is salted.
		tmpl.SignatureAlgorithm = x509.SHA256WithRSA
	}
	// A nil rand makes crypto/ecdsa sign per RFC 6979 (Go 1.24+); RSA PKCS#1
	// v1.5 ignores it. The serial is set, so x509 reads no randomness either.
	return sign(nil, tmpl, caCert, caKey, key, field)
}

// sign issues tmpl for key with the CA named field. A nil random makes
// crypto/ecdsa sign per RFC 6979, so the same inputs give the same bytes.
func sign(random io.Reader, tmpl, caCert *x509.Certificate, caKey crypto.Signer, key crypto.Signer, field string) (KeyPair, error) {
	der, err := x509.CreateCertificate(random, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("sign with %s: %w", field, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return KeyPair{}, fmt.Errorf("parse issued certificate: %w", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("encode key: %w", err)
	}
	return KeyPair{Cert: pkiutil.EncodeCertPEM(cert), Key: keyPEM}, nil
}

// caField names the bundle CA whose certificate ca carries.
func (b *Bundle) caField(ca KeyPair) (string, bool) {
	for _, s := range caSpecs {
		if p := s.pair(b); len(p.Cert) > 0 && bytes.Equal(p.Cert, ca.Cert) {
			return s.field, true
		}
	}
	return "", false
}

// derivationLabel encodes everything that ends up in the certificate, so two
// specs that differ only in nil versus empty slices, repeated or reordered DNS
// names, or 4- versus 16-byte IPv4 addresses give the same key and serial.
func derivationLabel(spec CertSpec, alt certutil.AltNames) (string, error) {
	ips := make([]string, 0, len(alt.IPs))
	for _, ip := range alt.IPs {
		ips = append(ips, ip.String())
	}
	label, err := json.Marshal(struct {
		Name, CommonName string
		Organization     []string `json:",omitempty"`
		DNSNames         []string `json:",omitempty"`
		IPs              []string `json:",omitempty"`
		Usages           []x509.ExtKeyUsage
		Validity         time.Duration `json:",omitempty"`
	}{spec.Name, spec.CommonName, spec.Organization, alt.DNSNames, ips, spec.Usages, spec.Validity})
	if err != nil {
		return "", fmt.Errorf("encode spec for derivation: %w", err)
	}
	return string(label), nil
}

// deriveP256Key derives a P-256 private key. crypto/ecdsa.GenerateKey cannot
// be used: since Go 1.26 it ignores its reader. Instead 48 HKDF bytes are
// reduced mod n-1 and incremented, giving a scalar in [1, n-1] with bias below
// 2^-128 (FIPS 186-5 A.2.1, "extra random bits").
func deriveP256Key(secret []byte, info string) (*ecdsa.PrivateKey, error) {
	okm, err := hkdf.Key(sha256.New, secret, []byte(derivationSalt), info, 48)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	curve := elliptic.P256()
	nMinus1 := new(big.Int).Sub(curve.Params().N, big.NewInt(1))
	d := new(big.Int).SetBytes(okm)
	d.Mod(d, nMinus1).Add(d, big.NewInt(1))
	key, err := ecdsa.ParseRawPrivateKey(curve, d.FillBytes(make([]byte, 32)))
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	return key, nil
}

// deriveSerial derives a positive serial of at most 20 octets (RFC 5280 4.1.2.2).
func deriveSerial(secret []byte, info string) (*big.Int, error) {
	okm, err := hkdf.Key(sha256.New, secret, []byte(derivationSalt), info, 20)
	if err != nil {
		return nil, fmt.Errorf("derive serial: %w", err)
	}
	okm[0] &= 0x3f // room for the +1 below without reaching 2^159
	return new(big.Int).Add(new(big.Int).SetBytes(okm), big.NewInt(1)), nil
}

// ClientCertSpec declares a short-lived client certificate, such as an
// operator's admin credential.
type ClientCertSpec struct {
	CommonName   string
	Organization []string // the groups the apiserver reads from the certificate
	NotBefore    time.Time
	NotAfter     time.Time
}

// IssueClientCert issues a client certificate from ca, one of the bundle's
// CAs, with a fresh random ECDSA P-256 key. Unlike IssueCert it is not
// derived from the bundle: an operator credential is made on demand, lives
// for hours, and must not be the same certificate twice. NotAfter must not
// pass the CA's own NotAfter, and NotBefore must precede NotAfter.
func (b *Bundle) IssueClientCert(ca KeyPair, spec ClientCertSpec) (KeyPair, error) {
	kp, err := b.issueClientCert(ca, spec)
	if err != nil {
		return KeyPair{}, fmt.Errorf("issue client certificate %q: %w", spec.CommonName, err)
	}
	return kp, nil
}

func (b *Bundle) issueClientCert(ca KeyPair, spec ClientCertSpec) (KeyPair, error) {
	if spec.CommonName == "" {
		return KeyPair{}, errors.New("spec has no CommonName")
	}
	if !spec.NotBefore.Before(spec.NotAfter) {
		return KeyPair{}, fmt.Errorf("NotBefore %s is not before NotAfter %s", spec.NotBefore.Format(time.RFC3339), spec.NotAfter.Format(time.RFC3339))
	}
	field, ok := b.caField(ca)
	if !ok {
		return KeyPair{}, errors.New("CA is not one of the bundle's CAs")
	}
	caCert, caKey, err := ca.parse(field)
	if err != nil {
		return KeyPair{}, err
	}
	if spec.NotAfter.After(caCert.NotAfter) {
		return KeyPair{}, fmt.Errorf("NotAfter %s is after the %s CA expires (%s)", spec.NotAfter.UTC().Format(time.RFC3339), field, caCert.NotAfter.UTC().Format(time.RFC3339))
	}
	if spec.NotBefore.Before(caCert.NotBefore) {
		return KeyPair{}, fmt.Errorf("NotBefore %s is before the %s CA is valid (%s)", spec.NotBefore.UTC().Format(time.RFC3339), field, caCert.NotBefore.UTC().Format(time.RFC3339))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: spec.CommonName, Organization: spec.Organization},
		NotBefore:             spec.NotBefore.UTC(),
		NotAfter:              spec.NotAfter.UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	return sign(rand.Reader, tmpl, caCert, caKey, key, field)
}
