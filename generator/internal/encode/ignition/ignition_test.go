package ignition

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	butaneconfig "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	ign3_4 "github.com/coreos/ignition/v2/config/v3_4"
	ign3_5 "github.com/coreos/ignition/v2/config/v3_5"
	"github.com/vincent-petithory/dataurl"

	"github.com/ksgen/ksgen/generator/internal/fileset"
)

const pemCert = `-----BEGIN CERTIFICATE-----
MIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl
cm5ldGVzMB4XDTI0MDEwMTAwMDAwMFoXDTM0MDEwMTAwMDAwMFowFTETMBEGA1UE
AxMKa3ViZXJuZXRlczCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAMK+
-----END CERTIFICATE-----
`

const pemKey = `-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAwr5Qm0kq8yR7bQ0K9p3cZ2t1hQ0xJ3m+Zb9x0XyZ1aVf1Y2c
k8Jx0Yw2kq9R5m3lQ+/=
-----END RSA PRIVATE KEY-----
`

const script = `#!/bin/bash
# ksgen bootstrap: runs once.
set -euo pipefail
[ -e /var/lib/ksgen/done ] && exit 0   
for i in $(seq 1 30); do
	if kubeadm join --config /etc/kubernetes/kubeadm.yaml; then break; fi
	sleep "$((i * 2))"
done
echo 'done: "quoted" \backslash' > /var/lib/ksgen/done
`

const bootstrapUnit = `[Unit]
Description=ksgen bootstrap
After=network-online.target containerd.service
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/bin/ksgen-bootstrap.sh

[Install]
WantedBy=multi-user.target
`

const kubeadmDropIn = `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_EXTRA_ARGS
`

// largeText is about 20 KiB of compressible, line-oriented text.
func largeText() []byte {
	var b strings.Builder
	for i := 0; b.Len() < 20*1024; i++ {
		fmt.Fprintf(&b, "10.0.%d.%d node%04d.cluster.local node%04d # line %d\n", i/250, i%250, i, i, i)
	}
	return []byte(b.String())
}

// binaryBytes holds every byte value, CR LF, and invalid UTF-8.
func binaryBytes() []byte {
	b := make([]byte, 0, 300)
	for i := 0; i < 256; i++ {
		b = append(b, byte(i))
	}
	return append(b, "\r\n\xff\xfe tail"...)
}

// fixture is a representative worker-like payload, all root-owned (the
// default fixture must boot on an image where only root is known).
func fixture() *fileset.Set {
	n := &fileset.Set{Name: "node1"}
	n.AddFile(fileset.File{Path: "/etc/kubernetes/pki/ca.crt", Mode: fileset.ModePublic, Content: []byte(pemCert)})
	n.AddFile(fileset.File{Path: "/etc/kubernetes/pki/ca.key", Mode: fileset.ModeSecret, Content: []byte(pemKey)})
	n.AddFile(fileset.File{Path: "/usr/local/bin/ksgen-bootstrap.sh", Mode: fileset.ModeExec, Content: []byte(script)})
	n.AddFile(fileset.File{Path: "/etc/ksgen/hosts.txt", Mode: fileset.ModePublic, Content: largeText()})
	n.AddFile(fileset.File{Path: "/etc/ksgen/blob.bin", Mode: fileset.ModeSecret, Content: binaryBytes()})
	n.AddFile(fileset.File{Path: "/etc/ksgen/crlf.txt", Mode: fileset.ModePublic, Content: []byte("a\r\nb\r\n")})
	n.AddFile(fileset.File{Path: "/etc/ksgen/empty", Mode: fileset.ModePublic, Content: []byte{}})
	n.AddFile(fileset.File{Path: "/etc/hostname", Mode: fileset.ModePublic, Content: []byte("node1")})
	n.AddFile(fileset.File{Path: "/etc/ksgen/unicode.txt", Mode: fileset.ModePublic, Content: []byte("  leading spaces, tab\tand ünïcødé ✓\n\n\n")})
	n.AddUnit(fileset.Unit{Name: "ksgen-bootstrap.service", Enabled: true, Contents: bootstrapUnit})
	n.AddUnit(fileset.Unit{Name: "kubelet.service", Enabled: true, DropIns: []fileset.DropIn{{Name: "10-kubeadm.conf", Contents: kubeadmDropIn}}})
	n.AddUnit(fileset.Unit{Name: "containerd.service", DropIns: []fileset.DropIn{{Name: "20-ksgen.conf", Contents: "[Service]\nLimitNOFILE=1048576\n"}}})
	n.Users = append(n.Users, fileset.User{
		Name:   "core",
		Groups: []string{"wheel"},
		SSHAuthorizedKeys: []string{
			"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBz7bQ5Kq0l0m5yQe9W0yCk0Lq6s0oYb0m6a2Qk7x9Zr ops@example",
			"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7y2yEo0l5E4wq admin@example",
		},
	})
	return n
}

// ignConfig is the part of Ignition 3.4/3.5 the tests inspect; both versions
// share these fields.
type ignConfig struct {
	Ignition struct {
		Version string `json:"version"`
	} `json:"ignition"`
	Passwd struct {
		Users []struct {
			Name              string   `json:"name"`
			Groups            []string `json:"groups"`
			SSHAuthorizedKeys []string `json:"sshAuthorizedKeys"`
			PasswordHash      *string  `json:"passwordHash"`
		} `json:"users"`
	} `json:"passwd"`
	Storage struct {
		Files []struct {
			Path      string `json:"path"`
			Mode      *int   `json:"mode"`
			Overwrite *bool  `json:"overwrite"`
			User      struct {
				Name *string `json:"name"`
			} `json:"user"`
			Group struct {
				Name *string `json:"name"`
			} `json:"group"`
			Contents struct {
				Source      *string `json:"source"`
				Compression *string `json:"compression"`
			} `json:"contents"`
		} `json:"files"`
	} `json:"storage"`
	Systemd struct {
		Units []struct {
			Name     string  `json:"name"`
			Enabled  *bool   `json:"enabled"`
			Contents *string `json:"contents"`
			Dropins  []struct {
				Name     string  `json:"name"`
				Contents *string `json:"contents"`
			} `json:"dropins"`
		} `json:"units"`
	} `json:"systemd"`
}

func decodeIgn(t *testing.T, ign []byte) ignConfig {
	t.Helper()
	var c ignConfig
	if err := json.Unmarshal(ign, &c); err != nil {
		t.Fatalf("decode ignition: %v", err)
	}
	return c
}

// fileData decodes a contents.source data URL, gunzipping when compressed.
func fileData(t *testing.T, path string, source, compression *string) []byte {
	t.Helper()
	if source == nil {
		return []byte{}
	}
	u, err := dataurl.DecodeString(*source)
	if err != nil {
		t.Fatalf("%s: data URL: %v", path, err)
	}
	data := u.Data
	if compression != nil && *compression == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: gunzip: %v", path, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: gunzip: %v", path, err)
		}
	} else if compression != nil && *compression != "" {
		t.Fatalf("%s: unexpected compression %q", path, *compression)
	}
	return data
}

// parseIgn runs Ignition's own parser for the version and requires a clean report.
func parseIgn(t *testing.T, version string, ign []byte) {
	t.Helper()
	var err error
	var rpt fmt.Stringer
	switch version {
	case "3.5.0":
		_, r, e := ign3_5.Parse(ign)
		rpt, err = r, e
		if len(r.Entries) > 0 {
			t.Errorf("ignition 3.5 parse report not empty:\n%s", r)
		}
	case "3.4.0":
		_, r, e := ign3_4.Parse(ign)
		rpt, err = r, e
		if len(r.Entries) > 0 {
			t.Errorf("ignition 3.4 parse report not empty:\n%s", r)
		}
	default:
		t.Fatalf("no parser for %s", version)
	}
	if err != nil {
		t.Fatalf("ignition parse: %v\n%s", err, rpt)
	}
}

func gzipSize(b []byte) int {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Len()
}

func TestEncode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		variant     string
		wantVersion string
		wantHeader  string
	}{
		{name: "default is fcos", variant: "", wantVersion: "3.5.0", wantHeader: "variant: fcos\n"},
		{name: "fcos", variant: VariantFCOS, wantVersion: "3.5.0", wantHeader: "variant: fcos\n"},
		{name: "flatcar", variant: VariantFlatcar, wantVersion: "3.4.0", wantHeader: "variant: flatcar\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := fixture()
			before := fixture()
			bu, ign, err := Encode(n, Options{Variant: tt.variant})
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !reflect.DeepEqual(n, before) {
				t.Errorf("Encode modified its input")
			}
			if !strings.Contains(string(bu), tt.wantHeader) {
				t.Errorf("config.bu lacks %q:\n%s", tt.wantHeader, bu)
			}
			parseIgn(t, tt.wantVersion, ign)
			c := decodeIgn(t, ign)
			if c.Ignition.Version != tt.wantVersion {
				t.Errorf("ignition.version = %q, want %q", c.Ignition.Version, tt.wantVersion)
			}

			// The Butane source is the real source: Butane turns it into the same bytes.
			again, rpt, err := butaneconfig.TranslateBytes(bu, common.TranslateBytesOptions{})
			if err != nil || len(rpt.Entries) > 0 {
				t.Fatalf("re-translate config.bu: %v\n%s", err, rpt)
			}
			if !bytes.Equal(again, ign) {
				t.Errorf("re-translated config.bu differs from config.ign:\n%s\n%s", again, ign)
			}

			// Every file decodes to exactly the payload content, with its mode.
			got := map[string]bool{}
			compressed := 0
			for _, f := range c.Storage.Files {
				got[f.Path] = true
				if f.Contents.Compression != nil && *f.Contents.Compression == "gzip" {
					compressed++
				}
				if f.Overwrite == nil || !*f.Overwrite {
					t.Errorf("%s: overwrite not set", f.Path)
				}
				if f.User.Name != nil || f.Group.Name != nil {
					t.Errorf("%s: root-owned file has owner %v:%v", f.Path, f.User.Name, f.Group.Name)
				}
			}
			for _, want := range n.Files {
				if !got[want.Path] {
					t.Errorf("file %s missing", want.Path)
				}
				for _, f := range c.Storage.Files {
					if f.Path != want.Path {
						continue
					}
					data := fileData(t, f.Path, f.Contents.Source, f.Contents.Compression)
					if !bytes.Equal(data, want.Content) {
						t.Errorf("%s: content differs (%d bytes, want %d)", f.Path, len(data), len(want.Content))
					}
					if f.Mode == nil || fs.FileMode(*f.Mode) != want.Mode {
						t.Errorf("%s: mode %v, want %v", f.Path, f.Mode, want.Mode)
					}
				}
			}
			if len(c.Storage.Files) != len(n.Files) {
				t.Errorf("%d files, want %d", len(c.Storage.Files), len(n.Files))
			}
			if compressed == 0 {
				t.Errorf("no file was gzip-compressed; the 20 KiB text should be")
			}

			// Units, drop-ins and enablement.
			units := map[string]int{}
			for i, u := range c.Systemd.Units {
				units[u.Name] = i
			}
			for _, want := range n.Units {
				i, ok := units[want.Name]
				if !ok {
					t.Errorf("unit %s missing", want.Name)
					continue
				}
				u := c.Systemd.Units[i]
				if gotEnabled := u.Enabled != nil && *u.Enabled; gotEnabled != want.Enabled {
					t.Errorf("unit %s: enabled %v, want %v", want.Name, gotEnabled, want.Enabled)
				}
				if u.Enabled != nil && !*u.Enabled {
					t.Errorf("unit %s: enabled:false would disable an image unit", want.Name)
				}
				switch {
				case want.Contents == "" && u.Contents != nil:
					t.Errorf("unit %s: drop-in-only unit has contents", want.Name)
				case want.Contents != "" && (u.Contents == nil || *u.Contents != want.Contents):
					t.Errorf("unit %s: contents differ", want.Name)
				}
				if len(u.Dropins) != len(want.DropIns) {
					t.Errorf("unit %s: %d drop-ins, want %d", want.Name, len(u.Dropins), len(want.DropIns))
					continue
				}
				for j, d := range want.DropIns {
					if u.Dropins[j].Name != d.Name || u.Dropins[j].Contents == nil || *u.Dropins[j].Contents != d.Contents {
						t.Errorf("unit %s: drop-in %s differs", want.Name, d.Name)
					}
				}
			}

			// Users and keys, never a password.
			if len(c.Passwd.Users) != 1 || c.Passwd.Users[0].Name != "core" {
				t.Fatalf("users = %+v", c.Passwd.Users)
			}
			if u := c.Passwd.Users[0]; !reflect.DeepEqual(u.SSHAuthorizedKeys, n.Users[0].SSHAuthorizedKeys) || !reflect.DeepEqual(u.Groups, n.Users[0].Groups) || u.PasswordHash != nil {
				t.Errorf("user core = %+v", u)
			}

			// Deterministic: a second call, and a shuffled input, give the same bytes.
			bu2, ign2, err := Encode(fixture(), Options{Variant: tt.variant})
			if err != nil || !bytes.Equal(bu, bu2) || !bytes.Equal(ign, ign2) {
				t.Errorf("second Encode differs (err %v)", err)
			}
			shuffled := fixture()
			reverse(shuffled.Files)
			reverse(shuffled.Units)
			_, ign3, err := Encode(shuffled, Options{Variant: tt.variant})
			if err != nil || !bytes.Equal(ign, ign3) {
				t.Errorf("Encode depends on input order (err %v)", err)
			}

			var raw int
			for _, f := range n.Files {
				raw += len(f.Content)
			}
			t.Logf("%s: payload %d B raw; config.bu %d B; config.ign %d B, %d B gzip", tt.name, raw, len(bu), len(ign), gzipSize(ign))
		})
	}
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// TestEncodeButaneReadable checks that config.bu reads like hand-written Butane.
func TestEncodeButaneReadable(t *testing.T) {
	t.Parallel()
	bu, _, err := Encode(fixture(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"version: 1.6.0\n",
		"- path: /etc/kubernetes/pki/ca.key\n",
		"mode: 0600\n",
		"mode: 0755\n",
		"inline: |\n",
		"-----BEGIN CERTIFICATE-----",
		"- name: kubelet.service\n",
		"ssh_authorized_keys:\n",
	} {
		if !strings.Contains(string(bu), want) {
			t.Errorf("config.bu lacks %q", want)
		}
	}
	for _, unwanted := range []string{"null", "{}", "[]", "boot_device", "kernel_arguments"} {
		if strings.Contains(string(bu), unwanted) {
			t.Errorf("config.bu contains %q", unwanted)
		}
	}
}

func TestEncodeOwnership(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		owner, group      string
		wantUser, wantGrp string
	}{
		{name: "root implicit", wantUser: "", wantGrp: ""},
		{name: "root explicit", owner: "root", group: "root", wantUser: "", wantGrp: ""},
		{name: "core:core", owner: "core", group: "core", wantUser: "core", wantGrp: "core"},
		{name: "owner only", owner: "etcd", wantUser: "etcd", wantGrp: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := &fileset.Set{Name: "n"}
			n.AddFile(fileset.File{Path: "/home/core/.config/x", Mode: 0o640, Owner: tt.owner, Group: tt.group, Content: []byte("x\n")})
			_, ign, err := Encode(n, Options{})
			if err != nil {
				t.Fatal(err)
			}
			parseIgn(t, "3.5.0", ign)
			f := decodeIgn(t, ign).Storage.Files[0]
			if got := deref(f.User.Name); got != tt.wantUser {
				t.Errorf("user.name = %q, want %q", got, tt.wantUser)
			}
			if got := deref(f.Group.Name); got != tt.wantGrp {
				t.Errorf("group.name = %q, want %q", got, tt.wantGrp)
			}
		})
	}
}

func TestEncodeSnippet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		variant     string
		snippet     string
		wantVersion string
	}{
		{
			name: "fcos 1.6.0", variant: VariantFCOS, wantVersion: "3.5.0",
			snippet: `variant: fcos
version: 1.6.0
storage:
  files:
    - path: /etc/motd
      mode: 0644
      contents:
        inline: hello from the snippet
    - path: /etc/hostname
      contents:
        inline: renamed
systemd:
  units:
    - name: ksgen-bootstrap.service
      enabled: false
    - name: kubelet.service
      dropins:
        - name: 20-extra.conf
          contents: |
            [Service]
            Environment=EXTRA=1
`,
		},
		{
			name: "older fcos version is upgraded", variant: VariantFCOS, wantVersion: "3.5.0",
			snippet: `variant: fcos
version: 1.4.0
storage:
  files:
    - path: /etc/motd
      contents:
        inline: hello from the snippet
systemd:
  units:
    - name: ksgen-bootstrap.service
      enabled: false
    - name: kubelet.service
      dropins:
        - name: 20-extra.conf
          contents: "[Service]\nEnvironment=EXTRA=1\n"
    - name: containerd.service
      enabled: true
`,
		},
		{
			name: "flatcar 1.1.0", variant: VariantFlatcar, wantVersion: "3.4.0",
			snippet: `variant: flatcar
version: 1.1.0
storage:
  files:
    - path: /etc/motd
      contents:
        inline: hello from the snippet
systemd:
  units:
    - name: ksgen-bootstrap.service
      enabled: false
    - name: kubelet.service
      dropins:
        - name: 20-extra.conf
          contents: "[Service]\nEnvironment=EXTRA=1\n"
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			buPlain, _, err := Encode(fixture(), Options{Variant: tt.variant})
			if err != nil {
				t.Fatal(err)
			}
			bu, ign, err := Encode(fixture(), Options{Variant: tt.variant, Snippet: []byte(tt.snippet)})
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(bu, buPlain) {
				t.Errorf("snippet leaked into config.bu")
			}
			parseIgn(t, tt.wantVersion, ign)
			c := decodeIgn(t, ign)
			if c.Ignition.Version != tt.wantVersion {
				t.Errorf("version %q, want %q (parent wins)", c.Ignition.Version, tt.wantVersion)
			}
			files := map[string][]byte{}
			for _, f := range c.Storage.Files {
				files[f.Path] = fileData(t, f.Path, f.Contents.Source, f.Contents.Compression)
			}
			if got := string(files["/etc/motd"]); got != "hello from the snippet" {
				t.Errorf("/etc/motd = %q", got)
			}
			if strings.Contains(tt.snippet, "inline: renamed") {
				if got := string(files["/etc/hostname"]); got != "renamed" {
					t.Errorf("/etc/hostname = %q, want the child's", got)
				}
			}
			if got := string(files["/etc/kubernetes/pki/ca.crt"]); got != pemCert {
				t.Errorf("generated file lost in merge")
			}
			if len(files) != len(fixture().Files)+1 {
				t.Errorf("%d files after merge, want %d", len(files), len(fixture().Files)+1)
			}
			for _, u := range c.Systemd.Units {
				switch u.Name {
				case "ksgen-bootstrap.service":
					if u.Enabled == nil || *u.Enabled {
						t.Errorf("snippet did not override enabled: %v", u.Enabled)
					}
					if u.Contents == nil || *u.Contents != bootstrapUnit {
						t.Errorf("override lost the parent's contents")
					}
				case "kubelet.service":
					var names []string
					for _, d := range u.Dropins {
						names = append(names, d.Name)
					}
					if strings.Join(names, ",") != "10-kubeadm.conf,20-extra.conf" {
						t.Errorf("kubelet drop-ins = %v", names)
					}
				}
			}
			_, again, err := Encode(fixture(), Options{Variant: tt.variant, Snippet: []byte(tt.snippet)})
			if err != nil || !bytes.Equal(ign, again) {
				t.Errorf("merged output not deterministic (err %v)", err)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		node    func() *fileset.Set
		opts    Options
		wantErr []string
	}{
		{
			name: "unknown variant", node: fixture, opts: Options{Variant: "rhcos"},
			wantErr: []string{`unknown variant "rhcos"`},
		},
		{
			name: "snippet is not yaml", node: fixture,
			opts:    Options{Snippet: []byte("variant: fcos\nversion: 1.6.0\nstorage: [\n")},
			wantErr: []string{"snippet"},
		},
		{
			name: "snippet of another variant", node: fixture,
			opts:    Options{Variant: VariantFlatcar, Snippet: []byte("variant: fcos\nversion: 1.6.0\n")},
			wantErr: []string{`snippet: variant "fcos", want "flatcar"`},
		},
		{
			name: "snippet without variant", node: fixture,
			opts:    Options{Snippet: []byte("storage:\n  files: []\n")},
			wantErr: []string{"snippet: variant \"\""},
		},
		{
			name: "snippet with unknown key", node: fixture,
			opts:    Options{Snippet: []byte("variant: fcos\nversion: 1.6.0\nstorage:\n  filez: []\n")},
			wantErr: []string{"snippet: butane translation", "filez"},
		},
		{
			name: "snippet warning is an error", node: fixture,
			opts:    Options{Snippet: []byte("variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n    - path: /etc/x\n      mode: 644\n      contents:\n        inline: x\n")},
			wantErr: []string{"snippet: butane translation", "report not empty", "octal"},
		},
		{
			name: "snippet newer than target", node: fixture,
			opts:    Options{Variant: VariantFlatcar, Snippet: []byte("variant: flatcar\nversion: 1.2.0-experimental\n")},
			wantErr: []string{"snippet"},
		},
		{
			name: "snippet needs local files", node: fixture,
			opts:    Options{Snippet: []byte("variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n    - path: /etc/x\n      contents:\n        local: x\n")},
			wantErr: []string{"snippet: butane translation"},
		},
		{
			name: "relative path",
			node: func() *fileset.Set {
				n := &fileset.Set{Name: "w1"}
				n.AddFile(fileset.File{Path: "etc/x", Mode: 0o644})
				return n
			},
			wantErr: []string{`file "etc/x"`},
		},
		{
			name: "setuid",
			node: func() *fileset.Set {
				n := &fileset.Set{Name: "w1"}
				n.AddFile(fileset.File{Path: "/usr/bin/x", Mode: 0o755 | fs.ModeSetuid})
				return n
			},
			wantErr: []string{"/usr/bin/x", "only permission bits"},
		},
		{
			name: "two files at one path",
			node: func() *fileset.Set {
				n := &fileset.Set{Name: "w1"}
				n.AddFile(fileset.File{Path: "/etc/x", Mode: 0o644})
				n.AddFile(fileset.File{Path: "/etc/x", Mode: 0o600})
				return n
			},
			wantErr: []string{"two files at /etc/x"},
		},
		{
			name: "enabled unit without install section (ignition warning)",
			node: func() *fileset.Set {
				n := &fileset.Set{Name: "w1"}
				n.AddUnit(fileset.Unit{Name: "x.service", Enabled: true, Contents: "[Service]\nExecStart=/bin/true\n"})
				return n
			},
			wantErr: []string{"butane translation", "report not empty"},
		},
		{
			name: "unit is also a file",
			node: func() *fileset.Set {
				n := &fileset.Set{Name: "w1"}
				n.AddFile(fileset.File{Path: "/etc/systemd/system/x.service", Mode: 0o644})
				n.AddUnit(fileset.Unit{Name: "x.service", Contents: "[Service]\nExecStart=/bin/true\n"})
				return n
			},
			wantErr: []string{"is also unit x.service"},
		},
		{
			name: "empty unit",
			node: func() *fileset.Set {
				n := &fileset.Set{Name: "w1"}
				n.AddUnit(fileset.Unit{Name: "x.service"})
				return n
			},
			wantErr: []string{"unit x.service: no contents"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Encode(tt.node(), tt.opts)
			if err == nil {
				t.Fatalf("Encode succeeded, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestIsText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "empty", in: "", want: true},
		{name: "pem", in: pemKey, want: true},
		{name: "tabs and unicode", in: "a\tb ✓\n", want: true},
		{name: "carriage return", in: "a\r\n", want: false},
		{name: "nul", in: "a\x00b", want: false},
		{name: "escape", in: "\x1b[0m", want: false},
		{name: "invalid utf-8", in: "\xff", want: false},
		{name: "bom", in: "\ufeffx", want: false},
		{name: "nel", in: "a\u0085b", want: false},
		{name: "line separator", in: "a\u2028b", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := fileset.IsText([]byte(tt.in)); got != tt.want {
				t.Errorf("isText(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
