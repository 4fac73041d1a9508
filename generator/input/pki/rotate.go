package pki

import (
	"bytes"
	"fmt"
	"reflect"

	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// RotateToken returns the bundle file raw with a new bootstrap token (with a
// new token ID), and the old and new tokens. Only the token changes: in a
// bundle as ksgen writes it the token's text is replaced in place, so every
// other byte, each CA and key included, stays as it was (any other layout is
// re-marshalled). The result is parsed and compared with the original before
// it is returned.
func RotateToken(raw []byte) (out []byte, oldToken, newToken string, err error) {
	b, err := Parse(raw)
	if err != nil {
		return nil, "", "", err
	}
	oldToken = b.BootstrapToken
	for newToken == "" || b.TokenID() == tokenID(newToken) {
		if newToken, err = bootstraputil.GenerateBootstrapToken(); err != nil {
			return nil, "", "", fmt.Errorf("rotate bootstrap token: %w", err)
		}
	}
	// A token has a '.', which no PEM or base64 text has: one occurrence is
	// the bootstrapToken field.
	if bytes.Count(raw, []byte(oldToken)) == 1 {
		out = bytes.Replace(raw, []byte(oldToken), []byte(newToken), 1)
	} else {
		nb := *b
		nb.BootstrapToken = newToken
		if out, err = nb.Marshal(); err != nil {
			return nil, "", "", err
		}
	}
	got, err := Parse(out)
	if err != nil {
		return nil, "", "", fmt.Errorf("rotate bootstrap token: the new bundle does not parse: %w", err)
	}
	want := *b
	want.BootstrapToken = newToken
	if !reflect.DeepEqual(*got, want) {
		return nil, "", "", fmt.Errorf("rotate bootstrap token: the new bundle differs in more than the token")
	}
	return out, oldToken, newToken, nil
}

func tokenID(token string) string { return (&Bundle{BootstrapToken: token}).TokenID() }
