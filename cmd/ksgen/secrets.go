package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/output/tree"
)

type secretsFlags struct {
	out           string
	keyAlgorithm  string
	validity      time.Duration
	encryptionKey bool
}

func newSecretsCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage the cluster's secrets bundle (CAs, service-account key, bootstrap token)",
	}
	f := &secretsFlags{}
	gen := &cobra.Command{
		Use:   "gen [-o ksgen-secrets.yaml]",
		Short: "Create a new secrets bundle (never overwrites an existing one)",
		Long: `gen creates the cluster CA, front-proxy CA, etcd CA, service-account key pair
and bootstrap token, in one YAML file of mode 0600. Keep it: every render with
the same bundle gives byte-identical output, and nodes rendered with another
bundle cannot join the cluster.`,
		Example: `  ksgen secrets gen
  ksgen secrets gen -o prod-secrets.yaml --key-algorithm ecdsa --validity 43800h --encryption-key`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b, err := pki.Generate(pki.Options{KeyAlgorithm: f.keyAlgorithm, Validity: f.validity, EncryptionKey: f.encryptionKey})
			if err != nil {
				return err
			}
			if err := writeBundle(f.out, b); err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "wrote %s\n", f.out)
			return err
		},
	}
	gen.Flags().StringVarP(&f.out, "output", "o", defaultBundle, "bundle file to create")
	gen.Flags().StringVar(&f.keyAlgorithm, "key-algorithm", "rsa", "key algorithm: rsa (RSA-2048) or ecdsa (P-256)")
	gen.Flags().DurationVar(&f.validity, "validity", 10*365*24*time.Hour, "validity of the CAs")
	gen.Flags().BoolVar(&f.encryptionKey, "encryption-key", false, "also create a key for encryption at rest")
	_ = gen.RegisterFlagCompletionFunc("key-algorithm", cobra.FixedCompletions([]string{"rsa", "ecdsa"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.AddCommand(gen)
	return cmd
}

func writeBundle(path string, b *pki.Bundle) error {
	raw, err := b.Marshal()
	if err != nil {
		return err
	}
	if err := tree.WriteNew(path, tree.ModeSecret, raw); err != nil {
		return fmt.Errorf("write secrets bundle: %w", err)
	}
	return nil
}
