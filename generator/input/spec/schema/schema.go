// Package schema derives, from the Go types generator/spec decodes (their
// json tags and doc comments), the JSON Schema of the documents a spec file
// holds and the README's reference of the ksgen document, so that neither
// can drift from what ksgen reads.
package schema

//go:generate go run ./gendocs ../../../../README.md

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/profile/clouds"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
)

// Draft is the JSON Schema dialect of every schema here.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// FileName is the schema file create config's first line names, beside the
// spec: "ksgen schema > ksgen.schema.json" writes it.
const FileName = "ksgen.schema.json"

// document is one kind of YAML document a spec file may hold.
type document struct {
	name  string // ksgen schema's argument
	id    string // spec's "apiVersion/kind"
	typ   reflect.Type
	title string
}

var documents = []document{
	{"cluster", spec.ClusterKind, reflect.TypeFor[spec.Cluster](), "KubeKey Cluster, as ksgen reads it"},
	{"ksgen", spec.ConfigKind, reflect.TypeFor[spec.Config](), "ksgen Config"},
	{"kubesphere", spec.KubeSphereKind, reflect.TypeFor[spec.KubeSphere](), "KubeSphere ClusterConfiguration (its spec passes to ks-installer unchecked)"},
}

// Names are the arguments Generate takes: "file" (any document of a spec
// file), then one document's.
var Names = []string{"file", "cluster", "ksgen"}

// Generate returns the JSON Schema named: "file" accepts every document a
// spec file may hold (what an editor applies to each document of the
// file), "cluster" and "ksgen" one document.
func Generate(name string) ([]byte, error) {
	b := &builder{defs: map[string]any{}}
	var root map[string]any
	switch name {
	case "file":
		var docs []any
		for _, d := range documents {
			docs = append(docs, b.document(d))
		}
		root = map[string]any{
			"title":       "ksgen spec file: a KubeKey Cluster, an optional KubeSphere ClusterConfiguration and an optional ksgen Config",
			"description": "Each YAML document of the file is one of these, told apart by apiVersion and kind.",
			"oneOf":       docs,
		}
	default:
		i := slices.IndexFunc(documents, func(d document) bool { return d.name == name })
		if i < 0 || name == "kubesphere" {
			return nil, fmt.Errorf("no schema %q: want %s", name, strings.Join(Names, ", "))
		}
		root = b.document(documents[i])
	}
	root["$schema"] = Draft
	root["$defs"] = b.defs
	out, err := json.MarshalIndent(root, "", "  ")
	return append(out, '\n'), err
}

// builder collects the definitions of the struct types it meets.
type builder struct {
	defs map[string]any
}

// document is the schema of one document: its type, with apiVersion and
// kind fixed, which is how ksgen tells documents apart.
func (b *builder) document(d document) map[string]any {
	apiVersion, kind := splitID(d.id)
	return map[string]any{
		"title":      d.title,
		"type":       "object",
		"allOf":      []any{b.of(d.typ)},
		"required":   []string{"apiVersion", "kind"},
		"properties": map[string]any{"apiVersion": map[string]any{"const": apiVersion}, "kind": map[string]any{"const": kind}},
	}
}

func splitID(id string) (apiVersion, kind string) {
	i := strings.LastIndex(id, "/")
	return id[:i], id[i+1:]
}

// of is the schema of a value of type t as the loader converts it (see
// spec's converter): null is "absent" anywhere; a string field takes any
// scalar as its text; integers and booleans must be YAML's own; unknown
// fields are errors; free-form fields take anything.
func (b *builder) of(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		return b.of(t.Elem())
	case reflect.Struct:
		if _, done := b.defs[t.Name()]; !done {
			b.defs[t.Name()] = nil // a type that refers to itself stops here
			b.defs[t.Name()] = b.object(t)
		}
		return map[string]any{"$ref": "#/$defs/" + t.Name()}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return map[string]any{"type": []string{"object", "null"}}
		}
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": b.of(t.Elem())}
	case reflect.Slice:
		return map[string]any{"type": []string{"array", "null"}, "items": b.of(t.Elem())}
	case reflect.String:
		return map[string]any{"type": []string{"string", "number", "boolean", "null"}}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": []string{"integer", "null"}}
	case reflect.Bool:
		return map[string]any{"type": []string{"boolean", "null"}}
	case reflect.Interface:
		return map[string]any{}
	}
	panic(fmt.Sprintf("schema: no JSON Schema for %s", t))
}

// object is a struct's definition: its json fields, each described by its
// doc comment, and nothing else.
func (b *builder) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	for _, f := range fields(t) {
		p := maps.Clone(b.of(f.typ))
		if names := keys[t.Name()+"."+f.goName]; names != nil {
			p["propertyNames"] = map[string]any{"enum": names}
		}
		if list := values[t.Name()+"."+f.goName]; list != nil {
			p["enum"] = enum(t.Name()+"."+f.goName, list)
		}
		if f.doc != "" {
			p["description"] = f.doc
		}
		props[f.name] = p
	}
	def := map[string]any{"type": []string{"object", "null"}, "properties": props, "additionalProperties": false}
	if d := spec.Docs()[t.Name()]; d != "" {
		def["description"] = d
	}
	return def
}

// keys are the fields, by "Type.Field", whose mapping keys the loader
// checks against a list.
var keys = map[string][]string{
	"ClusterSpec.RoleGroups": spec.RoleNames,
	"ConfigSpec.Roles":       spec.RoleNames,
}

// values are the string fields, by "Type.Field", that take one of a list
// the validator holds too; empty or absent means the default.
var values = map[string][]string{
	"ConfigSpec.OS":           osprofile.Names,
	"NodeSettings.OS":         osprofile.Names,
	"Budget.Cloud":            clouds.Names,
	"LoadBalancer.Proxy":      {spec.ProxyHAProxy, spec.ProxyNginx},
	"KubeadmPatchTarget.Kind": spec.PatchKinds,
}

// enum is the JSON Schema enum of a field of values: its list, and for an
// optional field the empty string and null.
func enum(key string, list []string) []any {
	var out []any
	for _, v := range list {
		out = append(out, v)
	}
	if key != "KubeadmPatchTarget.Kind" { // required: the patch needs a target
		out = append(out, "", nil)
	}
	return out
}

// field is one json field of a struct.
type field struct {
	name, goName, doc string
	typ               reflect.Type
}

func fields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, field{name: name, goName: f.Name, doc: spec.Docs()[t.Name()+"."+f.Name], typ: f.Type})
	}
	return out
}

// Reference is the README's reference of the ksgen document: one table per
// struct type reachable from Config, in the order they are first met, each
// field with its type and doc comment.
func Reference() string {
	var b strings.Builder
	apiVersion, kind := splitID(spec.ConfigKind)
	fmt.Fprintf(&b, "A spec file may hold one document with `apiVersion: %s` and `kind: %s`. "+
		"apiVersion and kind are required, every other field is optional. Generated from the Go types (`make docs`); `ksgen schema ksgen` prints the same as a JSON Schema.\n", apiVersion, kind)
	seen := map[reflect.Type]bool{}
	queue := []reflect.Type{reflect.TypeFor[spec.Config]()}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		fmt.Fprintf(&b, "\n#### ksgen %s\n\n", t.Name())
		if d := spec.Docs()[t.Name()]; d != "" {
			b.WriteString(d + "\n\n")
		}
		b.WriteString("| field | type | description |\n|---|---|---|\n")
		for _, f := range fields(t) {
			desc := f.doc
			if names := keys[t.Name()+"."+f.goName]; names != nil {
				desc = strings.TrimSpace(desc + " Keys: " + strings.Join(names, ", ") + ".")
			}
			if list := values[t.Name()+"."+f.goName]; list != nil {
				desc = strings.TrimSpace(desc + " One of: " + strings.Join(list, ", ") + ".")
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.name, typeName(f.typ), strings.ReplaceAll(desc, "|", `\|`))
			for _, s := range structs(f.typ) {
				if !seen[s] {
					seen[s] = true
					queue = append(queue, s)
				}
			}
		}
	}
	return b.String()
}

// typeName is a field's type as the reference prints it, linking structs to
// their table.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Struct:
		return fmt.Sprintf("[%s](#ksgen-%s)", t.Name(), strings.ToLower(t.Name()))
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Interface:
		return "any"
	}
	return t.Kind().String()
}

// structs are the struct types a field's type holds.
func structs(t reflect.Type) []reflect.Type {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice:
		return structs(t.Elem())
	case reflect.Struct:
		return []reflect.Type{t}
	}
	return nil
}

// Markers around the README's generated reference.
const (
	BeginReference = "<!-- BEGIN ksgen document reference: generated by make docs, do not edit -->"
	EndReference   = "<!-- END ksgen document reference -->"
)

// UpdateReadme returns readme with the text between the reference markers
// replaced by Reference().
func UpdateReadme(readme string) (string, error) {
	before, rest, ok := strings.Cut(readme, BeginReference+"\n")
	_, after, ok2 := strings.Cut(rest, EndReference)
	if !ok || !ok2 {
		return "", fmt.Errorf("README has no %q … %q section", BeginReference, EndReference)
	}
	return before + BeginReference + "\n" + Reference() + EndReference + after, nil
}
