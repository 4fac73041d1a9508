package pki

import (
	"bytes"
	"strings"
	"testing"

	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

func TestRotateToken(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{AlgorithmRSA, AlgorithmECDSA} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			b := bundle(t, alg)
			raw, err := b.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			out, oldTok, newTok, err := RotateToken(raw)
			if err != nil {
				t.Fatal(err)
			}
			if oldTok != b.BootstrapToken || !bootstraputil.IsValidBootstrapToken(newTok) || tokenID(newTok) == b.TokenID() {
				t.Fatalf("old %q (bundle %q), new %q", oldTok, b.BootstrapToken, newTok)
			}
			// Byte for byte the same file but the token.
			if want := bytes.Replace(raw, []byte(oldTok), []byte(newTok), 1); !bytes.Equal(out, want) {
				t.Errorf("rotated bundle differs in more than the token:\n%s", out)
			}
			got, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if got.BootstrapToken != newTok || !bytes.Equal(got.CA.Key, b.CA.Key) || !bytes.Equal(got.EtcdCA.Cert, b.EtcdCA.Cert) ||
				!bytes.Equal(got.ServiceAccount.Key, b.ServiceAccount.Key) || got.EncryptionKey != b.EncryptionKey {
				t.Errorf("rotated bundle lost something")
			}
		})
	}
}

func TestRotateTokenReformatted(t *testing.T) {
	t.Parallel()
	// A bundle whose token appears twice (here in a comment) is
	// re-marshalled: still only the token changes.
	b := bundle(t, AlgorithmECDSA)
	raw, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	raw = append([]byte("# token "+b.BootstrapToken+"\n"), raw...)
	out, _, newTok, err := RotateToken(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	want := *b
	want.BootstrapToken = newTok
	if canon, _ := want.Marshal(); !bytes.Equal(out, canon) {
		t.Errorf("re-marshalled bundle:\n%s", out)
	}
	if got.BootstrapToken != newTok {
		t.Errorf("token %q, want %q", got.BootstrapToken, newTok)
	}
}

func TestRotateTokenRejects(t *testing.T) {
	t.Parallel()
	raw, err := bundle(t, AlgorithmECDSA).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"empty":     nil,
		"not YAML":  []byte("{{{"),
		"bad token": bytes.Replace(raw, []byte("bootstrapToken: "), []byte("bootstrapToken: x"), 1),
		"bad CA":    []byte(strings.Replace(string(raw), "BEGIN CERTIFICATE", "BEGIN NOTHING", 1)),
	} {
		if _, _, _, err := RotateToken(in); err == nil {
			t.Errorf("%s: rotated", name)
		}
	}
}
