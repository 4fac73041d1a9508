package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ksgen/ksgen/generator/plan"
)

type statusFlags struct {
	file     string
	secrets  string
	server   string
	wait     bool
	timeout  time.Duration
	interval time.Duration
	serveURL string
}

func newStatusCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &statusFlags{}
	cmd := &cobra.Command{
		Use:   "status -f FILE [--wait]",
		Short: "Show every host's state, the CNI, storage and KubeSphere, and wait for the cluster to finish",
		Long: `status reads the cluster through the API with an admin credential it issues
in memory from the secrets bundle (as "ksgen kubeconfig" does; nothing is
written), and prints one row per host of FILE: registered, Ready, roles,
kubelet version; then the CNI's DaemonSet, OpenEBS local PV when the spec
enables it, and KubeSphere's installer. Once KubeSphere is installed it prints
the console URL and the default account, as KubeKey does.

The exit status is 0 when every host that runs kubeadm is Ready and every
component is done, and non-zero otherwise, naming what is not. With --wait it
polls every --interval until the cluster is complete, printing progress on
stderr when it changes, and fails after --timeout naming the failing hosts.

With --serve-url it also reads the nodes' first-boot reports from ksgen serve
(with the operator token derived from the bundle) and shows each host's last
reported phase in a BOOTSTRAP column; a host that is not registered or not
Ready is named with its last reported phase and error, even when the API
never answered.`,
		Example: `  ksgen status -f config-sample.yaml
  ksgen status -f config-sample.yaml --wait --timeout 45m
  ksgen status -f config-sample.yaml --serve-url https://10.0.0.5:8443 --wait
  ksgen status -f config-sample.yaml --secrets prod-secrets.yaml --server https://172.16.0.2:6443 --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return status(ctx, f, stdout, stderr)
		},
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "cluster file (KubeKey config-sample.yaml)")
	cmd.Flags().StringVar(&f.secrets, "secrets", "", "secrets bundle the cluster was rendered with (default: ksgen-secrets.yaml beside FILE)")
	cmd.Flags().StringVar(&f.server, "server", "", "API server URL (default: https://<controlPlaneEndpoint domain>:<port>)")
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait until the cluster is complete")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Minute, "with --wait: how long to wait")
	cmd.Flags().DurationVar(&f.interval, "interval", 10*time.Second, "with --wait: time between looks")
	cmd.Flags().StringVar(&f.serveURL, "serve-url", "", "ksgen serve's address (https://HOST:PORT): show each host's last reported first-boot phase")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	return cmd
}

// requestTimeout bounds each API request, so a silent server cannot hold a
// look past the --wait deadline by more than this.
const requestTimeout = 15 * time.Second

func status(ctx context.Context, f *statusFlags, stdout, stderr io.Writer) error {
	if f.wait && (f.timeout <= 0 || f.interval <= 0) {
		return fmt.Errorf("--timeout %s and --interval %s must be positive", f.timeout, f.interval)
	}
	// The credential lives in memory for the run, and a little longer.
	ttl := 10 * time.Minute
	if f.wait {
		ttl += f.timeout
	}
	c, a, server, err := admin(f.file, f.secrets, f.server, ttl, time.Now(), stderr)
	if err != nil {
		return err
	}
	rc, err := clientcmd.NewDefaultClientConfig(*a.config, nil).ClientConfig()
	if err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	rc.Timeout = requestTimeout
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("client for %s: %w", server, err)
	}
	sc := newStatusChecker(cs)
	if f.serveURL != "" {
		b, err := readBundle(f.file, f.secrets)
		if err != nil {
			return err
		}
		if sc.reports, err = serveReports(f.serveURL, b); err != nil {
			return err
		}
	}
	return watchStatus(ctx, sc, c, f, server, stdout, stderr)
}

// watchStatus looks once, or with --wait until the cluster is complete or
// the timeout passes, then prints the tables (and the banner) on stdout.
func watchStatus(ctx context.Context, sc *statusChecker, c *plan.Cluster, f *statusFlags, server string, stdout, stderr io.Writer) error {
	if !f.wait {
		st, err := sc.check(ctx, c)
		if err != nil {
			return fmt.Errorf("status of %s: %w%s", server, err, serverHint(c, f.server))
		}
		if err := printStatus(stdout, st); err != nil {
			return err
		}
		if failing := st.Failing(); len(failing) > 0 {
			return fmt.Errorf("cluster %s is not complete: %s", clusterName(c), strings.Join(failing, ", "))
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	start := time.Now()
	var last *clusterStatus
	var lastErr error
	said := ""
	say := func(msg string) {
		if msg != said {
			fmt.Fprintf(stderr, "[%s] %s\n", time.Since(start).Round(time.Second), msg)
			said = msg
		}
	}
	for {
		st, err := sc.check(ctx, c)
		switch {
		case err != nil && permanent(err):
			return fmt.Errorf("status of %s: %w (waiting will not help: was the cluster rendered with this secrets bundle, and is this its API server?)", server, err)
		case err != nil && ctx.Err() == nil:
			lastErr = err
			say("waiting for the API at " + server + ": " + oneLine(err.Error(), 120))
		case err == nil:
			last, lastErr = st, nil
			if st.Complete() {
				if err := printStatus(stdout, st); err != nil {
					return err
				}
				_, err := fmt.Fprintf(stdout, "\ncluster %s is complete (%s)\n", clusterName(c), time.Since(start).Round(time.Second))
				return err
			}
			say("waiting: " + st.Summary())
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = sc.reportsOnly(c)
			}
			return waitFailed(ctx, c, f, server, last, lastErr, stdout)
		case <-time.After(f.interval):
		}
	}
}

// permanent reports whether an API error will not go away by waiting: the
// server's certificate is not from the bundle's CA or does not name the
// server, or the API refuses the credential.
func permanent(err error) bool {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	return errors.As(err, &unknown) || errors.As(err, &host) || apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err)
}

// waitFailed prints the last look and says what was not done in time.
func waitFailed(ctx context.Context, c *plan.Cluster, f *statusFlags, server string, last *clusterStatus, lastErr error, stdout io.Writer) error {
	why := "timed out after " + f.timeout.String()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = "interrupted"
	}
	if lastErr == nil && (last == nil || last.APIDown) {
		lastErr = ctx.Err()
	}
	if last == nil {
		return fmt.Errorf("cluster %s: %s: the API at %s never answered: %w%s", clusterName(c), why, server, lastErr, serverHint(c, f.server))
	}
	if err := printStatus(stdout, last); err != nil {
		return err
	}
	msg := fmt.Sprintf("cluster %s: %s; not done: %s", clusterName(c), why, strings.Join(last.Failing(), ", "))
	if last.APIDown {
		msg = fmt.Sprintf("cluster %s: %s: the API at %s never answered: %s%s; as the nodes report: %s",
			clusterName(c), why, server, oneLine(lastErr.Error(), 120), serverHint(c, f.server), strings.Join(last.Failing(), ", "))
	} else if lastErr != nil {
		msg += "; the API stopped answering: " + oneLine(lastErr.Error(), 120)
	}
	return errors.New(msg)
}

// serverHint advises --server when the default endpoint domain was used.
func serverHint(c *plan.Cluster, server string) string {
	if server != "" {
		return ""
	}
	if a := reachableAddress(c); a != "" {
		return fmt.Sprintf(" (the endpoint's domain %s resolves on the nodes; from here, try --server %s)", c.Endpoint.Domain, a)
	}
	return ""
}

func clusterName(c *plan.Cluster) string {
	if n := c.Name; n != "" {
		return n
	}
	return "kubernetes"
}
