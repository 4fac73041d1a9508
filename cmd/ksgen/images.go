package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/images"
)

func newImagesCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Work with the container images a cluster runs",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newImagesListCommand(stdout, stderr), newPackerVarsCommand(stdout, stderr))
	return cmd
}

type imagesListFlags struct {
	file   string
	output string
	strict bool
}

func newImagesListCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &imagesListFlags{}
	cmd := &cobra.Command{
		Use:   "list -f FILE",
		Short: "Print every image the cluster runs, with exact tags, one per line",
		Long: `list prints every container image the cluster runs: kubeadm's control-plane
images (with the pause, CoreDNS and etcd tags of the Kubernetes version),
the load balancer's, the CNI's, OpenEBS local PV's when it is installed, and
KubeSphere's (its core, monitoring and every pluggable component the
ClusterConfiguration enables), through registry.privateRegistry and
namespaceOverride when the spec sets them. Sorted, one per line.`,
		Example: `  ksgen images list -f config-sample.yaml
  ksgen images list -f config-sample.yaml | xargs -n1 ctr -n k8s.io images pull
  ksgen images list -f config-sample.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if f.output != "text" && f.output != "json" {
				return fmt.Errorf("--output %q: want text or json", f.output)
			}
			c, err := loadPlan(f.file, f.strict, stderr)
			if err != nil {
				return err
			}
			list, err := images.List(generator.Images(c))
			if err != nil {
				return err
			}
			if f.output == "json" {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Images []string `json:"images"`
				}{list})
			}
			_, err = io.WriteString(stdout, strings.Join(list, "\n")+"\n")
			return err
		},
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "cluster file (KubeKey config-sample.yaml)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text (one image per line) or json")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "treat warnings as errors")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	return cmd
}
