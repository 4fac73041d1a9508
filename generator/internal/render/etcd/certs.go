package etcd

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io/fs"
	"net"

	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
)

// File names under plan.EtcdCertDir: KubeKey's for the CA and each member's
// certificate, kubeadm's for kube-apiserver's client certificate (KubeKey
// calls it node-<host>.pem and issues one per control plane; one serves
// every control plane here, since kubeadm's ClusterConfiguration, shared by
// all of them, names it). KubeKey's admin-<host>.pem is left out: the member
// certificate is also a client certificate, and etcdctl and the backup use
// it, which keeps the payload small (etcd runs without RBAC, so a separate
// client identity on the member's own host would grant nothing less).
//
//	ca.pem                                    etcd CA certificate (never its key)
//	member-<host>.pem, member-<host>-key.pem  member's server, peer and local client certificate
//	apiserver-etcd-client.pem, -key.pem       kube-apiserver's client certificate
const (
	CAFile      = plan.EtcdCAFile
	APIServerCN = "kube-apiserver-etcd-client"
)

// MemberCert is a member's certificate file.
func MemberCert(host string) string { return plan.EtcdMemberCert(host) }

// MemberKey is the key of MemberCert.
func MemberKey(host string) string { return plan.EtcdCertDir + "/member-" + host + "-key.pem" }

// cert declares one certificate issued from the bundle's etcd CA: the spec
// it is issued from and the files it lands in.
type cert struct {
	spec     pki.CertSpec
	certPath string
	keyPath  string
}

// memberCert is a member's certificate: it serves clients, and it is also
// the client certificate the member presents to its peers and that etcdctl
// and the backup use on the host (so server and client usage). It is valid
// for the member's name, its addresses and localhost.
func memberCert(n *plan.Node) cert {
	ips := []net.IP{net.ParseIP(n.IPv4), net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if n.IPv6 != "" {
		ips = append(ips, net.ParseIP(n.IPv6))
	}
	return cert{
		spec: pki.CertSpec{
			Name:       "etcd-member-" + n.Name,
			CommonName: "etcd-member-" + n.Name,
			DNSNames:   []string{n.Name, "localhost"},
			IPs:        ips,
			Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		},
		certPath: MemberCert(n.Name), keyPath: MemberKey(n.Name),
	}
}

// apiserverCert is kube-apiserver's etcd client certificate, as kubeadm
// declares it (certlist.go KubeadmCertEtcdAPIClient).
func apiserverCert(e plan.Etcd) cert {
	return cert{
		spec: pki.CertSpec{
			Name:       "etcd-apiserver-client",
			CommonName: APIServerCN,
			Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		certPath: e.CertFile, keyPath: e.KeyFile,
	}
}

// Secrets is the etcd key material of one render, by node: issued from the
// bundle's etcd CA for the kubekey type, the user's files for the external
// type, nothing for kubeadm (stacked etcd: the control planes carry the etcd
// CA and kubeadm issues on the node). The etcd CA key never leaves the bundle.
type Secrets struct {
	files map[string][]fileset.File // by node name
}

// NewSecrets issues every member's and kube-apiserver's certificates once,
// deterministically (the same bundle gives the same bytes), or takes the
// external files the plan carries (plan.Etcd.External).
func NewSecrets(c *plan.Cluster, b *pki.Bundle) (*Secrets, error) {
	s := &Secrets{files: map[string][]fileset.File{}}
	add := func(n *plan.Node, path string, mode fs.FileMode, content []byte) {
		s.files[n.Name] = append(s.files[n.Name], fileset.File{Path: path, Mode: mode, Content: bytes.Clone(content)})
	}
	public, secret := fileset.ModePublic, fileset.ModeSecret
	switch c.Etcd.Type {
	case plan.EtcdExternal:
		ext := c.Etcd.External
		if ext == nil {
			return nil, fmt.Errorf("etcd.type external: the external etcd files were not read")
		}
		for _, n := range c.ControlPlanes {
			for _, f := range []struct {
				path    string
				mode    fs.FileMode
				content []byte
			}{{c.Etcd.CAFile, public, ext.CA}, {c.Etcd.CertFile, public, ext.Cert}, {c.Etcd.KeyFile, secret, ext.Key}} {
				if f.path != "" && f.content != nil {
					add(n, f.path, f.mode, f.content)
				}
			}
		}
	case plan.EtcdKubeKey:
		issue := func(ct cert) (pki.KeyPair, error) {
			kp, err := b.IssueCert(b.EtcdCA, ct.spec)
			if err != nil {
				return pki.KeyPair{}, fmt.Errorf("etcd certificates: %w", err)
			}
			return kp, nil
		}
		ca := map[string]bool{}
		withCA := func(n *plan.Node) {
			if !ca[n.Name] {
				ca[n.Name] = true
				add(n, CAFile, public, b.EtcdCA.Cert)
			}
		}
		for _, m := range c.EtcdMembers {
			withCA(m)
			ct := memberCert(m)
			kp, err := issue(ct)
			if err != nil {
				return nil, err
			}
			add(m, ct.certPath, public, kp.Cert)
			add(m, ct.keyPath, secret, kp.Key)
		}
		ct := apiserverCert(c.Etcd)
		kp, err := issue(ct)
		if err != nil {
			return nil, err
		}
		for _, n := range c.ControlPlanes {
			withCA(n)
			add(n, ct.certPath, public, kp.Cert)
			add(n, ct.keyPath, secret, kp.Key)
		}
	}
	return s, nil
}

// Files returns the etcd certificates and keys node n receives (keys 0600).
// The contents are copies.
func (s *Secrets) Files(n *plan.Node) []fileset.File {
	out := make([]fileset.File, len(s.files[n.Name]))
	for i, f := range s.files[n.Name] {
		f.Content = bytes.Clone(f.Content)
		out[i] = f
	}
	return out
}
