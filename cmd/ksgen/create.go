package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/input/spec/schema"
	"github.com/ksgen/ksgen/generator/output/tree"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

type createFlags struct {
	file       string
	name       string
	kubernetes string
	kubesphere string
}

func newCreateCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "create", Short: "Create a sample cluster file"}
	f := &createFlags{}
	config := &cobra.Command{
		Use:   "config [-f config-sample.yaml]",
		Short: "Write a KubeKey-compatible cluster file, like kk create config",
		Example: `  ksgen create config
  ksgen create config --with-kubernetes v1.22.10 --with-kubesphere v3.3.1 -f cluster.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.kubesphere != "" && !cmd.Flags().Changed("with-kubernetes") {
				// Like kk: a KubeSphere version brings a Kubernetes it supports.
				r, ok := images.KubeSphere(f.kubesphere)
				if !ok {
					return fmt.Errorf("--with-kubesphere %s: ksgen installs %s", f.kubesphere, strings.Join(images.KubeSphereVersions(), ", "))
				}
				f.kubernetes, _ = images.KubernetesFor(r)
			}
			if _, err := spec.KubernetesVersion(f.kubernetes); err != nil {
				return fmt.Errorf("--with-kubernetes: %w", err)
			}
			raw, err := templates.Execute("config-sample.yaml.tmpl", templates.ConfigSample{
				Name: f.name, KubernetesVersion: f.kubernetes, KubeSphereVersion: f.kubesphere, Schema: schema.FileName,
			})
			if err != nil {
				return err
			}
			// What ksgen writes, ksgen must accept.
			if _, r := spec.Load(raw); r.Err(false) != nil {
				return fmt.Errorf("sample does not validate: %w", r.Err(false))
			}
			if err := tree.WriteNew(f.file, tree.ModePublic, raw); err != nil {
				return err
			}
			// Its first line names the schema beside it.
			_, err = fmt.Fprintf(stdout, "wrote %s (for completion in editors: ksgen schema > %s)\n", f.file, filepath.Join(filepath.Dir(f.file), schema.FileName))
			return err
		},
	}
	config.Flags().StringVarP(&f.file, "file", "f", "config-sample.yaml", "file to create (never overwritten)")
	// KubeKey's kk create config calls it --filename.
	config.Flags().StringVar(&f.file, "filename", "config-sample.yaml", "same as --file (KubeKey's name for it)")
	config.Flags().StringVar(&f.name, "name", "sample", "cluster name")
	config.Flags().StringVar(&f.kubernetes, "with-kubernetes", images.DefaultKubernetesVersion, "Kubernetes version")
	config.Flags().StringVar(&f.kubesphere, "with-kubesphere", "", "also write a KubeSphere ClusterConfiguration of this version (e.g. v3.4.1); without --with-kubernetes, the newest Kubernetes it supports")
	cmd.AddCommand(config)
	return cmd
}
