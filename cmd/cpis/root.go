package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/ingest"
	"cpis/store"
)

// Exit codes (every command).
const (
	exitOK      = 0 // done; rejected rows are normal outcomes
	exitFailure = 1 // something could not be done
	exitUsage   = 2 // the command line is wrong
)

// usageError marks a wrong command line (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// silentError is a failure already reported on stdout (exit 1, nothing
// more printed).
type silentError struct{ err error }

func (e silentError) Error() string { return e.err.Error() }

// globals are the flags every command shares.
type globals struct {
	data string
	now  string
	// sizeLimit bounds a return, as stored and decompressed (bytes).
	sizeLimit int64
	stdout    io.Writer
	stderr    io.Writer
	// clock is the time every date rule, message ID and audit uses.
	clock func() time.Time
	// args is the command line as given, for forwarding to a daemon.
	args []string
	// daemon is set when the command runs inside `cpis serve`.
	daemon *daemonContext
	// release ends what the command holds in the daemon (the job lock).
	release func()
}

func (g *globals) nowTime() time.Time { return g.clock() }

func (g *globals) log() *slog.Logger {
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// withStore runs fn with the data dir's store open (inside the daemon, the
// daemon's open store) and closes it after: the one way a command reaches
// the store. A store that is empty or damaged is refused before fn runs.
func (g *globals) withStore(fn func(db *store.DB) error) error {
	db, err := g.openStore()
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// damagedSentence is what a command says when the store file is refused
// as empty or damaged (store.ErrDamaged); remedy is what to do.
func damagedSentence(data, remedy string) string {
	return fmt.Sprintf("%s in %s is empty or damaged: %s; nothing was changed", store.FileName, data, remedy)
}

// openStore opens the data dir's store for a command; inside the daemon,
// the daemon's open store. The caller closes it (withStore does).
func (g *globals) openStore() (*store.DB, error) {
	if g.daemon != nil {
		return g.daemon.db.Borrow(), nil
	}
	db, err := store.Open(g.data, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w; if `cpis serve` runs, its control socket %s did not answer", err, filepath.Join(g.data, "cpis.sock"))
	}
	return db, err
}

// run builds the root command and runs it with args, mapping errors to exit
// codes in one place.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdout, stderr, nil)
}

// runWith runs a command line; d is set when the daemon runs it.
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, d *daemonContext) int {
	root, g := newRoot(stdout, stderr)
	root.SetArgs(args)
	g.args, g.daemon = args, d
	err := root.ExecuteContext(ctx)
	if g.release != nil {
		g.release()
	}
	if err == nil {
		return exitOK
	}
	var ue usageError
	var se silentError
	var fe forwardedExit
	switch {
	case errors.As(err, &fe):
		return int(fe)
	case errors.As(err, &se):
		return exitFailure
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "cpis: %v\nRun 'cpis --help' for usage.\n", err)
		return exitUsage
	case errors.Is(err, store.ErrDamaged):
		// One sentence, whatever command met the file (`cpis check`
		// prints what is wrong with it on stdout).
		fmt.Fprintf(stderr, "cpis: %s\n", damagedSentence(g.data, "restore it from a backup"))
		return exitFailure
	default:
		fmt.Fprintf(stderr, "cpis: %v\n", err)
		return exitFailure
	}
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root, _ := newRoot(stdout, stderr)
	return root
}

// newRoot builds the command tree and returns it with its globals.
func newRoot(stdout, stderr io.Writer) (*cobra.Command, *globals) {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "cpis",
		Short: "CP-IS batch file-exchange hub",
		Long: `cpis is the Child Protection - Information Sharing hub: one MESH-style
mailbox per local authority, the nightly ingest of LA returns into an
embedded store, responses back to each LA, and operations commands.

Exit codes: 0 done (rejected rows are normal outcomes), 1 failure, 2 usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g.clock = time.Now
			if g.now != "" {
				t, err := time.Parse(time.RFC3339, g.now)
				if err != nil {
					return usageError{fmt.Errorf("--now %q is not an RFC 3339 time (e.g. 2026-11-22T02:30:00Z)", g.now)}
				}
				g.clock = func() time.Time { return t }
			}
			return forwardToDaemon(cmd, g)
		},
	}

	root.SetOut(stdout)
	root.SetErr(stderr)
	defData := os.Getenv("CPIS_DATA")
	if defData == "" {
		defData = "./cpis-data"
	}
	root.PersistentFlags().StringVar(&g.data, "data", defData, "data directory (env CPIS_DATA)")
	root.PersistentFlags().StringVar(&g.now, "now", "", "use this RFC 3339 time as the clock for every date rule, message ID and audit time")
	root.PersistentFlags().Int64Var(&g.sizeLimit, "size-limit", ingest.DefaultSizeLimit, "largest return in bytes, as stored and after decompression (ingest, SFTP uploads, pulls)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		newInitCommand(g),
		newPDSCommand(g),
		newMailboxCommand(g),
		newKeysCommand(g),
		newIngestCommand(g),
		newReturnsCommand(g),
		newPlansCommand(g),
		newExpireCommand(g),
		newNightlyCommand(g),
		newDemoCommand(g),
		newGenerateCommand(g),
		newLookupCommand(g),
		newOrgsCommand(g),
		newAuditCommand(g),
		newNotifyCommand(g),
		newServeCommand(g),
		newJobsCommand(g),
		newBenchCommand(g),
		newSchedulesCommand(g),
		newRemotesCommand(g),
		newReportCommand(g),
		newCheckCommand(g),
		newBackupCommand(g),
		newMeshCommand(g),
		newUsersCommand(g),
	)
	wrapArgs(root)
	return root, g
}

// wrapArgs makes every positional-argument error a usage error (exit 2).
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	if c.HasSubCommands() && c.RunE == nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return usageError{fmt.Errorf("%s needs a subcommand", cmd.CommandPath())}
		}
		c.Args = cobra.ArbitraryArgs
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// isTerminal reports whether w is a character device (progress goes there
// only).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
