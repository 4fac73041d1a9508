// Package templates holds ksgen's text templates, embedded and parsed once.
// A template only prints: every value is computed in Go before it runs.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"reflect"
	"strings"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

var all = template.Must(template.New("").Option("missingkey=error").
	Funcs(template.FuncMap{"shq": ShellQuote}).ParseFS(files, "*.tmpl"))

// ShellQuote is the one way a value reaches a shell script: one word, in
// single quotes, that the shell reads back byte for byte.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ConfigSample is the data of config-sample.yaml.tmpl.
type ConfigSample struct {
	Name              string
	KubernetesVersion string
	KubeSphereVersion string // empty: no ClusterConfiguration document
	// Schema is the JSON Schema file the YAML language server applies, beside the file.
	Schema string
}

// Execute renders the named template. data is a named struct, so the
// fields a template reads are declared and checked by the compiler; a map
// is refused.
func Execute(name string, data any) ([]byte, error) {
	if k := reflect.ValueOf(data).Kind(); k != reflect.Struct {
		return nil, fmt.Errorf("template %s: data is a %s, want a named struct", name, k)
	}
	var b bytes.Buffer
	if err := all.ExecuteTemplate(&b, name, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
