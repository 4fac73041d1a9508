package generator_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/output/fetch"
	"github.com/ksgen/ksgen/generator/output/tree"
)

func files(t *testing.T, tr *tree.Tree) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range tr.Files {
		out[f.Path] = f.Content
	}
	return out
}

// decodeUserData undoes Limit.Encode as the cloud and the payload's reader do.
func decodeUserData(t *testing.T, l generator.Limit, raw []byte, gzipped bool) (sent, payload []byte) {
	t.Helper()
	sent = raw
	if l.Base64 {
		var err error
		if sent, err = base64.StdEncoding.DecodeString(string(raw)); err != nil {
			t.Fatalf("base64: %v", err)
		}
	}
	payload = sent
	if gzipped && !l.Text {
		zr, err := gzip.NewReader(bytes.NewReader(sent))
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		if payload, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gunzip: %v", err)
		}
	}
	return sent, payload
}

// Every cloud user-data file decodes back to exactly its payload (or, when the
// payload is over the cloud's limit, to its pointer config), and index.json's
// fit matches the size measured on the file itself.
func TestCloudUserData(t *testing.T) {
	t.Parallel()
	s, r, err := spec.LoadFile("../testdata/specs/valid-ksgen-doc.yaml")
	if err != nil || r.Err(false) != nil {
		t.Fatalf("load: %v %v", err, r.Err(false))
	}
	tr, err := generator.Generate(s, testBundle(t), generator.Options{Clouds: generator.Clouds, ServeURL: "https://127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	out := files(t, tr)
	var idx generator.Index
	if err := json.Unmarshal(out[tree.IndexFile], &idx); err != nil {
		t.Fatal(err)
	}
	seen := map[bool]int{}
	for _, n := range idx.Nodes {
		for _, fi := range n.Files {
			if fi.Clouds == nil {
				continue
			}
			gzipped := fi.Path == fetch.CloudInitFile
			full := out[n.Name+"/"+fi.Path]
			pointer := out[n.Name+"/"+fi.Path+".pointer"]
			if pointer == nil {
				t.Fatalf("%s/%s: no pointer config", n.Name, fi.Path)
			}
			for _, cloud := range generator.Clouds {
				l, fit := generator.CloudLimits[cloud], fi.Clouds[cloud]
				name := n.Name + "/" + fi.Path + "." + cloud
				raw, ok := out[name]
				if !ok {
					t.Fatalf("%s not written", name)
				}
				sent, got := decodeUserData(t, l, raw, gzipped)
				want := full
				if !fit.Fits {
					want = pointer
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s does not decode to %s (fits %v)", name, fi.Path, fit.Fits)
					continue
				}
				seen[fit.Fits]++
				if !fit.Fits {
					continue
				}
				measured := len(sent)
				if l.AfterBase64 {
					measured = len(raw)
				}
				if measured != fit.Bytes || (measured <= l.Bytes) != fit.Fits || fit.Limit != l.Bytes {
					t.Errorf("%s: measured %d bytes against %d, index says %+v", name, measured, l.Bytes, fit)
				}
			}
			// The index's no-fit is a measured size too.
			for cloud, fit := range fi.Clouds {
				l := generator.CloudLimits[cloud]
				if got := generator.Sent(l, full, gzipped); got != fit.Bytes || (got <= l.Bytes) != fit.Fits {
					t.Errorf("%s/%s %s: sent %d, index says %+v", n.Name, fi.Path, cloud, got, fit)
				}
			}
		}
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Errorf("want payloads that fit and payloads that do not, got %v", seen)
	}
}

// A pointer Ignition config parses with Ignition's parser and pins the full
// config's SHA-512 and the serve CA.
func TestIgnitionPointer(t *testing.T) {
	t.Parallel()
	s, r, err := spec.LoadFile("../testdata/specs/valid-ksgen-doc.yaml")
	if err != nil || r.Err(false) != nil {
		t.Fatalf("load: %v %v", err, r.Err(false))
	}
	b := testBundle(t)
	tr, err := generator.Generate(s, b, generator.Options{Formats: []string{generator.FormatIgnition}, ServeURL: "https://ksgen.example:8443"})
	if err != nil {
		t.Fatal(err)
	}
	out := files(t, tr)
	tokens, err := fetch.NewTokens(b)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, ptr := range out {
		node, ok := strings.CutSuffix(path, "/config.ign.pointer")
		if !ok {
			continue
		}
		n++
		if err := fetch.ParseIgnition(ptr); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		var c struct {
			Ignition struct {
				Config struct {
					Merge []struct {
						Source       string
						Verification struct{ Hash string }
					}
				}
				Security struct {
					TLS struct {
						CertificateAuthorities []struct{ Source string }
					}
				}
			}
		}
		if err := json.Unmarshal(ptr, &c); err != nil {
			t.Fatal(err)
		}
		sum := sha512.Sum512(out[node+"/config.ign"])
		m := c.Ignition.Config.Merge[0]
		if want := "https://ksgen.example:8443/" + node + "/" + tokens.For(node) + "/config.ign"; m.Source != want {
			t.Errorf("%s: source %s, want %s", path, m.Source, want)
		}
		if m.Verification.Hash != "sha512-"+hex.EncodeToString(sum[:]) {
			t.Errorf("%s: hash %s does not match config.ign", path, m.Verification.Hash)
		}
		ca := c.Ignition.Security.TLS.CertificateAuthorities[0].Source
		if ca != "data:;base64,"+base64.StdEncoding.EncodeToString(fetch.ServeCA(b).Cert) {
			t.Errorf("%s: CA %s is not the serve CA", path, ca)
		}
	}
	if n == 0 {
		t.Fatal("no pointer configs")
	}
}

func TestUnknownCloud(t *testing.T) {
	t.Parallel()
	s, _, err := spec.LoadFile("../testdata/specs/valid-ksgen-doc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := generator.Generate(s, testBundle(t), generator.Options{Clouds: []string{"ibm"}}); err == nil || !strings.Contains(err.Error(), `unknown cloud "ibm"`) {
		t.Fatalf("err = %v", err)
	}
}
