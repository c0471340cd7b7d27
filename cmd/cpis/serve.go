package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/access"
	"cpis/batch/access/httpapi"
	"cpis/batch/accounts"
	"cpis/batch/console"
	"cpis/batch/jobs"
	"cpis/batch/meshstore"
	"cpis/batch/schedule"
	"cpis/cmd/cpis/internal/control"
	"cpis/mesh/sftpd"
	"cpis/store"
)

// serveOptions are the flags of `cpis serve`.
type serveOptions struct {
	http        httpapi.Options
	sftpAddr    string
	sftpLimits  sftpd.Config // the limit fields only
	schedules   string
	noHTTP      bool
	noSFTP      bool
	noScheduler bool
	stopTimeout time.Duration
	mesh        meshServeOptions
}

func newServeCommand(g *globals) *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--sftp ADDR] [--http ADDR]",
		Short: "Run the hub's daemon: scheduled jobs, SFTP for LAs, the HTTP lookup API",
		Long: `Run the daemon, unattended:
  - the scheduler: pull, ingest, expire, notify, report and push at the
    times of the schedule set (Europe/London; the shipped set unless
    --schedules DIR), each job's next run logged at start;
  - the SFTP server for LA data teams on --sftp ADDR (default :2222): log in
    as your mailbox ID with a registered key (cpis keys add), see /inbox and
    /outbox only; the --sftp-* limits keep one client (or anyone reaching
    the port) from starving the others or the lookups, each refusal in
    'cpis audit --sftp';
  - the HTTP lookup API on --http ADDR (default 127.0.0.1:8443): plain HTTP
    only on loopback unless --insecure-http; --tls-cert and --tls-key for TLS;
    on the same listener, the web console for LA data teams (/la/) and
    operations (/ops/): sign in at /login (accounts: cpis users add);
  - with --mesh ADDR, the MESH API for LA MESH clients (plain HTTP on
    loopback only, else TLS with --tls-cert/--tls-key; --mesh-client-ca
    FILE requires client certificates signed by that CA).
Each part can be switched off (--no-scheduler, --no-sftp, --no-http).

While it runs it holds the store; other cpis commands given the same --data
run inside it over the control socket <data>/cpis.sock (owner-only).
SIGHUP reloads the schedules if the whole new set is valid. SIGTERM or
SIGINT stops accepting work, lets a running job finish (at most
--stop-timeout) and stops cleanly.

Exit codes: 0 stopped cleanly, 1 failure, 2 usage.
Example:
  cpis --data /srv/cpis serve --sftp :2222 --http 0.0.0.0:8443 \
    --tls-cert /etc/cpis/hub.crt --tls-key /etc/cpis/hub.key`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annNoDaemon: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.http.Addr, "http", "127.0.0.1:8443", "HTTP API address")
	f.StringVar(&opts.http.CertFile, "tls-cert", "", "TLS certificate (PEM)")
	f.StringVar(&opts.http.KeyFile, "tls-key", "", "TLS private key (PEM)")
	f.BoolVar(&opts.http.InsecureHTTP, "insecure-http", false, "allow plain HTTP on a non-loopback address")
	f.StringVar(&opts.sftpAddr, "sftp", ":2222", "SFTP server address")
	lim := &opts.sftpLimits
	f.IntVar(&lim.MaxConns, "sftp-max-conns", sftpd.DefaultMaxConns, "SFTP connections at once, logged in or not")
	f.IntVar(&lim.MaxUnauth, "sftp-max-unauth", sftpd.DefaultMaxUnauth, "SFTP connections not logged in yet, from all addresses")
	f.IntVar(&lim.MaxUnauthPerIP, "sftp-max-unauth-per-ip", sftpd.DefaultMaxUnauthPerIP, "SFTP connections not logged in yet from one address (IPv6: one /64)")
	f.DurationVar(&lim.HandshakeTimeout, "sftp-handshake-timeout", sftpd.DefaultHandshakeTimeout, "time an SFTP client has to log in")
	f.IntVar(&lim.MaxSessions, "sftp-max-sessions", sftpd.DefaultMaxSessions, "SFTP connections at once per mailbox")
	f.IntVar(&lim.MaxChannels, "sftp-max-channels", sftpd.DefaultMaxChannels, "SFTP sessions (channels) at once per connection")
	f.DurationVar(&lim.IdleTimeout, "sftp-idle-timeout", sftpd.DefaultIdleTimeout, "close an SFTP connection after this long without a request")
	f.StringVar(&opts.schedules, "schedules", "", "schedule set directory (default: the shipped set)")
	f.BoolVar(&opts.noHTTP, "no-http", false, "do not serve the HTTP API")
	f.BoolVar(&opts.noSFTP, "no-sftp", false, "do not serve SFTP")
	f.BoolVar(&opts.noScheduler, "no-scheduler", false, "do not run scheduled jobs")
	f.DurationVar(&opts.stopTimeout, "stop-timeout", 2*time.Minute, "how long SIGTERM waits for a running job")
	markPath(cmd, "tls-cert", "tls-key", "schedules")
	addMeshServeFlags(f, &opts.mesh)
	markPath(cmd, "mesh-client-ca")
	return cmd
}

// runServe runs the daemon until ctx ends (SIGTERM/SIGINT in main).
func runServe(ctx context.Context, g *globals, opts serveOptions) error {
	log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	// Everything that can fail fast does so before anything starts.
	var set schedule.Set
	if !opts.noScheduler {
		var name string
		var err error
		if set, name, err = loadSchedules(opts.schedules); err != nil {
			return fmt.Errorf("schedules (%s): %w", name, err)
		}
	}
	var httpL, sftpL net.Listener
	closeAll := func() {
		for _, l := range []net.Listener{httpL, sftpL} {
			if l != nil {
				l.Close()
			}
		}
	}
	var err error
	if !opts.noHTTP {
		if httpL, err = httpapi.Listen(opts.http); err != nil {
			return err
		}
	}
	if !opts.noSFTP {
		if sftpL, err = net.Listen("tcp", opts.sftpAddr); err != nil {
			closeAll()
			return fmt.Errorf("sftp: listen %s: %w", opts.sftpAddr, err)
		}
	}
	meshL, err := listenMesh(opts.mesh, opts.http)
	if err != nil {
		closeAll()
		return err
	}
	if meshL != nil {
		defer meshL.Close()
	}
	db, err := store.Open(g.data, store.Options{})
	if err != nil {
		closeAll()
		return err
	}
	defer db.Close()
	ctlL, err := control.Listen(g.data)
	if err != nil {
		closeAll()
		return err
	}

	jobLock := &jobs.Lock{}
	// Servers stop when ctx ends; jobs get their own context, cancelled
	// only after the bounded wait for a running job.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	start := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	serveCtx, stopServers := context.WithCancel(ctx)
	defer stopServers()

	d := &daemonContext{db: db, jobs: jobLock}
	start("control socket", func() error {
		return control.Serve(serveCtx, ctlL, func(c context.Context, args []string, stdout, stderr io.Writer) int {
			return runWith(c, daemonArgs(args, g), stdout, stderr, d)
		})
	})

	var svc *access.Service
	if httpL != nil {
		if svc, err = access.New(db, g.clock); err != nil {
			return err
		}
		defer svc.Close()
		con, err := console.New(console.Options{DataDir: g.data, DB: db, Accounts: accounts.New(db, accounts.Options{Now: g.clock}),
			Now: g.clock, Log: log, SizeLimit: g.sizeLimit, Jobs: jobLock})
		if err != nil {
			return err
		}
		h := console.Wrap(con, httpapi.Handler(svc, db, log))
		log.Info("HTTP lookup API listening", "addr", httpL.Addr().String(), "tls", opts.http.CertFile != "")
		log.Info("web console on the same address", "paths", strings.Join(console.Prefixes, " "))
		start("http", func() error { return httpapi.Serve(serveCtx, httpL, h, opts.http) })
	}
	if sftpL != nil {
		key, err := sftpd.LoadOrCreateHostKey(g.data)
		if err != nil {
			return err
		}
		lim := opts.sftpLimits
		cfg := meshstore.SFTPConfig(g.data, db, key, g.clock, log, g.sizeLimit)
		cfg.MaxConns, cfg.MaxUnauth, cfg.MaxUnauthPerIP, cfg.HandshakeTimeout = lim.MaxConns, lim.MaxUnauth, lim.MaxUnauthPerIP, lim.HandshakeTimeout
		cfg.MaxSessions, cfg.MaxChannels, cfg.IdleTimeout = lim.MaxSessions, lim.MaxChannels, lim.IdleTimeout
		srv, err := sftpd.New(cfg)
		if err != nil {
			return err
		}
		d.sftp.Store(srv) // `cpis keys remove` ends the key's sessions
		log.Info("SFTP server listening", "addr", sftpL.Addr().String())
		start("sftp", func() error { return srv.Serve(serveCtx, sftpL) })
	}
	if meshL != nil {
		if err := startMesh(serveCtx, g, db, log, meshL, start); err != nil {
			return err
		}
	}

	var sched *schedule.Scheduler
	if !opts.noScheduler {
		env := jobs.Env{DataDir: g.data, DB: db, Now: g.clock, Log: log, Lock: jobLock, SizeLimit: g.sizeLimit}
		if sched, err = schedule.New(set, env.Funcs(), log, schedule.WithOnRun(jobs.Record(db, log))); err != nil {
			return err
		}
		if err := sched.Start(jobCtx); err != nil {
			return err
		}
		for _, n := range sched.NextRuns() {
			log.Info("job scheduled", "job", n.Job, "spec", n.Spec, "next", n.Next.Format(time.RFC3339))
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var failed error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			failed = err
			log.Error("daemon part failed; stopping", "err", err)
			break loop
		case <-hup:
			if sched == nil {
				continue
			}
			newSet, name, err := loadSchedules(opts.schedules)
			if err == nil {
				err = sched.Reload(newSet)
			}
			if err != nil {
				log.Error("SIGHUP: schedules not reloaded; the running set stays", "from", name, "err", err)
				continue
			}
			log.Info("SIGHUP: schedules reloaded", "from", name)
			for _, n := range sched.NextRuns() {
				log.Info("job scheduled", "job", n.Job, "spec", n.Spec, "next", n.Next.Format(time.RFC3339))
			}
		}
	}

	log.Info("stopping: no new work is accepted")
	stopServers()
	if sched != nil {
		select {
		case <-sched.Stop().Done():
		case <-time.After(opts.stopTimeout):
			log.Warn("a job still runs after the stop timeout; cancelling it", "timeout", opts.stopTimeout)
		}
	}
	cancelJobs()
	// A command running inside the daemon holds the job lock: wait for it,
	// bounded like the jobs.
	locked := make(chan struct{})
	go func() { _, _ = jobLock.Acquire(context.Background(), "daemon stop", nil); close(locked) }()
	select {
	case <-locked:
	case <-time.After(opts.stopTimeout):
	}
	waitDone := make(chan struct{})
	go func() { wg.Wait(); close(waitDone) }()
	select {
	case <-waitDone:
	case <-time.After(15 * time.Second):
		log.Warn("servers did not stop in time")
	}
	log.Info("stopped")
	return failed
}

// daemonArgs pins a forwarded command to the daemon's data dir and drops
// its own --data (the client reached this daemon through that dir).
func daemonArgs(args []string, g *globals) []string {
	out := make([]string, 0, len(args)+2)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--data" {
			i++
			continue
		}
		if len(a) > 7 && a[:7] == "--data=" {
			continue
		}
		out = append(out, a)
	}
	return append([]string{"--data", g.data}, out...)
}

func newJobsCommand(g *globals) *cobra.Command {
	var n int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "jobs [--count N] [--json]",
		Short: "Recent runs of the daemon's scheduled jobs",
		Long: `List the most recent runs of the scheduled jobs, newest first: job, start
(London time), duration, outcome (ok, failed, skipped) and counts.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis jobs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 || n > store.JobRunsKept {
				return usageError{fmt.Errorf("--count %d: want 1 to %d", n, store.JobRunsKept)}
			}
			return g.withStore(func(db *store.DB) error {
				var runs []store.JobRun
				if err := db.View(func(tx *store.Tx) (err error) { runs, err = tx.JobRuns(n); return err }); err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(g.stdout)
					for _, r := range runs {
						if err := enc.Encode(r); err != nil {
							return err
						}
					}
					return nil
				}
				if len(runs) == 0 {
					fmt.Fprintln(g.stdout, "No job has run yet.")
					return nil
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "JOB\tSTART (LONDON)\tDURATION\tOUTCOME\tCOUNTS")
				for _, r := range runs {
					outcome := r.Outcome
					if r.Error != "" {
						outcome += ": " + r.Error
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Job, r.Start.In(londonLoc()).Format("2006-01-02 15:04:05 MST"), r.Duration.Round(time.Millisecond), outcome, countsText(r.Counts))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&n, "count", 20, "how many runs to show")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per run (job, start, duration_ns, outcome, error, counts)")
	return cmd
}

func countsText(c map[string]int) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%d", k, c[k])
	}
	return s
}
