package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
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
			s, _, err := load(f.file, f.strict, stderr)
			if err != nil {
				return err
			}
			warnNoLogin(f.file, s, stderr)
			_, err = fmt.Fprintf(stdout, "%s: valid\n", f.file)
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
	_, c, err := load(path, strict, stderr)
	return c, err
}

// load is loadPlan that also returns the spec, for what the CLI says about
// the file itself (warnNoLogin).
func load(path string, strict bool, stderr io.Writer) (*spec.Spec, *plan.Cluster, error) {
	s, r, err := spec.LoadFile(path)
	if err != nil {
		return nil, nil, err
	}
	c, err := generator.Validate(s, r)
	if rerr := r.ErrIn(path, strict); rerr != nil {
		return nil, nil, rerr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, w := range r.Warnings() {
		fmt.Fprintln(stderr, w.Format(path))
	}
	return s, c, nil
}

// warnNoLogin tells the operator, on stderr, when no host gets an SSH key
// from the ksgen document: nobody will log into any machine. It is not a
// spec finding, so --strict does not make it fatal: a cluster nobody logs
// into is a valid choice, and "ksgen status" reads the cluster without SSH.
func warnNoLogin(path string, s *spec.Spec, stderr io.Writer) {
	if canLogIn(s) {
		return
	}
	fmt.Fprintf(stderr, "%s: warning: no host can be logged into: the ksgen document gives no SSH key "+
		"(ksgen.spec.users[].sshAuthorizedKeys, on every host; or ksgen.spec.roles.<role>.sshAuthorizedKeys "+
		"and ksgen.spec.hosts.<host>.sshAuthorizedKeys, for the user %q); a cloud's key pair may still reach the image's default user\n", path, osprofile.LoginUser)
}

// canLogIn reports whether any host gets an SSH authorized key: a user of
// the ksgen document (on every host), or a role's or host's keys.
func canLogIn(s *spec.Spec) bool {
	cfg := s.Config.Spec
	for _, u := range cfg.Users {
		if len(u.SSHAuthorizedKeys) > 0 {
			return true
		}
	}
	for role, settings := range cfg.Roles {
		if len(settings.SSHAuthorizedKeys) > 0 && len(s.Roles[role]) > 0 {
			return true
		}
	}
	for _, settings := range cfg.Hosts {
		if len(settings.SSHAuthorizedKeys) > 0 {
			return true
		}
	}
	return false
}
