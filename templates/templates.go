// Package templates holds ksgen's text templates, embedded and parsed once.
// A template only prints: every value is computed in Go before it runs.
package templates

import (
	"bytes"
	"embed"
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
}

// Execute renders the named template.
func Execute(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := all.ExecuteTemplate(&b, name, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
