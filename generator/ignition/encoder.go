package ignition

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	ignjson "github.com/clarketm/json"
	base "github.com/coreos/butane/base/v0_6"
	"github.com/coreos/butane/config/common"

	"github.com/ksgen/ksgen/generator/payload"
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
	contents payload.Cache[base.Resource]
	entries  payload.Cache[entry]
	shapes   payload.Once
}

// entry is one file, unit or user as config.bu lines and config.ign JSON.
type entry struct{ bu, ign []byte }

// Encode returns what the package's Encode returns for n and opts. A node
// with a user snippet is encoded by Encode itself: the snippet is merged
// after translation.
func (e *Encoder) Encode(n *payload.Node, opts Options) (butane []byte, ign []byte, err error) {
	if len(opts.Snippet) > 0 {
		return Encode(n, opts)
	}
	v, err := variantOf(opts.Variant)
	if err != nil {
		return nil, nil, err
	}
	cfg, files, err := build(n, v, func(b []byte) (base.Resource, error) {
		return e.contents.Get(payload.NewKey().Bytes(b).Sum(), func() (base.Resource, error) { return encodeContents(b) })
	})
	if err != nil {
		return nil, nil, err
	}
	sections := []struct {
		bu, ign string // the section's heading in config.bu and config.ign
		keys    []payload.Key
		derive  func(i int) baseConfig
		check   func(i int, ign []byte) error
	}{{
		bu: "passwd:\n  users:\n", ign: `"passwd":{"users":[`,
		keys:   mapKeys(cfg.Passwd.Users, func(k *payload.KeyBuilder, u base.PasswdUser) { userKey(k, u) }),
		derive: func(i int) baseConfig { c := empty(v); c.Passwd.Users = cfg.Passwd.Users[i : i+1]; return c },
	}, {
		bu: "storage:\n  files:\n", ign: `"storage":{"files":[`,
		keys:   mapKeys(cfg.Storage.Files, func(k *payload.KeyBuilder, f base.File) { fileKey(k, f, true) }),
		derive: func(i int) baseConfig { c := empty(v); c.Storage.Files = cfg.Storage.Files[i : i+1]; return c },
		check: func(i int, ign []byte) error {
			p := cfg.Storage.Files[i].Path
			return checkFiles(ign, map[string]payload.File{p: files[p]})
		},
	}, {
		bu: "systemd:\n  units:\n", ign: `"systemd":{"units":[`,
		keys:   mapKeys(cfg.Systemd.Units, func(k *payload.KeyBuilder, u base.Unit) { unitKey(k, u, true) }),
		derive: func(i int) baseConfig { c := empty(v); c.Systemd.Units = cfg.Systemd.Units[i : i+1]; return c },
	}}
	// The variant's heading, version and variant, is an entry too.
	head, err := e.entries.Get(payload.NewKey().Str("heading").Str(v.name).Sum(), func() (entry, error) {
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
	var bu, js bytes.Buffer
	bu.Write(head.bu)
	fmt.Fprintf(&js, `{"ignition":{"version":%q}`, v.ignVersion)
	for _, s := range sections {
		if len(s.keys) == 0 {
			continue
		}
		bu.WriteString(s.bu)
		js.WriteString("," + s.ign)
		for i, key := range s.keys {
			en, err := e.entries.Get(payload.NewKey().Str(v.name).Bytes(key[:]).Sum(), func() (entry, error) {
				return translateEntry(v, s.derive(i), string(head.bu)+s.bu, s.check, i)
			})
			if err != nil {
				return nil, nil, err
			}
			if i > 0 {
				js.WriteByte(',')
			}
			bu.Write(en.bu)
			js.Write(en.ign)
		}
		js.WriteString("]}")
	}
	js.WriteByte('}')

	// The first node of each shape is encoded by Encode as well: Butane
	// translates its whole config and Ignition parses the result, and the
	// assembly must match it byte for byte.
	if err := e.shapes.Do(shapeKey(v, cfg), func() error {
		wantBu, wantIgn, err := Encode(n, opts)
		if err != nil {
			return err
		}
		if !bytes.Equal(wantBu, bu.Bytes()) || !bytes.Equal(wantIgn, js.Bytes()) {
			return fmt.Errorf("internal error: the config assembled from translated entries differs from Butane's translation of the whole config (node %s)", n.Name)
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return bu.Bytes(), js.Bytes(), nil
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

func mapKeys[T any](items []T, write func(*payload.KeyBuilder, T)) []payload.Key {
	keys := make([]payload.Key, len(items))
	for i, it := range items {
		k := payload.NewKey()
		write(k, it)
		keys[i] = k.Sum()
	}
	return keys
}

// shapeKey is what decides how a config is laid out around its entries:
// every field of every entry but the contents.
func shapeKey(v variant, cfg baseConfig) payload.Key {
	k := payload.NewKey().Str(v.name)
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
func fileKey(k *payload.KeyBuilder, f base.File, contents bool) {
	k.Str(f.Path).Str(opt(f.User.Name)).Str(opt(f.Group.Name)).Int(optInt(f.Mode)).Int(optBool(f.Overwrite))
	c := f.Contents
	k.Str(opt(c.Compression)).Int(optBool(ptr(c.Source != nil))).Int(optBool(ptr(c.Inline != nil))).Str(opt(c.Verification.Hash))
	if contents {
		k.Str(opt(c.Source)).Str(opt(c.Inline))
	}
}

func unitKey(k *payload.KeyBuilder, u base.Unit, contents bool) {
	k.Str(u.Name).Int(optBool(u.Enabled)).Int(optBool(ptr(u.Contents != nil))).Int(len(u.Dropins))
	if contents {
		k.Str(opt(u.Contents))
	}
	for _, d := range u.Dropins {
		k.Str(d.Name)
		if contents {
			k.Str(opt(d.Contents))
		}
	}
}

func userKey(k *payload.KeyBuilder, u base.PasswdUser) {
	k.Str(u.Name).Int(len(u.Groups)).Int(len(u.SSHAuthorizedKeys))
	for _, g := range u.Groups {
		k.Str(string(g))
	}
	for _, s := range u.SSHAuthorizedKeys {
		k.Str(string(s))
	}
}

// opt, optInt and optBool tell an absent value from every present one.
func opt(s *string) string {
	if s == nil {
		return "\x00absent"
	}
	return "=" + *s
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
