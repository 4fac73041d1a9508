//go:build linux

package generator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/output/tree"
)

const (
	applySpec    = "../testdata/config-sample.yaml"
	applySecrets = "../testdata/test-secrets.yaml"
	// applyTimeout bounds one consumer run on one node.
	applyTimeout = 3 * time.Minute
)

// TestApplyPayloads renders the bundled example and applies every node's
// payloads with the programs that consume them on a real machine:
//
//   - config.ign with the real Ignition binary (stages fetch-offline, then
//     files) into a scratch root;
//   - user-data with cloud-init's real boot stages against a NoCloud seed, in a
//     sandbox over the host root (see consumers.ApplyCloudInit); runcmd is
//     rendered, not run.
//
// Both must succeed without logging warnings and write every file of the
// node's rootfs/ at its path, byte for byte, with its permission bits, owned
// by root; files the consumers add on their own (Ignition's result,
// cloud-init's state) are not compared. Ignition must enable (preset) exactly
// the units config.ign marks enabled, and cloud-init's rendered runcmd must
// enable the same ones.
//
// It needs root, cloud-init, ssh-keygen, a C compiler and libblkid's
// headers; without them it skips, unless CI is set (.ci/run installs them),
// then it fails. The Ignition binary is built once and cached (see
// consumers.IgnitionBinary): the first run takes minutes, later ones seconds.
func TestApplyPayloads(t *testing.T) {
	requireApplyPrereqs(t)

	nodes := renderApplyNodes(t)
	start := time.Now()
	ign, err := consumers.IgnitionBinary()
	if err != nil {
		t.Fatalf("build the real Ignition: %v", err)
	}
	t.Logf("ignition binary %s (ready in %s)", ign, time.Since(start).Round(time.Millisecond))

	for _, n := range nodes {
		t.Run(n.name, func(t *testing.T) {
			t.Parallel()
			n.apply(t, ign)
		})
	}
}

// requireApplyPrereqs skips the test when the consumers cannot run here, or
// fails it when CI is set.
func requireApplyPrereqs(t *testing.T) {
	t.Helper()
	var err error
	if os.Geteuid() != 0 {
		err = errors.New("not running as root (Ignition writes root-owned files; the cloud-init sandbox needs namespaces, mounts and chroot)")
	} else {
		err = errors.Join(consumers.IgnitionPrereqs(), consumers.CloudInitPrereqs())
	}
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("real consumers cannot run, and CI is set (.ci/run installs what they need): %v", err)
	}
	t.Skipf("real consumers cannot run here: %v (set CI=1 to make this a failure)", err)
}

// applyNode is one node's share of the rendered trees: the example as it
// is (Ubuntu, the default OS: user-data) and with os: fcos (config.ign),
// each with the rootfs/ its payload must write.
type applyNode struct {
	name      string
	ign       []byte
	ignRootfs []tree.File // Path is the absolute path on the machine
	userData  []byte
	ciRootfs  []tree.File
}

func renderApplyNodes(t *testing.T) []*applyNode {
	t.Helper()
	raw, err := os.ReadFile(applySecrets)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pki.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", applySecrets, err)
	}
	example, err := os.ReadFile(applySpec)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*applyNode{}
	var nodes []*applyNode
	for _, config := range []string{"", "\n---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: fcos\n"} {
		s, r := spec.Load(append(slices.Clone(example), config...))
		if err := r.Err(false); err != nil {
			t.Fatalf("%s: %v", applySpec, err)
		}
		s.Dir = filepath.Dir(applySpec)
		out, err := generator.Generate(s, b, generator.Options{})
		if err != nil {
			t.Fatalf("generate %s: %v", applySpec, err)
		}
		rootfs := map[string][]tree.File{}
		for _, f := range out.Files {
			host, rest, ok := strings.Cut(f.Path, "/")
			if !ok {
				continue // index.json
			}
			n := byName[host]
			if n == nil {
				n = &applyNode{name: host}
				byName[host] = n
				nodes = append(nodes, n)
			}
			switch {
			case rest == "config.ign":
				n.ign = f.Content
			case rest == "user-data":
				n.userData = f.Content
			case strings.HasPrefix(rest, "rootfs/"):
				rootfs[host] = append(rootfs[host], tree.File{Path: strings.TrimPrefix(rest, "rootfs"), Mode: f.Mode, Content: f.Content})
			}
		}
		for _, n := range nodes {
			if config == "" {
				n.ciRootfs = rootfs[n.name]
			} else {
				n.ignRootfs = rootfs[n.name]
			}
		}
	}
	if len(nodes) == 0 {
		t.Fatal("the example renders no node")
	}
	for _, n := range nodes {
		if n.ign == nil || n.userData == nil || len(n.ignRootfs) == 0 || len(n.ciRootfs) == 0 {
			t.Fatalf("node %s: want config.ign (os: fcos), user-data (ubuntu) and rootfs/ files for each", n.name)
		}
	}
	return nodes
}

func (n *applyNode) apply(t *testing.T, ignBin string) {
	dir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	start := time.Now()
	ign, err := consumers.ApplyIgnition(ctx, ignBin, n.ign, filepath.Join(dir, "ignition"))
	if err != nil {
		if ign != nil {
			t.Logf("ignition log:\n%s", ign.Log)
		}
		t.Fatalf("Ignition rejects config.ign: %v", err)
	}
	ignTime := time.Since(start)

	ctx, cancel = context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	start = time.Now()
	// The platform names the machine, not ksgen: deliberately not the node
	// name, so that a payload relying on it shows.
	ci, err := consumers.ApplyCloudInit(ctx, n.userData, filepath.Join(dir, "cloud-init"),
		consumers.CloudInitOptions{Hostname: "platform-" + n.name})
	if err != nil {
		if ci != nil {
			t.Log(ci.Log())
		}
		t.Fatalf("cloud-init fails on user-data: %v", err)
	}
	t.Logf("ignition %s, cloud-init %s", ignTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	var problems []string
	for _, w := range ign.Warnings() {
		problems = append(problems, "ignition log: "+w)
	}
	for _, w := range ci.Warnings {
		problems = append(problems, "cloud-init log: "+w)
	}
	for _, c := range []struct {
		consumer, root string
		rootfs         []tree.File
	}{{"ignition", ign.Root, n.ignRootfs}, {"cloud-init", ci.Upper, n.ciRootfs}} {
		for _, f := range c.rootfs {
			if p := compareApplied(c.root, f); p != "" {
				problems = append(problems, fmt.Sprintf("%s: %s: %s", c.consumer, f.Path, p))
			}
		}
	}
	problems = append(problems, n.checkEnabled(ign, ci)...)
	if len(problems) > 0 {
		t.Errorf("%d problem(s) applying node %s's payloads:\n  %s", len(problems), n.name, strings.Join(problems, "\n  "))
		t.Logf("ignition log:\n%s", ign.Log)
		t.Log(ci.Log())
	}
}

// compareApplied describes how the file at want.Path under root differs
// from want, or returns "".
func compareApplied(root string, want tree.File) string {
	p := filepath.Join(root, filepath.FromSlash(want.Path))
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "not written"
	}
	if err != nil {
		return err.Error()
	}
	if !st.Mode().IsRegular() {
		return fmt.Sprintf("not a regular file (%v)", st.Mode().Type())
	}
	var problems []string
	if got := st.Mode().Perm(); got != want.Mode.Perm() {
		problems = append(problems, fmt.Sprintf("mode %04o, want %04o", got, want.Mode.Perm()))
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && (sys.Uid != 0 || sys.Gid != 0) {
		problems = append(problems, fmt.Sprintf("owner %d:%d, want 0:0 (root)", sys.Uid, sys.Gid))
	}
	got, err := os.ReadFile(p)
	if err != nil {
		return err.Error()
	}
	if !bytes.Equal(got, want.Content) {
		problems = append(problems, "content differs: "+firstDifference(want.Content, got))
	}
	return strings.Join(problems, "; ")
}

// firstDifference shows the first line where got departs from want.
func firstDifference(want, got []byte) string {
	wl, gl := strings.SplitAfter(string(want), "\n"), strings.SplitAfter(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("%d bytes, want %d; line %d is %s, want %s", len(got), len(want), i+1, clip(g), clip(w))
		}
	}
	return fmt.Sprintf("%d bytes, want %d", len(got), len(want))
}

func clip(s string) string {
	if s == "" {
		return "<end of file>"
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// checkEnabled compares the units config.ign marks enabled with Ignition's
// preset file and with the systemctl enable lines of cloud-init's rendered
// runcmd script.
func (n *applyNode) checkEnabled(ign *consumers.IgnitionResult, ci *consumers.CloudInitResult) []string {
	var cfg struct {
		Systemd struct {
			Units []struct {
				Name    string `json:"name"`
				Enabled *bool  `json:"enabled"`
			} `json:"units"`
		} `json:"systemd"`
	}
	if err := json.Unmarshal(n.ign, &cfg); err != nil {
		return []string{"config.ign: " + err.Error()}
	}
	var want []string
	for _, u := range cfg.Systemd.Units {
		if u.Enabled != nil && *u.Enabled {
			want = append(want, u.Name)
		}
	}
	slices.Sort(want)

	var problems []string
	enable, disable, err := ign.Presets()
	switch {
	case err != nil:
		problems = append(problems, "ignition: "+err.Error())
	case !slices.Equal(enable, want) || len(disable) > 0:
		problems = append(problems, fmt.Sprintf("ignition: %s enables %v and disables %v, want enabled %v",
			consumers.PresetFile, enable, disable, want))
	}

	script, err := os.ReadFile(ci.InstanceFile("", "scripts/runcmd"))
	if err != nil {
		return append(problems, "cloud-init: rendered runcmd: "+err.Error())
	}
	var enabled []string
	for _, line := range strings.Split(string(script), "\n") {
		var args []string
		for _, f := range strings.Fields(line) {
			args = append(args, strings.Trim(f, `'"`))
		}
		if len(args) >= 3 && args[0] == "systemctl" && args[1] == "enable" {
			for _, a := range args[2:] {
				if !strings.HasPrefix(a, "-") {
					enabled = append(enabled, a)
				}
			}
		}
	}
	slices.Sort(enabled)
	if !slices.Equal(enabled, want) {
		problems = append(problems, fmt.Sprintf("cloud-init: runcmd enables %v, want %v", enabled, want))
	}
	return problems
}
