package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

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
	data   string
	now    string
	stdout io.Writer
	stderr io.Writer
	// clock is the time every date rule, message ID and audit uses.
	clock func() time.Time
}

func (g *globals) nowTime() time.Time { return g.clock() }

func (g *globals) log() *slog.Logger {
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openStore opens the data dir's store for a command.
func (g *globals) openStore() (*store.DB, error) {
	return store.Open(g.data, store.Options{})
}

// run builds the root command and runs it with args, mapping errors to exit
// codes in one place.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ue usageError
	var se silentError
	switch {
	case errors.As(err, &se):
		return exitFailure
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "cpis: %v\nRun 'cpis --help' for usage.\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "cpis: %v\n", err)
		return exitFailure
	}
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
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
			return nil
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
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		newInitCommand(g),
		newPDSCommand(g),
		newMailboxCommand(g),
		newIngestCommand(g),
		newReturnsCommand(g),
		newPlansCommand(g),
		newExpireCommand(g),
		newNightlyCommand(g),
		newDemoCommand(g),
		newLookupCommand(g),
		newOrgsCommand(g),
		newAuditCommand(g),
		newNotifyCommand(g),
		newServeCommand(g),
	)
	wrapArgs(root)
	return root
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
