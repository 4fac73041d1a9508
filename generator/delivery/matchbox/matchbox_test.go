package matchbox_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/delivery/matchbox"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-matchbox")

const goldenDir = "../../../testdata/golden-matchbox"

// The schema as matchbox documents it (docs/matchbox.md, "Groups" and
// "Profiles"): decoding with DisallowUnknownFields rejects any field
// matchbox does not know.
type docGroup struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Profile  string            `json:"profile"`
	Selector map[string]string `json:"selector"`
	Metadata map[string]any    `json:"metadata"`
}

type docProfile struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	IgnitionID string `json:"ignition_id"`
	GenericID  string `json:"generic_id"`
	Boot       struct {
		Kernel string   `json:"kernel"`
		Initrd []string `json:"initrd"`
		Args   []string `json:"args"`
	} `json:"boot"`
}

func strict(t *testing.T, name string, raw []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: not matchbox's schema: %v", name, err)
	}
}

func testIndex() *generator.Index {
	return &generator.Index{Nodes: []generator.NodeIndex{
		{Name: "master1", Roles: []string{"control-plane", "etcd"}, OS: "fcos", MAC: "52:54:00:A1:00:01"},
		{Name: "master2", Roles: []string{"control-plane", "etcd"}, OS: "fcos"},
		{Name: "node1", Roles: []string{"worker"}, OS: "flatcar", MAC: "52-54-00-a1-00-04"},
		{Name: "node2", Roles: []string{"worker"}, OS: "ubuntu", MAC: "52:54:00:a1:00:05"},
	}}
}

func ignition(host string) ([]byte, error) {
	return []byte(`{"ignition":{"version":"3.5.0"},"x":"` + host + `"}`), nil
}

func TestExport(t *testing.T) {
	files, warnings, err := matchbox.Export(testIndex(), ignition, matchbox.Options{URL: "http://matchbox.example:8080/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "host master2 gets no matchbox group: no MAC address") || !strings.Contains(warnings[1], "host node2 gets no matchbox group: OS ubuntu") {
		t.Errorf("warnings: %q", warnings)
	}
	got := map[string][]byte{}
	profiles := map[string]docProfile{}
	var groups []docGroup
	for _, f := range files {
		got[f.Path] = f.Content
		switch {
		case strings.HasPrefix(f.Path, "groups/"):
			var g docGroup
			strict(t, f.Path, f.Content, &g)
			groups = append(groups, g)
		case strings.HasPrefix(f.Path, "profiles/"):
			var p docProfile
			strict(t, f.Path, f.Content, &p)
			if filepath.Base(f.Path) != p.ID+".json" || p.Boot.Kernel == "" || len(p.Boot.Initrd) == 0 {
				t.Errorf("%s: %+v", f.Path, p)
			}
			profiles[p.ID] = p
		}
	}
	if len(groups) != 2 {
		t.Fatalf("groups: %+v", groups)
	}
	for _, g := range groups {
		p, ok := profiles[g.Profile]
		if !ok {
			t.Fatalf("group %s: profile %s not exported", g.ID, g.Profile)
		}
		if want, _ := ignition(g.ID); !bytes.Equal(got["ignition/"+p.IgnitionID], want) {
			t.Errorf("group %s: ignition/%s is not the host's config", g.ID, p.IgnitionID)
		}
		if !slices.Contains([]string{"52:54:00:a1:00:01", "52:54:00:a1:00:04"}, g.Selector["mac"]) {
			t.Errorf("group %s: selector %v", g.ID, g.Selector)
		}
		args := strings.Join(p.Boot.Args, " ")
		for _, want := range map[string][]string{
			"master1": {"coreos.inst.ignition_url=http://matchbox.example:8080/ignition?mac=${mac:hexhyp}", "coreos.inst.install_dev=/dev/sda", "coreos.live.rootfs_url=http://matchbox.example:8080/assets/fedora-coreos/", "ignition.platform.id=metal"},
			"node1":   {"ignition.config.url=http://matchbox.example:8080/ignition?mac=${mac:hexhyp}", "flatcar.first_boot=yes"},
		}[g.ID] {
			if !strings.Contains(args, want) {
				t.Errorf("group %s: args %q lack %q", g.ID, args, want)
			}
		}
		if ipxe := string(got["ipxe/"+g.ID+".ipxe"]); !strings.HasPrefix(ipxe, "#!ipxe\n") || !strings.Contains(ipxe, "http://matchbox.example:8080/ignition/"+g.ID+".ign") || !strings.HasSuffix(ipxe, "boot\n") {
			t.Errorf("ipxe/%s.ipxe:\n%s", g.ID, ipxe)
		}
	}

	if *update {
		if err := os.RemoveAll(goldenDir); err != nil {
			t.Fatal(err)
		}
		for path, content := range got {
			full := filepath.Join(goldenDir, path)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string][]byte{}
	err = filepath.WalkDir(goldenDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(goldenDir, path)
		want[filepath.ToSlash(rel)], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatalf("golden: %v (go test ./generator/delivery/matchbox -update)", err)
	}
	for path := range want {
		if _, ok := got[path]; !ok {
			t.Errorf("%s is golden but not exported", path)
		}
	}
	for path, content := range got {
		if !bytes.Equal(want[path], content) {
			t.Errorf("%s differs from %s (go test ./generator/delivery/matchbox -update):\n%s", path, goldenDir, content)
		}
	}
}

func TestBadMAC(t *testing.T) {
	idx := &generator.Index{Nodes: []generator.NodeIndex{{Name: "n", OS: "fcos", MAC: "nope"}}}
	if _, _, err := matchbox.Export(idx, ignition, matchbox.Options{URL: "http://m"}); err == nil || !strings.Contains(err.Error(), `host n: mac "nope"`) {
		t.Fatalf("err = %v", err)
	}
}

// An export that would boot no host fails, naming why each was left out;
// so does one without the server's URL (no placeholder is ever written).
func TestExportThatBootsNothingFails(t *testing.T) {
	idx := &generator.Index{Nodes: []generator.NodeIndex{
		{Name: "master1", Roles: []string{"control-plane"}, OS: "fcos"},
		{Name: "node1", Roles: []string{"worker"}, OS: "ubuntu", MAC: "52:54:00:a1:00:05"},
	}}
	_, _, err := matchbox.Export(idx, ignition, matchbox.Options{URL: "http://10.0.0.2:8080"})
	if err == nil || !strings.Contains(err.Error(), "no host can boot over PXE") ||
		!strings.Contains(err.Error(), "host master1 gets no matchbox group: no MAC address") || !strings.Contains(err.Error(), "host node1 gets no matchbox group: OS ubuntu") {
		t.Errorf("err = %v", err)
	}
	// Hosts skipped for one reason are one line with their count.
	idx = &generator.Index{Nodes: []generator.NodeIndex{
		{Name: "master1", Roles: []string{"control-plane"}, OS: "fcos"},
		{Name: "node1", Roles: []string{"worker"}, OS: "fcos"},
		{Name: "node2", Roles: []string{"worker"}, OS: "fcos"},
	}}
	_, _, err = matchbox.Export(idx, ignition, matchbox.Options{URL: "http://10.0.0.2:8080"})
	if want := "matchbox: no host can boot over PXE:\n3 hosts get no matchbox group (master1, node1, node2): no MAC address in the ksgen document (spec.hosts.NAME.mac)"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if _, _, err := matchbox.Export(testIndex(), ignition, matchbox.Options{}); err == nil || !strings.Contains(err.Error(), "--matchbox-url") {
		t.Errorf("no URL: err = %v", err)
	}
}
