package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/spec"
)

type validateFlags struct {
	file   string
	strict bool
}

func newValidateCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &validateFlags{}
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a cluster file and report every problem with its field path and line",
		Example: `  ksgen validate -f config-sample.yaml
  ksgen validate -f config-sample.yaml --strict   # warnings are errors too`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if _, err := loadPlan(f.file, f.strict, stderr); err != nil {
				return err
			}
			_, err := fmt.Fprintf(stdout, "%s: valid\n", f.file)
			return err
		},
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "cluster file (KubeKey config-sample.yaml)")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "treat warnings as errors")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	return cmd
}

// loadPlan loads a spec and runs ksgen's full validation on it
// (generator.Validate), printing warnings; findings that stop the run come
// back as the error.
func loadPlan(path string, strict bool, stderr io.Writer) (*plan.Cluster, error) {
	s, r, err := spec.LoadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := generator.Validate(s, r)
	if rerr := r.Err(strict); rerr != nil {
		return nil, fmt.Errorf("%s is not valid:\n%w", path, rerr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, w := range r.Warnings() {
		fmt.Fprintf(stderr, "%s: %s\n", path, w)
	}
	return c, nil
}
