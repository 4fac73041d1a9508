package fetch

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	ign3_4 "github.com/coreos/ignition/v2/config/v3_4"
	ign3_5 "github.com/coreos/ignition/v2/config/v3_5"

	"github.com/ksgen/ksgen/generator/input/pki"
)

// Payload file names ksgen serve hands out; nothing else in the tree is served.
const (
	IgnitionFile  = "config.ign"
	CloudInitFile = "user-data"
	// ReportFile is where a node POSTs its first-boot reports, beside its
	// payload files and under the same token.
	ReportFile = "report"
)

// tokenSalt versions the token derivation; bump it to change every token.
const tokenSalt = "ksgen.io/serve token v1"

// tokenKey derives the HMAC key for fetch tokens from the kubernetes CA's
// private key, which only control planes ever receive. The bootstrap token is
// not used: every worker holds it and could then mint other nodes' tokens.
func tokenKey(b *pki.Bundle) ([]byte, error) {
	if len(b.CA.Key) == 0 {
		return nil, errors.New("secrets bundle has no CA key")
	}
	return hkdf.Key(sha256.New, b.CA.Key, []byte(tokenSalt), "hmac key", 32)
}

// Tokens computes per-node fetch tokens: HMAC-SHA256(key, node name), hex.
// They are deterministic, so render can write them into pointer configs and
// serve can check them without storing anything.
type Tokens struct{ key, operator []byte }

// NewTokens derives the token key from the bundle.
func NewTokens(b *pki.Bundle) (*Tokens, error) {
	k, err := tokenKey(b)
	if err != nil {
		return nil, fmt.Errorf("fetch tokens: %w", err)
	}
	op, err := hkdf.Key(sha256.New, b.CA.Key, []byte(tokenSalt), "operator token", 32)
	if err != nil {
		return nil, fmt.Errorf("operator token: %w", err)
	}
	return &Tokens{key: k, operator: op}, nil
}

// Operator is the operator's token for ksgen serve's fleet page and its
// JSON: derived from the bundle's CA key like the node tokens, but from a
// key of its own, so no node name's token can equal it. Whoever holds the
// bundle can compute it; nothing stores it.
func (t *Tokens) Operator() string { return hex.EncodeToString(t.operator) }

// ValidOperator reports, in constant time, whether token is the operator's.
func (t *Tokens) ValidOperator(token string) bool {
	return hmac.Equal([]byte(t.Operator()), []byte(token))
}

// For is node's token.
func (t *Tokens) For(node string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(node))
	return hex.EncodeToString(m.Sum(nil))
}

// Valid reports, in constant time, whether token is node's.
func (t *Tokens) Valid(node, token string) bool {
	return hmac.Equal([]byte(t.For(node)), []byte(token))
}

// Path is where ksgen serve hands out a node's payload file.
func Path(node, token, file string) string {
	return "/" + url.PathEscape(node) + "/" + token + "/" + file
}

// ServeCA is the CA that signs ksgen serve's certificate: the front-proxy CA.
// Nothing trusts it to authenticate a server (kube-apiserver only accepts it
// for client certificates), so a serve certificate can never pass for the API
// server, which a certificate from the kubernetes CA could.
func ServeCA(b *pki.Bundle) pki.KeyPair { return b.FrontProxyCA }

// ServeCert issues ksgen serve's server certificate for the given host names
// and IP addresses, deterministically (pki.Bundle.IssueCert).
func ServeCert(b *pki.Bundle, hosts []string) (pki.KeyPair, error) {
	spec := pki.CertSpec{Name: "ksgen-serve", CommonName: "ksgen-serve", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			spec.IPs = append(spec.IPs, ip)
		} else if h != "" {
			spec.DNSNames = append(spec.DNSNames, h)
		}
	}
	if len(spec.IPs)+len(spec.DNSNames) == 0 {
		return pki.KeyPair{}, errors.New("serve certificate: no host names or addresses")
	}
	return b.IssueCert(ServeCA(b), spec)
}

// Pointer says where a node fetches its full payload.
type Pointer struct {
	// BaseURL is ksgen serve's address, "https://host:port".
	BaseURL string
	// CA is the PEM certificate the node trusts for BaseURL (ServeCA's).
	CA []byte
}

// URL is the address of a node's payload file.
func (p Pointer) URL(node, token, file string) string {
	return strings.TrimSuffix(p.BaseURL, "/") + Path(node, token, file)
}

// ignitionPointer is the subset of the Ignition 3.4/3.5 schema a pointer uses;
// both versions spell these fields the same way.
type ignitionPointer struct {
	Ignition struct {
		Version string `json:"version"`
		Config  struct {
			Merge []resource `json:"merge"`
		} `json:"config"`
		Security struct {
			TLS struct {
				CertificateAuthorities []resource `json:"certificateAuthorities"`
			} `json:"tls"`
		} `json:"security"`
	} `json:"ignition"`
}

type resource struct {
	Source       string `json:"source"`
	Verification *struct {
		Hash string `json:"hash"`
	} `json:"verification,omitempty"`
}

// IgnitionPointer is a small Ignition config that merges the node's full
// config from url, verified by its SHA-512, over TLS trusting only ca. The
// version follows the full config's: 3.4.0 for Flatcar, 3.5.0 for Fedora
// CoreOS. It is parsed with Ignition's own parser before it is returned.
func IgnitionPointer(version, url string, full, ca []byte) ([]byte, error) {
	var c ignitionPointer
	c.Ignition.Version = version
	sum := sha512.Sum512(full)
	merge := resource{Source: url}
	merge.Verification = &struct {
		Hash string `json:"hash"`
	}{Hash: "sha512-" + hex.EncodeToString(sum[:])}
	c.Ignition.Config.Merge = []resource{merge}
	c.Ignition.Security.TLS.CertificateAuthorities = []resource{{Source: "data:;base64," + base64.StdEncoding.EncodeToString(ca)}}
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	if err := ParseIgnition(raw); err != nil {
		return nil, fmt.Errorf("ignition pointer: %w", err)
	}
	return raw, nil
}

// ParseIgnition parses a config with Ignition's parser for its version and
// fails on any report entry.
func ParseIgnition(raw []byte) error {
	var v struct {
		Ignition struct {
			Version string `json:"version"`
		} `json:"ignition"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	var err error
	var rpt fmt.Stringer
	switch v.Ignition.Version {
	case "3.5.0":
		_, r, e := ign3_5.Parse(raw)
		rpt, err = r, e
		if e == nil && len(r.Entries) > 0 {
			err = errors.New(r.String())
		}
	case "3.4.0":
		_, r, e := ign3_4.Parse(raw)
		rpt, err = r, e
		if e == nil && len(r.Entries) > 0 {
			err = errors.New(r.String())
		}
	default:
		return fmt.Errorf("ignition version %q: want 3.4.0 or 3.5.0", v.Ignition.Version)
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, rpt)
	}
	return nil
}

// IgnitionVersion reads a config's ignition.version.
func IgnitionVersion(raw []byte) string {
	var v struct {
		Ignition struct {
			Version string `json:"version"`
		} `json:"ignition"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.Ignition.Version
}

// CloudInitPointer is a small user-data shell script that fetches the node's
// full #cloud-config from url with curl, trusting only ca, checks its
// SHA-256, and applies it with cloud-init's own modules. cloud-init's
// "#include" is not used: it can neither pin a CA nor verify a hash.
func CloudInitPointer(url string, full, ca []byte) []byte {
	sum := sha256.Sum256(full)
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/sh
# ksgen pointer: fetch this node's full #cloud-config from ksgen serve,
# verify its sha256, then apply it with cloud-init's modules.
set -eu
umask 077
d=/run/ksgen
mkdir -p "$d"
cat >"$d/serve-ca.crt" <<'KSGEN_CA'
%sKSGEN_CA
until curl -fsS --cacert "$d/serve-ca.crt" -o "$d/user-data.part" '%s'; do sleep 5; done
echo '%s  user-data.part' | (cd "$d" && sha256sum -c --quiet -)
mv "$d/user-data.part" "$d/user-data"
for m in set_hostname update_hostname users_groups write_files runcmd; do
  cloud-init --file "$d/user-data" single --name "$m" --frequency always
done
sh /var/lib/cloud/instance/scripts/runcmd
`, ca, url, hex.EncodeToString(sum[:]))
	return []byte(b.String())
}
