package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"cpis/batch/expire"
	"cpis/batch/inactive"
	"cpis/batch/ingest"
	"cpis/batch/notify"
	"cpis/store"
)

func newExpireCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "expire",
		Short: "Purge plans no longer visible (data minimisation)",
		Long: `Purge every plan no longer visible on today's London date (365 days after
its end or 18th birthday; a UCPP 28 days after its due date), and row
outcomes older than 90 days. Running it again changes nothing.

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
			res, err := expire.Run(db, g.nowTime())
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

func printExpire(g *globals, res expire.Result, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(g.stdout).Encode(res)
		return
	}
	fmt.Fprintf(g.stdout, "Expire: %d plan(s) no longer visible purged.\n", res.Plans)
}

func newNightlyCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "nightly",
		Short: "The whole nightly cycle: ingest, expire, notify",
		Long: `Run the nightly cycle: ingest every waiting return (as 'cpis ingest'),
purge what is no longer visible (as 'cpis expire'), then write the access
notification files of every finished day (as 'cpis notify'). Meant for cron:

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
	res, err := expire.Run(db, g.nowTime())
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
	return rep, first
}
