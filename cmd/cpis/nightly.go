package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"cpis/batch/expire"
	"cpis/batch/inactive"
	"cpis/batch/ingest"
	"cpis/batch/notify"
	"cpis/batch/report"
	"cpis/store"
)

func newExpireCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "expire",
		Short: "Purge plans no longer visible (data minimisation)",
		Long: `Purge every plan no longer visible on today's London date (365 days after
its end or 18th birthday; a UCPP 28 days after its due date), row outcomes
older than 90 days and lookup audit older than 2 years, and move outbox
messages left uncollected for 30 days into the archive. Running it again
changes nothing.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis expire`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annBatch: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := g.openStore()
			if err != nil {
				return err
			}
			defer db.Close()
			res, err := runExpire(g, db)
			if err != nil {
				return err
			}
			printExpire(g, res, asJSON)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return cmd
}

// runExpire purges what is no longer visible and archives outbox messages
// left uncollected for 30 days.
func runExpire(g *globals, db *store.DB) (expire.Result, error) {
	res, err := expire.Run(db, g.nowTime())
	if err != nil {
		return res, err
	}
	res.Archived, err = expire.ArchiveUncollected(g.data, db, g.nowTime())
	return res, err
}

func printExpire(g *globals, res expire.Result, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(g.stdout).Encode(res)
		return
	}
	fmt.Fprintf(g.stdout, "Expire: %d plan(s) no longer visible purged.\n", res.Plans)
	if res.Archived > 0 {
		fmt.Fprintf(g.stdout, "Expire: %d outbox message(s) uncollected for 30 days moved to the archive.\n", res.Archived)
	}
}

func newNightlyCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "nightly",
		Short: "The whole nightly cycle: ingest, expire, notify, report",
		Long: `Run the nightly cycle: ingest every waiting return (as 'cpis ingest'),
purge what is no longer visible (as 'cpis expire'), write the access
notification files of every finished day (as 'cpis notify'), then the
operations report <data>/reports/report-YYYYMMDD.xlsx. Meant for cron:

  30 2 * * * cpis --data /srv/cpis nightly >>/var/log/cpis/nightly.log 2>&1

Exit codes: 0 done; 1 if any LA could not be processed or a stage failed
(every stage still runs); 2 usage.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annBatch: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := g.openStore()
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = runNightly(g, cmd, db, asJSON)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "ingest results as JSON lines")
	return cmd
}

// runNightly runs every stage, even after one fails, and reports the first
// failure.
func runNightly(g *globals, cmd *cobra.Command, db *store.DB, asJSON bool) (*ingest.Report, error) {
	var first error
	rep, err := runIngest(cmd.Context(), g, db, nil)
	if err != nil {
		first = fmt.Errorf("ingest: %w", err)
	} else {
		printIngest(g.stdout, rep, asJSON)
		first = ingestFailure(rep)
	}
	res, err := runExpire(g, db)
	if err != nil && first == nil {
		first = err
	}
	if err == nil && !asJSON {
		printExpire(g, res, false)
	}
	if _, err := inactive.Flush(g.data, db); err != nil && first == nil {
		first = err
	}
	nerr := runNotify(g, notify.Config{DataDir: g.data, DB: db, Now: g.nowTime()}, asJSON)
	if nerr != nil && first == nil {
		first = nerr
	}
	path, rerr := report.Nightly(g.data, db, g.nowTime())
	if rerr != nil && first == nil {
		first = fmt.Errorf("report: %w", rerr)
	}
	if rerr == nil && !asJSON {
		fmt.Fprintf(g.stdout, "Report: %s\n", path)
	}
	return rep, first
}
