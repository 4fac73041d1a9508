package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/delivery/matchbox"
	"github.com/ksgen/ksgen/generator/output/tree"
)

// matchboxFlags are the matchbox export's flags, shared by "render
// --matchbox" and "export matchbox".
type matchboxFlags struct {
	dir  string
	opts matchbox.Options
}

// register adds the flags; dirFlag names the output directory's flag.
func (f *matchboxFlags) register(cmd *cobra.Command, dirFlag, shorthand string) {
	cmd.Flags().StringVarP(&f.dir, dirFlag, shorthand, "", "write matchbox's data directory here (groups/, profiles/, ignition/, ipxe/); run matchbox with -data-path on it")
	cmd.Flags().StringVar(&f.opts.URL, "matchbox-url", "", "matchbox's HTTP endpoint, as machines reach it (required: e.g. http://10.0.0.2:8080)")
	cmd.Flags().StringVar(&f.opts.FCOSVersion, "fcos-version", matchbox.DefaultFCOSVersion, "Fedora CoreOS PXE images under assets/fedora-coreos/")
	cmd.Flags().StringVar(&f.opts.FlatcarVersion, "flatcar-version", matchbox.DefaultFlatcarVersion, "Flatcar PXE images under assets/flatcar/VERSION/")
	cmd.Flags().StringVar(&f.opts.InstallDev, "install-dev", matchbox.DefaultInstallDev, "disk Fedora CoreOS installs to")
	_ = cmd.MarkFlagDirname(dirFlag)
}

func newExportCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a rendered tree for a delivery system",
	}
	f := &matchboxFlags{}
	var in string
	mb := &cobra.Command{
		Use:   "matchbox -d DIR -o MATCHBOX_DIR",
		Short: "Write matchbox groups, profiles and Ignition files, and iPXE scripts",
		Long: `export matchbox reads a rendered DIR and writes, for every host with a MAC
address in the ksgen document, a matchbox group (selector mac), a profile
(Fedora CoreOS live PXE installing to --install-dev, or Flatcar live PXE)
whose Ignition config is the host's config.ign, and ipxe/<host>.ipxe for
setups without matchbox. Hosts without a MAC, or booting cloud-init, are
skipped with a warning. MATCHBOX_DIR is replaced atomically, and only when
it is a previous export; keep matchbox's assets elsewhere (-assets-path).`,
		Example: `  ksgen export matchbox -d out -o /var/lib/matchbox-data --matchbox-url http://10.0.0.2:8080
  matchbox -data-path /var/lib/matchbox-data -assets-path /var/lib/matchbox/assets`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if f.dir == "" {
				return errors.New("-o MATCHBOX_DIR is required")
			}
			return exportMatchbox(in, f, stdout, stderr)
		},
	}
	mb.Flags().StringVarP(&in, "dir", "d", "out", "rendered output directory")
	f.register(mb, "output", "o")
	cmd.AddCommand(mb)
	return cmd
}

// exportMatchbox writes the matchbox export of the rendered tree in dir.
func exportMatchbox(dir string, f *matchboxFlags, stdout, stderr io.Writer) error {
	if inside(f.dir, dir) || inside(dir, f.dir) {
		return fmt.Errorf("matchbox directory %s and rendered tree %s must not contain each other", f.dir, dir)
	}
	raw, err := os.ReadFile(filepath.Join(dir, tree.IndexFile))
	if err != nil {
		return fmt.Errorf("read rendered tree: %w", err)
	}
	var idx generator.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, tree.IndexFile), err)
	}
	ignition := func(host string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, host, "config.ign"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	files, warnings, err := matchbox.Export(&idx, ignition, f.opts)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	w, err := tree.Create(f.dir)
	if err != nil {
		return err
	}
	for _, file := range files {
		if err := w.Put(file); err != nil {
			w.Abort()
			return err
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	groups := 0
	for _, file := range files {
		if strings.HasPrefix(file.Path, "groups/") {
			groups++
		}
	}
	_, err = fmt.Fprintf(stdout, "exported %d hosts to matchbox directory %s\n", groups, f.dir)
	return err
}
