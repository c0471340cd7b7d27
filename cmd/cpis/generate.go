package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"cpis/batch/generate"
	"cpis/store/caldate"
)

func newGenerateCommand(g *globals) *cobra.Command {
	var out string
	var authorities, plans int
	var errorRate float64
	var seed uint64
	cmd := &cobra.Command{
		Annotations: map[string]string{annLocal: "true"}, // needs no store
		Use:         "generate --out DIR [--authorities N] [--plans N] [--error-rate R] [--seed S]",
		Short:       "Write synthetic national returns, demographics and lookups for benchmarks",
		Long: `Write a synthetic national data set into DIR (created; refused when not
empty): authorities.csv (the first N sample authorities), demographics.csv
(for 'cpis pds import'), for every LA a FULL return dated the day before
--now's London date (CSV, XML for every fifth LA) and a DELTA return a day
later with about 1% changes, under returns/<LA>/, and accesses.csv (lookups
for the lookup benchmark). Each LA's size follows a fixed weight derived
from its code (the largest about 5 times the average); the FULL returns
hold --plans rows in all. --error-rate R gives that share of rows an error,
every row detail code (R001-R013, P001-P006, W001-W003) in turn. The same
--seed and --now give byte-identical files. NHS numbers are in the 999 test
range; everything else is invented.

Then, for example:
  cpis --data D init --authorities DIR/authorities.csv --pds DIR/demographics.csv
  cpis --data D mailbox send --la 841 DIR/returns/841/CPIS_841_FULL_*.csv

Exit codes: 0 done, 1 failure, 2 usage.
Example:
  cpis generate --out /tmp/national --plans 250000 --seed 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case out == "":
				return usageError{fmt.Errorf("--out DIR is required")}
			case authorities < 1 || authorities > 153:
				return usageError{fmt.Errorf("--authorities %d: give 1 to 153", authorities)}
			case plans < 1 || plans > generate.MaxPlans:
				return usageError{fmt.Errorf("--plans %d: give 1 to %d", plans, generate.MaxPlans)}
			case !(errorRate >= 0 && errorRate <= 1):
				return usageError{fmt.Errorf("--error-rate %v: give a share from 0 to 1", errorRate)}
			}
			start := time.Now()
			res, err := generate.Generate(generate.Options{
				Out:         out,
				Authorities: authorities,
				Plans:       plans,
				ErrorRate:   errorRate,
				Seed:        seed,
				Extract:     caldate.InLondon(g.nowTime()).AddDays(-1),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Generated %d plans for %d LAs in %s (%.1fs):\n", res.Plans, res.Authorities, res.Dir, time.Since(start).Seconds())
			fmt.Fprintf(g.stdout, "  %d FULL returns dated %s, %d DELTA returns dated %s (%d rows)\n", len(res.Returns), res.Extract, len(res.Returns), res.DeltaDate, res.DeltaRows)
			fmt.Fprintf(g.stdout, "  %d rows with an error on purpose, %d people in %s, %d lookups in %s\n", res.ErrorRows, res.People, generate.DemographicsFile, res.Accesses, generate.AccessesFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write into (created; must be empty)")
	cmd.Flags().IntVar(&authorities, "authorities", 153, "how many of the sample authorities, in file order")
	cmd.Flags().IntVar(&plans, "plans", generate.DefaultPlans, "rows of all FULL returns together")
	cmd.Flags().Float64Var(&errorRate, "error-rate", 0, "share of rows that carry an error (0 to 1)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of every random choice")
	return cmd
}
