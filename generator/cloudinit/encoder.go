package cloudinit

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/ksgen/ksgen/generator/payload"
)

// Encoder encodes the nodes of one render, each as Encode would, but
// encodes what nodes share once: a file body's encoding is chosen once, each
// distinct write_files entry and each distinct run of other keys is
// marshaled and read back once, and each distinct shape (the document with
// file contents and hostname left out) is encoded once with Encode and
// compared byte for byte with what the pieces assemble to. Make one per
// render (its caches must not outlive it); it is safe for concurrent use,
// and its output does not depend on the order of calls.
type Encoder struct {
	contents payload.Cache[encoded]
	pieces   payload.Cache[[]byte]
	shapes   payload.Once
}

type encoded struct{ encoding, content string }

// Encode returns what the package's Encode returns for n and opts. A node
// with a user snippet is encoded by Encode itself.
func (e *Encoder) Encode(n *payload.Node, opts Options) ([]byte, error) {
	if len(opts.Snippet) > 0 {
		return Encode(n, opts)
	}
	files, err := writeFiles(n, func(b []byte) (string, string, error) {
		c, err := e.contents.Get(payload.NewKey().Bytes(b).Sum(), func() (encoded, error) {
			enc, content, err := encodeContent(b)
			return encoded{enc, content}, err
		})
		return c.encoding, c.content, err
	})
	if err != nil {
		return nil, err
	}
	doc := generated(n, files)
	out := bytes.NewBufferString(Header + "\n")
	// A block mapping's keys are marshaled one after another, so the
	// document is the concatenation of its parts: write_files entry by
	// entry, every other key on its own.
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Value != "write_files" {
			one := mapping()
			one.Content = []*yaml.Node{k, v}
			b, err := e.pieces.Get(nodeKey(payload.NewKey(), one, true).Sum(), func() ([]byte, error) { return marshal(one) })
			if err != nil {
				return nil, err
			}
			out.Write(b)
			continue
		}
		out.WriteString("write_files:\n")
		for j, item := range v.Content {
			one := mapping()
			add(one, "write_files", sequence(item))
			b, err := e.pieces.Get(nodeKey(payload.NewKey(), one, true).Sum(), func() ([]byte, error) {
				b, err := marshal(one)
				if err != nil {
					return nil, err
				}
				if err := checkRoundTrip(b, files[j:j+1]); err != nil {
					return nil, err
				}
				return bytes.TrimPrefix(b, []byte("write_files:\n")), nil
			})
			if err != nil {
				return nil, err
			}
			out.Write(b)
		}
	}
	// The first node of each shape is encoded by Encode as well, which
	// reads its whole document back; the assembly must match it.
	if err := e.shapes.Do(nodeKey(payload.NewKey(), doc, false).Sum(), func() error {
		want, err := Encode(n, opts)
		if err != nil {
			return err
		}
		if !bytes.Equal(want, out.Bytes()) {
			return fmt.Errorf("internal error: the cloud-config assembled from its parts differs from the whole one (node %s)", n.Name)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// nodeKey writes a YAML tree into k: every node's kind, style, tag and
// value, but, unless values is set, not the values of the keys that differ
// from node to node within one shape (file contents, the hostname).
func nodeKey(k *payload.KeyBuilder, n *yaml.Node, values bool) *payload.KeyBuilder {
	k.Int(int(n.Kind)).Int(int(n.Style)).Str(n.Tag).Str(n.Value).Int(len(n.Content))
	for i, c := range n.Content {
		if !values && n.Kind == yaml.MappingNode && i%2 == 1 {
			if key := n.Content[i-1].Value; key == "content" || key == "hostname" {
				k.Int(int(c.Kind)).Int(int(c.Style))
				continue
			}
		}
		nodeKey(k, c, values)
	}
	return k
}
