package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator/input/spec/schema"
)

func newSchemaCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "schema [file|cluster|ksgen]",
		Short: "Print the JSON Schema of the spec file, for editors to complete and check it",
		Long: `schema prints a JSON Schema (2020-12) derived from the types ksgen decodes:
file (the default) accepts each document a spec file holds (the KubeKey
Cluster, an optional KubeSphere ClusterConfiguration and an optional ksgen
Config); cluster and ksgen accept one document.

create config's first line names ` + schema.FileName + ` beside the spec:

  # yaml-language-server: $schema=` + schema.FileName + `

so editors with the YAML language server (VS Code's YAML extension, Neovim,
Helix, …) complete and check the file once it exists. The schema knows types
and field names; ksgen validate knows the rest.`,
		Example: `  ksgen schema > ` + schema.FileName + `
  ksgen schema cluster > ksgen-cluster.schema.json`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: schema.Names,
		RunE: func(_ *cobra.Command, args []string) error {
			name := "file"
			if len(args) == 1 {
				name = args[0]
			}
			out, err := schema.Generate(name)
			if err != nil {
				return err
			}
			_, err = stdout.Write(out)
			return err
		},
	}
}
