package ignition

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	base "github.com/coreos/butane/base/v0_6"
	"go.yaml.in/yaml/v3"

	"github.com/ksgen/ksgen/generator/internal/fileset"
)

// baseConfig is the Butane base schema shared by fcos 1.6.0; flatcar 1.1.0 is
// derived from it (see variants).
type baseConfig = base.Config

// build turns the payload into Butane structs. It works on sorted copies so
// that the caller's node is untouched and the output does not depend on the
// order renderers added things. It also returns the payload files by path for
// the round-trip check. contents encodes a local file's bytes (see
// encodeContents); an Encoder passes a cached one.
func build(n *fileset.Set, v variant, contents func([]byte) (base.Resource, error)) (baseConfig, map[string]fileset.File, error) {
	cfg := baseConfig{Version: v.butaneVersion, Variant: v.name}
	var errs []error

	files := append([]fileset.File(nil), n.Files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	byPath := make(map[string]fileset.File, len(files))
	for _, f := range files {
		if err := checkFile(f); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := byPath[f.Path]; dup {
			errs = append(errs, fmt.Errorf("two files at %s", f.Path))
			continue
		}
		byPath[f.Path] = f
		bf, err := butaneFile(f, contents)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.Storage.Files = append(cfg.Storage.Files, bf)
	}

	units := append([]fileset.Unit(nil), n.Units...)
	sort.SliceStable(units, func(i, j int) bool { return units[i].Name < units[j].Name })
	seenUnit := map[string]bool{}
	for _, u := range units {
		if seenUnit[u.Name] {
			errs = append(errs, fmt.Errorf("two units named %s", u.Name))
			continue
		}
		seenUnit[u.Name] = true
		// A payload file at a unit's path would fight Ignition's own unit write.
		unitPath := fileset.UnitDir + "/" + u.Name
		if _, clash := byPath[unitPath]; clash && u.Contents != "" {
			errs = append(errs, fmt.Errorf("file %s is also unit %s", unitPath, u.Name))
		}
		bu := base.Unit{Name: u.Name}
		if u.Contents != "" {
			bu.Contents = ptr(u.Contents)
		}
		if u.Enabled {
			// Only ever enable: a false would write a "disable" preset for
			// units the image ships, such as kubelet.service.
			bu.Enabled = ptr(true)
		}
		dropins := append([]fileset.DropIn(nil), u.DropIns...)
		sort.SliceStable(dropins, func(i, j int) bool { return dropins[i].Name < dropins[j].Name })
		for _, d := range dropins {
			if _, clash := byPath[unitPath+".d/"+d.Name]; clash {
				errs = append(errs, fmt.Errorf("file %s.d/%s is also a drop-in of unit %s", unitPath, d.Name, u.Name))
			}
			bu.Dropins = append(bu.Dropins, base.Dropin{Name: d.Name, Contents: ptr(d.Contents)})
		}
		if bu.Contents == nil && bu.Enabled == nil && len(bu.Dropins) == 0 {
			errs = append(errs, fmt.Errorf("unit %s: no contents, drop-ins or enablement", u.Name))
			continue
		}
		cfg.Systemd.Units = append(cfg.Systemd.Units, bu)
	}

	users := append([]fileset.User(nil), n.Users...)
	sort.SliceStable(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	for _, u := range users {
		if u.Name == "" {
			errs = append(errs, errors.New("user without a name"))
			continue
		}
		pu := base.PasswdUser{Name: u.Name}
		for _, g := range u.Groups {
			pu.Groups = append(pu.Groups, base.Group(g))
		}
		for _, k := range u.SSHAuthorizedKeys {
			pu.SSHAuthorizedKeys = append(pu.SSHAuthorizedKeys, base.SSHAuthorizedKey(k))
		}
		cfg.Passwd.Users = append(cfg.Passwd.Users, pu)
	}
	return cfg, byPath, errors.Join(errs...)
}

func checkFile(f fileset.File) error {
	if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
		return fmt.Errorf("file %q: path must be absolute and clean", f.Path)
	}
	if f.Mode&^fs.ModePerm != 0 {
		// Ignition does not support setuid/setgid/sticky on files.
		return fmt.Errorf("file %s: mode %v: only permission bits are supported", f.Path, f.Mode)
	}
	return nil
}

// butaneFile maps one payload file, its contents encoded by contents.
func butaneFile(f fileset.File, contents func([]byte) (base.Resource, error)) (base.File, error) {
	bf := base.File{
		Path: f.Path,
		Mode: ptr(int(f.Mode.Perm())),
		// The image may already ship a file at this path (/etc/hosts,
		// containerd's config); Ignition fails on an existing file unless
		// overwrite is set, and the payload is the truth for its paths.
		Overwrite: ptr(true),
	}
	if f.Owner != "" && f.Owner != "root" {
		bf.User.Name = ptr(f.Owner)
	}
	if f.Group != "" && f.Group != "root" {
		bf.Group.Name = ptr(f.Group)
	}
	if f.Remote() {
		// Ignition fetches it and refuses it unless the hash matches.
		bf.Contents.Source = ptr(f.Source)
		bf.Contents.Verification.Hash = ptr("sha256-" + f.SHA256)
		return bf, nil
	}
	c, err := contents(f.Content)
	if err != nil {
		return bf, fmt.Errorf("file %s: %w", f.Path, err)
	}
	bf.Contents = c
	return bf, nil
}

// encodeContents encodes a local file's bytes. Text goes inline, so
// config.bu stays readable, unless gzip makes it smaller; compression
// happens here with pooled writers (Butane's auto-compression allocates a
// new compressor per file, which dominated render time) and Butane is told
// not to redo it. Anything YAML cannot carry verbatim goes as a data URL.
// The choice mirrors Butane's own (base/util.MakeDataURL: the shortest of
// URL-escaped, base64 and gzip+base64), so that config.bu translated again
// with plain Butane gives this very config.ign.
func encodeContents(b []byte) (base.Resource, error) {
	plain := min(len(",")+escapedLen(b), len(";base64,")+base64.StdEncoding.EncodedLen(len(b)))
	// No gzip stream is shorter than minGzip: a file whose plain URL is as
	// short as its least gzip+base64 is not compressed (a compressor's reset
	// costs more than compressing a hostname).
	if len(";base64,")+base64.StdEncoding.EncodedLen(minGzip)+len("gzip") >= plain {
		return uncompressed(b), nil
	}
	if z := fileset.Gzip(b); len(";base64,")+base64.StdEncoding.EncodedLen(len(z))+len("gzip") < plain {
		return base.Resource{Source: ptr("data:;base64," + base64.StdEncoding.EncodeToString(z)), Compression: ptr("gzip")}, nil
	}
	return uncompressed(b), nil
}

// minGzip is the shortest gzip stream: a 10-byte header, an 8-byte trailer
// and a final deflate block of at least 10 bits.
const minGzip = 20

func uncompressed(b []byte) base.Resource {
	if fileset.IsText(b) {
		return base.Resource{Inline: ptr(string(b))}
	}
	return base.Resource{Source: ptr(dataURL(b))}
}

// dataURL is the URL butaneutil.MakeDataURL(b, nil, false) returns (the
// shorter of URL-escaped and base64, escaped on a tie), built without
// dataurl.Escape, which formats every escaped byte with fmt.Fprintf.
func dataURL(b []byte) string {
	n := escapedLen(b)
	if len(";base64,")+base64.StdEncoding.EncodedLen(len(b)) < len(",")+n {
		return "data:;base64," + base64.StdEncoding.EncodeToString(b)
	}
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len("data:,")+n)
	out = append(out, "data:,"...)
	for _, c := range b {
		if unreserved(c) {
			out = append(out, c)
		} else {
			out = append(out, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(out)
}

// escapedLen is len(dataurl.Escape(b)): an unreserved byte stays, any
// other becomes %XX.
func escapedLen(b []byte) int {
	n := 0
	for _, c := range b {
		if unreserved(c) {
			n++
		} else {
			n += 3
		}
	}
	return n
}

// unreserved is RFC 2396's unreserved set, as dataurl.Escape has it.
func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '!' || c == '~' || c == '*' || c == '\'' || c == '(' || c == ')'
}

// transcode moves a value between two Butane schema versions through YAML,
// rejecting any field the target does not know.
func transcode(from, to any) error {
	b, err := yaml.Marshal(from)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(to)
}

// marshalButane renders a Butane config as a human would write it: Butane's
// structs carry no omitempty, so nulls and empty sections are pruned, modes
// are written in octal, and each list entry starts with its path or name.
func marshalButane(cfg any) ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(cfg); err != nil {
		return nil, err
	}
	prune(&doc)
	tidy(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// prune drops null values and empty mappings and sequences; it reports
// whether n itself is now empty.
func prune(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			prune(c)
		}
		return false
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !prune(n.Content[i+1]) {
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
		}
		n.Content = kept
		return len(kept) == 0
	case yaml.SequenceNode:
		for _, c := range n.Content {
			prune(c)
		}
		return len(n.Content) == 0
	case yaml.ScalarNode:
		return n.Tag == "!!null"
	}
	return false
}

// tidy writes modes in octal (Butane reads 0644 as octal, as its docs do) and
// moves path and name to the front of each mapping.
func tidy(n *yaml.Node) {
	for _, c := range n.Content {
		tidy(c)
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "mode" && v.Kind == yaml.ScalarNode && v.Tag == "!!int" && !strings.HasPrefix(v.Value, "-") {
			var m int
			if _, err := fmt.Sscanf(v.Value, "%d", &m); err == nil {
				v.Value = fmt.Sprintf("0%o", m)
			}
		}
	}
	for _, first := range []string{"name", "path"} {
		for i := 2; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == first {
				k, v := n.Content[i], n.Content[i+1]
				copy(n.Content[2:i+2], n.Content[0:i])
				n.Content[0], n.Content[1] = k, v
				break
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
