package generator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/ksgen/ksgen/generator/plan"
)

// Index is index.json: what was rendered for every node, with sizes that
// tell whether a payload fits a cloud's user-data limit.
type Index struct {
	Cluster           string      `json:"cluster"`
	KubernetesVersion string      `json:"kubernetesVersion"`
	KubeadmAPI        string      `json:"kubeadmAPIVersion"`
	Endpoint          string      `json:"controlPlaneEndpoint"`
	LoadBalancer      string      `json:"loadBalancer"`
	Nodes             []NodeIndex `json:"nodes"`
}

// NodeIndex describes one node's output.
type NodeIndex struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	OS    string   `json:"os"`
	// Format is the payload format the node's OS boots (its osprofile's);
	// Payload is the file of Files that holds it, "" when --format left
	// that format out.
	Format  string      `json:"format"`
	Payload string      `json:"payload,omitempty"`
	MAC     string      `json:"mac,omitempty"` // from the ksgen document, for PXE exports
	Action  string      `json:"action"`
	Files   []FileIndex `json:"files"`
}

// FileIndex describes one written file. Payloads (what a machine is booted
// with) also carry their gzip and gzip+base64 sizes.
type FileIndex struct {
	Path   string `json:"path"`
	Bytes  int    `json:"bytes"`
	Gzip   int    `json:"gzipBytes,omitempty"`
	Base64 int    `json:"gzipBase64Bytes,omitempty"`
	SHA256 string `json:"sha256"`
	// Clouds measures a payload against each cloud's user-data limit.
	Clouds map[string]CloudFit `json:"clouds,omitempty"`
	// Pointer marks a cloud user-data file that holds a pointer config
	// fetching the full payload from ksgen serve.
	Pointer bool `json:"pointer,omitempty"`
}

func newIndex(c *plan.Cluster) *Index {
	return &Index{
		Cluster:           c.Name,
		KubernetesVersion: c.KubernetesVersion(),
		KubeadmAPI:        c.KubeadmAPI,
		Endpoint:          c.Endpoint.HostPort(),
		LoadBalancer:      string(c.Endpoint.Mode),
	}
}

// marshal is index.json for nodes marshaled one by one by marshalNode:
// byte for byte json.MarshalIndent(idx, "", "  ") with those nodes, but
// the nodes, nearly all of it, are marshaled in parallel with their render.
func (idx *Index) marshal(nodes [][]byte) ([]byte, error) {
	head := *idx
	head.Nodes = []NodeIndex{}
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return append(b, '\n'), nil
	}
	b, ok := bytes.CutSuffix(b, []byte("[]\n}"))
	if !ok {
		return nil, fmt.Errorf("internal error: index.json does not end with its nodes")
	}
	size := len(b) + len("[\n\n  ]\n}\n")
	for _, n := range nodes {
		size += len(",\n    ") + len(n)
	}
	b = append(make([]byte, 0, size), b...)
	b = append(b, "[\n"...)
	for i, n := range nodes {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = append(b, "    "...)
		b = append(b, n...)
	}
	return append(b, "\n  ]\n}\n"...), nil
}

// marshalNode is a node's entry of index.json, laid out at its depth there:
// json.MarshalIndent(n, "    ", "  ") byte for byte (TestMarshalNode), at a
// fraction of its cost, which was a tenth of a large render's.
func marshalNode(n NodeIndex) []byte {
	// About what a file takes; a payload's cloud fits grow it once.
	j := jsonWriter{depth: 2, b: make([]byte, 0, 512+200*len(n.Files))}
	j.open('{')
	j.str("name", n.Name)
	list(&j, "roles", n.Roles, j.quote)
	j.str("os", n.OS)
	j.str("format", n.Format)
	if n.Payload != "" {
		j.str("payload", n.Payload)
	}
	if n.MAC != "" {
		j.str("mac", n.MAC)
	}
	j.str("action", n.Action)
	list(&j, "files", n.Files, func(f FileIndex) { f.appendJSON(&j) })
	j.close('}', 1)
	return j.b
}

// list writes member key, a list written item by item by each (null when
// items is nil, as encoding/json writes a nil slice).
func list[T any](j *jsonWriter, key string, items []T, each func(T)) {
	j.key(key)
	if items == nil {
		j.b = append(j.b, "null"...)
		return
	}
	j.open('[')
	for _, it := range items {
		j.item()
		each(it)
	}
	j.close(']', len(items))
}

func (f FileIndex) appendJSON(j *jsonWriter) {
	j.open('{')
	j.str("path", f.Path)
	j.int("bytes", f.Bytes)
	if f.Gzip != 0 {
		j.int("gzipBytes", f.Gzip)
	}
	if f.Base64 != 0 {
		j.int("gzipBase64Bytes", f.Base64)
	}
	j.str("sha256", f.SHA256)
	if len(f.Clouds) > 0 {
		j.key("clouds")
		j.open('{')
		names := slices.Sorted(maps.Keys(f.Clouds))
		for _, name := range names {
			c := f.Clouds[name]
			j.key(name)
			j.open('{')
			j.int("bytes", c.Bytes)
			j.int("limit", c.Limit)
			j.bool("fits", c.Fits)
			j.close('}', 1)
		}
		j.close('}', len(names))
	}
	if f.Pointer {
		j.bool("pointer", true)
	}
	j.close('}', 1)
}

// jsonWriter writes JSON as json.MarshalIndent with indent "  " does, from
// depth: each member or item on a line of its own.
type jsonWriter struct {
	b     []byte
	depth int
	first bool // the next member or item is its container's first
}

func (j *jsonWriter) open(c byte) { j.b = append(j.b, c); j.depth++; j.first = true }

// close ends a container of n members or items ("{}" and "[]" when none).
func (j *jsonWriter) close(c byte, n int) {
	j.depth--
	if n > 0 {
		j.newline()
	}
	j.b = append(j.b, c)
	j.first = false
}

func (j *jsonWriter) newline() {
	j.b = append(j.b, '\n')
	for range j.depth {
		j.b = append(j.b, "  "...)
	}
}

// item starts a member or an item.
func (j *jsonWriter) item() {
	if !j.first {
		j.b = append(j.b, ',')
	}
	j.first = false
	j.newline()
}

func (j *jsonWriter) key(k string) { j.item(); j.quote(k); j.b = append(j.b, ": "...) }

func (j *jsonWriter) str(k, v string) { j.key(k); j.quote(v) }

func (j *jsonWriter) int(k string, v int) { j.key(k); j.b = strconv.AppendInt(j.b, int64(v), 10) }

func (j *jsonWriter) bool(k string, v bool) { j.key(k); j.b = strconv.AppendBool(j.b, v) }

// quote writes s as encoding/json does: it escapes more than strconv
// (HTML characters, U+2028, invalid UTF-8), so anything but plain ASCII
// goes through it.
func (j *jsonWriter) quote(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			j.b = append(j.b, q...)
			return
		}
	}
	j.b = append(j.b, '"')
	j.b = append(j.b, s...)
	j.b = append(j.b, '"')
}

// describe indexes a file.
func describe(path string, content []byte) FileIndex {
	sum := sha256.Sum256(content)
	return FileIndex{Path: path, Bytes: len(content), SHA256: hex.EncodeToString(sum[:])}
}

// describePayload indexes a payload with its sizes and cloud fits.
func describePayload(path string, m measured) FileIndex {
	f := describe(path, m.raw)
	f.Gzip = len(m.gz)
	f.Base64 = base64.StdEncoding.EncodedLen(len(m.gz))
	f.Clouds = fits(m)
	return f
}
