package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/jobs"
	"cpis/batch/schedule"
	"cpis/store"
	"cpis/store/caldate"
)

func londonLoc() *time.Location { return caldate.London }

func newNotifyCommand(g *globals) *cobra.Command {
	var day string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "notify [--day YYYY-MM-DD]",
		Short: "Write the daily access-notification files into each LA's outbox",
		Long: `Write, for each LA, CPIS_<LA>_ACCESS_<YYYYMMDD>.csv (with its control file,
workflow CPIS_ACCESS_NOTIFICATION) listing the unscheduled accesses of one
London day to that LA's children; header only when there were none. With
no --day, every finished day not yet written since the store was made (a
missed night is filled in). A day is written once, however often this
runs; a day not yet over is refused. Inactive-number files decided by an
interrupted run and not yet written are written first.

Exit codes: 0 done (also when the day was already written), 1 failure or
--day not yet over, 2 usage.
Example:
  cpis notify --day 2026-11-21`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annBatch: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts jobs.NotifyOptions
			if day != "" {
				d, err := caldate.ParseISO(day)
				if err != nil {
					return usageError{fmt.Errorf("--day: %w", err)}
				}
				opts.Day = d
			}
			return g.withStore(func(db *store.DB) error {
				res, err := jobs.Recorded(cmd.Context(), g.recordedEnv(db, cmd), schedule.Notify, func(ctx context.Context, e jobs.Env) (jobs.NotifyResult, error) {
					return jobs.Notify(ctx, e, opts)
				})
				printNotify(g, res, err, asJSON)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&day, "day", "", "write this London day only")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per file written")
	return cmd
}

// printNotify prints the access files a run wrote, as JSON lines or a
// summary line; nothing when the run failed before writing any.
func printNotify(g *globals, res jobs.NotifyResult, err error, asJSON bool) {
	if err != nil && len(res.Written) == 0 {
		return
	}
	if asJSON {
		enc := json.NewEncoder(g.stdout)
		for _, w := range res.Written {
			_ = enc.Encode(w)
		}
		return
	}
	rows := 0
	days := map[caldate.Date]bool{}
	for _, w := range res.Written {
		rows += w.Rows
		days[w.Day] = true
	}
	fmt.Fprintf(g.stdout, "Notify: %d access file(s) written for %d day(s), %d access row(s).\n", len(res.Written), len(days), rows)
}
