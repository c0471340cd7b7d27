package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"cpis/batch/schedule"
	"cpis/schedules"
	"cpis/store/caldate"
)

func newSchedulesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "schedules", Short: "The daemon's job schedules: validate a set, list next runs",
		Annotations: map[string]string{annLocal: "true"}} // needs no store
	cmd.AddCommand(newSchedulesValidateCommand(g), newSchedulesListCommand(g))
	return cmd
}

// loadSchedules loads the schedule set of dir, or the shipped set when dir
// is empty. name says which, for messages.
func loadSchedules(dir string) (set schedule.Set, name string, err error) {
	if dir == "" {
		set, err = schedule.Load(schedules.Default)
		return set, "shipped set", err
	}
	if _, err := os.ReadDir(dir); err != nil {
		return set, dir, err
	}
	set, err = schedule.Load(os.DirFS(dir))
	return set, dir, err
}

// scheduleProblems returns the problems of a set's load error, one a line
// as "file:line: message" with file under dir ("schedules/" for the
// shipped set), or nil if err is not about the set's content.
func scheduleProblems(err error, dir string) []string {
	if dir == "" {
		dir = "schedules"
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out []string
	for _, e := range errs {
		var se *schedule.Error
		if !errors.As(e, &se) {
			return nil
		}
		p := *se
		if p.File != "" {
			p.File = filepath.Join(dir, p.File)
			out = append(out, p.Error())
		} else {
			out = append(out, dir+": "+p.Error())
		}
	}
	return out
}

func newSchedulesValidateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a whole schedule set (the shipped one without DIR)",
		Long: `Check every *.schedule file of DIR as one set, as 'cpis serve --schedules
DIR' would load it; without DIR, the set shipped in the binary. Each line
is a 5-field cron spec (or @daily, @every 15m, ...) then a job; times are
Europe/London. Every problem is printed on stdout as FILE:LINE: MESSAGE:
unknown jobs, bad specs, a job scheduled twice or not at all, and daily
times in the 01:00-01:59 hour that clock changes skip or repeat.

Exit codes: 0 valid, 1 not valid (or DIR unreadable), 2 usage.
Example:
  cpis schedules validate /etc/cpis/schedules`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			set, name, err := loadSchedules(dir)
			if err != nil {
				problems := scheduleProblems(err, dir)
				if problems == nil {
					return err
				}
				for _, p := range problems {
					fmt.Fprintln(g.stdout, p)
				}
				fmt.Fprintf(g.stdout, "%d problem(s) in %s.\n", len(problems), name)
				return silentError{err}
			}
			fmt.Fprintf(g.stdout, "%d jobs OK (%s).\n", len(set.Entries), name)
			return nil
		},
	}
}

func newSchedulesListCommand(g *globals) *cobra.Command {
	var dir string
	var count int
	cmd := &cobra.Command{
		Use:   "list [--schedules DIR] [--count N]",
		Short: "Show each job's next runs in London time",
		Long: `Show the next N runs (default 3) of each job of a schedule set, in
Europe/London time with the UTC offset, after the clock (--now to look at
another moment, e.g. a clock change). Without --schedules, the set shipped
in the binary.

Exit codes: 0 done, 1 the set is not valid, 2 usage.
Example:
  cpis --now 2027-03-27T12:00:00Z schedules list --count 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 || count > 1000 {
				return usageError{fmt.Errorf("--count %d: want 1 to 1000", count)}
			}
			set, name, err := loadSchedules(dir)
			if err != nil {
				if problems := scheduleProblems(err, dir); problems != nil {
					return fmt.Errorf("%s is not valid ('cpis schedules validate' lists the problems): %s", name, problems[0])
				}
				return err
			}
			from := g.nowTime()
			fmt.Fprintf(g.stdout, "Next %d run(s) of each job after %s, Europe/London time (%s):\n",
				count, from.In(caldate.London).Format(scheduleTimeLayout), name)
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSCHEDULE\tNEXT RUNS")
			for _, e := range set.Entries {
				where := e.Spec
				if dir != "" {
					where = fmt.Sprintf("%s (%s:%d)", e.Spec, path.Base(e.File), e.Line)
				}
				runs := set.Next(e.Job, from, count)
				if len(runs) == 0 {
					fmt.Fprintf(tw, "%s\t%s\tnever\n", e.Job, where)
					continue
				}
				for i, r := range runs {
					if i == 0 {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Job, where, r.Format(scheduleTimeLayout))
					} else {
						fmt.Fprintf(tw, "\t\t%s\n", r.Format(scheduleTimeLayout))
					}
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dir, "schedules", "", "schedule directory (default: the shipped set)")
	cmd.Flags().IntVar(&count, "count", 3, "runs to show per job")
	return cmd
}

// scheduleTimeLayout shows London wall-clock time with its offset, so runs
// either side of a clock change read unambiguously.
const scheduleTimeLayout = "2006-01-02 15:04 -07:00 MST"
