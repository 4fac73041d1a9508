package pki

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/pkiutil"
)

// APIVersion and Kind identify a serialized Bundle.
const (
	APIVersion = "ksgen.io/v1alpha1"
	Kind       = "SecretsBundle"
)

// Key algorithms a bundle can use; they map to kubeadm's encryptionAlgorithm.
const (
	AlgorithmRSA   = "rsa"   // RSA-2048, kubeadm's default
	AlgorithmECDSA = "ecdsa" // ECDSA P-256
)

// DefaultValidity is the CA validity kubeadm uses (10 years).
const DefaultValidity = kubeadmconstants.CACertificateValidityPeriod

// encryptionKeySize is the AES-256 key length the apiserver's aescbc, aesgcm and
// secretbox providers take.
const encryptionKeySize = 32

// Options control Generate.
type Options struct {
	KeyAlgorithm  string        // AlgorithmRSA or AlgorithmECDSA; "" means rsa
	Validity      time.Duration // CA validity; 0 means DefaultValidity
	EncryptionKey bool          // also make an encryption-at-rest key (32 random bytes, base64)
	Now           time.Time     // zero means time.Now(); set by tests
}

// KeyPair is a PEM certificate and its PEM private key. The key is in the format
// kubeadm itself writes (keyutil.MarshalPrivateKeyToPEM), so kubeadm loads it as is.
// In YAML and JSON both are plain PEM strings.
type KeyPair struct {
	Cert []byte `json:"cert"` // PEM
	Key  []byte `json:"key"`  // PEM
}

// ServiceAccountKey is the key pair the apiserver signs and verifies
// service-account tokens with, as kubeadm's sa.key and sa.pub.
type ServiceAccountKey struct {
	Key []byte `json:"key"` // PEM private key
	Pub []byte `json:"pub"` // PEM public key (PKIX)
}

// Bundle is every cluster-wide secret ksgen needs. Node payloads are derived
// from it deterministically, so it is the only thing that must be kept.
type Bundle struct {
	APIVersion     string            `json:"apiVersion"`
	Kind           string            `json:"kind"`
	KeyAlgorithm   string            `json:"keyAlgorithm"`
	CA             KeyPair           `json:"ca"`           // kubernetes CA (CN "kubernetes")
	FrontProxyCA   KeyPair           `json:"frontProxyCA"` // CN "front-proxy-ca"
	EtcdCA         KeyPair           `json:"etcdCA"`       // CN "etcd-ca"
	ServiceAccount ServiceAccountKey `json:"serviceAccount"`
	BootstrapToken string            `json:"bootstrapToken"` // "abcdef.0123456789abcdef"
	EncryptionKey  string            `json:"encryptionKey,omitempty"`
}

// caSpec declares one CA of the bundle: the JSON field that holds it (also the
// name in error messages), its subject, and where kubeadm reads it under PKIDir.
type caSpec struct {
	field      string
	commonName string
	certFile   string
	keyFile    string
	etcd       bool
	pair       func(*Bundle) *KeyPair
}

// caSpecs are the CAs kubeadm's certs phase creates (certlist.go), with its
// names. Generate, validation and ControlPlaneFiles all walk this one table.
var caSpecs = []caSpec{
	{
		field: "ca", commonName: "kubernetes",
		certFile: kubeadmconstants.CACertName, keyFile: kubeadmconstants.CAKeyName,
		pair: func(b *Bundle) *KeyPair { return &b.CA },
	},
	{
		field: "frontProxyCA", commonName: "front-proxy-ca",
		certFile: kubeadmconstants.FrontProxyCACertName, keyFile: kubeadmconstants.FrontProxyCAKeyName,
		pair: func(b *Bundle) *KeyPair { return &b.FrontProxyCA },
	},
	{
		field: "etcdCA", commonName: "etcd-ca",
		certFile: kubeadmconstants.EtcdCACertName, keyFile: kubeadmconstants.EtcdCAKeyName,
		etcd: true,
		pair: func(b *Bundle) *KeyPair { return &b.EtcdCA },
	},
}

// kubeadmAlgorithm maps a bundle key algorithm to kubeadm's name for it.
func kubeadmAlgorithm(alg string) (kubeadmapi.EncryptionAlgorithmType, error) {
	switch alg {
	case AlgorithmRSA:
		return kubeadmapi.EncryptionAlgorithmRSA2048, nil
	case AlgorithmECDSA:
		return kubeadmapi.EncryptionAlgorithmECDSAP256, nil
	}
	return "", fmt.Errorf("unknown key algorithm %q (want %q or %q)", alg, AlgorithmRSA, AlgorithmECDSA)
}

// Generate makes a new bundle with fresh random keys. CAs get the attributes
// kubeadm gives its own (pkiutil.NewCertificateAuthority), backdated by
// kubeadm's CertificateBackdate to tolerate small clock skew between machines.
func Generate(opts Options) (*Bundle, error) {
	alg := opts.KeyAlgorithm
	if alg == "" {
		alg = AlgorithmRSA
	}
	kalg, err := kubeadmAlgorithm(alg)
	if err != nil {
		return nil, fmt.Errorf("generate secrets bundle: %w", err)
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity < 0 {
		return nil, fmt.Errorf("generate secrets bundle: negative validity %s", validity)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()

	b := &Bundle{APIVersion: APIVersion, Kind: Kind, KeyAlgorithm: alg}
	for _, s := range caSpecs {
		cfg := &pkiutil.CertConfig{
			Config: certutil.Config{
				CommonName: s.commonName,
				NotBefore:  now.Add(-kubeadmconstants.CertificateBackdate),
			},
			NotAfter:            now.Add(validity),
			EncryptionAlgorithm: kalg,
		}
		cert, key, err := pkiutil.NewCertificateAuthority(cfg)
		if err != nil {
			return nil, fmt.Errorf("generate secrets bundle: %s: %w", s.field, err)
		}
		keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
		if err != nil {
			return nil, fmt.Errorf("generate secrets bundle: %s: encode key: %w", s.field, err)
		}
		*s.pair(b) = KeyPair{Cert: pkiutil.EncodeCertPEM(cert), Key: keyPEM}
	}

	saKey, err := pkiutil.NewPrivateKey(kalg)
	if err != nil {
		return nil, fmt.Errorf("generate secrets bundle: serviceAccount: %w", err)
	}
	if b.ServiceAccount.Key, err = keyutil.MarshalPrivateKeyToPEM(saKey); err != nil {
		return nil, fmt.Errorf("generate secrets bundle: serviceAccount: encode key: %w", err)
	}
	if b.ServiceAccount.Pub, err = pkiutil.EncodePublicKeyPEM(saKey.Public()); err != nil {
		return nil, fmt.Errorf("generate secrets bundle: serviceAccount: encode public key: %w", err)
	}

	if b.BootstrapToken, err = bootstraputil.GenerateBootstrapToken(); err != nil {
		return nil, fmt.Errorf("generate secrets bundle: bootstrapToken: %w", err)
	}

	if opts.EncryptionKey {
		k := make([]byte, encryptionKeySize)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("generate secrets bundle: encryptionKey: %w", err)
		}
		b.EncryptionKey = base64.StdEncoding.EncodeToString(k)
	}
	return b, nil
}

// EncryptionAlgorithm is the bundle's key algorithm in kubeadm's terms
// ("RSA-2048", "ECDSA-P256"), for ClusterConfiguration.encryptionAlgorithm, so
// the leaf certificates kubeadm makes use the same algorithm as their CAs.
// It is "" when the bundle's KeyAlgorithm is unknown.
func (b *Bundle) EncryptionAlgorithm() string {
	a, err := kubeadmAlgorithm(b.KeyAlgorithm)
	if err != nil {
		return ""
	}
	return string(a)
}

// TokenID is the public half of the bootstrap token ("abcdef"), "" when the
// token is malformed.
func (b *Bundle) TokenID() string {
	id, _, ok := strings.Cut(b.BootstrapToken, ".")
	if !ok {
		return ""
	}
	return id
}

// TokenSecret is the secret half of the bootstrap token, "" when the token is
// malformed.
func (b *Bundle) TokenSecret() string {
	_, secret, ok := strings.Cut(b.BootstrapToken, ".")
	if !ok {
		return ""
	}
	return secret
}
