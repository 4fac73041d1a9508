package plantest

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/ksgen/ksgen/generator/input/pki"
)

// testBundle is testdata/test-secrets.yaml, parsed once per test binary:
// the fixed bundle whose keys the goldens were rendered with.
var testBundle = sync.OnceValues(func() (*pki.Bundle, error) {
	_, here, _, _ := runtime.Caller(0) // generator/internal/plantest/bundle.go
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "..", "testdata", "test-secrets.yaml"))
	if err != nil {
		return nil, err
	}
	return pki.Parse(raw)
})

// Bundle is the repository's test secrets bundle.
func Bundle(t testing.TB) *pki.Bundle {
	t.Helper()
	b, err := testBundle()
	if err != nil {
		t.Fatalf("test bundle: %v", err)
	}
	return b
}
