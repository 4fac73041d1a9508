package fleet

import (
	"html/template"
	"io"
	"time"
)

// RefreshSeconds is how often the page reloads itself.
const RefreshSeconds = 10

// pageData is what the page prints; the counts are computed in Go.
type pageData struct {
	View
	Now                        time.Time
	Refresh                    int
	Done, Failing, Silent, All int
}

// page is self-contained: inline CSS, no script, no external asset. Each
// node row carries data-node and data-phase for tools that read the page.
var page = template.Must(template.New("fleet").Option("missingkey=error").Funcs(template.FuncMap{
	"ago": func(now, t time.Time) string { return now.Sub(t).Round(time.Second).String() + " ago" },
	"utc": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{ .Refresh }}">
<meta name="referrer" content="no-referrer">
<title>ksgen fleet: {{ .Cluster }}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
p.sum span { margin-right: 1.2em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f3f3f3; }
tr.done td.phase { color: #176f2c; font-weight: 600; }
tr.failing td.phase { color: #b00020; font-weight: 600; }
tr.silent td.phase, tr.none td.phase { color: #777; }
td.err { font-family: ui-monospace, monospace; font-size: 12px; max-width: 40em; }
pre { white-space: pre-wrap; margin: .3em 0 0; max-height: 20em; overflow: auto; background: #fafafa; padding: .4em; }
</style>
</head>
<body>
<h1>ksgen fleet: {{ .Cluster }}</h1>
<p class="sum"><span>{{ .All }} nodes</span><span>{{ .Done }} bootstrapped</span><span>{{ .Failing }} failing</span><span>{{ .Silent }} no report yet</span><span>as of {{ utc .Now }}, refreshed every {{ .Refresh }}s</span></p>
<table>
<thead><tr><th>Node</th><th>Roles</th><th>Phase</th><th>Attempt</th><th>Last report</th><th>Last error</th></tr></thead>
<tbody>
{{- range .Nodes }}
<tr data-node="{{ .Name }}" data-phase="{{ .Phase }}" class="{{ if not .Bootstraps }}none{{ else if not .Last }}silent{{ else if .Failing }}failing{{ else if eq .Phase "bootstrapped" }}done{{ else }}running{{ end }}">
<td>{{ .Name }}</td>
<td>{{ range $i, $r := .Roles }}{{ if $i }}, {{ end }}{{ $r }}{{ end }}</td>
<td class="phase">{{ .Phase }}</td>
<td>{{ with .Last }}{{ if .Attempt }}{{ .Attempt }}{{ else }}-{{ end }}{{ else }}-{{ end }}</td>
<td>{{ with .Last }}<time datetime="{{ utc .Time }}">{{ ago $.Now .Time }}</time>{{ else }}-{{ end }}</td>
<td class="err">{{ with .LastFailure }}{{ .Phase }} {{ .Event }} (exit {{ .Status }}), {{ ago $.Now .Time }}:{{ end }}{{ if .LastFailure }} {{ .LastError }}<details><summary>log</summary><pre>{{ .LastFailure.Log }}</pre></details>{{ end }}</td>
</tr>
{{- end }}
</tbody>
</table>
</body>
</html>
`))

// WritePage writes the fleet page for v as of now.
func WritePage(w io.Writer, v View, now time.Time) error {
	d := pageData{View: v, Now: now, Refresh: RefreshSeconds, All: len(v.Nodes)}
	for _, n := range v.Nodes {
		switch {
		case n.Failing():
			d.Failing++
		case n.Last != nil && n.Last.Phase == PhaseBootstrapped:
			d.Done++
		case n.Bootstraps && n.Last == nil:
			d.Silent++
		}
	}
	return page.Execute(w, d)
}
