package ignition

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	ignjson "github.com/clarketm/json"
	base "github.com/coreos/butane/base/v0_6"
	"github.com/coreos/butane/config/common"
	ign3_5types "github.com/coreos/ignition/v2/config/v3_5/types"
	cpath "github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"go.yaml.in/yaml/v3"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/yamlscalar"
)

// Encoder encodes the nodes of one render, each as Encode would, but
// translates and validates what nodes share once: a file body is
// compressed once, each distinct file, unit and user is translated by
// Butane and validated by Ignition once, as a config of its own, and each
// distinct shape (the node's paths, modes, units and users, with contents
// left out) is encoded once with Encode and compared byte for byte with
// what the entries assemble to. A node is then its entries, concatenated.
// Make one per render (its caches must not outlive it); it is safe for
// concurrent use, and its output does not depend on the order of calls.
type Encoder struct {
	contents      fileset.Cache[base.Resource]
	entries       fileset.Cache[entry]
	templates     fileset.Cache[template]
	unitTemplates fileset.Cache[unitTemplate]
	shapes        fileset.Once
}

// entry is one file, unit or user as config.bu lines and config.ign JSON.
type entry struct{ bu, ign []byte }

// Encode returns what the package's Encode returns for n and opts. A node
// with a user snippet is encoded by Encode itself: the snippet is merged
// after translation.
func (e *Encoder) Encode(n *fileset.Set, opts Options) (butane []byte, ign []byte, err error) {
	if len(opts.Snippet) > 0 {
		return Encode(n, opts)
	}
	v, err := variantOf(opts.Variant)
	if err != nil {
		return nil, nil, err
	}
	cfg, files, err := build(n, v, func(b []byte) (base.Resource, error) {
		return e.contents.Get(fileset.NewKey().Bytes(b).Sum(), func() (base.Resource, error) { return encodeContents(b) })
	})
	if err != nil {
		return nil, nil, err
	}
	// The variant's heading, version and variant, is an entry too.
	head, err := e.entries.Get(fileset.NewKey().Str("heading").Str(v.name).Sum(), func() (entry, error) {
		cfg, err := v.toButane(empty(v))
		if err != nil {
			return entry{}, err
		}
		bu, err := marshalButane(cfg)
		return entry{bu: bu}, err
	})
	if err != nil {
		return nil, nil, err
	}
	sections := []struct {
		bu, ign string // the section's heading in config.bu and config.ign
		keys    []fileset.Key
		derive  func(i int) baseConfig
		check   func(i int, ign []byte) error
		// fill, when set, makes entry i from its template (see fileEntry).
		fill func(i int) (entry, error)
	}{{
		bu: "passwd:\n  users:\n", ign: `"passwd":{"users":[`,
		keys:   mapKeys(v.name, cfg.Passwd.Users, func(k *fileset.KeyBuilder, u base.PasswdUser) { userKey(k, u) }),
		derive: func(i int) baseConfig { c := empty(v); c.Passwd.Users = cfg.Passwd.Users[i : i+1]; return c },
	}, {
		bu: "storage:\n  files:\n", ign: `"storage":{"files":[`,
		keys:   mapKeys(v.name, cfg.Storage.Files, func(k *fileset.KeyBuilder, f base.File) { fileKey(k, f, true) }),
		derive: func(i int) baseConfig { c := empty(v); c.Storage.Files = cfg.Storage.Files[i : i+1]; return c },
		check: func(i int, ign []byte) error {
			p := cfg.Storage.Files[i].Path
			return checkFiles(ign, map[string]fileset.File{p: files[p]})
		},
		fill: func(i int) (entry, error) {
			f := cfg.Storage.Files[i]
			return e.fileEntry(v, f, files[f.Path], string(head.bu)+"storage:\n  files:\n")
		},
	}, {
		bu: "systemd:\n  units:\n", ign: `"systemd":{"units":[`,
		keys:   mapKeys(v.name, cfg.Systemd.Units, func(k *fileset.KeyBuilder, u base.Unit) { unitKey(k, u, true) }),
		derive: func(i int) baseConfig { c := empty(v); c.Systemd.Units = cfg.Systemd.Units[i : i+1]; return c },
		fill: func(i int) (entry, error) {
			return e.unitEntry(v, cfg.Systemd.Units[i], string(head.bu)+"systemd:\n  units:\n")
		},
	}}
	// The pieces are gathered first, so that each output is allocated once.
	bus := [][]byte{head.bu}
	jss := [][]byte{fmt.Appendf(nil, `{"ignition":{"version":%q}`, v.ignVersion)}
	comma := []byte(",")
	for _, s := range sections {
		if len(s.keys) == 0 {
			continue
		}
		bus = append(bus, []byte(s.bu))
		jss = append(jss, []byte(","+s.ign))
		for i, key := range s.keys {
			en, err := e.entries.Get(key, func() (entry, error) {
				if s.fill != nil {
					return s.fill(i)
				}
				return translateEntry(v, s.derive(i), string(head.bu)+s.bu, s.check, i)
			})
			if err != nil {
				return nil, nil, err
			}
			if i > 0 {
				jss = append(jss, comma)
			}
			bus = append(bus, en.bu)
			jss = append(jss, en.ign)
		}
		jss = append(jss, []byte("]}"))
	}
	bu, js := bytes.Join(bus, nil), bytes.Join(append(jss, []byte("}")), nil)

	// The first node of each shape is encoded by Encode as well: Butane
	// translates its whole config and Ignition parses the result, and the
	// assembly must match it byte for byte.
	if err := e.shapes.Do(shapeKey(v, cfg), func() error {
		wantBu, wantIgn, err := Encode(n, opts)
		if err != nil {
			return err
		}
		if !bytes.Equal(wantBu, bu) || !bytes.Equal(wantIgn, js) {
			return fmt.Errorf("internal error: the config assembled from translated entries differs from Butane's translation of the whole config (node %s)", n.Name)
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return bu, js, nil
}

// translateEntry translates a config of one entry strictly, with Butane's
// library and Ignition's validation, checks its file round-trips, and cuts
// the entry out of both encodings: the lines after heading in config.bu, the
// one list element in config.ign.
func translateEntry(v variant, one baseConfig, heading string, check func(int, []byte) error, i int) (entry, error) {
	cfg, err := v.toButane(one)
	if err != nil {
		return entry{}, err
	}
	bu, err := marshalButane(cfg)
	if err != nil {
		return entry{}, fmt.Errorf("marshal butane: %w", err)
	}
	rest, ok := strings.CutPrefix(string(bu), heading)
	if !ok {
		return entry{}, fmt.Errorf("internal error: butane entry does not start with %q", heading)
	}
	ign, rpt, err := v.toIgn(cfg, common.TranslateOptions{NoResourceAutoCompression: true})
	if err := strict("butane translation", rpt, err); err != nil {
		return entry{}, err
	}
	raw, err := ignjson.Marshal(ign)
	if err != nil {
		return entry{}, fmt.Errorf("marshal ignition: %w", err)
	}
	if check != nil {
		if err := check(i, raw); err != nil {
			return entry{}, err
		}
	}
	var lists struct {
		Passwd  struct{ Users []json.RawMessage }
		Storage struct{ Files []json.RawMessage }
		Systemd struct{ Units []json.RawMessage }
	}
	if err := json.Unmarshal(raw, &lists); err != nil {
		return entry{}, fmt.Errorf("read back translated entry: %w", err)
	}
	all := append(append(lists.Passwd.Users, lists.Storage.Files...), lists.Systemd.Units...)
	if len(all) != 1 {
		return entry{}, fmt.Errorf("internal error: one entry translated to %d", len(all))
	}
	return entry{bu: []byte(rest), ign: all[0]}, nil
}

func empty(v variant) baseConfig { return baseConfig{Version: v.butaneVersion, Variant: v.name} }

// mapKeys is the entries cache's key of each item: the variant, then
// what write adds.
func mapKeys[T any](variant string, items []T, write func(*fileset.KeyBuilder, T)) []fileset.Key {
	keys := make([]fileset.Key, len(items))
	for i, it := range items {
		k := fileset.NewKey().Str(variant)
		write(k, it)
		keys[i] = k.Sum()
	}
	return keys
}

// shapeKey is what decides how a config is laid out around its entries:
// every field of every entry but the contents.
func shapeKey(v variant, cfg baseConfig) fileset.Key {
	k := fileset.NewKey().Str(v.name)
	k.Int(len(cfg.Passwd.Users))
	for _, u := range cfg.Passwd.Users {
		userKey(k, u)
	}
	k.Int(len(cfg.Storage.Files))
	for _, f := range cfg.Storage.Files {
		fileKey(k, f, false)
	}
	k.Int(len(cfg.Systemd.Units))
	for _, u := range cfg.Systemd.Units {
		unitKey(k, u, false)
	}
	return k.Sum()
}

// fileKey, unitKey and userKey write every field build sets; contents
// only when asked (an entry's key has them, a shape's does not).
func fileKey(k *fileset.KeyBuilder, f base.File, contents bool) {
	k.Str(f.Path)
	optStr(k, f.User.Name)
	optStr(k, f.Group.Name)
	k.Int(optInt(f.Mode)).Int(optBool(f.Overwrite))
	c := f.Contents
	optStr(k, c.Compression)
	k.Int(optBool(ptr(c.Source != nil))).Int(optBool(ptr(c.Inline != nil)))
	optStr(k, c.Verification.Hash)
	if contents {
		optStr(k, c.Source)
		optStr(k, c.Inline)
	}
}

func unitKey(k *fileset.KeyBuilder, u base.Unit, contents bool) {
	k.Str(u.Name).Int(optBool(u.Enabled)).Int(optBool(ptr(u.Contents != nil))).Int(len(u.Dropins))
	if contents {
		optStr(k, u.Contents)
	}
	for _, d := range u.Dropins {
		k.Str(d.Name)
		if contents {
			optStr(k, d.Contents)
		}
	}
}

func userKey(k *fileset.KeyBuilder, u base.PasswdUser) {
	k.Str(u.Name).Int(len(u.Groups)).Int(len(u.SSHAuthorizedKeys))
	for _, g := range u.Groups {
		k.Str(string(g))
	}
	for _, s := range u.SSHAuthorizedKeys {
		k.Str(string(s))
	}
}

// optStr, optInt and optBool tell an absent value from every present one
// (optStr without copying the value: it may be a whole data URL).
func optStr(k *fileset.KeyBuilder, s *string) {
	if s == nil {
		k.Int(-1) // no string's length
		return
	}
	k.Str(*s)
}

func optInt(i *int) int {
	if i == nil {
		return -1
	}
	return *i
}

func optBool(b *bool) int {
	switch {
	case b == nil:
		return -1
	case *b:
		return 1
	}
	return 0
}

// A file's template is its entry with a placeholder for its contents; the
// placeholder is a data URL, so that Butane and Ignition accept it as a
// source, and plain in YAML and JSON, so that it is found verbatim.
const (
	holeInline = "KSGEN-CONTENTS"
	holeSource = "data:," + holeInline
)

// template is an entry cut around its contents: config.bu up to the
// contents' value and after it, and config.ign around the source string.
type template struct{ bu, ign [2]string }

// fileEntry makes a file's entry from the template of its shape (path,
// mode, owners, kind of contents), translated by Butane and validated by
// Ignition once: the per-node delta (a node's hostname, hosts, kubeadm
// config) is typed into the template, its source as Butane would write it,
// and decoded back to the payload's bytes.
func (e *Encoder) fileEntry(v variant, f base.File, want fileset.File, heading string) (entry, error) {
	c := f.Contents
	if c.Inline == nil && c.Source == nil { // an empty file: nothing to fill
		return translateEntry(v, oneFile(v, f), heading, nil, 0)
	}
	k := fileset.NewKey().Str("template").Str(v.name)
	fileKey(k, f, false)
	tpl, err := e.templates.Get(k.Sum(), func() (template, error) {
		shape := f
		if c.Inline != nil {
			shape.Contents.Inline = ptr(holeInline)
		} else {
			shape.Contents.Source = ptr(holeSource)
		}
		en, err := translateEntry(v, oneFile(v, shape), heading, nil, 0)
		if err != nil {
			return template{}, err
		}
		var t template
		var ok bool
		key := "inline: " + holeInline + "\n"
		if c.Inline == nil {
			key = "source: " + holeSource + "\n"
		}
		if t.bu[0], t.bu[1], ok = strings.Cut(string(en.bu), key); !ok {
			return template{}, fmt.Errorf("internal error: no %q in the butane template of %s", key, f.Path)
		}
		t.bu[0] += key[:strings.Index(key, " ")+1]
		if t.ign[0], t.ign[1], ok = strings.Cut(string(en.ign), `"`+holeSource+`"`); !ok {
			return template{}, fmt.Errorf("internal error: no placeholder in the ignition template of %s", f.Path)
		}
		return t, nil
	})
	if err != nil {
		return entry{}, err
	}
	value, src := c.Source, c.Source
	if c.Inline != nil {
		value = c.Inline
		src = ptr(dataURL([]byte(*c.Inline)))
	}
	scalar, err := yamlValue(*value, fileValueColumn)
	if err != nil {
		return entry{}, err
	}
	js, err := ignjson.Marshal(*src)
	if err != nil {
		return entry{}, err
	}
	en := entry{
		bu:  []byte(tpl.bu[0] + scalar + tpl.bu[1]),
		ign: []byte(tpl.ign[0] + string(js) + tpl.ign[1]),
	}
	// Butane and Ignition judged the template, and the first node of each
	// shape is checked whole (Encode); what changes from node to node is
	// the source (checkSource).
	if err := checkSource(f.Path, src, c.Compression, want); err != nil {
		return entry{}, err
	}
	return en, nil
}

func oneFile(v variant, f base.File) baseConfig {
	c := empty(v)
	c.Storage.Files = []base.File{f}
	return c
}

// Columns of the keys whose values are contents in config.bu: a file's
// contents' inline or source, a unit's contents, a drop-in's contents.
const (
	fileValueColumn   = 8
	unitValueColumn   = 6
	dropinValueColumn = 10
)

// yamlValue is s as marshalButane writes a value whose key starts at col,
// from after the key through the end of the value: it is marshaled under a
// key nested as deep, so that it is laid out as it is there.
func yamlValue(s string, col int) (string, error) {
	if out, ok := yamlscalar.Literal(s, col); ok {
		return out, nil
	}
	if out, ok := yamlscalar.Plain(s); ok {
		return out, nil
	}
	return emitted(s, col)
}

// emitted is yamlValue's result as the YAML emitter writes it.
func emitted(s string, col int) (string, error) {
	var v yaml.Node
	if err := v.Encode(s); err != nil {
		return "", err
	}
	leaf := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "v"}, &v}}
	var heading strings.Builder
	for d := range col / 2 {
		leaf = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "k"}, leaf}}
		fmt.Fprintf(&heading, "%*sk:\n", 2*d, "")
	}
	fmt.Fprintf(&heading, "%*sv: ", col, "")
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(leaf); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	out, ok := strings.CutPrefix(buf.String(), heading.String())
	if !ok {
		return "", fmt.Errorf("internal error: unexpected YAML layout %q", buf.String())
	}
	return out, nil
}

// unitTemplate is a unit's entry cut around each of its contents (its own,
// then each drop-in's), with the column of each one's key in config.bu.
type unitTemplate struct {
	bu, ign []string
	cols    []int
}

// unitEntry makes a unit's entry from the template of its shape (name,
// enablement, drop-in names), translated by Butane and validated by
// Ignition once; the per-node contents (the kubelet drop-in's node IP) are
// typed into it and validated as Ignition validates units.
func (e *Encoder) unitEntry(v variant, u base.Unit, heading string) (entry, error) {
	var values []string
	var cols []int
	if u.Contents != nil {
		values, cols = append(values, *u.Contents), append(cols, unitValueColumn)
	}
	for _, d := range u.Dropins {
		if d.Contents == nil {
			return translateEntry(v, oneUnit(v, u), heading, nil, 0)
		}
		values, cols = append(values, *d.Contents), append(cols, dropinValueColumn)
	}
	k := fileset.NewKey().Str("template").Str(v.name)
	unitKey(k, u, false)
	tpl, err := e.unitTemplates.Get(k.Sum(), func() (unitTemplate, error) {
		shape := u
		shape.Dropins = append([]base.Dropin(nil), u.Dropins...)
		holes := make([]string, len(values))
		for i := range holes {
			// Valid unit contents, with the install section an enabled unit needs.
			holes[i] = fmt.Sprintf("[Unit]\nDescription=KSGEN-CONTENTS-%d\n[Install]\nWantedBy=multi-user.target\n", i)
		}
		i := 0
		if shape.Contents != nil {
			shape.Contents = &holes[0]
			i++
		}
		for j := range shape.Dropins {
			shape.Dropins[j].Contents = &holes[i]
			i++
		}
		en, err := translateEntry(v, oneUnit(v, shape), heading, nil, 0)
		if err != nil {
			return unitTemplate{}, err
		}
		t := unitTemplate{cols: cols}
		bu, ign := string(en.bu), string(en.ign)
		for i, h := range holes {
			y, err := yamlValue(h, cols[i])
			if err != nil {
				return unitTemplate{}, err
			}
			j, err := ignjson.Marshal(h)
			if err != nil {
				return unitTemplate{}, err
			}
			before, after, ok := strings.Cut(bu, "contents: "+y)
			before2, after2, ok2 := strings.Cut(ign, string(j))
			if !ok || !ok2 {
				return unitTemplate{}, fmt.Errorf("internal error: no placeholder %d in the templates of unit %s", i, u.Name)
			}
			t.bu, t.ign = append(t.bu, before+"contents: "), append(t.ign, before2)
			bu, ign = after, after2
		}
		t.bu, t.ign = append(t.bu, bu), append(t.ign, ign)
		return t, nil
	})
	if err != nil {
		return entry{}, err
	}
	// Ignition's own checks of unit and drop-in contents, strictly.
	var rpt report.Report
	iu := ign3_5types.Unit{Name: u.Name, Enabled: u.Enabled, Contents: u.Contents}
	rpt.Merge(iu.Validate(cpath.New("json", "contents")))
	for _, d := range u.Dropins {
		rpt.Merge(ign3_5types.Dropin{Name: d.Name, Contents: d.Contents}.Validate(cpath.New("json", "dropins", d.Name)))
	}
	if err := strict("ignition validation of unit "+u.Name, rpt, nil); err != nil {
		return entry{}, err
	}
	var bu, ign strings.Builder
	for i, val := range values {
		y, err := yamlValue(val, tpl.cols[i])
		if err != nil {
			return entry{}, err
		}
		j, err := ignjson.Marshal(val)
		if err != nil {
			return entry{}, err
		}
		bu.WriteString(tpl.bu[i] + y)
		ign.WriteString(tpl.ign[i] + string(j))
	}
	bu.WriteString(tpl.bu[len(values)])
	ign.WriteString(tpl.ign[len(values)])
	return entry{bu: []byte(bu.String()), ign: []byte(ign.String())}, nil
}

func oneUnit(v variant, u base.Unit) baseConfig {
	c := empty(v)
	c.Systemd.Units = []base.Unit{u}
	return c
}
