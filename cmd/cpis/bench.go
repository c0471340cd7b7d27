package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"cpis/batch/bench"
)

func newBenchCommand(g *globals) *cobra.Command {
	var opts bench.Options
	var keep, asJSON, hostile, vsSQLite bool
	cmd := &cobra.Command{
		Use:   "bench [--plans N] [--vs-sqlite] [--hostile]",
		Short: "Run the whole night on generated national data and measure each stage",
		Long: `Generate a national data set (cpis generate), make a temporary data dir,
and run the night on it: every LA's FULL return ingested, expire, notify,
report; then a second night of DELTA returns (about 1% of plans change).
For each stage it prints rows, wall time, rows/s, peak resident memory
(bbolt's mapped file counts there) and the peak Go heap beside it.

With --vs-sqlite (the sqlite3 command must be on PATH), sqlite3 then
imports the same demographics file and FULL returns into a database of
keyed tables (plans keyed on nhs_number and plan_type), each in one
sqlite3 process, and bench prints the ingest's time over sqlite3's (wall
and CPU) and the store's size beside the database's. The same --seed and
--plans give the same files, so the comparison can be repeated anywhere.

With --hostile, the hostile night instead: one LA's gzipped FULL return of
499,999 rows with every free-text cell at its widest, and eight LAs each
sending one such row 499,999 times, ingested in one run; it prints the
peak resident memory (the target is at most 512 MiB), CPU and wall time.

It touches no data dir of yours (--data is ignored); the temporary one is
removed afterwards unless --keep.

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis bench --plans 250000`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annLocal: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := os.MkdirTemp("", "cpis-bench-")
			if err != nil {
				return err
			}
			if keep {
				fmt.Fprintf(g.stderr, "cpis bench: working in %s (kept)\n", dir)
			} else {
				defer os.RemoveAll(dir)
			}
			if hostile {
				return runHostileBench(cmd, g, dir, asJSON)
			}
			if vsSQLite {
				p, err := exec.LookPath("sqlite3")
				if err != nil {
					return fmt.Errorf("--vs-sqlite needs the sqlite3 command on PATH (apt-get install sqlite3): %w", err)
				}
				opts.SQLite = p
			}
			opts.Dir, opts.Start = dir, g.nowTime()
			if !asJSON {
				opts.Progress = g.stderr
			}
			stages, err := bench.Run(cmd.Context(), opts)
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				for _, s := range stages {
					_ = enc.Encode(s)
				}
				return err
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "STAGE\tROWS\tWALL (s)\tCPU (s)\tROWS/S\tPEAK RSS (MiB)\tPEAK HEAP (MiB)\tFILE (MiB)\t")
			for _, s := range stages {
				fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.0f\t%.0f\t%.0f\t%.1f\t\n", s.Name, s.Rows, s.Wall.Seconds(), s.CPU.Seconds(),
					s.RowsPerSecond(), mib(s.PeakRSS), mib(s.PeakHeap), mib(s.Bytes))
			}
			tw.Flush()
			printSQLiteComparison(g.stdout, stages)
			return err
		},
	}
	cmd.Flags().IntVar(&opts.Plans, "plans", 250000, "plans held nationally")
	cmd.Flags().IntVar(&opts.Authorities, "authorities", 0, "how many LAs (0: all 153)")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", 1, "generator seed")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per stage")
	cmd.Flags().BoolVar(&vsSQLite, "vs-sqlite", false, "also import the same files with sqlite3 and print the ratios")
	cmd.Flags().BoolVar(&hostile, "hostile", false, "measure the hostile night (memory bound) instead")
	return cmd
}

func mib[T int64 | uint64](n T) float64 { return float64(n) / (1 << 20) }

// printSQLiteComparison prints the hub's ingest and demographics import
// over sqlite3's import of the same files, and the store's size over the
// database's, when stages has sqlite3's.
func printSQLiteComparison(w io.Writer, stages []bench.Stage) {
	pairs := []struct{ what, hub, sqlite string }{
		{"ingest of the FULL returns", bench.StageIngestFull, bench.StageSQLiteFull},
		{"init + demographics import", bench.StageInit, bench.StageSQLiteDemographics},
	}
	by := map[string]bench.Stage{}
	for _, s := range stages {
		by[s.Name] = s
	}
	for _, p := range pairs {
		a, b := by[p.hub], by[p.sqlite]
		wall, cpu, ok := bench.Compare(stages, p.hub, p.sqlite)
		if !ok {
			continue
		}
		fmt.Fprintf(w, "%s / sqlite3 .import: wall %.2f s / %.2f s = %.2f, CPU %.2f s / %.2f s = %.2f\n",
			p.what, a.Wall.Seconds(), b.Wall.Seconds(), wall, a.CPU.Seconds(), b.CPU.Seconds(), cpu)
	}
	if a, b := by[bench.StageIngestFull], by[bench.StageSQLiteFull]; a.Bytes > 0 && b.Bytes > 0 {
		fmt.Fprintf(w, "store after the ingest / sqlite3 database of the same plans and demographics: %.1f MiB / %.1f MiB = %.2f\n",
			mib(a.Bytes), mib(b.Bytes), float64(a.Bytes)/float64(b.Bytes))
	}
}

// runHostileBench makes the hostile night in dir, ingests it and prints
// what it measured.
func runHostileBench(cmd *cobra.Command, g *globals, dir string, asJSON bool) error {
	fmt.Fprintln(g.stderr, "cpis bench: writing the hostile night's returns...")
	night, err := bench.MakeHostileNight(bench.HostileOptions{Dir: dir, Start: g.nowTime()})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "cpis bench: ingesting %d rows (%.1f MiB stored)...\n", night.Rows, float64(night.Bytes)/(1<<20))
	res, err := bench.RunHostileNight(cmd.Context(), night)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(g.stdout).Encode(res)
	}
	fmt.Fprintf(g.stdout, "hostile night: %d rows in %.1f s (%.1f s of CPU), %.0f rows/s, peak RSS %.0f MiB, peak heap %.0f MiB\n",
		res.Rows, res.Wall.Seconds(), res.CPU.Seconds(), res.RowsPerSecond(), float64(res.PeakRSS)/(1<<20), float64(res.PeakHeap)/(1<<20))
	return nil
}
