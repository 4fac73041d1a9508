package cloudinit

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/ksgen/ksgen/generator/payload"
)

// nodes are 40 fixtures that share most files and differ per node in a few
// (hostname, a unit drop-in, a gzip-sized file), with a second shape among
// them (an extra file, a remote file), as a render's nodes do.
func nodes() []*payload.Node {
	var out []*payload.Node
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
			n.AddFile(payload.File{Path: "/etc/ksgen/extra", Mode: payload.ModeSecret, Content: []byte("only some nodes\n")})
			n.AddFile(payload.File{Path: "/usr/local/bin/tool", Mode: payload.ModeExec, Source: "https://example.com/tool", SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"})
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
	// Different content in one shape really is encoded per node.
	if bytes.Equal(got[1], got[2]) {
		t.Error("node1 and node2 got the same user-data")
	}
}

// A node the Encoder cannot encode fails as it does with Encode, and a
// snippet goes through Encode.
func TestEncoderErrors(t *testing.T) {
	t.Parallel()
	enc := &Encoder{}
	n := fixture()
	n.AddFile(payload.File{Path: "relative/path", Mode: payload.ModePublic})
	if _, err := enc.Encode(n, Options{}); err == nil {
		t.Error("relative path: no error")
	}
	snippet := []byte("#cloud-config\nruncmd:\n  - [echo, hi]\n")
	want, err := Encode(fixture(), Options{Snippet: snippet})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := enc.Encode(fixture(), Options{Snippet: snippet}); err != nil || !bytes.Equal(got, want) {
		t.Errorf("snippet: Encoder differs from Encode (err %v)", err)
	}
}
