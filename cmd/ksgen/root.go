package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/images"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ksgen",
		Short: "Compile a KubeKey cluster file into per-machine first-boot payloads",
		Long: `ksgen reads a KubeKey cluster file (config-sample.yaml) and writes, offline,
one first-boot payload per machine: Ignition for Fedora CoreOS and Flatcar,
cloud-init for Ubuntu, Debian and RHEL-family, carrying kubeadm configs and
pre-generated PKI, so that every machine configures and joins itself.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newCreateCommand(stdout),
		newSecretsCommand(stdout),
		newTokenCommand(stdout),
		newValidateCommand(stdout, stderr),
		newRenderCommand(stdout, stderr),
		newServeCommand(stdout, stderr),
		newExportCommand(stdout, stderr),
		newImagesCommand(stdout, stderr),
		newKubeconfigCommand(stdout, stderr),
		newStatusCommand(stdout, stderr),
		newSchemaCommand(stdout),
		newVersionCommand(stdout),
	)
	return root
}

// buildVersion is v as the linker set it, else the module version go
// install recorded, else the commit a go build from a checkout recorded
// ("dev+1a2b3c4d5e6f", "-dirty" with uncommitted changes).
func buildVersion(v string) string {
	info, ok := debug.ReadBuildInfo()
	if v != "dev" || !ok {
		return v
	}
	if info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev == "" {
		return v
	}
	return v + "+" + rev + dirty
}

func newVersionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print ksgen's version and the Kubernetes versions it renders for",
		Example: "  ksgen version",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := buildVersion(version)
			_, err := fmt.Fprintf(stdout, "ksgen %s\nkubernetes %s to v1.%d (default %s)\n",
				v, images.MinKubernetesVersion, images.MaxKubernetesMinor, images.DefaultKubernetesVersion)
			return err
		},
	}
}
