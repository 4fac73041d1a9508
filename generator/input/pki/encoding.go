package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/pubkeypin"
	"sigs.k8s.io/yaml"
)

// FieldError is one problem with one field of a bundle. Field is the path as
// written in the YAML ("etcdCA.key"). Messages never contain secret material.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Problems a bundle can have; each is wrapped in a FieldError naming the field.
var (
	ErrAPIVersion    = fmt.Errorf("must be %q", APIVersion)
	ErrKind          = fmt.Errorf("must be %q", Kind)
	ErrKeyAlgorithm  = fmt.Errorf("must be %q or %q", AlgorithmRSA, AlgorithmECDSA)
	ErrUnknownField  = errors.New("is not a field of a secrets bundle")
	ErrMissing       = errors.New("is missing")
	ErrBadCert       = errors.New("is not one PEM certificate")
	ErrNotCA         = errors.New("is not a CA certificate")
	ErrBadKey        = errors.New("is not a PEM RSA or ECDSA private key")
	ErrBadPublicKey  = errors.New("is not one PEM RSA or ECDSA public key")
	ErrKeyMismatch   = errors.New("does not match")
	ErrToken         = errors.New(`is not a bootstrap token of the form "[a-z0-9]{6}.[a-z0-9]{16}"`)
	ErrEncryptionKey = fmt.Errorf("is not %d base64-encoded bytes", encryptionKeySize)
)

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

// pemKeyPair and pemSAKey are how KeyPair and ServiceAccountKey appear in YAML
// and JSON: PEM as text, so the bundle stays readable and diffable
// (encoding/json would otherwise write []byte as base64).
type pemKeyPair struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

type pemSAKey struct {
	Key string `json:"key"`
	Pub string `json:"pub"`
}

// MarshalJSON writes the certificate and key as PEM strings.
func (p KeyPair) MarshalJSON() ([]byte, error) {
	return json.Marshal(pemKeyPair{Cert: string(p.Cert), Key: string(p.Key)})
}

// UnmarshalJSON reads PEM strings, rejecting unknown fields.
func (p *KeyPair) UnmarshalJSON(data []byte) error {
	var w pemKeyPair
	if err := decodeStrict(data, &w); err != nil {
		return err
	}
	*p = KeyPair{Cert: []byte(w.Cert), Key: []byte(w.Key)}
	return nil
}

// MarshalJSON writes the keys as PEM strings.
func (s ServiceAccountKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(pemSAKey{Key: string(s.Key), Pub: string(s.Pub)})
}

// UnmarshalJSON reads PEM strings, rejecting unknown fields.
func (s *ServiceAccountKey) UnmarshalJSON(data []byte) error {
	var w pemSAKey
	if err := decodeStrict(data, &w); err != nil {
		return err
	}
	*s = ServiceAccountKey{Key: []byte(w.Key), Pub: []byte(w.Pub)}
	return nil
}

func decodeStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// Marshal encodes the bundle as YAML. The output depends only on the bundle's
// contents, so a re-marshalled bundle is byte-identical.
func (b *Bundle) Marshal() ([]byte, error) {
	out, err := yaml.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("marshal secrets bundle: %w", err)
	}
	return out, nil
}

// Parse reads a bundle written by Marshal. It checks apiVersion and kind first,
// then decodes strictly (unknown fields are errors) and validates the result.
func Parse(data []byte) (*Bundle, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("parse secrets bundle: %w", err)
	}
	if head.APIVersion != APIVersion {
		return nil, fmt.Errorf("parse secrets bundle: %w", fieldErr("apiVersion", fmt.Errorf("%w, not %q", ErrAPIVersion, head.APIVersion)))
	}
	if head.Kind != Kind {
		return nil, fmt.Errorf("parse secrets bundle: %w", fieldErr("kind", fmt.Errorf("%w, not %q", ErrKind, head.Kind)))
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse secrets bundle: %w", err)
	}
	if err := unknownFields("", doc, reflect.TypeFor[Bundle]()); err != nil {
		return nil, fmt.Errorf("parse secrets bundle: %w", err)
	}
	var b Bundle
	if err := yaml.UnmarshalStrict(data, &b); err != nil {
		return nil, fmt.Errorf("parse secrets bundle: %w", err)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("parse secrets bundle: %w", err)
	}
	return &b, nil
}

// unknownFields reports every key of doc that t has no JSON field for, with
// its path ("etcdCA.pass"); the JSON decoder behind UnmarshalStrict names
// only the key.
func unknownFields(prefix string, doc map[string]any, t reflect.Type) error {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[name] = f.Type
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		ft, ok := fields[k]
		switch sub, isMap := doc[k].(map[string]any); {
		case !ok:
			errs = append(errs, fieldErr(prefix+k, ErrUnknownField))
		case isMap && ft.Kind() == reflect.Struct:
			errs = append(errs, unknownFields(prefix+k+".", sub, ft))
		}
	}
	return errors.Join(errs...)
}

// Validate checks that every certificate and key parses the way kubeadm will
// parse it, that each key matches its certificate, and that the token and
// encryption key are well formed. It reports every problem, each as a
// *FieldError, joined with errors.Join.
func (b *Bundle) Validate() error {
	var errs []error
	if b.APIVersion != APIVersion {
		errs = append(errs, fieldErr("apiVersion", ErrAPIVersion))
	}
	if b.Kind != Kind {
		errs = append(errs, fieldErr("kind", ErrKind))
	}
	if _, err := kubeadmAlgorithm(b.KeyAlgorithm); err != nil {
		errs = append(errs, fieldErr("keyAlgorithm", ErrKeyAlgorithm))
	}
	for _, s := range caSpecs {
		if _, _, err := s.pair(b).parse(s.field); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, b.ServiceAccount.validate("serviceAccount"))
	if !bootstraputil.IsValidBootstrapToken(b.BootstrapToken) {
		errs = append(errs, fieldErr("bootstrapToken", ErrToken))
	}
	if b.EncryptionKey != "" {
		k, err := base64.StdEncoding.DecodeString(b.EncryptionKey)
		if err != nil || len(k) != encryptionKeySize {
			errs = append(errs, fieldErr("encryptionKey", ErrEncryptionKey))
		}
	}
	return errors.Join(errs...)
}

// CACertHash is the kubernetes CA's public-key pin in the form kubeadm join's
// --discovery-token-ca-cert-hash takes ("sha256:<hex>"), computed by kubeadm's
// own pubkeypin.Hash.
func (b *Bundle) CACertHash() (string, error) {
	cert, err := parseCert("ca.cert", b.CA.Cert)
	if err != nil {
		return "", fmt.Errorf("CA certificate hash: %w", err)
	}
	return pubkeypin.Hash(cert), nil
}

// parse decodes a CA key pair and checks that it is a CA and that the key
// matches the certificate. field names the pair in errors.
func (p KeyPair) parse(field string) (*x509.Certificate, crypto.Signer, error) {
	cert, certErr := parseCert(field+".cert", p.Cert)
	key, keyErr := parsePrivateKey(field+".key", p.Key)
	if err := errors.Join(certErr, keyErr); err != nil {
		return nil, nil, err
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, nil, fieldErr(field+".cert", ErrNotCA)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, nil, fieldErr(field+".key", fmt.Errorf("%w %s.cert", ErrKeyMismatch, field))
	}
	return cert, key, nil
}

// validate checks that the private key parses and the public key is its own.
func (s ServiceAccountKey) validate(field string) error {
	key, keyErr := parsePrivateKey(field+".key", s.Key)
	pub, pubErr := parsePublicKey(field+".pub", s.Pub)
	if err := errors.Join(keyErr, pubErr); err != nil {
		return err
	}
	if !publicKeysEqual(pub, key.Public()) {
		return fieldErr(field+".pub", fmt.Errorf("%w %s.key", ErrKeyMismatch, field))
	}
	return nil
}

// parseCert reads exactly one certificate, as kubeadm's certutil does.
func parseCert(field string, data []byte) (*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fieldErr(field, ErrMissing)
	}
	certs, err := certutil.ParseCertsPEM(data)
	if err != nil || len(certs) != 1 {
		return nil, fieldErr(field, ErrBadCert)
	}
	return certs[0], nil
}

// parsePrivateKey reads a key with keyutil, the parser kubeadm loads its
// key files with, and accepts only the RSA and ECDSA keys kubeadm supports.
func parsePrivateKey(field string, data []byte) (crypto.Signer, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fieldErr(field, ErrMissing)
	}
	k, err := keyutil.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fieldErr(field, ErrBadKey)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fieldErr(field, ErrBadKey)
}

func parsePublicKey(field string, data []byte) (crypto.PublicKey, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fieldErr(field, ErrMissing)
	}
	keys, err := keyutil.ParsePublicKeysPEM(data)
	if err != nil || len(keys) != 1 {
		return nil, fieldErr(field, ErrBadPublicKey)
	}
	return keys[0], nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// ParseCert parses one PEM certificate, such as a bundle CA's Cert.
func ParseCert(data []byte) (*x509.Certificate, error) { return parseCert("certificate", data) }
