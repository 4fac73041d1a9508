package ignition

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	butaneutil "github.com/coreos/butane/base/util"
	"github.com/vincent-petithory/dataurl"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/yamlscalar"
)

// nodes are 40 fixtures that share most files and differ per node in a few
// (hostname, a unit drop-in, a gzip-sized file), with a second shape among
// them (an extra file), as a render's workers and control planes do.
func nodes() []*fileset.Set {
	var out []*fileset.Set
	for i := range 40 {
		n := fixture()
		n.Name = fmt.Sprintf("node%d", i)
		for j := range n.Files {
			switch n.Files[j].Path {
			case "/etc/hostname":
				n.Files[j].Content = []byte(n.Name + "\n")
			case "/etc/ksgen/hosts.txt":
				n.Files[j].Content = append([]byte(fmt.Sprintf("# %s\n", n.Name)), largeText()...)
			}
		}
		n.Units[1].DropIns[0].Contents = kubeadmDropIn + fmt.Sprintf("Environment=\"KUBELET_EXTRA_ARGS=--node-ip=10.0.0.%d\"\n", i)
		if i%3 == 0 {
			n.AddFile(fileset.File{Path: "/etc/ksgen/extra", Mode: fileset.ModeSecret, Content: []byte("only some nodes\n")})
		}
		if err := n.Finish(); err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}

// An Encoder gives every node exactly what Encode gives it, whichever node
// comes first and however many goroutines share it, for both variants.
func TestEncoderMatchesEncode(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{VariantFCOS, VariantFlatcar} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			ns := nodes()
			opts := Options{Variant: variant}
			enc := &Encoder{}
			got := make([][2][]byte, len(ns))
			var wg sync.WaitGroup
			for i := range ns {
				wg.Go(func() {
					bu, ign, err := enc.Encode(ns[i], opts)
					if err != nil {
						t.Errorf("%s: %v", ns[i].Name, err)
					}
					got[i] = [2][]byte{bu, ign}
				})
			}
			wg.Wait()
			for i, n := range ns {
				bu, ign, err := Encode(n, opts)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(bu, got[i][0]) {
					t.Errorf("%s: config.bu differs from Encode's", n.Name)
				}
				if !bytes.Equal(ign, got[i][1]) {
					t.Errorf("%s: config.ign differs from Encode's", n.Name)
				}
				parseIgn(t, variants[variant].ignVersion, got[i][1])
			}
		})
	}
}

// A node the Encoder cannot encode fails as it does with Encode, and a
// snippet goes through Encode.
func TestEncoderErrors(t *testing.T) {
	t.Parallel()
	enc := &Encoder{}
	n := fixture()
	n.AddFile(fileset.File{Path: "relative/path", Mode: fileset.ModePublic})
	if _, _, err := enc.Encode(n, Options{}); err == nil {
		t.Error("relative path: no error")
	}
	n = fixture()
	n.AddUnit(fileset.Unit{Name: "bad.service", Contents: "not a unit [\n"})
	if _, _, err := enc.Encode(n, Options{}); err == nil {
		t.Error("invalid unit contents: no error")
	}
	// A delta in a shape already met is judged too: a drop-in that is not
	// a unit file.
	ns := nodes()
	if _, _, err := enc.Encode(ns[1], Options{}); err != nil {
		t.Fatal(err)
	}
	for i := range ns[2].Units {
		if ns[2].Units[i].Name == "kubelet.service" {
			ns[2].Units[i].DropIns[0].Contents = "[Service\n"
		}
	}
	if _, _, err := Encode(ns[2], Options{}); err == nil {
		t.Fatal("Encode accepts a broken drop-in")
	}
	if _, _, err := enc.Encode(ns[2], Options{}); err == nil {
		t.Error("broken drop-in in a known shape: no error")
	}
	snippet := []byte("variant: fcos\nversion: 1.6.0\nstorage:\n  files:\n    - path: /etc/motd\n      contents:\n        inline: hi\n")
	want, wantIgn, err := Encode(fixture(), Options{Snippet: snippet})
	if err != nil {
		t.Fatal(err)
	}
	bu, ign, err := enc.Encode(fixture(), Options{Snippet: snippet})
	if err != nil || !bytes.Equal(bu, want) || !bytes.Equal(ign, wantIgn) {
		t.Errorf("snippet: Encoder differs from Encode (err %v)", err)
	}
}

// dataURL is Butane's MakeDataURL without compression, byte for byte: for
// every byte value alone, text, binary, and random bytes of every density
// of escaping (so both the escaped and the base64 form win, and ties).
func TestDataURLMatchesButane(t *testing.T) {
	t.Parallel()
	inputs := [][]byte{nil, {}, []byte("node1\n"), []byte(largeText()), binaryBytes(), []byte("a b"), []byte("abc%")}
	for c := range 256 {
		inputs = append(inputs, []byte{byte(c)}, []byte{'a', byte(c), 'b', 'c'})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := make([]byte, r.IntN(64))
		for j := range b {
			if r.IntN(100) < i%100 {
				b[j] = byte(r.IntN(256))
			} else {
				b[j] = "abcXYZ019-_.!~*'()"[r.IntN(18)]
			}
		}
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		want, _, err := butaneutil.MakeDataURL(b, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := dataURL(b); got != want {
			t.Fatalf("dataURL(%q) = %q, want %q", b, got, want)
		}
		if got, want := escapedLen(b), len(dataurl.Escape(b)); got != want {
			t.Fatalf("escapedLen(%q) = %d, want %d", b, got, want)
		}
	}
}

// TestLiteralMatchesEmitter holds yamlscalar.Literal and Plain to the YAML
// emitter, at every column yamlValue is asked for, on the strings they take
// and the strings they must leave to the emitter.
func TestLiteralMatchesEmitter(t *testing.T) {
	t.Parallel()
	texts := []string{
		"node1\n", "a\nb\n", "a\n\nb\n", "a\n\n\nb\n", "[Service]\nEnvironment=\"A=--x=1 --y\"\n",
		"#!/bin/bash\nset -eu\nexec \"$0\" 'x' # \"quoted\": {a: b}\n", "- a\n- b\n", "key: value\n---\n...\n",
		"a\n b\n", "true\n", "null\n", "0x1F\n", "'a'\n\"b\"\n", "a \\ b\n", "%TAG\n", "@x\n`y`\n",
		string(largeText()),
		// Left to the emitter: no newline or more than one at the end,
		// leading space or newline, trailing spaces, tabs, non-ASCII, CR.
		"", "a", "a\n\n", "\n", "\na\n", " a\n", "a \n", "a\nb \n", "a\tb\n", "ü\n", "a\r\nb\n", "a\x00\n",
	}
	for _, s := range texts {
		for _, col := range []int{4, fileValueColumn, unitValueColumn, dropinValueColumn} { // 4: cloud-init's write_files content
			fast, ok := yamlscalar.Literal(s, col)
			if !ok {
				continue
			}
			slow, err := emitted(s, col)
			if err != nil {
				t.Fatal(err)
			}
			if fast != slow {
				t.Errorf("Literal(%q, %d) = %q, the emitter writes %q", s, col, fast, slow)
			}
		}
	}
	urls := []string{
		"data:,node1%0A", "data:;base64,H4sIAAAAAAAC/6SQQ+/=", dataURL(largeText()), dataURL(binaryBytes()), dataURL(fileset.Gzip(largeText())),
		// Left to the emitter.
		"data:", "data: x", "data:,a#b", "data:,a b", "data:,ü", "true", "x-data:,a",
	}
	for _, s := range urls {
		fast, ok := yamlscalar.Plain(s)
		if !ok {
			continue
		}
		if slow, err := emitted(s, fileValueColumn); err != nil || fast != slow {
			t.Errorf("Plain(%q) = %q, the emitter writes %q (%v)", s, fast, slow, err)
		}
	}
	for _, s := range urls[5:] {
		if _, ok := yamlscalar.Plain(s); ok {
			t.Errorf("Plain takes %q, which it must leave to the emitter", s)
		}
	}
	taken := 0
	for _, s := range texts[:17] {
		if _, ok := yamlscalar.Literal(s, fileValueColumn); ok {
			taken++
		}
	}
	if taken != 17 {
		t.Errorf("Literal takes %d of the first 17 texts, want all", taken)
	}
	for _, s := range texts[17:] {
		if _, ok := yamlscalar.Literal(s, fileValueColumn); ok {
			t.Errorf("Literal takes %q, which it must leave to the emitter", s)
		}
	}
}

// TestMinGzip holds minGzip to the shortest stream the compressor writes.
func TestMinGzip(t *testing.T) {
	t.Parallel()
	for _, b := range []string{"", "a", "node1\n"} {
		if n := len(fileset.Gzip([]byte(b))); n < minGzip {
			t.Errorf("gzip of %q is %d bytes, under minGzip (%d)", b, n, minGzip)
		}
	}
}
