package etcd_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/output/tree"
)

func bundle(t *testing.T) *pki.Bundle { return plantest.Bundle(t) }

// cluster is a KubeKey Cluster document: hosts "name=ip", role groups, and
// the lines of spec.etcd (indented by 4).
type cluster struct {
	hosts  []string
	roles  map[string][]string
	etcd   string
	config string // an optional ksgen document, after "---"
}

func (c cluster) yaml() string {
	var b strings.Builder
	b.WriteString("apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Cluster\nmetadata: {name: etcd-test}\nspec:\n  hosts:\n")
	for _, h := range c.hosts {
		name, ip, _ := strings.Cut(h, "=")
		b.WriteString("  - {name: " + name + ", address: " + ip + ", internalAddress: " + ip + "}\n")
	}
	b.WriteString("  roleGroups:\n")
	for _, role := range []string{"etcd", "control-plane", "worker"} {
		if hosts, ok := c.roles[role]; ok {
			b.WriteString("    " + role + ": [" + strings.Join(hosts, ", ") + "]\n")
		}
	}
	b.WriteString("  controlPlaneEndpoint: {internalLoadbalancer: haproxy, domain: lb.kubesphere.local, port: 6443}\n")
	b.WriteString("  kubernetes: {containerManager: containerd}\n")
	if c.etcd != "" {
		b.WriteString("  etcd:\n" + c.etcd)
	}
	if c.config != "" {
		b.WriteString("---\n" + c.config)
	}
	return b.String()
}

// load writes the spec into dir (with any extra files) and loads it; it
// fails the test on any error-level finding.
func load(t *testing.T, dir, doc string) *spec.Spec {
	t.Helper()
	path := filepath.Join(dir, "cluster.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	s, r, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(false); err != nil {
		t.Fatalf("spec is not valid: %v\n%s", err, doc)
	}
	return s
}

// rendered is a render, by node and then by path inside the node's
// directory ("rootfs/etc/etcd.env", "kubeadm.yaml", "config.ign").
type rendered map[string]map[string]tree.File

func render(t *testing.T, s *spec.Spec, formats ...string) rendered {
	t.Helper()
	if len(formats) == 0 {
		formats = []string{generator.FormatNone}
	}
	out, err := generator.Generate(s, bundle(t), generator.Options{Formats: formats})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := rendered{}
	for _, f := range out.Files {
		node, rest, ok := strings.Cut(f.Path, "/")
		if !ok {
			continue
		}
		if r[node] == nil {
			r[node] = map[string]tree.File{}
		}
		r[node][rest] = f
	}
	return r
}

// file returns a node's file at its path on the machine ("/etc/etcd.env").
func (r rendered) file(t *testing.T, node, path string) tree.File {
	t.Helper()
	f, ok := r[node]["rootfs"+path]
	if !ok {
		t.Fatalf("%s has no %s", node, path)
	}
	return f
}

func (r rendered) has(node, path string) bool {
	_, ok := r[node]["rootfs"+path]
	return ok
}

// envFile parses KEY=VALUE lines, skipping blanks and comments, in order.
func envFile(t *testing.T, content []byte) ([]string, map[string]string) {
	t.Helper()
	var keys []string
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("env line %q has no =", line)
		}
		if _, dup := vals[k]; dup {
			t.Errorf("env variable %s set twice", k)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}

// decodedContents returns every file content a rendered file carries in
// plain form: the file itself, and for payloads each file they embed,
// decoded (Ignition data URLs, cloud-init b64 and gz+b64).
func decodedContents(t *testing.T, name string, content []byte) [][]byte {
	t.Helper()
	out := [][]byte{content}
	switch filepath.Base(name) {
	case "config.ign":
		var ign struct {
			Storage struct {
				Files []struct {
					Contents struct {
						Compression string `json:"compression"`
						Source      string `json:"source"`
					} `json:"contents"`
				} `json:"files"`
			} `json:"storage"`
		}
		if err := json.Unmarshal(content, &ign); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range ign.Storage.Files {
			data := decodeDataURL(t, f.Contents.Source)
			if f.Contents.Compression == "gzip" {
				data = gunzip(t, data)
			}
			out = append(out, data)
		}
	case "config.bu":
		var bu struct {
			Storage struct {
				Files []struct {
					Contents struct {
						Compression string `json:"compression"`
						Source      string `json:"source"`
						Inline      string `json:"inline"`
					} `json:"contents"`
				} `json:"files"`
			} `json:"storage"`
		}
		if err := yaml.Unmarshal(content, &bu); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range bu.Storage.Files {
			data := []byte(f.Contents.Inline)
			if f.Contents.Source != "" {
				data = decodeDataURL(t, f.Contents.Source)
			}
			if f.Contents.Compression == "gzip" {
				data = gunzip(t, data)
			}
			out = append(out, data)
		}
	case "user-data":
		var ud struct {
			WriteFiles []struct {
				Content  string `json:"content"`
				Encoding string `json:"encoding"`
			} `json:"write_files"`
		}
		if err := yaml.Unmarshal(content, &ud); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range ud.WriteFiles {
			data := []byte(f.Content)
			if f.Encoding == "b64" || f.Encoding == "gz+b64" {
				var err error
				if data, err = base64.StdEncoding.DecodeString(f.Content); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			if f.Encoding == "gz+b64" {
				data = gunzip(t, data)
			}
			out = append(out, data)
		}
	}
	return out
}

func decodeDataURL(t *testing.T, src string) []byte {
	t.Helper()
	if src == "" {
		return nil
	}
	rest, ok := strings.CutPrefix(src, "data:")
	if !ok {
		t.Fatalf("source %.40q is not a data URL", src)
	}
	meta, data, _ := strings.Cut(rest, ",")
	if strings.HasSuffix(meta, ";base64") {
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s, err := url.PathUnescape(data)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
