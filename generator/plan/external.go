package plan

import (
	"crypto"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/ksgen/ksgen/generator/input/spec"
)

// Problems with the external etcd files, each reported as a *spec.EntryError
// with the field path and line of the spec field that names the file.
var (
	ErrFileUnreadable = errors.New("file cannot be read")
	ErrNotCertificate = errors.New("not a PEM certificate")
	ErrNotPrivateKey  = errors.New("not a PEM private key")
	ErrKeyMismatch    = errors.New("key does not match the certificate")
	ErrNotSignedByCA  = errors.New("certificate is not signed by the CA")
	ErrExpired        = errors.New("certificate has expired")
)

// EtcdFiles is the user's external etcd client material, read once per
// render from the files spec.etcd.external names, so that renderers read no
// files. Nil fields were not given.
type EtcdFiles struct {
	CA, Cert, Key []byte
}

// ReadExternalEtcd reads caFile, certFile and keyFile of spec.etcd.external
// (relative paths resolve against the spec file's directory) and checks that
// they belong together: the key is the certificate's, the certificate is
// signed by the CA and has not expired. It returns nil for other etcd types.
// Every problem is a *spec.EntryError naming the field and its line.
// generator.Validate calls it once and keeps the files in Etcd.External.
func ReadExternalEtcd(s *spec.Spec) (*EtcdFiles, error) {
	return readExternalEtcd(s, time.Now())
}

func readExternalEtcd(s *spec.Spec, now time.Time) (*EtcdFiles, error) {
	e := s.Cluster.Spec.Etcd
	if e.Type != EtcdExternal {
		return nil, nil
	}
	const p = "spec.etcd.external."
	// The field names a file, so the file writes it: NewEntry's line is its own.
	fail := func(field string, cause error, format string, args ...any) error {
		return &spec.EntryError{Entry: spec.NewEntry(s, spec.Error, p+field, cause, format, args...)}
	}
	read := func(field, what, name string) ([]byte, error) {
		if name == "" {
			return nil, nil
		}
		full := name
		if !filepath.IsAbs(full) {
			full = filepath.Join(s.Dir, name)
		}
		raw, err := os.ReadFile(full)
		if err != nil {
			return nil, fail(field, ErrFileUnreadable, "cannot read %s: %v", what, err)
		}
		return raw, nil
	}
	x := &EtcdFiles{}
	var errs []error
	for _, f := range []struct {
		field, what, name string
		dst               *[]byte
	}{
		{"caFile", "the external etcd CA", e.External.CAFile, &x.CA},
		{"certFile", "the external etcd client certificate", e.External.CertFile, &x.Cert},
		{"keyFile", "the external etcd client key", e.External.KeyFile, &x.Key},
	} {
		raw, err := read(f.field, f.what, f.name)
		errs = append(errs, err)
		*f.dst = raw
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var ca []*x509.Certificate
	if x.CA != nil {
		certs, err := certutil.ParseCertsPEM(x.CA)
		if err != nil {
			errs = append(errs, fail("caFile", ErrNotCertificate, "caFile %s: %v", e.External.CAFile, err))
		}
		ca = certs
	}
	var leaf *x509.Certificate
	var chain []*x509.Certificate
	if x.Cert != nil {
		certs, err := certutil.ParseCertsPEM(x.Cert)
		if err != nil {
			errs = append(errs, fail("certFile", ErrNotCertificate, "certFile %s: %v", e.External.CertFile, err))
		} else {
			leaf, chain = certs[0], certs[1:]
		}
	}
	var key crypto.Signer
	if x.Key != nil {
		k, err := keyutil.ParsePrivateKeyPEM(x.Key)
		signer, ok := k.(crypto.Signer)
		if err != nil || !ok {
			errs = append(errs, fail("keyFile", ErrNotPrivateKey, "keyFile %s is not a PEM RSA, ECDSA or Ed25519 private key", e.External.KeyFile))
		}
		key = signer
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	if leaf != nil && key != nil {
		if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
			errs = append(errs, fail("keyFile", ErrKeyMismatch, "keyFile %s is not the key of certFile %s", e.External.KeyFile, e.External.CertFile))
		}
	}
	if leaf != nil && ca != nil {
		roots := x509.NewCertPool()
		for _, c := range ca {
			roots.AddCert(c)
		}
		inter := x509.NewCertPool()
		for _, c := range chain {
			inter.AddCert(c)
		}
		// Checked at the leaf's own start, so that the answer depends on the
		// files, not on the clock; expiry is checked on its own below.
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			CurrentTime:   leaf.NotBefore,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err != nil {
			errs = append(errs, fail("certFile", ErrNotSignedByCA, "certFile %s is not a client certificate signed by caFile %s: %v", e.External.CertFile, e.External.CAFile, err))
		}
	}
	if leaf != nil && now.After(leaf.NotAfter) {
		errs = append(errs, fail("certFile", ErrExpired, "certFile %s expired on %s", e.External.CertFile, leaf.NotAfter.UTC().Format(time.DateOnly)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return x, nil
}
