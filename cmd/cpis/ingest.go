package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/jobs"
	"cpis/batch/schedule"
	"cpis/mesh"
	"cpis/store"
)

func newIngestCommand(g *globals) *cobra.Command {
	var asJSON bool
	var las []string
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Take, check, apply and answer every waiting return",
		Long: `Take every waiting return from every LA's inbox, check it, reconcile its
NHS numbers against demographics, apply it to the store in one transaction,
archive it, and write its response into the LA's outbox. LAs are processed
in parallel; each LA's returns in extract-date order. A run that was
interrupted is finished first.

--json prints one object per message taken, ordered by LA code then message
ID, with the keys la, message_id, file, code, detail_code, read, applied,
rejected, warnings, withdrawn.

A run that takes nothing says why: nothing was waiting, every LA failed,
or DELTA returns wait behind a held FULL return (each LA named with the
held return's message ID; with --json this goes to stderr).

Exit codes: 0 done, whatever the files' codes; 1 if any LA could not be
processed (the others still were); 2 usage.
Example:
  cpis ingest --json`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annBatch: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				// An unknown code would otherwise process nothing and exit 0.
				for _, la := range las {
					if _, err := authority(db, la); err != nil {
						return err
					}
				}
				rep, err := runIngest(cmd.Context(), g.recordedEnv(db, cmd), g, las)
				if err != nil {
					return err
				}
				showIngest(g, rep, asJSON)
				return rep.Failure()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per message taken")
	cmd.Flags().StringSliceVar(&las, "la", nil, "only these LA codes")
	return cmd
}

// runIngest runs the ingest job in e (recorded when e.By is set).
func runIngest(ctx context.Context, e jobs.Env, g *globals, las []string) (jobs.IngestResult, error) {
	stop := progress(g, "ingest")
	defer stop()
	return jobs.Recorded(ctx, e, schedule.Ingest, func(ctx context.Context, e jobs.Env) (jobs.IngestResult, error) {
		return jobs.Ingest(ctx, e, jobs.IngestOptions{LAs: las})
	})
}

// showIngest prints an ingest run as the commands do: printIngest on
// stdout, and with --json (stdout holds the objects only) why nothing was
// taken on stderr.
func showIngest(g *globals, rep jobs.IngestResult, asJSON bool) {
	printIngest(g.stdout, rep, asJSON)
	if asJSON && len(rep.Results) == 0 {
		printWaiting(g.stderr, rep)
	}
}

// printIngest prints the run's results: JSON lines or a table and totals.
// A table of nothing says why: nothing waited, every LA failed, or DELTA
// returns wait behind a held FULL return.
func printIngest(w io.Writer, rep jobs.IngestResult, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, r := range rep.Results {
			_ = enc.Encode(r)
		}
		return
	}
	switch {
	case len(rep.Results) > 0:
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LA\tFILE\tCODE\tDETAIL\tREAD\tAPPLIED\tREJECTED\tWARNINGS\tWITHDRAWN")
		var tot store.Counts
		for _, r := range rep.Results {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", r.LA, mesh.Printable(r.File), r.Code, r.Detail, r.Read, r.Applied, r.Rejected, r.Warnings, r.Withdrawn)
			tot.Read += r.Read
			tot.Applied += r.Applied
			tot.Rejected += r.Rejected
			tot.Warnings += r.Warnings
			tot.Withdrawn += r.Withdrawn
		}
		fmt.Fprintf(tw, "total\t%d message(s)\t\t\t%d\t%d\t%d\t%d\t%d\n", len(rep.Results), tot.Read, tot.Applied, tot.Rejected, tot.Warnings, tot.Withdrawn)
		tw.Flush()
	case rep.AllFailed():
		fmt.Fprintln(w, "No returns were taken: every LA failed.")
	case len(rep.Waiting) > 0:
		printWaiting(w, rep)
	case len(rep.Failed) > 0:
		// The LAs that failed may have had returns; no other LA had one.
		fmt.Fprintf(w, "No returns were taken: %d LA(s) failed, and no other LA had a return waiting.\n", len(rep.Failed))
	default:
		fmt.Fprintln(w, "No returns were waiting.")
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "FAILED %s\n", mesh.Printable(f.Error()))
	}
}

// printWaiting says which LAs' DELTA returns wait behind a held FULL
// return, and which: the reason a run took nothing.
func printWaiting(w io.Writer, rep jobs.IngestResult) {
	if len(rep.Waiting) == 0 {
		return
	}
	fmt.Fprintln(w, "No returns were taken: DELTA returns wait behind a held FULL return.")
	for i := 0; i < len(rep.Waiting); {
		first, n := rep.Waiting[i], 0
		for ; i < len(rep.Waiting) && rep.Waiting[i].LA == first.LA && rep.Waiting[i].Held == first.Held; i++ {
			n++
		}
		fmt.Fprintf(w, "LA %s: %d DELTA return(s) wait behind the held FULL return %s (release or discard it: cpis returns list).\n", first.LA, n, first.Held)
	}
}

// progress shows a spinner on a terminal once a run takes more than a
// moment; it returns the function that clears it.
func progress(g *globals, what string) func() {
	if !isTerminal(g.stderr) {
		return func() {}
	}
	var done atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		shown := false
		for range tick.C {
			if done.Load() {
				if shown {
					fmt.Fprint(g.stderr, "\r\033[K")
				}
				return
			}
			if el := time.Since(start); el > time.Second {
				shown = true
				fmt.Fprintf(g.stderr, "\r%s: running for %s...", what, el.Round(time.Second))
			}
		}
	}()
	return func() { done.Store(true); <-finished }
}
