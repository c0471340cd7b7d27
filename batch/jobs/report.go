package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"cpis/batch/report"
	"cpis/mesh"
	"cpis/store/caldate"
)

// ReportOptions say what a report run covers and writes.
type ReportOptions struct {
	// Since is the first day of the period; zero means the default period.
	Since caldate.Date
	// Out is the workbook written; with neither Out nor CSVDir, the
	// nightly file <data>/reports/report-YYYYMMDD.xlsx (London date).
	Out string
	// CSVDir, when set, receives the tables as CSV files.
	CSVDir string
	// Collected, when set, is called with the snapshot once the store has
	// been read and before anything is written: the store is not read
	// after it (a command may close it there).
	Collected func(*report.Report)
}

// ReportResult is what a report run found and wrote.
type ReportResult struct {
	// Headline says in one line what the report found.
	Headline string
	// Workbook is the workbook written ("" when none was).
	Workbook string
	// CSVDir and CSVFiles are the CSV files written, when any were.
	CSVDir   string
	CSVFiles []string
}

// Counts are empty: a report counts nothing the job listing shows.
func (r ReportResult) Counts() map[string]int { return map[string]int{} }

// Failure is always nil: a report has no parts that fail alone.
func (r ReportResult) Failure() error { return nil }

// Report reads a snapshot of the store and the outboxes in short read
// transactions, then writes the workbook and the CSV files, each
// atomically. What it wrote before a failure is in the result.
func Report(_ context.Context, e Env, opts ReportOptions) (ReportResult, error) {
	r, err := report.Collect(report.Config{DataDir: e.DataDir, DB: e.DB, Now: e.Now(), Since: opts.Since})
	if err != nil {
		return ReportResult{}, err
	}
	if opts.Collected != nil {
		opts.Collected(r)
	}
	res := ReportResult{Headline: r.Headline()}
	out := opts.Out
	if out == "" && opts.CSVDir == "" {
		out = filepath.Join(report.Dir(e.DataDir), report.FileName(r.Today))
	}
	if out != "" {
		if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
			return res, fmt.Errorf("report: %w", err)
		}
		if err := mesh.WriteFileAtomic(filepath.Dir(out), filepath.Base(out), r.WriteXLSX, 0o640); err != nil {
			return res, fmt.Errorf("report: %w", err)
		}
		res.Workbook = out
	}
	if opts.CSVDir != "" {
		if err := r.WriteCSV(opts.CSVDir); err != nil {
			return res, err
		}
		res.CSVDir, res.CSVFiles = opts.CSVDir, r.CSVFiles()
	}
	return res, nil
}
