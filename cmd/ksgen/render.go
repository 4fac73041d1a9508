package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/pki"
	"github.com/ksgen/ksgen/generator/tree"
)

type renderFlags struct {
	file    string
	out     string
	secrets string
	formats []string
	nodes   []string
	strict  bool
	// delivery
	clouds   []string
	serveURL string
	pointers bool
	matchbox matchboxFlags
}

func newRenderCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &renderFlags{}
	cmd := &cobra.Command{
		Use:   "render -f FILE [-o DIR]",
		Short: "Write every machine's first-boot payload, kubeadm config and files",
		Long: `render validates FILE, then writes DIR/index.json and, per host,
DIR/<host>/{kubeadm.yaml,config.bu,config.ign,user-data,rootfs/}.

Without --secrets, the bundle ksgen-secrets.yaml beside FILE is used: created
(mode 0600) when missing, reused when present, never overwritten. The same
FILE and bundle always give byte-identical output. DIR is replaced atomically,
and only when it is a previous ksgen output.`,
		Example: `  ksgen render -f config-sample.yaml -o out
  ksgen render -f config-sample.yaml -o out --format ignition --node master1 --node node1
  ksgen render -f config-sample.yaml --secrets /secure/prod-secrets.yaml --strict
  ksgen render -f config-sample.yaml -o out --cloud aws --serve-url https://10.0.0.5:8443
  ksgen render -f config-sample.yaml -o out --matchbox /var/lib/matchbox-data --matchbox-url http://matchbox.example:8080`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return render(f, stdout, stderr) },
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "cluster file (KubeKey config-sample.yaml)")
	cmd.Flags().StringVarP(&f.out, "output", "o", "out", "output directory")
	cmd.Flags().StringVar(&f.secrets, "secrets", "", "secrets bundle (default: ksgen-secrets.yaml beside FILE)")
	cmd.Flags().StringSliceVar(&f.formats, "format", generator.Formats, "payload formats: ignition, cloud-init, or none (kubeadm configs and rootfs/ only)")
	cmd.Flags().StringArrayVar(&f.nodes, "node", nil, "render only this host (repeatable)")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "treat warnings as errors")
	cmd.Flags().StringSliceVar(&f.clouds, "cloud", nil, "also write DIR/<host>/{user-data,config.ign}.<cloud>, the exact user-data to pass: "+strings.Join(generator.Clouds, ", "))
	cmd.Flags().StringVar(&f.serveURL, "serve-url", "", "ksgen serve's URL (https://host:port): write pointer configs, used for cloud user-data over its limit")
	cmd.Flags().BoolVar(&f.pointers, "pointer", false, "cloud user-data always holds the pointer config (needs --serve-url)")
	f.matchbox.register(cmd, "matchbox", "")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	_ = cmd.MarkFlagDirname("output")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(generator.Formats, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("cloud", cobra.FixedCompletions(generator.Clouds, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func render(f *renderFlags, stdout, stderr io.Writer) error {
	s, err := loadSpec(f.file, f.strict, stderr)
	if err != nil {
		return err
	}
	secrets := f.secrets
	if secrets == "" {
		secrets = filepath.Join(filepath.Dir(f.file), "ksgen-secrets.yaml")
	}
	if inside(secrets, f.out) {
		return fmt.Errorf("secrets bundle %s is inside the output directory %s, which render replaces", secrets, f.out)
	}
	b, created, err := loadOrCreateBundle(secrets)
	if err != nil {
		return err
	}
	w, err := tree.Create(f.out)
	if err != nil {
		return err
	}
	count := &countingSink{Sink: w}
	opts := generator.Options{Formats: f.formats, Nodes: f.nodes, Clouds: f.clouds, ServeURL: f.serveURL, Pointers: f.pointers}
	if err := generator.GenerateTo(s, b, opts, count); err != nil {
		w.Abort()
		return err
	}
	if created {
		if err := writeBundle(secrets, b); err != nil {
			w.Abort()
			return err
		}
		fmt.Fprintf(stderr, "created secrets bundle %s (mode 0600): keep it, later renders reuse it\n", secrets)
	}
	if err := w.Commit(); err != nil {
		return err
	}
	if _, err = fmt.Fprintf(stdout, "rendered %d files into %s\n", count.n.Load(), f.out); err != nil {
		return err
	}
	if f.matchbox.dir != "" {
		return exportMatchbox(f.out, &f.matchbox, stdout, stderr)
	}
	return nil
}

// loadOrCreateBundle reads the bundle, or makes a new one in memory; the
// caller writes a new one only once the render has succeeded.
func loadOrCreateBundle(path string) (*pki.Bundle, bool, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err := pki.Generate(pki.Options{})
		return b, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("read secrets bundle: %w", err)
	}
	b, err := pki.Parse(raw)
	if err != nil {
		return nil, false, fmt.Errorf("secrets bundle %s: %w", path, err)
	}
	return b, false, nil
}

// countingSink counts the files it passes on.
type countingSink struct {
	tree.Sink
	n atomic.Int64
}

func (c *countingSink) Put(f tree.File) error {
	c.n.Add(1)
	return c.Sink.Put(f)
}

func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	return p == d || strings.HasPrefix(p, d+string(filepath.Separator))
}
