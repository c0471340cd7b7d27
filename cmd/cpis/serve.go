package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"cpis/batch/access"
	"cpis/batch/access/httpapi"
)

func newServeCommand(g *globals) *cobra.Command {
	var opts httpapi.Options
	cmd := &cobra.Command{
		Use:   "serve [--http ADDR]",
		Short: "Run the hub's daemon: the HTTP lookup API",
		Long: `Run the daemon: the HTTP API for health lookups
(GET /v1/alerts/{nhs_number}) on --http ADDR (default 127.0.0.1:8443).
Plain HTTP is allowed only on a loopback address unless --insecure-http;
give --tls-cert and --tls-key for TLS. SIGTERM or SIGINT stops it cleanly.

Exit codes: 0 stopped cleanly, 1 failure, 2 usage.
Example:
  cpis serve --http 0.0.0.0:8443 --tls-cert hub.crt --tls-key hub.key`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annNoDaemon: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return runServe(ctx, g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Addr, "http", "127.0.0.1:8443", "HTTP API address")
	cmd.Flags().StringVar(&opts.CertFile, "tls-cert", "", "TLS certificate (PEM)")
	cmd.Flags().StringVar(&opts.KeyFile, "tls-key", "", "TLS private key (PEM)")
	cmd.Flags().BoolVar(&opts.InsecureHTTP, "insecure-http", false, "allow plain HTTP on a non-loopback address")
	markPath(cmd, "tls-cert", "tls-key")
	return cmd
}

func runServe(ctx context.Context, g *globals, opts httpapi.Options) error {
	l, err := httpapi.Listen(opts)
	if err != nil {
		return err
	}
	db, err := g.openStore()
	if err != nil {
		l.Close()
		return err
	}
	defer db.Close()
	svc, err := access.New(db, g.clock)
	if err != nil {
		return err
	}
	defer svc.Close()
	log := g.log()
	scheme := "http"
	if opts.CertFile != "" {
		scheme = "https"
	}
	fmt.Fprintf(g.stderr, "cpis: serving lookups on %s://%s\n", scheme, l.Addr())
	return httpapi.Serve(ctx, l, httpapi.Handler(svc, db, log), opts)
}
