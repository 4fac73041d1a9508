package spec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

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
	// noContainerManager is true when the file leaves
	// kubernetes.containerManager empty (KubeKey's default is docker).
	noContainerManager bool
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
			text := yamlText(data)
			line, msg := syntaxLine(err, text)
			r.add(Error, "", min(line, lastLine(text)), fail(ErrSyntax, "%s", msg))
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
		r.add(Error, "", 0, ErrMissingCluster)
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
		missing := "apiVersion"
		if apiVersion != "" {
			missing = "kind"
		} else if kind == "" {
			missing = "apiVersion and no kind"
		}
		r.add(Error, "", root.Line, fail(ErrRequired, "document has no %s", missing))
		return "", false
	}
	return apiVersion + "/" + kind, true
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlParserProblems are the errors of yaml.v3's parser, as opposed to its
// scanner: yaml.v3 prints their line counting from 0, and not at all when
// that is 0.
var yamlParserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found duplicate %TAG directive",
	"found incompatible YAML document",
}

// syntaxLine splits a YAML syntax error into the true line of the file and
// the message without the "yaml: line N: " prefix, which the entry prints.
func syntaxLine(err error, text string) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	lines := strings.Split(text, "\n")
	m := yamlLine.FindStringSubmatch(msg)
	switch {
	case m != nil:
		line, _ := strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		if slices.Contains(yamlParserProblems, msg) {
			line++
		}
		// yaml.v3 says a tab at the start of a line "cannot start any
		// token": name the tab, the one thing the user must change.
		if strings.Contains(msg, "cannot start any token") && line >= 1 && line <= len(lines) &&
			strings.HasPrefix(strings.TrimLeft(lines[line-1], " "), "\t") {
			return line, msg + " (a tab: YAML indents with spaces only)"
		}
		if strings.Contains(msg, "tab character") {
			// yaml.v3 names the line where the scalar began; the tab that
			// breaks the indentation starts a later line.
			for i := line - 1; i >= 0 && i < len(lines); i++ {
				if indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))]; strings.Contains(indent, "\t") {
					return i + 1, msg
				}
			}
		}
		return line, msg
	case strings.HasPrefix(msg, "unknown anchor '"):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		for i, l := range lines {
			if strings.Contains(l, "*"+name) {
				return i + 1, msg
			}
		}
		return 0, msg
	case strings.HasPrefix(msg, "attempted to go past the end of stream"):
		return 0, msg
	}
	// The parser and scanner leave the line out only when it is the first.
	return 1, msg
}

// yamlText is the file as yaml.v3 reads it: UTF-8, or UTF-16 after a BOM.
func yamlText(data []byte) string {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		order = binary.BigEndian
	default:
		return string(data)
	}
	units := make([]uint16, 0, len(data)/2)
	for i := 2; i+1 < len(data); i += 2 {
		units = append(units, order.Uint16(data[i:]))
	}
	return string(utf16.Decode(units))
}

// lastLine is the number of the text's last line, counting line breaks as
// YAML does; an error at the end of the stream belongs to that line.
func lastLine(text string) int {
	n := 1
	for i, r := range text {
		switch r {
		case '\n':
			if i > 0 && text[i-1] == '\r' {
				continue
			}
			fallthrough
		case '\r', '\u0085', '\u2028', '\u2029':
			if i+utf8.RuneLen(r) < len(text) {
				n++
			}
		}
	}
	return n
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

	// Aliases and merge keys let a small file name a huge tree, which the
	// walk would expand; like yaml.v3's decoder, refuse a document whose
	// aliased values far outnumber its written ones.
	inAlias       int // > 0 while converting an alias's (or merge's) target
	plain, copied int // values converted outside and inside aliases
	exploded      bool
}

// maxAliased is how many values aliases may expand to beyond ten times the
// values written out.
const maxAliased = 100000

func (c *converter) errorf(n *yaml.Node, path string, cause error, format string, args ...any) {
	c.failed = true
	c.report.add(Error, path, n.Line, fail(cause, format, args...))
}

// typeErrorf reports a value of the wrong type at the line of its key (or
// list item), where the user looks for the field, rather than the line
// where a block value's first child starts.
func (c *converter) typeErrorf(n *yaml.Node, path string, format string, args ...any) {
	line, ok := c.lines[path]
	if !ok {
		line = n.Line
	}
	c.failed = true
	c.report.add(Error, path, line, fail(ErrType, format, args...))
}

func (c *converter) convert(n *yaml.Node, t reflect.Type, path string) any {
	if n.Kind == yaml.AliasNode {
		c.inAlias++
		defer func() { c.inAlias-- }()
		n = n.Alias
	}
	if c.inAlias > 0 {
		c.copied++
	} else {
		c.plain++
	}
	if c.exploded {
		return nil
	}
	if c.copied > maxAliased && c.copied > 10*c.plain {
		c.exploded = true
		c.errorf(n, path, ErrSyntax, "aliases expand to more than %d values; write them out", maxAliased)
		return nil
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
		}, func(key string) string { return similarField(t, key) })
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return c.raw(n, path)
		}
		return c.object(n, path, func(string) (reflect.Type, bool) { return t.Elem(), true }, nil)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.typeErrorf(n, path, "expected a list, got %s", describe(n))
			return nil
		}
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			out[i] = c.convert(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.typeErrorf(n, path, "expected a string, got %s", describe(n))
			return nil
		}
		return n.Value
	case reflect.Int, reflect.Int64:
		var v int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
			c.typeErrorf(n, path, "expected an integer, got %s", describe(n))
			return nil
		}
		return v
	case reflect.Bool:
		var v bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
			c.typeErrorf(n, path, "expected true or false, got %s", describe(n))
			return nil
		}
		return v
	case reflect.Interface:
		return c.raw(n, path)
	}
	panic(fmt.Sprintf("spec: no YAML conversion for %s", t))
}

// object converts a mapping whose value types come from fieldType.
// suggest, when not nil, names a known field a misspelt key may have meant.
func (c *converter) object(n *yaml.Node, path string, fieldType func(string) (reflect.Type, bool), suggest func(string) string) any {
	if n.Kind != yaml.MappingNode {
		c.typeErrorf(n, path, "expected a mapping, got %s", describe(n))
		return nil
	}
	pairs, ok := c.pairs(n, path, map[*yaml.Node]bool{})
	if !ok {
		return nil
	}
	out := make(map[string]any, len(pairs))
	keyLine := map[string]int{}
	for _, p := range pairs {
		k, v := p.key, p.value
		key := k.Value
		sub := key
		if path != "" {
			sub = path + "." + key
		}
		if first, dup := keyLine[key]; dup {
			if !p.merged {
				c.errorf(k, sub, ErrDuplicateKey, "key %q given twice (first at line %d)", key, first)
			}
			continue
		}
		keyLine[key] = k.Line
		ft, ok := fieldType(key)
		if !ok && staleFields[sub] != "" {
			c.report.add(Warning, sub, k.Line, fail(ErrIgnored, "%s is no longer a KubeKey field and KubeKey ignores it; %s", key, staleFields[sub]))
			continue
		}
		if !ok {
			if suggest != nil && suggest(key) != "" {
				c.errorf(k, sub, ErrUnknownField, "unknown field %q (did you mean %q?)", key, suggest(key))
			} else {
				c.errorf(k, sub, ErrUnknownField, "unknown field %q", key)
			}
			continue
		}
		c.lines[sub] = k.Line
		if p.merged {
			c.inAlias++
		}
		out[key] = c.convert(v, ft, sub)
		if p.merged {
			c.inAlias--
		}
	}
	return out
}

// staleFields are fields of older KubeKey files that KubeKey now ignores
// without a word (it decodes leniently), by path, with what replaced them:
// ksgen warns instead of refusing the file.
var staleFields = map[string]string{
	"spec.network.enableMultusCNI": "network.multusCNI.enabled replaced it",
}

// pair is one key and value of a mapping; merged when a YAML merge key
// ("<<: *base") brought it in.
type pair struct {
	key, value *yaml.Node
	merged     bool
}

// pairs lists a mapping's own pairs, then those its merge keys bring in, so
// that its own keys, and earlier merged mappings, win, as in KubeKey's YAML
// library. A mapping merged twice (or into itself) is expanded once.
func (c *converter) pairs(n *yaml.Node, path string, done map[*yaml.Node]bool) ([]pair, bool) {
	done[n] = true
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag != "!!merge" {
			own = append(own, pair{key: k, value: v})
			continue
		}
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			if src.Kind == yaml.AliasNode {
				src = src.Alias
			}
			if src.Kind != yaml.MappingNode {
				c.errorf(k, path, ErrType, "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(src))
				return nil, false
			}
			if done[src] {
				continue
			}
			more, ok := c.pairs(src, path, done)
			if !ok {
				return nil, false
			}
			for _, p := range more {
				merged = append(merged, pair{key: p.key, value: p.value, merged: true})
			}
		}
	}
	return append(own, merged...), true
}

// raw converts free-form YAML (component config overrides, KubeSphere's spec).
func (c *converter) raw(n *yaml.Node, path string) any {
	var v any
	if err := n.Decode(&v); err != nil {
		c.typeErrorf(n, path, "%v", err)
		return nil
	}
	if _, err := json.Marshal(v); err != nil {
		var unsupported *json.UnsupportedTypeError
		if errors.As(err, &unsupported) {
			c.typeErrorf(n, path, "mapping keys must be strings")
		} else {
			c.typeErrorf(n, path, "value cannot be written as JSON: %v", err)
		}
		return nil
	}
	c.rawLines(n, path)
	return v
}

// rawLines records the line of every key below a free-form mapping, so
// findings about KubeSphere's settings point at the setting.
func (c *converter) rawLines(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode || c.inAlias > 0 {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		sub := path + "." + n.Content[i].Value
		if _, seen := c.lines[sub]; !seen {
			c.lines[sub] = n.Content[i].Line
		}
		c.rawLines(n.Content[i+1], sub)
	}
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

// similarField returns the field of struct t whose JSON name equals key but
// for case ("maxpods" for "maxPods"), or "".
func similarField(t reflect.Type, key string) string {
	for _, name := range slices.Sorted(maps.Keys(jsonFields(t))) {
		if strings.EqualFold(name, key) {
			return name
		}
	}
	return ""
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
