package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/output/tree"
)

type tokenFlags struct {
	file    string
	secrets string
}

// bundlePath is --secrets, else ksgen-secrets.yaml beside the spec, else in
// the current directory.
func (f *tokenFlags) bundlePath() string {
	switch {
	case f.secrets != "":
		return f.secrets
	case f.file != "":
		return filepath.Join(filepath.Dir(f.file), "ksgen-secrets.yaml")
	}
	return "ksgen-secrets.yaml"
}

func (f *tokenFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "cluster file: the bundle is ksgen-secrets.yaml beside it")
	cmd.Flags().StringVar(&f.secrets, "secrets", "", "secrets bundle (default: ksgen-secrets.yaml beside FILE, or in the current directory)")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	_ = cmd.MarkFlagFilename("secrets", "yaml", "yml")
}

// readBundleBytes reads an existing bundle; it never creates one.
func readBundleBytes(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secrets bundle %s does not exist (ksgen secrets gen makes one; a cluster's own is the one its nodes were rendered with)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets bundle: %w", err)
	}
	return raw, nil
}

func newTokenCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Rotate the bundle's bootstrap token, and tell a running cluster about it",
		Long: `Nodes join with the bootstrap token of the secrets bundle they were rendered
with. The control planes' ksgen-join-window keeper keeps the cluster's current
token valid for the ksgen document's joinWindow and revokes the ones it replaces.`,
	}
	cmd.AddCommand(newTokenRotateCommand(stdout), newTokenManifestCommand(stdout))
	return cmd
}

func newTokenRotateCommand(stdout io.Writer) *cobra.Command {
	f := &tokenFlags{}
	cmd := &cobra.Command{
		Use:   "rotate [--secrets FILE] [-f FILE]",
		Short: "Put a new bootstrap token in the secrets bundle; every CA and key stays as it is",
		Long: `rotate replaces the bundle's bootstrap token with a new one (a new token ID too).
The file is rewritten atomically, mode 0600, and only the token changes: every
CA, key and other byte stays as it was. On any failure the bundle is untouched.

Then re-render: new payloads join with the new token. And tell the running
cluster, with its admin kubeconfig:

  ksgen token manifest --secrets FILE | kubectl apply --server-side --force-conflicts -f -

Within a minute the control planes' keeper creates the new token and deletes
the old one: nodes rendered before the rotation can no longer join.`,
		Example: `  ksgen token rotate -f config-sample.yaml
  ksgen token rotate --secrets prod-secrets.yaml
  ksgen token manifest -f config-sample.yaml | ssh master1 sudo kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f -`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return rotateToken(f, stdout) },
	}
	f.register(cmd)
	return cmd
}

func rotateToken(f *tokenFlags, stdout io.Writer) error {
	path := f.bundlePath()
	raw, err := readBundleBytes(path)
	if err != nil {
		return err
	}
	out, oldTok, newTok, err := pki.RotateToken(raw)
	if err != nil {
		return fmt.Errorf("secrets bundle %s: %w", path, err)
	}
	if err := tree.Replace(path, tree.ModeSecret, out); err != nil {
		return fmt.Errorf("write secrets bundle %s (left as it was): %w", path, err)
	}
	oldID, newID := (&pki.Bundle{BootstrapToken: oldTok}).TokenID(), (&pki.Bundle{BootstrapToken: newTok}).TokenID()
	render := "ksgen render -f FILE -o DIR --secrets " + path
	if f.file != "" {
		render = "ksgen render -f " + f.file + " -o DIR --secrets " + path
	}
	_, err = fmt.Fprintf(stdout, `rotated the bootstrap token in %s: %s -> %s (every CA and key unchanged)
next:
  1. re-render; new payloads join with token %s:
       %s
  2. tell the running cluster, with its admin kubeconfig:
       ksgen token manifest --secrets %s | kubectl apply --server-side --force-conflicts -f -
     within a minute the control planes' ksgen-join-window keeper creates token %s and deletes %s.
`, path, oldID, newID, newID, render, path, newID, oldID)
	return err
}

func newTokenManifestCommand(stdout io.Writer) *cobra.Command {
	f := &tokenFlags{}
	cmd := &cobra.Command{
		Use:   "manifest [--secrets FILE] [-f FILE]",
		Short: "Print the Secret that makes the bundle's token the cluster's join token",
		Long: `manifest prints the Secret kube-system/` + generator.JoinWindowSecret + ` holding the bundle's
bootstrap token. Applied to a running cluster, the control planes' ksgen-join-window
keeper makes that token valid for the join window and deletes the token it replaces.
The output holds the token: pipe it, do not store it.`,
		Example: `  ksgen token manifest -f config-sample.yaml | kubectl apply --server-side --force-conflicts -f -
  ksgen token manifest --secrets prod-secrets.yaml | ssh master1 sudo kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f -`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path := f.bundlePath()
			raw, err := readBundleBytes(path)
			if err != nil {
				return err
			}
			b, err := pki.Parse(raw)
			if err != nil {
				return fmt.Errorf("secrets bundle %s: %w", path, err)
			}
			_, err = stdout.Write(generator.JoinWindowManifest(b.BootstrapToken))
			return err
		},
	}
	f.register(cmd)
	return cmd
}
