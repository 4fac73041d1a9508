package cloudinit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ksgen/ksgen/generator/internal/fileset"
)

// Header is the first line cloud-init requires of cloud-config user-data.
const Header = "#cloud-config"

// gzipThreshold is the size above which gz+b64 is tried for text (binary
// content is always tried). Below it text stays
// plain: readable, and user-data is usually gzipped whole (cloud-init takes
// gzip user-data), which compresses plain text far better than text that
// was gzipped and base64-encoded file by file.
const gzipThreshold = 16384

// Options holds the optional user snippet.
type Options struct {
	// Snippet is an optional user #cloud-config fragment merged as the child
	// of the generated config: lists are appended after the generated items,
	// mappings are merged recursively, and the snippet's scalars win.
	Snippet []byte
}

// writeFile is one write_files entry, with content already encoded.
type writeFile struct {
	path        string
	owner       string
	permissions string
	deferred    bool
	encoding    string // "", "b64" or "gz+b64"
	content     string
	raw         []byte // the payload bytes, for the round-trip check
}

// Encode returns "#cloud-config\n" followed by the YAML for n, with
// opts.Snippet merged in.
// Errors name neither the node nor the format: the caller says both.
func Encode(n *fileset.Set, opts Options) (out []byte, err error) {
	files, err := writeFiles(n)
	if err != nil {
		return nil, err
	}
	doc := generated(n, files)
	body, err := marshal(doc)
	if err != nil {
		return nil, err
	}
	if err := checkRoundTrip(body, files); err != nil {
		return nil, err
	}
	if len(opts.Snippet) > 0 {
		snippet, err := parseSnippet(opts.Snippet)
		if err != nil {
			return nil, err
		}
		if snippet != nil {
			if err := mergeMapping(doc, snippet, ""); err != nil {
				return nil, fmt.Errorf("merge snippet: %w", err)
			}
			if body, err = marshal(doc); err != nil {
				return nil, err
			}
		}
	}
	return append([]byte(Header+"\n"), body...), nil
}

// writeFiles collects payload files and unit files, sorted by path, and
// picks each one's encoding.
func writeFiles(n *fileset.Set) ([]writeFile, error) {
	all, err := payloadFiles(n)
	if err != nil {
		return nil, err
	}
	var errs []error
	out := make([]writeFile, 0, len(all))
	for _, f := range all {
		w, err := newWriteFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, w)
	}
	return out, errors.Join(errs...)
}

// payloadFiles checks n's units and returns the files write_files carries
// (payload files and unit files, sorted by path), refusing paths that are
// not absolute and clean, two files at one path and modes beyond
// permission bits.
func payloadFiles(n *fileset.Set) ([]fileset.File, error) {
	var errs []error
	for _, u := range n.Units {
		switch {
		case u.Name == "" || strings.ContainsRune(u.Name, '/'):
			errs = append(errs, fmt.Errorf("unit %q: bad name", u.Name))
		case u.Contents == "" && len(u.DropIns) == 0 && !u.Enabled:
			errs = append(errs, fmt.Errorf("unit %s: no contents, drop-ins or enablement", u.Name))
		}
		for _, d := range u.DropIns {
			if d.Name == "" || strings.ContainsRune(d.Name, '/') {
				errs = append(errs, fmt.Errorf("unit %s: drop-in %q: bad name", u.Name, d.Name))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var all []fileset.File
	for _, f := range n.Files {
		if !f.Remote() { // downloaded by runcmd, see downloads
			all = append(all, f)
		}
	}
	all = append(all, n.UnitFiles()...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Path < all[j].Path })
	for i, f := range all {
		switch {
		case !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path:
			errs = append(errs, fmt.Errorf("file %q: path must be absolute and clean", f.Path))
		case i > 0 && all[i-1].Path == f.Path:
			errs = append(errs, fmt.Errorf("two files at %s", f.Path))
		case f.Mode&^fs.ModePerm != 0:
			errs = append(errs, fmt.Errorf("file %s: mode %v: only permission bits are supported", f.Path, f.Mode))
		}
	}
	return all, errors.Join(errs...)
}

// newWriteFile is f's write_files entry, its content encoded.
func newWriteFile(f fileset.File) (writeFile, error) {
	user, group := orRoot(f.Owner), orRoot(f.Group)
	w := writeFile{
		path:        f.Path,
		owner:       user + ":" + group,
		permissions: fmt.Sprintf("%04o", uint32(f.Mode.Perm())),
		// write_files runs before users-groups; a file owned by anyone
		// but root waits for the final stage, which still runs before
		// runcmd's script.
		deferred: user != "root" || group != "root",
		raw:      f.Content,
	}
	enc, content, err := encodeContent(f.Content)
	if err != nil {
		return writeFile{}, fmt.Errorf("file %s: %w", f.Path, err)
	}
	w.encoding, w.content = enc, content
	return w, nil
}

func orRoot(s string) string {
	if s == "" {
		return "root"
	}
	return s
}

// encodeContent picks the smallest faithful encoding: plain text when YAML
// can carry the bytes verbatim, else base64; above gzipThreshold, gzip+base64
// when that is smaller.
func encodeContent(b []byte) (encoding, content string, err error) {
	if fileset.IsText(b) {
		encoding, content = "", string(b)
	} else {
		encoding, content = "b64", base64.StdEncoding.EncodeToString(b)
	}
	if encoding != "" || len(b) > gzipThreshold {
		gz := fileset.Gzip(b)
		if s := base64.StdEncoding.EncodeToString(gz); len(s) < len(content) {
			encoding, content = "gz+b64", s
		}
	}
	return encoding, content, nil
}

// generated builds the cloud-config mapping for n: its sections in the
// order Encoder assembles them.
func generated(n *fileset.Set, files []writeFile) *yaml.Node {
	doc := mapping()
	for _, f := range files {
		if f.path == "/etc/hostname" {
			add(doc, "hostname", hostnameOf(f.raw))
		}
	}
	if len(files) > 0 {
		seq := sequence()
		for _, f := range files {
			seq.Content = append(seq.Content, entryNode(f))
		}
		add(doc, "write_files", seq)
	}
	if users := usersNode(n.Users); users != nil {
		add(doc, "users", users)
	}
	if cmds := runcmd(n); len(cmds.Content) > 0 {
		add(doc, "runcmd", cmds)
	}
	return doc
}

// hostnameOf is the hostname key's value: cloud-init sets the running
// hostname from the cloud's metadata before write_files; say which one this
// machine has.
func hostnameOf(etcHostname []byte) *yaml.Node {
	return str(strings.TrimSpace(string(etcHostname)))
}

// entryNode is one write_files item.
func entryNode(f writeFile) *yaml.Node {
	m := mapping()
	add(m, "path", str(f.path))
	if f.owner != "root:root" {
		// root:root is write_files' default; leaving it out keeps payloads small.
		add(m, "owner", str(f.owner))
	}
	p := str(f.permissions)
	p.Style = yaml.DoubleQuotedStyle
	add(m, "permissions", p)
	if f.deferred {
		add(m, "defer", boolean(true))
	}
	if f.encoding != "" {
		add(m, "encoding", str(f.encoding))
	}
	add(m, "content", text(f.content))
	return m
}

// usersNode is the users list, nil when the payload has none.
func usersNode(payload []fileset.User) *yaml.Node {
	users := append([]fileset.User(nil), payload...)
	sort.SliceStable(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	if len(users) == 0 {
		return nil
	}
	seq := sequence(str("default"))
	for _, u := range users {
		m := mapping()
		add(m, "name", str(u.Name))
		if len(u.Groups) > 0 {
			add(m, "groups", strs(u.Groups))
		}
		// No password is ever set; lock it so only SSH keys log in.
		add(m, "lock_passwd", boolean(true))
		if len(u.SSHAuthorizedKeys) > 0 {
			add(m, "ssh_authorized_keys", strs(u.SSHAuthorizedKeys))
		}
		seq.Content = append(seq.Content, m)
	}
	return seq
}

// runcmd is the runcmd list: the downloads, then what enables the units.
// Ignition enables units natively; cloud-init has no such module and
// write_files cannot create the .wants symlinks, so runcmd does it.
// --no-block: units ordered after cloud-final must not deadlock it.
func runcmd(n *fileset.Set) *yaml.Node {
	var enabled []string
	for _, u := range n.Units {
		if u.Enabled {
			enabled = append(enabled, u.Name)
		}
	}
	sort.Strings(enabled)
	cmds := downloads(n)
	if len(n.Units) > 0 {
		// argv lists, not shell strings: unit names need no quoting.
		cmds.Content = append(cmds.Content, argv("systemctl", "daemon-reload"))
		for _, name := range enabled {
			cmds.Content = append(cmds.Content, argv("systemctl", "enable", "--now", "--no-block", name))
		}
	}
	return cmds
}

// downloadScript fetches every remote file (its arguments, four per file:
// path, URL, sha256, mode) to PATH.ksgen-download with retries and checks
// each sum; only when all match are they installed, so a wrong sum installs
// nothing. cloud-init has no verified download of its own.
const downloadScript = `set -eu
fetch() {
  while [ $# -ge 4 ]; do
    mkdir -p "$(dirname "$1")"
    curl -fsSL --retry 10 --retry-delay 5 --retry-all-errors -o "$1.ksgen-download" "$2" || return 1
    echo "$3  $1.ksgen-download" | sha256sum -c --quiet - || { echo "ksgen: $2 does not match its pinned sha256" >&2; return 1; }
    shift 4
  done
}
place() {
  action=$1; shift
  while [ $# -ge 4 ]; do
    if [ "$action" = install ]; then chmod "$4" "$1.ksgen-download"; mv "$1.ksgen-download" "$1"; else rm -f "$1.ksgen-download"; fi
    shift 4
  done
}
if fetch "$@"; then place install "$@"; else place discard "$@"; echo "ksgen: downloads refused, nothing installed" >&2; exit 1; fi
`

// downloads returns the runcmd step for remote files, sorted by path, before
// any unit starts.
func downloads(n *fileset.Set) *yaml.Node {
	cmds := sequence()
	var remote []fileset.File
	for _, f := range n.Files {
		if f.Remote() {
			remote = append(remote, f)
		}
	}
	if len(remote) == 0 {
		return cmds
	}
	sort.Slice(remote, func(i, j int) bool { return remote[i].Path < remote[j].Path })
	args := []string{"sh", "-c", downloadScript, "ksgen-download"}
	for _, f := range remote {
		args = append(args, f.Path, f.Source, f.SHA256, fmt.Sprintf("%04o", uint32(f.Mode.Perm())))
	}
	cmds.Content = append(cmds.Content, argv(args...))
	return cmds
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func sequence(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

// str is a string scalar that cloud-init's YAML 1.1 loader reads as a string.
// Go's YAML 1.2 emitter would print yes, on, 0644, 1:20 or = unquoted, and
// PyYAML would read a bool, an int or fail; so only strings that start like a
// word, a path or a long option may stay plain, and every other is quoted.
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if !plainSafe(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// plainSafe reports whether s resolves to a string in YAML 1.1 as well as
// 1.2 when written plain. The emitter still quotes it when plain would not
// parse (": ", " #", leading indicators).
func plainSafe(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n\t") {
		return false
	}
	switch strings.ToLower(s) {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null":
		return false
	}
	c := s[0]
	switch {
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/':
		return true
	case c == '-' && len(s) > 1:
		d := s[1]
		return d == '-' || d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z'
	}
	return false
}

// text is file content: a literal block when it spans lines (block scalars
// are always strings), else a string scalar.
func text(s string) *yaml.Node {
	if strings.ContainsRune(s, '\n') {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.LiteralStyle}
	}
	return str(s)
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(b)}
}

func strs(ss []string) *yaml.Node {
	seq := sequence()
	for _, s := range ss {
		seq.Content = append(seq.Content, str(s))
	}
	return seq
}

// argv is a command as a one-line flow list.
func argv(args ...string) *yaml.Node {
	n := strs(args)
	n.Style = yaml.FlowStyle
	return n
}

func add(m *yaml.Node, key string, v *yaml.Node) { m.Content = append(m.Content, str(key), v) }

func marshal(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("marshal cloud-config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal cloud-config: %w", err)
	}
	return buf.Bytes(), nil
}

// checkRoundTrip reads the generated YAML back and decodes every write_files
// entry, so an escaping or encoding surprise fails the render, not the boot.
func checkRoundTrip(body []byte, want []writeFile) error {
	var got struct {
		WriteFiles []struct {
			Path     string `yaml:"path"`
			Encoding string `yaml:"encoding"`
			Content  string `yaml:"content"`
		} `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(body, &got); err != nil {
		return fmt.Errorf("read back generated cloud-config: %w", err)
	}
	if len(got.WriteFiles) != len(want) {
		return fmt.Errorf("read back %d write_files, want %d", len(got.WriteFiles), len(want))
	}
	var errs []error
	for i, w := range want {
		g := got.WriteFiles[i]
		data, err := decodeContent(g.Encoding, g.Content)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("file %s: %w", w.path, err))
		case g.Path != w.path || !bytes.Equal(data, w.raw):
			errs = append(errs, fmt.Errorf("file %s: contents do not round-trip through YAML", w.path))
		}
	}
	return errors.Join(errs...)
}

// decodeContent reverses encodeContent.
func decodeContent(encoding, content string) ([]byte, error) {
	switch encoding {
	case "":
		return []byte(content), nil
	case "b64":
		return base64.StdEncoding.DecodeString(content)
	case "gz+b64":
		gz, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return nil, err
		}
		return fileset.Gunzip(gz)
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}
