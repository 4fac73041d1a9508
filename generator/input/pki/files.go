package pki

import (
	"bytes"
	"io/fs"
	"path"

	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"

	"github.com/ksgen/ksgen/generator/internal/fileset"
)

// PKIDir is kubeadm's default certificatesDir, where it looks for the CAs that
// let a control plane join without the upload-certs window.
const PKIDir = kubeadmconstants.KubernetesDir + "/pki"

// ControlPlaneFiles returns the PKI files a control-plane node needs at
// kubeadm's paths under PKIDir: the kubernetes and front-proxy CAs, sa.key and
// sa.pub, and the etcd CA when withEtcdCA is true (stacked etcd). Keys, sa.pub
// included as kubeadm writes it, are 0600; certificates 0644. Contents are
// copies: changing them leaves the bundle as it was.
func (b *Bundle) ControlPlaneFiles(withEtcdCA bool) []fileset.File {
	var files []fileset.File
	add := func(name string, mode fs.FileMode, content []byte) {
		files = append(files, fileset.File{Path: path.Join(PKIDir, name), Mode: mode, Content: bytes.Clone(content)})
	}
	secret, public := fileset.ModeSecret, fileset.ModePublic
	for _, s := range caSpecs {
		if s.etcd && !withEtcdCA {
			continue
		}
		p := s.pair(b)
		add(s.certFile, public, p.Cert)
		add(s.keyFile, secret, p.Key)
	}
	add(kubeadmconstants.ServiceAccountPrivateKeyName, secret, b.ServiceAccount.Key)
	add(kubeadmconstants.ServiceAccountPublicKeyName, secret, b.ServiceAccount.Pub)
	return files
}

// EncryptionConfigDir holds the apiserver's encryption-at-rest configuration.
const EncryptionConfigDir = kubeadmconstants.KubernetesDir + "/encryption"

// EncryptionConfigFile returns the apiserver EncryptionConfiguration that
// encrypts Secrets with the bundle's key (aescbc, identity still readable),
// or false when the bundle has no encryption key.
func (b *Bundle) EncryptionConfigFile() (fileset.File, bool) {
	if b.EncryptionKey == "" {
		return fileset.File{}, false
	}
	cfg := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources:\n  - secrets\n  providers:\n  - aescbc:\n      keys:\n      - name: ksgen\n        secret: " +
		b.EncryptionKey + "\n  - identity: {}\n"
	return fileset.File{Path: EncryptionConfigDir + "/config.yaml", Mode: fileset.ModeSecret, Content: []byte(cfg)}, true
}
