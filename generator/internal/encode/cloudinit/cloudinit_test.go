package cloudinit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

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

// fixture is a representative worker-like payload, all root-owned.
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
	n.AddFile(fileset.File{Path: "/etc/ksgen/yes", Mode: fileset.ModePublic, Content: []byte("yes")})
	n.AddFile(fileset.File{Path: "/etc/ksgen/unicode.txt", Mode: fileset.ModePublic, Content: []byte("  leading spaces, tab\tand ünïcødé ✓\n\n\n")})
	n.AddUnit(fileset.Unit{Name: "ksgen-bootstrap.service", Enabled: true, Contents: bootstrapUnit})
	n.AddUnit(fileset.Unit{Name: "kubelet.service", Enabled: true, DropIns: []fileset.DropIn{{Name: "10-kubeadm.conf", Contents: kubeadmDropIn}}})
	n.AddUnit(fileset.Unit{Name: "containerd.service", DropIns: []fileset.DropIn{{Name: "20-ksgen.conf", Contents: "[Service]\nLimitNOFILE=1048576\n"}}})
	n.Users = append(n.Users, fileset.User{
		Name:   "core",
		Groups: []string{"sudo", "adm"},
		SSHAuthorizedKeys: []string{
			"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBz7bQ5Kq0l0m5yQe9W0yCk0Lq6s0oYb0m6a2Qk7x9Zr ops@example",
			"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7y2yEo0l5E4wq admin@example",
		},
	})
	return n
}

// schemaKeys22_4 are the top-level keys of cloud-init 22.4.2's schema
// (cloudinit.config.schema.get_schema()) plus the base-config keys it does not
// describe. Kept here, independent of the package's list.
var schemaKeys22_4 = strings.Fields(`
allow_public_ssh_keys ansible apk_repos apt apt_pipelining apt_reboot_if_required
apt_update apt_upgrade authkey_hash autoinstall bootcmd byobu_by_default ca-certs ca_certs
chef chpasswd cloud_config_modules cloud_final_modules cloud_init_modules device_aliases
disable_ec2_metadata disable_root disable_root_opts disk_setup drivers fan final_message
fqdn fs_setup groups growpart grub-dpkg grub_dpkg hostname keyboard landscape locale
locale_configfile lxd manage_etc_hosts manage_resolv_conf mcollective migrate
mount_default_fields mounts no_ssh_fingerprints ntp package_reboot_if_required
package_update package_upgrade packages password phone_home power_state
prefer_fqdn_over_hostname preserve_hostname puppet random_seed reporting resize_rootfs
resolv_conf rh_subscription rsyslog runcmd salt_minion snap spacewalk ssh
ssh_authorized_keys ssh_deletekeys ssh_fp_console_blacklist ssh_genkeytypes ssh_import_id
ssh_key_console_blacklist ssh_keys ssh_publish_hostkeys ssh_pwauth ssh_quiet_keygen swap
timezone ubuntu_advantage updates user users vendor_data wireguard write_files
yum_repo_dir yum_repos zypper
merge_how merge_type system_info datasource datasource_list network output log_cfg
log_cfgs def_log_file syslog_fix_perms manual_cache_clean vendor_data2 debug launch-index`)

type cloudConfig struct {
	WriteFiles []struct {
		Path        string `yaml:"path"`
		Owner       string `yaml:"owner"`
		Permissions string `yaml:"permissions"`
		Encoding    string `yaml:"encoding"`
		Content     string `yaml:"content"`
		Defer       *bool  `yaml:"defer"`
	} `yaml:"write_files"`
	Users  []any `yaml:"users"`
	Runcmd []any `yaml:"runcmd"`
}

func decode(t *testing.T, out []byte) (cloudConfig, map[string]any) {
	t.Helper()
	if !bytes.HasPrefix(out, []byte("#cloud-config\n")) {
		t.Fatalf("output does not start with #cloud-config:\n%.80s", out)
	}
	var c cloudConfig
	if err := yaml.Unmarshal(out, &c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(out, &top); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return c, top
}

// content decodes one write_files entry as cloud-init's cc_write_files does.
func content(t *testing.T, path, encoding, s string) []byte {
	t.Helper()
	switch encoding {
	case "", "text/plain":
		return []byte(s)
	case "b64":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("%s: base64: %v", path, err)
		}
		return b
	case "gz+b64":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("%s: base64: %v", path, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: gunzip: %v", path, err)
		}
		if zr.Header.Name != "" || !zr.Header.ModTime.IsZero() {
			t.Errorf("%s: gzip header not empty: %+v", path, zr.Header)
		}
		d, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: gunzip: %v", path, err)
		}
		return d
	}
	t.Fatalf("%s: unexpected encoding %q", path, encoding)
	return nil
}

// wantFiles is every file the node must receive: payload files and unit files.
func wantFiles(n *fileset.Set) map[string]fileset.File {
	m := map[string]fileset.File{}
	for _, f := range append(append([]fileset.File(nil), n.Files...), n.UnitFiles()...) {
		if !f.Remote() { // downloaded by runcmd, not in write_files
			m[f.Path] = f
		}
	}
	return m
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
	n := fixture()
	out, err := Encode(n, Options{})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if !reflect.DeepEqual(n, fixture()) {
		t.Errorf("Encode modified its input")
	}
	c, top := decode(t, out)

	t.Run("write_files round-trip", func(t *testing.T) {
		t.Parallel()
		want := wantFiles(n)
		if len(c.WriteFiles) != len(want) {
			t.Errorf("%d write_files, want %d", len(c.WriteFiles), len(want))
		}
		var paths []string
		encodings := map[string]int{}
		for _, w := range c.WriteFiles {
			paths = append(paths, w.Path)
			f, ok := want[w.Path]
			if !ok {
				t.Errorf("unexpected file %s", w.Path)
				continue
			}
			if got := content(t, w.Path, w.Encoding, w.Content); !bytes.Equal(got, f.Content) {
				t.Errorf("%s: content differs (%d bytes, want %d)", w.Path, len(got), len(f.Content))
			}
			if wantPerm := fmt.Sprintf("%04o", uint32(f.Mode)); w.Permissions != wantPerm {
				t.Errorf("%s: permissions %q, want %q", w.Path, w.Permissions, wantPerm)
			}
			if w.Owner != "" { // write_files' default, root:root
				t.Errorf("%s: owner %q, want it left to the root:root default", w.Path, w.Owner)
			}
			if w.Defer != nil && *w.Defer {
				t.Errorf("%s: root-owned file deferred past runcmd's users", w.Path)
			}
			encodings[w.Encoding]++
		}
		if !sort.StringsAreSorted(paths) {
			t.Errorf("write_files not sorted by path: %v", paths)
		}
		for _, e := range []string{"", "b64", "gz+b64"} {
			if encodings[e] == 0 {
				t.Errorf("no file used encoding %q (fixture should exercise it): %v", e, encodings)
			}
		}
		for _, p := range []string{`permissions: "0600"`, `permissions: "0644"`, `permissions: "0755"`} {
			if !bytes.Contains(out, []byte(p)) {
				t.Errorf("output lacks quoted octal %s", p)
			}
		}
	})

	t.Run("runcmd enables exactly the enabled units", func(t *testing.T) {
		t.Parallel()
		want := []any{
			[]any{"systemctl", "daemon-reload"},
			[]any{"systemctl", "enable", "--now", "--no-block", "ksgen-bootstrap.service"},
			[]any{"systemctl", "enable", "--now", "--no-block", "kubelet.service"},
		}
		if !reflect.DeepEqual(c.Runcmd, want) {
			t.Errorf("runcmd = %v, want %v", c.Runcmd, want)
		}
	})

	t.Run("users", func(t *testing.T) {
		t.Parallel()
		want := []any{
			"default",
			map[string]any{
				"name":                "core",
				"groups":              []any{"sudo", "adm"},
				"lock_passwd":         true,
				"ssh_authorized_keys": []any{n.Users[0].SSHAuthorizedKeys[0], n.Users[0].SSHAuthorizedKeys[1]},
			},
		}
		if !reflect.DeepEqual(c.Users, want) {
			t.Errorf("users = %#v, want %#v", c.Users, want)
		}
		walkKeys(top, func(k string) {
			switch k {
			case "passwd", "hashed_passwd", "plain_text_passwd", "password", "chpasswd", "ssh_pwauth":
				t.Errorf("output sets %s", k)
			}
		})
	})

	t.Run("only schema keys", func(t *testing.T) {
		t.Parallel()
		checkKeys(t, top)
	})

	t.Run("deterministic", func(t *testing.T) {
		t.Parallel()
		again, err := Encode(fixture(), Options{})
		if err != nil || !bytes.Equal(out, again) {
			t.Errorf("second Encode differs (err %v)", err)
		}
		shuffled := fixture()
		reverse(shuffled.Files)
		reverse(shuffled.Units)
		again, err = Encode(shuffled, Options{})
		if err != nil || !bytes.Equal(out, again) {
			t.Errorf("Encode depends on input order (err %v)", err)
		}
	})

	var raw int
	for _, f := range n.Files {
		raw += len(f.Content)
	}
	t.Logf("payload %d B raw; user-data %d B, %d B gzip", raw, len(out), gzipSize(out))
}

// walkKeys calls fn for every mapping key in v, at any depth.
func walkKeys(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			fn(k)
			walkKeys(c, fn)
		}
	case []any:
		for _, c := range v {
			walkKeys(c, fn)
		}
	}
}

func checkKeys(t *testing.T, top map[string]any) {
	t.Helper()
	known := map[string]bool{}
	for _, k := range schemaKeys22_4 {
		known[k] = true
	}
	for k := range top {
		if !known[k] {
			t.Errorf("top-level key %q is not in cloud-init 22.4's schema", k)
		}
	}
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func TestEncodeContent(t *testing.T) {
	t.Parallel()
	rnd := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(rnd)
	tests := []struct {
		name     string
		content  []byte
		encoding string
	}{
		{name: "empty", content: []byte{}, encoding: ""},
		{name: "short text", content: []byte("hello\n"), encoding: ""},
		{name: "looks like a bool", content: []byte("yes"), encoding: ""},
		{name: "looks like octal", content: []byte("0644"), encoding: ""},
		{name: "trailing spaces", content: []byte("a  \nb\n"), encoding: ""},
		{name: "yaml document marker", content: []byte("---\n...\n"), encoding: ""},
		{name: "small text above threshold, not worth gzip", content: []byte(randText(1200)), encoding: ""},
		{name: "large text", content: largeText(), encoding: "gz+b64"},
		{name: "binary", content: binaryBytes(), encoding: "b64"},
		{name: "carriage returns", content: []byte("a\r\nb\r\n"), encoding: "b64"},
		{name: "nul", content: []byte("a\x00b"), encoding: "b64"},
		{name: "incompressible binary", content: rnd, encoding: "b64"},
		{name: "compressible binary", content: bytes.Repeat([]byte{0, 1, 2, 0xff}, 2048), encoding: "gz+b64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := &fileset.Set{Name: "n"}
			n.AddFile(fileset.File{Path: "/etc/x", Mode: 0o640, Content: tt.content})
			out, err := Encode(n, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := decode(t, out)
			w := c.WriteFiles[0]
			if w.Encoding != tt.encoding {
				t.Errorf("encoding %q, want %q", w.Encoding, tt.encoding)
			}
			if got := content(t, w.Path, w.Encoding, w.Content); !bytes.Equal(got, tt.content) {
				t.Errorf("content differs")
			}
			if w.Permissions != "0640" {
				t.Errorf("permissions %q", w.Permissions)
			}
			if _, ok := map[string]bool{"": true, "b64": true, "gz+b64": true}[w.Encoding]; !ok {
				t.Errorf("encoding %q", w.Encoding)
			}
		})
	}
}

// randText is n bytes of incompressible printable text.
func randText(n int) string {
	r := rand.New(rand.NewSource(2))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}

func TestEncodeOwnership(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, owner, group string
		wantOwner          string
		wantDefer          bool
	}{
		{name: "root implicit", wantOwner: "root:root"},
		{name: "root explicit", owner: "root", group: "root", wantOwner: "root:root"},
		{name: "core:core", owner: "core", group: "core", wantOwner: "core:core", wantDefer: true},
		{name: "group only", group: "etcd", wantOwner: "root:etcd", wantDefer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := &fileset.Set{Name: "n"}
			n.AddFile(fileset.File{Path: "/home/core/.config/x", Mode: 0o600, Owner: tt.owner, Group: tt.group, Content: []byte("x\n")})
			out, err := Encode(n, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := decode(t, out)
			w := c.WriteFiles[0]
			if want := strings.TrimPrefix(tt.wantOwner, "root:root"); w.Owner != want {
				t.Errorf("owner %q, want %q", w.Owner, tt.wantOwner)
			}
			if gotDefer := w.Defer != nil && *w.Defer; gotDefer != tt.wantDefer {
				t.Errorf("defer %v, want %v", gotDefer, tt.wantDefer)
			}
		})
	}
}

func TestEncodeSnippet(t *testing.T) {
	t.Parallel()
	base, err := Encode(fixture(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := decode(t, base)
	snippet := `#cloud-config
# operator additions
package_update: true
packages: [jq, nfs-common]
write_files:
  - path: /etc/motd
    content: &motd |
      hello from the snippet
runcmd:
  - echo snippet
users:
  - name: ops
    ssh_authorized_keys: [ssh-ed25519 AAAA ops]
bootcmd:
  - [sh, -c, *motd]
`
	out, err := Encode(fixture(), Options{Snippet: []byte(snippet)})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	c, top := decode(t, out)
	checkKeys(t, top)
	if n := bytes.Count(out, []byte("#cloud-config")); n != 1 {
		t.Errorf("header appears %d times", n)
	}
	if bytes.Contains(out, []byte("operator additions")) || bytes.Contains(out, []byte("&motd")) || bytes.Contains(out, []byte("*motd")) {
		t.Errorf("comments or anchors leaked into the output:\n%s", out)
	}
	if len(c.WriteFiles) != len(bc.WriteFiles)+1 || c.WriteFiles[len(c.WriteFiles)-1].Path != "/etc/motd" {
		t.Errorf("write_files not appended after the generated ones")
	}
	var raw struct {
		Runcmd   []any    `yaml:"runcmd"`
		Users    []any    `yaml:"users"`
		Packages []string `yaml:"packages"`
		Update   bool     `yaml:"package_update"`
		Bootcmd  [][]string
	}
	if err := yaml.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Runcmd) != len(bc.Runcmd)+1 || raw.Runcmd[len(raw.Runcmd)-1] != "echo snippet" {
		t.Errorf("runcmd = %v", raw.Runcmd)
	}
	if len(raw.Users) != 3 || raw.Users[0] != "default" {
		t.Errorf("users = %v", raw.Users)
	}
	if !raw.Update || !reflect.DeepEqual(raw.Packages, []string{"jq", "nfs-common"}) {
		t.Errorf("package keys = %v %v", raw.Update, raw.Packages)
	}
	again, err := Encode(fixture(), Options{Snippet: []byte(snippet)})
	if err != nil || !bytes.Equal(out, again) {
		t.Errorf("merged output not deterministic (err %v)", err)
	}
	if empty, err := Encode(fixture(), Options{Snippet: []byte("#cloud-config\n")}); err != nil || !bytes.Equal(empty, base) {
		t.Errorf("an empty snippet changed the output (err %v)", err)
	}
}

// TestMergeMapping pins the merge rules on small documents.
func TestMergeMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dst, src, want, wantErr string
	}{
		{name: "new key appended", dst: "a: 1\n", src: "b: 2\n", want: "a: 1\nb: 2\n"},
		{name: "lists appended", dst: "a: [1, 2]\n", src: "a: [3]\n", want: "a: [1, 2, 3]\n"},
		{name: "maps merged recursively", dst: "a: {x: 1, y: {p: 1}}\n", src: "a: {y: {q: 2}, z: 3}\n", want: "a: {x: 1, y: {p: 1, q: 2}, z: 3}\n"},
		{name: "snippet scalar wins", dst: "a: 1\nb: x\n", src: "a: 2\n", want: "a: 2\nb: x\n"},
		{name: "list meets scalar", dst: "a: [1]\n", src: "a: 1\n", wantErr: "a: cannot merge a scalar into the generated list"},
		{name: "map meets null", dst: "a: {x: 1}\n", src: "a:\n", wantErr: "a: cannot merge a null into the generated mapping"},
		{name: "nested mismatch names the path", dst: "a: {b: [1]}\n", src: "a: {b: {c: 1}}\n", wantErr: "a.b: cannot merge a mapping"},
		{name: "duplicate key", dst: "a: 1\n", src: "b: 1\nb: 2\n", wantErr: "b: duplicate key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var dst, src, want yaml.Node
			for _, p := range []struct {
				s string
				n *yaml.Node
			}{{tt.dst, &dst}, {tt.src, &src}, {tt.want, &want}} {
				if p.s == "" {
					continue
				}
				if err := yaml.Unmarshal([]byte(p.s), p.n); err != nil {
					t.Fatal(err)
				}
			}
			err := mergeMapping(dst.Content[0], src.Content[0], "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, exp any
			b, _ := yaml.Marshal(&dst)
			yaml.Unmarshal(b, &got)
			yaml.Unmarshal([]byte(tt.want), &exp)
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("merged = %s, want %s", b, tt.want)
			}
			if b, _ := json.Marshal(got); tt.name == "new key appended" && string(b) != `{"a":1,"b":2}` {
				t.Errorf("order: %s", b)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		node    func() *fileset.Set
		snippet string
		wantErr []string
	}{
		{name: "snippet without header", node: fixture, snippet: "packages: [jq]\n", wantErr: []string{`first line must be "#cloud-config"`}},
		{name: "snippet with a shell header", node: fixture, snippet: "#!/bin/sh\necho hi\n", wantErr: []string{`first line must be "#cloud-config"`}},
		{name: "bad yaml", node: fixture, snippet: "#cloud-config\npackages: [jq\n", wantErr: []string{"snippet: bad YAML"}},
		{name: "two documents", node: fixture, snippet: "#cloud-config\na: 1\n---\nb: 2\n", wantErr: []string{"more than one YAML document"}},
		{name: "top level list", node: fixture, snippet: "#cloud-config\n- a\n", wantErr: []string{"top level must be a mapping"}},
		{name: "unknown key", node: fixture, snippet: "#cloud-config\nwrite_file:\n  - path: /x\n", wantErr: []string{`"write_file" (line 2)`, "22.4"}},
		{name: "list replaced by scalar", node: fixture, snippet: "#cloud-config\nwrite_files: none\n", wantErr: []string{"write_files: cannot merge a scalar into the generated list"}},
		{name: "alias bomb", node: fixture, snippet: "#cloud-config\nbootcmd: &a [x, x, x, x, x, x, x, x, x, x]\nruncmd: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\npackages: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nmounts: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nssh_keys: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", wantErr: []string{"nodes once aliases are expanded"}},
		{
			name: "relative path", snippet: "",
			node: func() *fileset.Set {
				n := &fileset.Set{Name: "w1"}
				n.AddFile(fileset.File{Path: "etc/x", Mode: 0o644})
				return n
			},
			wantErr: []string{`file "etc/x"`},
		},
		{
			name: "file clashes with a unit file",
			node: func() *fileset.Set {
				n := &fileset.Set{Name: "w1"}
				n.AddFile(fileset.File{Path: "/etc/systemd/system/x.service", Mode: 0o644})
				n.AddUnit(fileset.Unit{Name: "x.service", Contents: "[Service]\n"})
				return n
			},
			wantErr: []string{"two files at /etc/systemd/system/x.service"},
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
		{
			name: "unit name with a slash",
			node: func() *fileset.Set {
				n := &fileset.Set{Name: "w1"}
				n.AddUnit(fileset.Unit{Name: "../x.service", Contents: "[Service]\n"})
				return n
			},
			wantErr: []string{`unit "../x.service": bad name`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Encode(tt.node(), Options{Snippet: []byte(tt.snippet)})
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

// cloudInit finds the cloud-init binary; without it the test is skipped,
// unless CI is set (CI installs cloud-init).
func cloudInit(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("cloud-init")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cloud-init not found and CI is set: %v", err)
		}
		t.Skip("cloud-init not installed (apt-get install cloud-init); set CI=1 to make this fatal")
	}
	return bin
}

// TestCloudInitAccepts runs the real consumer: `cloud-init schema` must accept
// the user-data, and cloud-init's own YAML loader (PyYAML, YAML 1.1) must read
// every write_files entry back to the payload bytes.
func TestCloudInitAccepts(t *testing.T) {
	t.Parallel()
	bin := cloudInit(t)
	worker := fixture()
	owned := fixture()
	owned.AddFile(fileset.File{Path: "/home/core/.bashrc", Mode: 0o644, Owner: "core", Group: "core", Content: []byte("export EDITOR=vi\n")})
	tests := []struct {
		name    string
		node    *fileset.Set
		snippet string
	}{
		{name: "worker", node: worker},
		{name: "non-root owner", node: owned},
		{name: "with snippet", node: fixture(), snippet: "#cloud-config\npackage_update: true\npackages: [jq]\nwrite_files:\n  - path: /etc/motd\n    content: hi\nruncmd:\n  - echo snippet\n"},
		{name: "no units or users", node: &fileset.Set{Name: "lb1", Files: []fileset.File{{Path: "/etc/x", Mode: 0o600, Content: []byte("x")}}}},
		{name: "yaml 1.1 look-alikes", node: lookAlikes()},
		{name: "with downloads", node: withDownloads()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := Encode(tt.node, Options{Snippet: []byte(tt.snippet)})
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "user-data")
			if err := os.WriteFile(f, out, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "schema", "--config-file", f)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("cloud-init schema rejects the user-data: %v\n%s\n%s", err, msg, out)
			} else if !strings.Contains(string(msg), "Valid cloud-config") {
				t.Errorf("cloud-init schema said:\n%s", msg)
			}
			checkWithPyYAML(t, bin, f, wantFiles(tt.node))
		})
	}
}

// withDownloads is a worker that downloads its binaries at first boot.
func withDownloads() *fileset.Set {
	n := fixture()
	n.AddFile(fileset.File{Path: "/usr/bin/kubelet", Mode: 0o755, Source: "https://dl.k8s.io/release/v1.35.1/bin/linux/amd64/kubelet", SHA256: strings.Repeat("ab", 32)})
	n.AddFile(fileset.File{Path: "/var/lib/ksgen/downloads/crictl-v1.35.0-linux-amd64.tar.gz", Mode: 0o644, Source: "http://10.0.0.9:8080/k8s/github.com/kubernetes-sigs/cri-tools/releases/download/v1.35.0/crictl-v1.35.0-linux-amd64.tar.gz", SHA256: strings.Repeat("cd", 32)})
	return n
}

// lookAlikes has one file per single-line content that YAML 1.1 (PyYAML)
// would not read as a string if written plain.
func lookAlikes() *fileset.Set {
	n := &fileset.Set{Name: "n"}
	for i, c := range []string{
		"yes", "No", "ON", "off", "y", "true", "null", "~", "", "0644", "0o644", "0x1f", "1_000",
		"1:20", "190:20:30.15", "-1", "+1", ".inf", ".NaN", "1e3", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
		"=", "<<", "- x", "? x", ": x", "#x", "&a", "*a", "!x", "%x", "@x", "`x", "'x'", `"x"`, "[x]", "{x}",
		"a: b", "a #b", " leading", "trailing ", "--now", "-x", "/etc/x", "plain words",
	} {
		n.AddFile(fileset.File{Path: fmt.Sprintf("/etc/ksgen/look-alike-%02d", i), Mode: 0o644, Content: []byte(c)})
	}
	return n
}

// pyDecode mirrors cc_write_files: load with PyYAML, decode, print sha256s.
const pyDecode = `
import base64, gzip, hashlib, json, sys, yaml
doc = yaml.safe_load(open(sys.argv[1], "rb"))
out = {}
for f in doc.get("write_files", []):
    c = f.get("content", "")
    enc = f.get("encoding", "")
    if enc in ("b64", "gz+b64"):
        c = base64.b64decode(c)
    if enc == "gz+b64":
        c = gzip.decompress(c)
    if isinstance(c, str):
        c = c.encode("utf-8")
    out[f["path"]] = [hashlib.sha256(c).hexdigest(), f.get("permissions"), f.get("owner")]
print(json.dumps(out))
`

func checkWithPyYAML(t *testing.T, cloudInitBin, userData string, want map[string]fileset.File) {
	t.Helper()
	python := "python3"
	if fh, err := os.Open(cloudInitBin); err == nil {
		line, _ := bufio.NewReader(fh).ReadString('\n')
		fh.Close()
		if strings.HasPrefix(line, "#!") {
			python = strings.Fields(strings.TrimPrefix(line, "#!"))[0]
		}
	}
	msg, err := exec.Command(python, "-c", pyDecode, userData).Output()
	if err != nil {
		t.Fatalf("PyYAML decode with %s: %v", python, err)
	}
	var got map[string][3]any
	if err := json.Unmarshal(msg, &got); err != nil {
		t.Fatalf("PyYAML output: %v\n%s", err, msg)
	}
	for path, f := range want {
		sum := sha256.Sum256(f.Content)
		g, ok := got[path]
		if !ok {
			t.Errorf("PyYAML: %s missing", path)
			continue
		}
		if g[0] != hex.EncodeToString(sum[:]) {
			t.Errorf("PyYAML reads %s back differently", path)
		}
		if g[1] != fmt.Sprintf("%04o", uint32(f.Mode)) {
			t.Errorf("PyYAML: %s permissions %v (a string is required)", path, g[1])
		}
	}
}
