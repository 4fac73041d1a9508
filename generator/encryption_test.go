package generator_test

import (
	"encoding/base64"
	"strings"
	"testing"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
)

// A bundle with an encryption key turns on encryption at rest for Secrets on
// every control plane; workers never see the key.
func TestEncryptionAtRest(t *testing.T) {
	t.Parallel()
	b, err := pki.Generate(pki.Options{KeyAlgorithm: pki.AlgorithmECDSA, EncryptionKey: true})
	if err != nil {
		t.Fatal(err)
	}
	s, r, err := spec.LoadFile("../testdata/specs/valid-ha-haproxy.yaml")
	if err != nil || r.Err(false) != nil {
		t.Fatal(err, r.Err(false))
	}
	out, err := generator.Generate(s, b, generator.Options{Formats: []string{generator.FormatNone}})
	if err != nil {
		t.Fatal(err)
	}
	const cfgPath = "rootfs/etc/kubernetes/encryption/config.yaml"
	seen := 0
	for _, f := range out.Files {
		node, rel, _ := strings.Cut(f.Path, "/")
		if strings.Contains(string(f.Content), b.EncryptionKey) && !strings.HasPrefix(node, "master") {
			t.Errorf("%s holds the encryption key", f.Path)
		}
		switch {
		case rel == cfgPath:
			seen++
			if f.Mode != 0o600 {
				t.Errorf("%s mode %v", f.Path, f.Mode)
			}
			var cfg apiserverv1.EncryptionConfiguration
			if err := yaml.UnmarshalStrict(f.Content, &cfg); err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			key := cfg.Resources[0].Providers[0].AESCBC.Keys[0].Secret
			if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 32 || cfg.Resources[0].Resources[0] != "secrets" {
				t.Errorf("%s: %+v", f.Path, cfg)
			}
		case rel == "kubeadm.yaml" && node == "master1":
			if !strings.Contains(string(f.Content), "value: /etc/kubernetes/encryption/config.yaml") {
				t.Errorf("init config does not point the apiserver at the encryption config")
			}
		}
	}
	if seen != 3 {
		t.Errorf("%d control planes got the encryption config, want 3", seen)
	}
}
