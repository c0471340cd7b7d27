package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/notify"
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
runs; a day not yet over is refused.

Exit codes: 0 done (also when the day was already written), 1 failure or
--day not yet over, 2 usage.
Example:
  cpis notify --day 2026-11-21`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annBatch: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := notify.Config{DataDir: g.data, Now: g.nowTime()}
			if day != "" {
				d, err := caldate.ParseISO(day)
				if err != nil {
					return usageError{fmt.Errorf("--day: %w", err)}
				}
				cfg.Day = d
			}
			db, err := g.openStore()
			if err != nil {
				return err
			}
			defer db.Close()
			cfg.DB = db
			return runNotify(g, cfg, asJSON)
		},
	}
	cmd.Flags().StringVar(&day, "day", "", "write this London day only")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per file written")
	return cmd
}

func runNotify(g *globals, cfg notify.Config, asJSON bool) error {
	written, err := notify.Run(cfg)
	if err != nil && len(written) == 0 {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(g.stdout)
		for _, w := range written {
			_ = enc.Encode(w)
		}
	} else {
		rows := 0
		days := map[caldate.Date]bool{}
		for _, w := range written {
			rows += w.Rows
			days[w.Day] = true
		}
		fmt.Fprintf(g.stdout, "Notify: %d access file(s) written for %d day(s), %d access row(s).\n", len(written), len(days), rows)
	}
	return err
}
