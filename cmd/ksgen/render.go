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
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/output/tree"
)

type renderFlags struct {
	file    string
	out     string
	secrets string
	formats []string
	nodes   []string
	strict  bool
	quiet   bool
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
DIR/<host>/{kubeadm.yaml,rootfs/} and the payload the host's OS boots:
config.bu and config.ign (Ignition: fcos, flatcar) or user-data (cloud-init:
ubuntu, debian, rhel). --format filters: a host whose OS reads a format left
out gets kubeadm.yaml and rootfs/ only.

Without --secrets, the bundle ksgen-secrets.yaml beside FILE is used: reused
when present, never overwritten, and created (mode 0600, once the render has
succeeded) only for a new cluster, that is when DIR holds no earlier render
(no DIR/index.json). A --secrets bundle must exist: make one with
"ksgen secrets gen". The same FILE and bundle always give byte-identical
output. DIR is replaced atomically, and only when it is a previous ksgen
output.`,
		Example: `  ksgen render -f config-sample.yaml -o out
  ksgen render -f config-sample.yaml -o out --format ignition --node node1 --node node2
  ksgen render -f config-sample.yaml -o prod --secrets prod-secrets.yaml --strict
  ksgen render -f config-sample.yaml -o out --cloud aws --serve-url https://10.0.0.5:8443
  ksgen render -f config-sample.yaml -o out --matchbox /var/lib/matchbox-data --matchbox-url http://10.0.0.2:8080`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return render(f, stdout, stderr) },
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "cluster file (KubeKey config-sample.yaml)")
	cmd.Flags().StringVarP(&f.out, "output", "o", "out", "output directory")
	cmd.Flags().StringVar(&f.secrets, "secrets", "", "secrets bundle, made by ksgen secrets gen; must exist (default: ksgen-secrets.yaml beside FILE, created for a new cluster)")
	cmd.Flags().StringSliceVar(&f.formats, "format", generator.Formats, "payload formats: ignition, cloud-init, or none (kubeadm configs and rootfs/ only)")
	cmd.Flags().StringArrayVar(&f.nodes, "node", nil, "render only this host (repeatable)")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "treat warnings as errors")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "print no per-node summary and next step")
	cmd.Flags().StringSliceVar(&f.clouds, "cloud", nil, "also write DIR/<host>/<payload>.<cloud>, the exact user-data to pass: "+strings.Join(generator.Clouds, ", "))
	cmd.Flags().StringVar(&f.serveURL, "serve-url", "", "ksgen serve's URL (https://host:port): write pointer configs, used for cloud user-data over its limit, and make the nodes report their first boot there")
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
	s, c, err := load(f.file, f.strict, stderr)
	if err != nil {
		return err
	}
	warnNoLogin(f.file, s, stderr)
	secrets, b, created, err := openBundle(f)
	if err != nil {
		return err
	}
	w, err := tree.Create(f.out)
	if err != nil {
		return err
	}
	count := &countingSink{Sink: w}
	opts := generator.Options{Formats: f.formats, Nodes: f.nodes, Clouds: f.clouds, ServeURL: f.serveURL, Pointers: f.pointers}
	if err := generator.GeneratePlan(c, b, opts, count); err != nil {
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
		if err := exportMatchbox(f.out, &f.matchbox, stdout, stderr); err != nil {
			return err
		}
	}
	if f.quiet {
		return nil
	}
	return printRenderSummary(stdout, f, count.index)
}

// defaultBundle is the bundle render uses without --secrets, beside the spec.
const defaultBundle = "ksgen-secrets.yaml"

// openBundle returns the bundle a render uses and its path. It makes a new
// one, in memory, only at the default path and only for a new cluster: an
// output directory with index.json was rendered with some bundle, and a new
// CA in its place would give nodes that can never join that cluster. The
// caller writes a new bundle once the render has succeeded. Nothing is
// written or created here.
func openBundle(f *renderFlags) (path string, b *pki.Bundle, created bool, err error) {
	path = f.secrets
	if path == "" {
		path = filepath.Join(filepath.Dir(f.file), defaultBundle)
	}
	if inside(path, f.out) {
		return "", nil, false, fmt.Errorf("secrets bundle %s is inside the output directory %s, which render replaces", path, f.out)
	}
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		b, err := pki.Parse(raw)
		if err != nil {
			return "", nil, false, fmt.Errorf("secrets bundle %s: %w", path, err)
		}
		return path, b, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", nil, false, fmt.Errorf("read secrets bundle: %w", err)
	case f.secrets != "":
		return "", nil, false, fmt.Errorf("secrets bundle %s does not exist: pass the bundle this cluster was rendered with, or create a new one with \"ksgen secrets gen -o %s\"", path, path)
	}
	index := filepath.Join(f.out, tree.IndexFile)
	if _, err := os.Stat(index); err == nil {
		return "", nil, false, fmt.Errorf("secrets bundle %s does not exist, but %s holds an earlier render (%s): a new bundle would be a new CA whose nodes cannot join that cluster; pass its bundle with --secrets, or, for a new cluster, create one with \"ksgen secrets gen -o %s\" or remove %s", path, f.out, index, path, f.out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, false, fmt.Errorf("look for an earlier render in %s: %w", f.out, err)
	}
	b, err = pki.Generate(pki.Options{})
	return path, b, true, err
}

// countingSink counts the files it passes on, and keeps index.json for the
// summary.
type countingSink struct {
	tree.Sink
	n     atomic.Int64
	index []byte // written once, by the last Put of a render
}

func (c *countingSink) Put(f tree.File) error {
	c.n.Add(1)
	if f.Path == tree.IndexFile {
		c.index = f.Content
	}
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
