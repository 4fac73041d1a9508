// Package templates holds ksgen's text templates, embedded and parsed once.
// A template only prints: every value is computed in Go before it runs.
package templates

import (
	"bytes"
	"embed"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

var all = template.Must(template.New("").Option("missingkey=error").ParseFS(files, "*.tmpl"))

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
