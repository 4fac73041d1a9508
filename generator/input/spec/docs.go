package spec

import (
	"embed"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"sync"
)

// typeSource is the Go source of the document types, so that the JSON
// Schema and the README's reference carry their doc comments.
//
//go:embed types.go ksgen_types.go storage.go
var typeSource embed.FS

// Docs maps each document type ("Host") and field ("Host.Name", by Go
// name) to its doc comment, or its line comment when it has none, as one
// line of text.
var Docs = sync.OnceValue(func() map[string]string {
	docs := map[string]string{}
	fset := token.NewFileSet()
	files, _ := fs.Glob(typeSource, "*.go")
	for _, name := range files {
		src, _ := typeSource.ReadFile(name)
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			panic("spec: embedded " + name + ": " + err.Error()) // compiled, so it parses
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, s := range gen.Specs {
				ts := s.(*ast.TypeSpec)
				group := ts.Doc
				if group == nil && len(gen.Specs) == 1 {
					group = gen.Doc
				}
				docs[ts.Name.Name] = text(group)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, field := range st.Fields.List {
					c := field.Doc
					if c == nil {
						c = field.Comment
					}
					for _, n := range field.Names {
						docs[ts.Name.Name+"."+n.Name] = text(c)
					}
				}
			}
		}
	}
	return docs
})

// text is a comment group as one line.
func text(c *ast.CommentGroup) string {
	if c == nil {
		return ""
	}
	return strings.Join(strings.Fields(c.Text()), " ")
}
