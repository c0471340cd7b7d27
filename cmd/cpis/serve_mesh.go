package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"

	"cpis/batch/access/httpapi"
	"cpis/batch/meshstore"
	"cpis/mesh/meshapi"
	"cpis/store"
)

// meshServeOptions are the flags of `cpis serve` for the MESH API.
type meshServeOptions struct {
	addr     string // --mesh; "" means off
	clientCA string // --mesh-client-ca
}

// meshCleanEvery is how often the daemon removes unfinished uploads older
// than a day (the MESH audit is purged by expire, with the other audits).
const meshCleanEvery = time.Hour

// addMeshServeFlags adds the MESH API's flags to serve's.
func addMeshServeFlags(f *pflag.FlagSet, o *meshServeOptions) {
	f.StringVar(&o.addr, "mesh", "", "serve the MESH API on this address (off unless given; plain HTTP on loopback only, else --tls-cert/--tls-key)")
	f.StringVar(&o.clientCA, "mesh-client-ca", "", "require MESH clients to present a certificate signed by this CA (PEM)")
}

// listenMesh checks the MESH API's options and opens its listener: nil
// when --mesh is not given. Without a certificate it listens only on a
// loopback address; with one it serves TLS (the certificate of the HTTP
// API), with --mesh-client-ca mutual TLS.
func listenMesh(o meshServeOptions, tlsOpts httpapi.Options) (net.Listener, error) {
	if o.addr == "" {
		if o.clientCA != "" {
			return nil, usageError{errors.New("--mesh-client-ca needs --mesh ADDR")}
		}
		return nil, nil
	}
	tlsOn := tlsOpts.CertFile != "" || tlsOpts.KeyFile != ""
	var cfg *tls.Config
	switch {
	case tlsOn && (tlsOpts.CertFile == "" || tlsOpts.KeyFile == ""):
		return nil, usageError{errors.New("give both --tls-cert and --tls-key")}
	case tlsOn:
		cert, err := tls.LoadX509KeyPair(tlsOpts.CertFile, tlsOpts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mesh: TLS certificate: %w", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.clientCA != "" {
			pem, err := os.ReadFile(o.clientCA)
			if err != nil {
				return nil, fmt.Errorf("mesh: client CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("mesh: client CA %s holds no PEM certificate", o.clientCA)
			}
			cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
	default:
		if o.clientCA != "" {
			return nil, usageError{errors.New("--mesh-client-ca needs TLS: give --tls-cert and --tls-key")}
		}
		host, _, err := net.SplitHostPort(o.addr)
		if err != nil {
			return nil, fmt.Errorf("mesh address %q: %w", o.addr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("mesh address %q: plain HTTP is allowed only on a loopback address: give --tls-cert and --tls-key", o.addr)
		}
	}
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("mesh: listen %s: %w", o.addr, err)
	}
	if cfg != nil {
		l = tls.NewListener(l, cfg)
	}
	return l, nil
}

// startMesh starts the MESH API on l: it delivers the uploads a stop left
// complete (Recover), then serves, and every meshCleanEvery removes
// unfinished uploads older than a day (expire purges the MESH audit). Both
// stop when ctx ends.
func startMesh(ctx context.Context, g *globals, db *store.DB, log *slog.Logger, l net.Listener, start func(string, func() error)) error {
	cfg, err := meshstore.MeshConfig(g.data, db, g.clock, log, g.sizeLimit)
	if err != nil {
		return err
	}
	srv, err := meshapi.New(cfg)
	if err != nil {
		return err
	}
	if ids, err := srv.Recover(ctx); err != nil {
		// An upload that cannot be delivered yet (its file name still held
		// in the inbox) stays, and the client's retry delivers it.
		log.Error("mesh: uploads not recovered", "err", err, "delivered", len(ids))
	} else if len(ids) > 0 {
		log.Info("mesh: uploads recovered", "delivered", len(ids))
	}
	clean := func() {
		if removed, err := srv.CleanUploads(); err != nil {
			log.Error("mesh: clean uploads", "err", err)
		} else if len(removed) > 0 {
			log.Info("mesh: unfinished uploads removed", "count", len(removed))
		}
	}
	clean()
	start("mesh cleaner", func() error {
		tick := time.NewTicker(meshCleanEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				clean()
			}
		}
	})
	hs := meshapi.NewHTTPServer(l.Addr().String(), srv)
	hs.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	log.Info("MESH API listening", "addr", l.Addr().String())
	start("mesh", func() error {
		errc := make(chan error, 1)
		go func() { errc <- hs.Serve(l) }()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return nil
}
