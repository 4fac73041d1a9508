package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ksgen/ksgen/generator/delivery/serve"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/output/fetch"
)

type serveFlags struct {
	dir     string
	listen  string
	secrets string
	sans    []string
	grace   time.Duration
}

func newServeCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve -d DIR --secrets FILE [--listen ADDR]",
		Short: "Serve rendered payloads over HTTPS to the nodes' pointer configs, take their first-boot reports and show the fleet page",
		Long: `serve hands each node its own full payload (config.ign, user-data) from a
rendered DIR, over HTTPS, at /<node>/<token>/<file>: the URL that
"ksgen render --serve-url" writes into the node's pointer config. The token is
an HMAC of the node name keyed from the secrets bundle, so a node can fetch
only its own payload; anything else is refused with 403. Nothing else in DIR
is served, and nothing is written.

The server certificate is issued from the bundle's front-proxy CA, whose
certificate every pointer config trusts; its names are --san (default: the
--listen host). Every request is logged to stderr. SIGINT or SIGTERM stops
the server after the requests in flight finish.

Nodes rendered with --serve-url report each first-boot phase here
(POST /<node>/<token>/report, the node's own token). serve keeps the latest
report per node and a bounded history in memory, never on disk, and shows
them on a read-only fleet page, /_fleet/<operator token>/, which refreshes
itself, and as JSON at /_fleet/<operator token>/nodes.json, which
"ksgen status --serve-url" reads. The operator token is derived from the
bundle's CA key; serve prints the page's URL at start.`,
		Example: `  ksgen serve -d out --secrets ksgen-secrets.yaml --listen 10.0.0.5:8443
  ksgen serve -d out --secrets ksgen-secrets.yaml --listen 0.0.0.0:8443 --san ksgen.example.com --san 10.0.0.5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serveTree(ctx, f, stdout, stderr)
		},
	}
	cmd.Flags().StringVarP(&f.dir, "dir", "d", "out", "rendered output directory")
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:8443", "address to listen on")
	cmd.Flags().StringVar(&f.secrets, "secrets", "", "secrets bundle the tree was rendered with")
	cmd.Flags().StringArrayVar(&f.sans, "san", nil, "host name or IP address in the server certificate (repeatable; default: the --listen host)")
	cmd.Flags().DurationVar(&f.grace, "shutdown-grace", 10*time.Second, "how long requests in flight may take after SIGINT/SIGTERM")
	_ = cmd.MarkFlagRequired("secrets")
	_ = cmd.MarkFlagDirname("dir")
	return cmd
}

func serveTree(ctx context.Context, f *serveFlags, stdout, stderr io.Writer) error {
	raw, err := os.ReadFile(f.secrets)
	if err != nil {
		return fmt.Errorf("read secrets bundle: %w", err)
	}
	b, err := pki.Parse(raw)
	if err != nil {
		return fmt.Errorf("secrets bundle %s: %w", f.secrets, err)
	}
	sans := f.sans
	if len(sans) == 0 {
		host, _, err := net.SplitHostPort(f.listen)
		if err != nil {
			return fmt.Errorf("--listen %s: %w", f.listen, err)
		}
		if host == "" || net.ParseIP(host).IsUnspecified() {
			return fmt.Errorf("--listen %s binds every address: name the certificate's hosts with --san", f.listen)
		}
		sans = []string{host}
	}
	cert, err := fetch.ServeCert(b, sans)
	if err != nil {
		return err
	}
	tokens, err := fetch.NewTokens(b)
	if err != nil {
		return err
	}
	h, err := serve.NewHandler(f.dir, tokens, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	srv, err := serve.Listen(f.listen, cert, h)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serving %s on https://%s\n", f.dir, srv.Addr())
	// The page is opened by a name the certificate holds.
	_, port, _ := net.SplitHostPort(srv.Addr().String())
	fmt.Fprintf(stdout, "fleet page (operator token from the secrets bundle; keep the URL private): https://%s%s\n",
		net.JoinHostPort(sans[0], port), serve.FleetPath(tokens.Operator()))
	fmt.Fprintf(stdout, "first-boot reports in ksgen status: ksgen status -f FILE --serve-url https://%s\n", net.JoinHostPort(sans[0], port))
	return srv.Serve(ctx, f.grace)
}
