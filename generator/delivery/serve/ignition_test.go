package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/output/fetch"
)

// The real Ignition's fetch stage, given a node's pointer config, fetches the
// full config from ksgen serve on loopback over TLS trusting the pointer's
// CA, verifies its sha512 and merges it; a pointer with a wrong hash fails.
func TestRealIgnitionFetchesPointer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Ignition")
	}
	if err := consumers.IgnitionPrereqs(); err != nil {
		t.Skip(err)
	}
	bin, err := consumers.IgnitionBinary()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	node := f.nodes[0]
	ptr := f.files[node+"/config.ign.pointer"]
	full := f.files[node+"/config.ign"]

	ignitionFetch := func(t *testing.T, config []byte) ([]byte, string, error) {
		dir := t.TempDir()
		sysconf := filepath.Join(dir, "system-config")
		if err := os.MkdirAll(sysconf, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, "pointer.ign")
		if err := os.WriteFile(cfg, config, 0o600); err != nil {
			t.Fatal(err)
		}
		cache := filepath.Join(dir, "config-cache.json")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-stage", "fetch", "-platform", "file",
			"-root", filepath.Join(dir, "root"), "-config-cache", cache,
			"-state-file", filepath.Join(dir, "state"), "-neednet", filepath.Join(dir, "neednet"), "-log-to-stdout")
		cmd.Env = append(os.Environ(), "IGNITION_CONFIG_FILE="+cfg, "IGNITION_SYSTEM_CONFIG_DIR="+sysconf)
		out, err := cmd.CombinedOutput()
		merged, _ := os.ReadFile(cache)
		return merged, string(out), err
	}

	merged, log, err := ignitionFetch(t, ptr)
	if err != nil {
		t.Fatalf("ignition fetch: %v\n%s", err, log)
	}
	paths := func(raw []byte) []string {
		var c struct {
			Storage struct {
				Files []struct{ Path string }
			}
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("config: %v", err)
		}
		var out []string
		for _, f := range c.Storage.Files {
			out = append(out, f.Path)
		}
		return out
	}
	want, got := paths(full), strings.Join(paths(merged), "\n")
	if len(want) == 0 {
		t.Fatal("full config has no files")
	}
	for _, p := range want {
		if !strings.Contains(got, p) {
			t.Fatalf("merged config lacks %s\n%s", p, log)
		}
	}
	t.Logf("Ignition fetched and merged %s's %d files from ksgen serve", node, len(want))

	// Flip the first hex digit of the hash: still a valid config, wrong sum.
	tampered := bytes.Clone(ptr)
	i := bytes.Index(tampered, []byte(`"sha512-`)) + len(`"sha512-`)
	tampered[i] = "01"[map[bool]int{true: 1}[tampered[i] == '0']]
	if err := fetch.ParseIgnition(tampered); err != nil {
		t.Fatal(err)
	}
	if _, log, err := ignitionFetch(t, tampered); err == nil || !strings.Contains(log, "hash") {
		t.Fatalf("ignition accepted a config whose sha512 does not match (%v):\n%s", err, log)
	}
}
