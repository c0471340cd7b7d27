package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"cpis/batch/expire"
	"cpis/batch/ingest"
	"cpis/batch/jobs"
	"cpis/batch/schedule"
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
			return g.withStore(func(db *store.DB) error {
				res, err := jobs.Recorded(cmd.Context(), g.recordedEnv(db, cmd), schedule.Expire, jobs.Expire)
				if err != nil {
					return err
				}
				printExpire(g, res.Result, asJSON)
				return nil
			})
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

Every stage runs, whatever an earlier one did; each stage that failed is
named on stderr with its error, one line each.

Exit codes: 0 done; 1 if any LA could not be processed or a stage failed
(every stage still runs); 2 usage.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annBatch: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				_, err := runNightly(g, cmd, db, asJSON)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "ingest results as JSON lines")
	return cmd
}

// env is what the jobs of a command work on.
func (g *globals) env(db *store.DB) jobs.Env {
	return jobs.Env{DataDir: g.data, DB: db, Now: g.nowTime, Log: g.log(), SizeLimit: g.sizeLimit}
}

// recordedEnv is env for a command whose job runs are recorded for `cpis
// jobs` and the operations pages, as the scheduler's are: By names the
// command, and says when the daemon ran it (sent through its control
// socket).
func (g *globals) recordedEnv(db *store.DB, cmd *cobra.Command) jobs.Env {
	e := g.env(db)
	e.By = cmd.CommandPath()
	if g.daemon != nil {
		e.By += " (through the daemon)"
	}
	return e
}

// runNightly runs the nightly sequence, printing each stage's output as it
// ends and each failed stage on stderr (every stage runs). It returns the
// ingest result, and a silentError when any stage failed.
func runNightly(g *globals, cmd *cobra.Command, db *store.DB, asJSON bool) (jobs.IngestResult, error) {
	var rep jobs.IngestResult
	stop := progress(g, "nightly")
	err := jobs.Nightly(cmd.Context(), g.recordedEnv(db, cmd), func(s jobs.Stage) {
		stop()
		defer func() { stop = progress(g, "nightly") }()
		switch res := s.Result.(type) {
		case jobs.IngestResult:
			rep = res
			if s.Err == nil {
				showIngest(g, res, asJSON)
			}
		case jobs.ExpireResult:
			if s.Err == nil && !asJSON {
				printExpire(g, res.Result, false)
			}
		case jobs.NotifyResult:
			printNotify(g, res, s.Err, asJSON)
		case jobs.ReportResult:
			if s.Err == nil && !asJSON {
				fmt.Fprintf(g.stdout, "Report: %s\n", res.Workbook)
			}
		}
		if s.Failed != nil {
			fmt.Fprintf(g.stderr, "cpis: nightly %s: %v\n", s.Name, s.Failed)
		}
	})
	stop()
	if rep.Report == nil {
		rep.Report = &ingest.Report{}
	}
	var ne *jobs.NightlyError
	if errors.As(err, &ne) {
		return rep, silentError{err}
	}
	return rep, err
}
