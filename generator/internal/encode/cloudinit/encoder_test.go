package cloudinit

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/fileset"
)

// nodes are 40 fixtures that share most files and differ per node in a few
// (hostname, a unit drop-in, a gzip-sized file, a binary one), with more
// shapes among them (an extra file, downloads, look-alikes, no users), as a
// render's workers and control planes do.
func nodes() []*fileset.Set {
	var out []*fileset.Set
	for i := range 40 {
		n := fixture()
		switch i % 5 {
		case 1:
			n = withDownloads()
		case 2:
			n = lookAlikes()
			n.AddFile(fileset.File{Path: "/etc/hostname", Mode: fileset.ModePublic})
		}
		n.Name = fmt.Sprintf("node%d", i)
		for j := range n.Files {
			switch n.Files[j].Path {
			case "/etc/hostname":
				n.Files[j].Content = []byte(n.Name + "\n")
			case "/etc/ksgen/hosts.txt":
				n.Files[j].Content = append([]byte(fmt.Sprintf("# %s\n", n.Name)), largeText()...)
			case "/etc/ksgen/blob.bin":
				n.Files[j].Content = append(binaryBytes(), byte(i))
			}
		}
		for j := range n.Units {
			if len(n.Units[j].DropIns) > 0 && n.Units[j].Name == "kubelet.service" {
				n.Units[j].DropIns[0].Contents = kubeadmDropIn + fmt.Sprintf("Environment=\"KUBELET_EXTRA_ARGS=--node-ip=10.0.0.%d\"\n", i)
			}
		}
		if i%3 == 0 {
			n.AddFile(fileset.File{Path: "/etc/ksgen/extra", Mode: fileset.ModeSecret, Owner: "core", Content: []byte("only some nodes\n")})
		}
		if i%4 == 0 {
			n.Users = nil
		}
		if err := n.Finish(); err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}

// An Encoder gives every node exactly what Encode gives it, whichever node
// comes first and however many goroutines share it.
func TestEncoderMatchesEncode(t *testing.T) {
	t.Parallel()
	ns := nodes()
	enc := &Encoder{}
	got := make([][]byte, len(ns))
	var wg sync.WaitGroup
	for i := range ns {
		wg.Go(func() {
			ud, err := enc.Encode(ns[i], Options{})
			if err != nil {
				t.Errorf("%s: %v", ns[i].Name, err)
			}
			got[i] = ud
		})
	}
	wg.Wait()
	for i, n := range ns {
		want, err := Encode(n, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got[i]) {
			t.Errorf("%s: user-data differs from Encode's", n.Name)
		}
	}
}

// A node the Encoder cannot encode fails as it does with Encode, and a
// snippet goes through Encode.
func TestEncoderErrors(t *testing.T) {
	t.Parallel()
	enc := &Encoder{}
	n := fixture()
	n.AddFile(fileset.File{Path: "relative/path", Mode: fileset.ModePublic})
	_, err := enc.Encode(n, Options{})
	if _, want := Encode(n, Options{}); err == nil || err.Error() != want.Error() {
		t.Errorf("relative path: error %v, want %v", err, want)
	}
	n = fixture()
	n.AddUnit(fileset.Unit{Name: "x.service"})
	if _, err := enc.Encode(n, Options{}); err == nil || !strings.Contains(err.Error(), "no contents") {
		t.Errorf("empty unit: error %v", err)
	}
	snippet := []byte("#cloud-config\npackages: [jq]\nwrite_files:\n  - path: /etc/motd\n    content: hi\n")
	want, err := Encode(fixture(), Options{Snippet: snippet})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := enc.Encode(fixture(), Options{Snippet: snippet}); err != nil || !bytes.Equal(got, want) {
		t.Errorf("snippet: Encoder differs from Encode (err %v)", err)
	}
}

// BenchmarkEncoder encodes a node of a shape already met: what every worker
// after the first costs.
func BenchmarkEncoder(b *testing.B) {
	ns := nodes()
	for _, mode := range []string{"Encode", "Encoder"} {
		b.Run(mode, func(b *testing.B) {
			enc := &Encoder{}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				var err error
				if mode == "Encode" {
					_, err = Encode(ns[i%len(ns)], Options{})
				} else {
					_, err = enc.Encode(ns[i%len(ns)], Options{})
				}
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
