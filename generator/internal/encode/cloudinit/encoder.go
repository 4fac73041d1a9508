package cloudinit

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/yamlscalar"
)

// Encoder encodes the nodes of one render, each as Encode would, but emits
// what nodes share once. A cloud-config is a mapping whose sections
// (hostname, write_files, users, runcmd) each start at column 0, and
// write_files is a block list whose items start at column 2: each section
// and each item is laid out by the YAML emitter on its own, and a node is
// those pieces, concatenated. Each distinct write_files item is emitted
// once and read back once, its content decoded and compared with the
// payload's bytes, as Encode reads back a whole config; a node's own items
// (its hostname, /etc/hosts, kubeadm config) are emitted and read back for
// that node. The first node of each shape (its paths, modes, owners, units
// and users, contents left out) is also encoded whole by Encode, and the
// pieces must match it byte for byte.
// Make one per render (its caches must not outlive it); it is safe for
// concurrent use, and its output does not depend on the order of calls.
type Encoder struct {
	entries   fileset.Cache[[]byte]
	sections  fileset.Cache[[]byte]
	templates fileset.Cache[[2]string]
	shapes    fileset.Once
}

// Encode returns what the package's Encode returns for n and opts. A node
// with a user snippet, or one Encode would refuse, is encoded by Encode
// itself.
func (e *Encoder) Encode(n *fileset.Set, opts Options) ([]byte, error) {
	if len(opts.Snippet) > 0 {
		return Encode(n, opts)
	}
	files, err := payloadFiles(n)
	if err != nil {
		return Encode(n, opts) // for its error
	}
	// The pieces are gathered first, so that the output is allocated once.
	pieces := [][]byte{[]byte(Header + "\n")}
	for _, f := range files {
		if f.Path == "/etc/hostname" {
			b, err := section("hostname", hostnameOf(f.Content))
			if err != nil {
				return nil, err
			}
			pieces = append(pieces, b)
		}
	}
	if len(files) > 0 {
		pieces = append(pieces, []byte(writeFilesKey))
		for _, f := range files {
			k := fileShape(fileset.NewKey(), f).Bytes(f.Content).Sum()
			b, err := e.entries.Get(k, func() ([]byte, error) { return e.item(f) })
			if err != nil {
				return nil, err
			}
			pieces = append(pieces, b)
		}
	}
	usersK, runcmdK := usersKey(n.Users), runcmdKey(n)
	users, err := e.sections.Get(usersK, func() ([]byte, error) {
		if u := usersNode(n.Users); u != nil {
			return section("users", u)
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	cmds, err := e.sections.Get(runcmdK, func() ([]byte, error) {
		if c := runcmd(n); len(c.Content) > 0 {
			return section("runcmd", c)
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	out := bytes.Join(append(pieces, users, cmds), nil)

	if err := e.shapes.Do(shapeKey(files, usersK, runcmdK), func() error {
		want, err := Encode(n, opts)
		if err != nil {
			return err
		}
		if !bytes.Equal(want, out) {
			return fmt.Errorf("internal error: the cloud-config assembled from its pieces differs from the one encoded whole (node %s)", n.Name)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

const writeFilesKey = "write_files:\n"

// section is a one-key mapping as the emitter lays it out: the key at
// column 0, the value after it.
func section(key string, value *yaml.Node) ([]byte, error) {
	doc := mapping()
	add(doc, key, value)
	return marshal(doc)
}

// item is f's write_files item as it is laid out in the list. Plain text
// that yamlscalar lays out as the emitter does is typed into the item of its
// shape (path, owner, mode), laid out and read back once; anything else is
// laid out, read back and checked as Encode checks a whole config.
func (e *Encoder) item(f fileset.File) ([]byte, error) {
	w, err := newWriteFile(f)
	if err != nil {
		return nil, err
	}
	if block, ok := yamlscalar.Literal(w.content, contentColumn); ok && w.encoding == "" {
		t, err := e.templates.Get(fileShape(fileset.NewKey(), f).Sum(), func() ([2]string, error) { return itemTemplate(w) })
		if err != nil {
			return nil, err
		}
		return []byte(t[0] + block + t[1]), nil
	}
	return item(w)
}

// contentColumn is the column of an item's content key.
const contentColumn = 4

// itemTemplate is the item of w's shape cut around its content's value.
func itemTemplate(w writeFile) ([2]string, error) {
	const hole = "KSGEN-CONTENTS\n"
	w.content, w.raw = hole, []byte(hole)
	b, err := item(w)
	if err != nil {
		return [2]string{}, err
	}
	block, _ := yamlscalar.Literal(hole, contentColumn)
	before, after, ok := strings.Cut(string(b), "content: "+block)
	if !ok {
		return [2]string{}, fmt.Errorf("internal error: no placeholder in the write_files item of %s", w.path)
	}
	return [2]string{before + "content: ", after}, nil
}

// item is w's write_files item as it is laid out in the list, read back
// and checked as Encode checks a whole config.
func item(w writeFile) ([]byte, error) {
	body, err := section("write_files", sequence(entryNode(w)))
	if err != nil {
		return nil, err
	}
	if err := checkRoundTrip(body, []writeFile{w}); err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(string(body), writeFilesKey)
	if !ok {
		return nil, fmt.Errorf("internal error: write_files item of %s does not start with %q", w.path, writeFilesKey)
	}
	return []byte(rest), nil
}

func usersKey(users []fileset.User) fileset.Key {
	k := fileset.NewKey().Str("users").Int(len(users))
	for _, u := range users {
		k.Str(u.Name).Int(len(u.Groups)).Int(len(u.SSHAuthorizedKeys))
		for _, g := range u.Groups {
			k.Str(g)
		}
		for _, s := range u.SSHAuthorizedKeys {
			k.Str(s)
		}
	}
	return k.Sum()
}

// runcmdKey is what runcmd reads: the remote files and the units' names
// and enablement.
func runcmdKey(n *fileset.Set) fileset.Key {
	var remote []fileset.File
	for _, f := range n.Files {
		if f.Remote() {
			remote = append(remote, f)
		}
	}
	k := fileset.NewKey().Str("runcmd").Int(len(remote))
	for _, f := range remote {
		k.Str(f.Path).Str(f.Source).Str(f.SHA256).Int(int(f.Mode))
	}
	k.Int(len(n.Units))
	for _, u := range n.Units {
		k.Str(u.Name).Int(boolInt(u.Enabled))
	}
	return k.Sum()
}

// shapeKey is every field of every piece but the files' contents: the
// files' shapes and the users and runcmd sections' keys.
func shapeKey(files []fileset.File, users, runcmd fileset.Key) fileset.Key {
	k := fileset.NewKey().Str("shape").Int(len(files))
	for _, f := range files {
		fileShape(k, f)
	}
	return k.Bytes(users[:]).Bytes(runcmd[:]).Sum()
}

// fileShape adds what lays out f's write_files item, its content aside, to k.
func fileShape(k *fileset.KeyBuilder, f fileset.File) *fileset.KeyBuilder {
	return k.Str(f.Path).Str(f.Owner).Str(f.Group).Int(int(f.Mode))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
