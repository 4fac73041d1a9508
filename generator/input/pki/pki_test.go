package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/pkiutil"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/pubkeypin"
)

var testNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// testOptions are the bundles every test shares; RSA key generation is slow,
// so each is generated once per test binary.
var testOptions = map[string]Options{
	AlgorithmRSA:   {KeyAlgorithm: "", Now: testNow},
	AlgorithmECDSA: {KeyAlgorithm: AlgorithmECDSA, Validity: 1000 * time.Hour, EncryptionKey: true, Now: testNow},
}

var testBundles = func() map[string]func() (*Bundle, error) {
	m := map[string]func() (*Bundle, error){}
	for name, opts := range testOptions {
		m[name] = sync.OnceValues(func() (*Bundle, error) { return Generate(opts) })
	}
	return m
}()

// bundle returns a copy of the shared bundle for alg, so tests may modify it.
func bundle(t *testing.T, alg string) *Bundle {
	t.Helper()
	b, err := testBundles[alg]()
	if err != nil {
		t.Fatalf("Generate(%s): %v", alg, err)
	}
	c := *b
	return &c
}

func mustCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	cert, err := parseCert("test", data)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		alg          string
		wantValidity time.Duration
		wantKey      any
	}{
		{AlgorithmRSA, 87600 * time.Hour, &rsa.PrivateKey{}},
		{AlgorithmECDSA, 1000 * time.Hour, &ecdsa.PrivateKey{}},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			t.Parallel()
			b := bundle(t, tc.alg)
			if b.APIVersion != APIVersion || b.Kind != Kind || b.KeyAlgorithm != tc.alg {
				t.Errorf("header = %s %s %s", b.APIVersion, b.Kind, b.KeyAlgorithm)
			}
			if err := b.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			for _, s := range caSpecs {
				cert, key, err := s.pair(b).parse(s.field)
				if err != nil {
					t.Fatalf("%s: %v", s.field, err)
				}
				if cert.Subject.CommonName != s.commonName {
					t.Errorf("%s: CN = %q, want %q", s.field, cert.Subject.CommonName, s.commonName)
				}
				if fmt.Sprintf("%T", key) != fmt.Sprintf("%T", tc.wantKey) {
					t.Errorf("%s: key is %T, want %T", s.field, key, tc.wantKey)
				}
				if want := x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; cert.KeyUsage != want {
					t.Errorf("%s: KeyUsage = %v, want %v", s.field, cert.KeyUsage, want)
				}
				if want := testNow.Add(-5 * time.Minute); !cert.NotBefore.Equal(want) {
					t.Errorf("%s: NotBefore = %v, want %v", s.field, cert.NotBefore, want)
				}
				if want := testNow.Add(tc.wantValidity); !cert.NotAfter.Equal(want) {
					t.Errorf("%s: NotAfter = %v, want %v", s.field, cert.NotAfter, want)
				}
				roots := x509.NewCertPool()
				roots.AddCert(cert)
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow}); err != nil {
					t.Errorf("%s: does not verify itself: %v", s.field, err)
				}
			}
			if err := b.ServiceAccount.validate("serviceAccount"); err != nil {
				t.Error(err)
			}
			if !bootstraputil.IsValidBootstrapToken(b.BootstrapToken) {
				t.Errorf("invalid bootstrap token")
			}
			wantEnc := testOptions[tc.alg].EncryptionKey
			if k, err := base64.StdEncoding.DecodeString(b.EncryptionKey); (len(k) == 32) != wantEnc || err != nil {
				t.Errorf("encryption key: %d bytes, %v; want present=%v", len(k), err, wantEnc)
			}
		})
	}
}

func TestGenerateRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown algorithm", Options{KeyAlgorithm: "dsa"}, `unknown key algorithm "dsa"`},
		{"negative validity", Options{KeyAlgorithm: AlgorithmECDSA, Validity: -time.Hour}, "negative validity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Generate(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMarshalParseRoundTrip(t *testing.T) {
	t.Parallel()
	for alg := range testOptions {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			b := bundle(t, alg)
			first, err := b.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(first, []byte("-----BEGIN CERTIFICATE-----")) {
				t.Errorf("PEM is not readable in the YAML:\n%s", first)
			}
			parsed, err := Parse(first)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			second, err := parsed.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Errorf("re-marshalled bundle differs:\n%s\n---\n%s", first, second)
			}
			if !bytes.Equal(parsed.CA.Key, b.CA.Key) || parsed.BootstrapToken != b.BootstrapToken || parsed.EncryptionKey != b.EncryptionKey {
				t.Errorf("parsed bundle differs from the original")
			}
		})
	}
}

func TestCACertHash(t *testing.T) {
	t.Parallel()
	for alg := range testOptions {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			b := bundle(t, alg)
			got, err := b.CACertHash()
			if err != nil {
				t.Fatal(err)
			}
			cert := mustCert(t, b.CA.Cert)
			if want := fmt.Sprintf("sha256:%x", sha256.Sum256(cert.RawSubjectPublicKeyInfo)); got != want {
				t.Errorf("CACertHash = %s, want %s", got, want)
			}
			if want := pubkeypin.Hash(cert); got != want {
				t.Errorf("CACertHash = %s, pubkeypin.Hash = %s", got, want)
			}
			pins := pubkeypin.NewSet()
			if err := pins.Allow(got); err != nil {
				t.Fatalf("kubeadm rejects the pin: %v", err)
			}
			if err := pins.CheckAny([]*x509.Certificate{cert}); err != nil {
				t.Errorf("pin does not match the CA: %v", err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	good, err := bundle(t, AlgorithmECDSA).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// edit returns a bundle in YAML after changing it with f.
	edit := func(f func(b *Bundle)) []byte {
		b := bundle(t, AlgorithmECDSA)
		f(b)
		out, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q not in bundle", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	for _, tc := range []struct {
		name      string
		in        []byte
		wantField string // FieldError.Field, "" when the decoder reports it
		wantErr   error
		want      string // in the message
	}{
		{"wrong apiVersion", replace("apiVersion: ksgen.io/v1alpha1", "apiVersion: ksgen.io/v1"), "apiVersion", ErrAPIVersion, `apiVersion: must be "ksgen.io/v1alpha1", not "ksgen.io/v1"`},
		{"wrong kind", replace("kind: SecretsBundle", "kind: Secrets"), "kind", ErrKind, "kind: must be"},
		{"unknown field", append(bytes.Clone(good), "tokenTTL: 24h\n"...), "tokenTTL", ErrUnknownField, "tokenTTL: is not a field"},
		{"unknown nested field", replace("etcdCA:\n", "etcdCA:\n  pass: x\n"), "etcdCA.pass", ErrUnknownField, "etcdCA.pass: is not a field"},
		{"unknown algorithm", replace("keyAlgorithm: ecdsa", "keyAlgorithm: ed25519"), "keyAlgorithm", ErrKeyAlgorithm, "keyAlgorithm: must be"},
		{"key not matching cert", edit(func(b *Bundle) { b.FrontProxyCA.Key = b.CA.Key }), "frontProxyCA.key", ErrKeyMismatch, "frontProxyCA.key: does not match frontProxyCA.cert"},
		{"sa pub not matching key", edit(func(b *Bundle) { b.ServiceAccount.Pub = mustPub(t, b.CA.Key) }), "serviceAccount.pub", ErrKeyMismatch, "serviceAccount.pub: does not match serviceAccount.key"},
		{"malformed token", edit(func(b *Bundle) { b.BootstrapToken = "abcdef.0123456789ABCDEF" }), "bootstrapToken", ErrToken, "bootstrapToken: is not a bootstrap token"},
		{"garbage cert PEM", edit(func(b *Bundle) {
			b.EtcdCA.Cert = []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
		}), "etcdCA.cert", ErrBadCert, "etcdCA.cert: is not one PEM certificate"},
		{"garbage key PEM", edit(func(b *Bundle) { b.CA.Key = []byte("hello") }), "ca.key", ErrBadKey, "ca.key: is not a PEM RSA or ECDSA private key"},
		{"missing cert", edit(func(b *Bundle) { b.CA.Cert = nil }), "ca.cert", ErrMissing, "ca.cert: is missing"},
		{"leaf as CA", edit(func(b *Bundle) {
			leaf, err := b.IssueCert(b.CA, CertSpec{Name: "x", CommonName: "x", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			if err != nil {
				t.Fatal(err)
			}
			b.EtcdCA = leaf
		}), "etcdCA.cert", ErrNotCA, "etcdCA.cert: is not a CA certificate"},
		{"short encryption key", edit(func(b *Bundle) { b.EncryptionKey = "c2hvcnQ=" }), "encryptionKey", ErrEncryptionKey, "encryptionKey: is not 32 base64-encoded bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.in)
			if err == nil {
				t.Fatal("Parse accepted the bundle")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.wantField != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tc.wantField {
					t.Errorf("error %q: want a FieldError for %s", err, tc.wantField)
				}
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("error %q is not %v", err, tc.wantErr)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error leaks key material: %q", err)
			}
		})
	}
}

func mustPub(t *testing.T, keyPEM []byte) []byte {
	t.Helper()
	key, err := parsePrivateKey("test", keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := pkiutil.EncodePublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestIssueCert(t *testing.T) {
	t.Parallel()
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	for _, tc := range []struct {
		name     string
		alg      string
		ca       func(*Bundle) KeyPair
		spec     CertSpec
		validity time.Duration // want NotAfter-NotBefore; 0 means the CA's
	}{
		{"rsa etcd member", AlgorithmRSA, func(b *Bundle) KeyPair { return b.EtcdCA }, CertSpec{
			Name: "etcd-member-node1", CommonName: "node1", Usages: both,
			DNSNames: []string{"node1", "localhost", "node1"},
			IPs:      []net.IP{net.ParseIP("192.168.0.2"), net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		}, 0},
		{"rsa server", AlgorithmRSA, func(b *Bundle) KeyPair { return b.CA }, CertSpec{
			Name: "lb", CommonName: "lb.kubesphere.local", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames: []string{"lb.kubesphere.local"}, Validity: 365 * 24 * time.Hour,
		}, 365 * 24 * time.Hour},
		{"ecdsa client", AlgorithmECDSA, func(b *Bundle) KeyPair { return b.FrontProxyCA }, CertSpec{
			Name: "front-proxy-client", CommonName: "front-proxy-client", Organization: []string{"system:masters"},
			Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, 0},
		{"ecdsa etcd member, validity past the CA", AlgorithmECDSA, func(b *Bundle) KeyPair { return b.EtcdCA }, CertSpec{
			Name: "etcd-member-node2", CommonName: "node2", Usages: both,
			DNSNames: []string{"node2"}, IPs: []net.IP{net.ParseIP("10.0.0.3")}, Validity: 87600 * time.Hour,
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle(t, tc.alg)
			ca := tc.ca(b)
			first, err := b.IssueCert(ca, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			// A bundle read back from YAML must issue the same leaf.
			data, err := b.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			reread, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			second, err := reread.IssueCert(tc.ca(reread), tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Cert, second.Cert) || !bytes.Equal(first.Key, second.Key) {
				t.Fatal("IssueCert is not deterministic")
			}
			other := tc.spec
			other.Name += "-other"
			third, err := b.IssueCert(ca, other)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(third.Key, first.Key) || bytes.Equal(third.Cert, first.Cert) {
				t.Error("a different spec gives the same key or certificate")
			}

			caCert := mustCert(t, ca.Cert)
			leaf, key, err := pkiutil.TryLoadCertAndKeyFromDisk(writePair(t, first), "leaf")
			if err != nil {
				t.Fatalf("kubeadm cannot load the leaf: %v", err)
			}
			if !publicKeysEqual(leaf.PublicKey, key.Public()) {
				t.Error("leaf key does not match its certificate")
			}
			roots := x509.NewCertPool()
			roots.AddCert(caCert)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: tc.spec.Usages, CurrentTime: testNow}); err != nil {
				t.Errorf("leaf does not verify against its CA for %v: %v", tc.spec.Usages, err)
			}
			if leaf.Subject.CommonName != tc.spec.CommonName || !slices.Equal(leaf.Subject.Organization, tc.spec.Organization) {
				t.Errorf("subject = %v", leaf.Subject)
			}
			for _, dns := range tc.spec.DNSNames {
				if err := leaf.VerifyHostname(dns); err != nil {
					t.Errorf("SAN %s: %v", dns, err)
				}
			}
			for _, ip := range tc.spec.IPs {
				if err := leaf.VerifyHostname(ip.String()); err != nil {
					t.Errorf("SAN %s: %v", ip, err)
				}
			}
			if !leaf.NotBefore.Equal(caCert.NotBefore) {
				t.Errorf("NotBefore = %v, want the CA's %v", leaf.NotBefore, caCert.NotBefore)
			}
			wantAfter := caCert.NotAfter
			if tc.validity != 0 {
				wantAfter = caCert.NotBefore.Add(tc.validity)
			}
			if !leaf.NotAfter.Equal(wantAfter) {
				t.Errorf("NotAfter = %v, want %v", leaf.NotAfter, wantAfter)
			}
			if leaf.IsCA {
				t.Error("leaf is a CA")
			}
		})
	}
}

func TestIssueCertRejects(t *testing.T) {
	t.Parallel()
	b := bundle(t, AlgorithmECDSA)
	foreign := bundle(t, AlgorithmRSA)
	ok := CertSpec{Name: "n", CommonName: "n", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, tc := range []struct {
		name string
		ca   KeyPair
		spec func(CertSpec) CertSpec
		want string
	}{
		{"foreign CA", foreign.CA, func(s CertSpec) CertSpec { return s }, "not one of the bundle's CAs"},
		{"no name", b.CA, func(s CertSpec) CertSpec { s.Name = ""; return s }, "no Name"},
		{"no common name", b.CA, func(s CertSpec) CertSpec { s.CommonName = ""; return s }, "no CommonName"},
		{"no usages", b.CA, func(s CertSpec) CertSpec { s.Usages = nil; return s }, "no Usages"},
		{"mismatched CA key", KeyPair{Cert: b.CA.Cert, Key: b.EtcdCA.Key}, func(s CertSpec) CertSpec { return s }, "ca.key: does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.IssueCert(tc.ca, tc.spec(ok))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// writePair writes a key pair as leaf.crt and leaf.key, for kubeadm's loaders.
func writePair(t *testing.T, kp KeyPair) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string][]byte{"leaf.crt": kp.Cert, "leaf.key": kp.Key} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestControlPlaneFiles(t *testing.T) {
	t.Parallel()
	all := map[string]os.FileMode{
		"ca.crt": 0o644, "ca.key": 0o600,
		"front-proxy-ca.crt": 0o644, "front-proxy-ca.key": 0o600,
		"sa.key": 0o600, "sa.pub": 0o600,
		"etcd/ca.crt": 0o644, "etcd/ca.key": 0o600,
	}
	for _, tc := range []struct {
		name string
		alg  string
		etcd bool
	}{
		{"rsa stacked etcd", AlgorithmRSA, true},
		{"ecdsa external etcd", AlgorithmECDSA, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle(t, tc.alg)
			files := b.ControlPlaneFiles(tc.etcd)
			want := map[string]os.FileMode{}
			for name, mode := range all {
				if tc.etcd || !strings.HasPrefix(name, "etcd/") {
					want["/etc/kubernetes/pki/"+name] = mode
				}
			}
			got := map[string]os.FileMode{}
			root := t.TempDir()
			for _, f := range files {
				got[f.Path] = f.Mode
				if len(f.Content) == 0 {
					t.Errorf("%s is empty", f.Path)
				}
				p := filepath.Join(root, strings.TrimPrefix(f.Path, PKIDir))
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, f.Content, f.Mode); err != nil {
					t.Fatal(err)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("files = %v\nwant    %v", got, want)
			}
			// kubeadm must load what it finds there.
			cas := []string{"ca", "front-proxy-ca"}
			if tc.etcd {
				cas = append(cas, "etcd/ca")
			}
			for _, name := range cas {
				if _, _, err := pkiutil.TryLoadCertAndKeyFromDisk(root, name); err != nil {
					t.Errorf("kubeadm cannot load %s: %v", name, err)
				}
			}
			if _, _, err := pkiutil.TryLoadPrivatePublicKeyFromDisk(root, "sa"); err != nil {
				t.Errorf("kubeadm cannot load sa: %v", err)
			}
			files[0].Content[0] ^= 0xff
			if b.CA.Cert[0] == files[0].Content[0] {
				t.Error("files alias the bundle")
			}
		})
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		token, id, secret string
	}{
		{"abcdef.0123456789abcdef", "abcdef", "0123456789abcdef"},
		{"nodot", "", ""},
	} {
		t.Run(tc.token, func(t *testing.T) {
			t.Parallel()
			b := &Bundle{BootstrapToken: tc.token}
			if b.TokenID() != tc.id || b.TokenSecret() != tc.secret {
				t.Errorf("TokenID, TokenSecret = %q, %q; want %q, %q", b.TokenID(), b.TokenSecret(), tc.id, tc.secret)
			}
		})
	}
}

func TestEncryptionAlgorithm(t *testing.T) {
	t.Parallel()
	for alg, want := range map[string]string{AlgorithmRSA: "RSA-2048", AlgorithmECDSA: "ECDSA-P256", "x": ""} {
		if got := (&Bundle{KeyAlgorithm: alg}).EncryptionAlgorithm(); got != want {
			t.Errorf("EncryptionAlgorithm(%q) = %q, want %q", alg, got, want)
		}
	}
}

func TestIssueCertNormalizesSpec(t *testing.T) {
	t.Parallel()
	b := bundle(t, AlgorithmECDSA)
	usages := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	a := CertSpec{Name: "n", CommonName: "n", Usages: usages,
		DNSNames: []string{"b", "a", "a"}, IPs: []net.IP{net.IPv4(10, 0, 0, 1)}}
	c := CertSpec{Name: "n", CommonName: "n", Usages: usages, Organization: []string{},
		DNSNames: []string{"a", "b"}, IPs: []net.IP{net.IP{10, 0, 0, 1}}}
	x, err := b.IssueCert(b.CA, a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.IssueCert(b.CA, c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Cert, y.Cert) || !bytes.Equal(x.Key, y.Key) {
		t.Error("equivalent specs give different certificates")
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives a Marshal/Parse round trip unchanged.
func FuzzParse(f *testing.F) {
	b, err := testBundles[AlgorithmECDSA]()
	if err != nil {
		f.Fatal(err)
	}
	good, err := b.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("apiVersion: ksgen.io/v1alpha1\nkind: SecretsBundle\nca: {cert: x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			return
		}
		out, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		out2, err := again.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatal("round trip changed the bundle")
		}
	})
}
