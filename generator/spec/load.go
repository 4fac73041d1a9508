package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Document kinds ksgen reads, by "apiVersion/kind".
const (
	ClusterKind    = "kubekey.kubesphere.io/v1alpha2/Cluster"
	KubeSphereKind = "installer.kubesphere.io/v1alpha1/ClusterConfiguration"
	ConfigKind     = "ksgen.io/v1alpha1/Config"
)

// Spec is a loaded, defaulted and validated cluster description: the KubeKey
// Cluster, the optional KubeSphere ClusterConfiguration and the optional ksgen
// Config, with the line each field came from.
type Spec struct {
	Cluster    Cluster
	KubeSphere *KubeSphere // nil when KubeSphere is off
	Config     Config      // zero when the file has no ksgen document
	// Dir is the directory of the spec file: relative paths in it resolve here.
	Dir string
	// Roles maps each role to its host names, ranges expanded and the old
	// role name "master" folded into "control-plane", in file order.
	Roles map[string][]string

	lines map[string]int
}

// Line returns the line a field path came from, or 0 if it is not in the file.
func (s *Spec) Line(path string) int { return s.lines[path] }

// LoadFile reads, defaults and validates a spec file. The report holds every
// finding; the Spec is nil when the file could not be read into one.
func LoadFile(path string) (*Spec, *Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read spec: %w", err)
	}
	s, r := Load(data)
	if s != nil {
		s.Dir = filepath.Dir(path)
	}
	return s, r, nil
}

// Load decodes every document strictly, applies KubeKey's defaults and validates.
func Load(data []byte) (*Spec, *Report) {
	r := &Report{}
	s := &Spec{lines: map[string]int{}}
	if !s.decode(data, r) {
		return nil, r
	}
	s.setDefaults()
	s.validate(r)
	return s, r
}

// decode reads each YAML document by apiVersion/kind into its type.
func (s *Spec) decode(data []byte, r *Report) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	seen := map[string]int{}
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.add(Error, "", syntaxLine(err), fail(ErrSyntax, "%s", strings.TrimPrefix(err.Error(), "yaml: ")))
			return false
		}
		if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue
		}
		root := doc.Content[0]
		id, ok := documentID(root, r)
		if !ok {
			continue
		}
		if first, dup := seen[id]; dup {
			r.add(Error, "", root.Line, fail(ErrDuplicateDocument, "second %s document (first at line %d)", id, first))
			continue
		}
		seen[id] = root.Line
		var target any
		var prefix string
		switch id {
		case ClusterKind:
			target = &s.Cluster
		case KubeSphereKind:
			s.KubeSphere = &KubeSphere{}
			target, prefix = s.KubeSphere, "kubesphere."
		case ConfigKind:
			target, prefix = &s.Config, "ksgen."
		default:
			r.add(Error, "", root.Line, fail(ErrUnknownDocument, "unknown document %s (want %s, %s or %s)", id, ClusterKind, KubeSphereKind, ConfigKind))
			continue
		}
		c := converter{lines: s.lines, report: r}
		tree := c.convert(root, reflect.TypeOf(target).Elem(), strings.TrimSuffix(prefix, "."))
		if c.failed {
			continue
		}
		if err := decodeJSON(tree, target); err != nil {
			r.add(Error, strings.TrimSuffix(prefix, "."), root.Line, fail(ErrType, "%v", err))
		}
	}
	if _, ok := seen[ClusterKind]; !ok && !r.HasErrors(false) {
		r.add(Error, "", 1, ErrMissingCluster)
	}
	return !r.HasErrors(false)
}

// documentID reads apiVersion and kind before anything else is decoded.
func documentID(root *yaml.Node, r *Report) (string, bool) {
	if root.Kind != yaml.MappingNode {
		r.add(Error, "", root.Line, fail(ErrType, "a document must be a mapping with apiVersion and kind"))
		return "", false
	}
	var apiVersion, kind string
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "apiVersion":
			apiVersion = root.Content[i+1].Value
		case "kind":
			kind = root.Content[i+1].Value
		}
	}
	if apiVersion == "" || kind == "" {
		r.add(Error, "", root.Line, fail(ErrRequired, "document has no apiVersion or kind"))
		return "", false
	}
	return apiVersion + "/" + kind, true
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func syntaxLine(err error) int {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func decodeJSON(tree any, target any) error {
	raw, err := json.Marshal(tree)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(target)
}

// converter walks a YAML node and the Go type it must fill side by side, so
// that unknown fields, duplicate keys and type mismatches are reported with
// the field path and line, and records the line of every field it visits.
type converter struct {
	lines  map[string]int
	report *Report
	failed bool
}

func (c *converter) errorf(n *yaml.Node, path string, cause error, format string, args ...any) {
	c.failed = true
	c.report.add(Error, path, n.Line, fail(cause, format, args...))
}

func (c *converter) convert(n *yaml.Node, t reflect.Type, path string) any {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if _, seen := c.lines[path]; !seen && path != "" {
		c.lines[path] = n.Line
	}
	if n.Tag == "!!null" {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return c.convert(n, t.Elem(), path)
	case reflect.Struct:
		return c.object(n, path, func(key string) (reflect.Type, bool) {
			f, ok := jsonFields(t)[key]
			return f, ok
		})
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return c.raw(n, path)
		}
		return c.object(n, path, func(string) (reflect.Type, bool) { return t.Elem(), true })
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.errorf(n, path, ErrType, "expected a list, got %s", describe(n))
			return nil
		}
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			out[i] = c.convert(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.errorf(n, path, ErrType, "expected a string, got %s", describe(n))
			return nil
		}
		return n.Value
	case reflect.Int, reflect.Int64:
		var v int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
			c.errorf(n, path, ErrType, "expected an integer, got %s", describe(n))
			return nil
		}
		return v
	case reflect.Bool:
		var v bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
			c.errorf(n, path, ErrType, "expected true or false, got %s", describe(n))
			return nil
		}
		return v
	case reflect.Interface:
		return c.raw(n, path)
	}
	panic(fmt.Sprintf("spec: no YAML conversion for %s", t))
}

// object converts a mapping whose value types come from fieldType.
func (c *converter) object(n *yaml.Node, path string, fieldType func(string) (reflect.Type, bool)) any {
	if n.Kind != yaml.MappingNode {
		c.errorf(n, path, ErrType, "expected a mapping, got %s", describe(n))
		return nil
	}
	out := make(map[string]any, len(n.Content)/2)
	keyLine := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		sub := key
		if path != "" {
			sub = path + "." + key
		}
		if first, dup := keyLine[key]; dup {
			c.errorf(k, sub, ErrDuplicateKey, "key %q given twice (first at line %d)", key, first)
			continue
		}
		keyLine[key] = k.Line
		ft, ok := fieldType(key)
		if !ok {
			c.errorf(k, sub, ErrUnknownField, "unknown field %q", key)
			continue
		}
		c.lines[sub] = k.Line
		out[key] = c.convert(v, ft, sub)
	}
	return out
}

// raw converts free-form YAML (component config overrides, KubeSphere's spec).
func (c *converter) raw(n *yaml.Node, path string) any {
	var v any
	if err := n.Decode(&v); err != nil {
		c.errorf(n, path, ErrType, "%v", err)
		return nil
	}
	if _, err := json.Marshal(v); err != nil {
		c.errorf(n, path, ErrType, "mapping keys must be strings")
		return nil
	}
	return v
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps a struct's JSON field names to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}
