package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"cpis/batch/jobs"
	"cpis/batch/report"
	"cpis/store/caldate"
)

func newReportCommand(g *globals) *cobra.Command {
	var out, csvDir, since string
	cmd := &cobra.Command{
		Use:   "report [--out FILE.xlsx] [--csv DIR] [--since DATE]",
		Short: "Write the operations report: the reconciliation workbook, and CSV files",
		Long: `Write the operations report of a period (by default the 7 days before
today, London time, and today until now) as an Excel workbook with the
sheets Summary (one row per LA and a totals row; LAs late by more than 7
days in red, never applied in amber), Rejections, Rejections by LA and
code, NHS numbers, Cross-LA, Expiring (next 30 days) and Undelivered and
held. The store is read in short read transactions, so the nightly ingest
and health lookups are never held up.

Without --out or --csv the workbook goes to
<data>/reports/report-YYYYMMDD.xlsx (today's London date), as 'cpis nightly'
writes it. --csv DIR writes the same tables as one CSV file per sheet
(text beginning with = + - @ TAB or CR is prefixed with '). Files are
written atomically: a reader sees the old file or the whole new one.

Exit codes: 0 written, 1 failure, 2 usage (a bad date, --since after
today, an --out name not ending .xlsx).
Example:
  cpis report --since 2026-11-01 --out /tmp/cpis-november.xlsx --csv /tmp/cpis-november`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := g.nowTime()
			var from caldate.Date
			if since != "" {
				d, err := caldate.ParseISO(since)
				if err != nil {
					return usageError{fmt.Errorf("--since %q is not a date YYYY-MM-DD", since)}
				}
				if today := caldate.InLondon(now); d.After(today) {
					return usageError{fmt.Errorf("--since %s is after today (%s in London)", d, today)}
				}
				from = d
			}
			if out != "" && !strings.EqualFold(filepath.Ext(out), ".xlsx") {
				return usageError{fmt.Errorf("--out %q must name an .xlsx file", out)}
			}
			db, err := g.openStore()
			if err != nil {
				return err
			}
			var closeOnce sync.Once
			closeDB := func() { closeOnce.Do(func() { db.Close() }) }
			defer closeDB()
			res, err := jobs.Report(cmd.Context(), g.env(db), jobs.ReportOptions{Since: from, Out: out, CSVDir: csvDir,
				Collected: func(r *report.Report) {
					closeDB() // rendering reads nothing from the store
					fmt.Fprintf(g.stdout, "Report of the %s.\n", r.Headline())
				}})
			if res.Workbook != "" {
				fmt.Fprintf(g.stdout, "Wrote the workbook %s.\n", res.Workbook)
			}
			if res.CSVDir != "" {
				fmt.Fprintf(g.stdout, "Wrote %s into %s.\n", strings.Join(res.CSVFiles, ", "), res.CSVDir)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the workbook to `FILE.xlsx` (default <data>/reports/report-YYYYMMDD.xlsx)")
	cmd.Flags().StringVar(&csvDir, "csv", "", "write the tables as CSV files into `DIR`")
	cmd.Flags().StringVar(&since, "since", "", "first day of the period, `YYYY-MM-DD` (default 7 days before today)")
	markPath(cmd, "out", "csv")
	return cmd
}
