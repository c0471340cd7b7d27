// Package overview reads what operations look at the morning after a
// night: the last nightly run at a glance (each job, each LA's returns),
// held and waiting returns, messages undelivered after 5 days, LAs with no
// return for 7 days, and the nightly reports to download. The operations
// pages show it; each listing reads the same records and applies the same
// rule as the command that lists it (`cpis jobs`, `cpis returns list`, the
// operations report), through the function that command uses.
//
// Like the report (batch/report), it reads the store in short read
// transactions (one per LA for the messages) and never changes anything.
//
// Decisions where the issue is silent:
//
//   - The last night is the London date of the most recent recorded run of
//     the ingest job (the daemon records scheduled runs: `cpis jobs`); a hub
//     whose ingest never ran under the daemon (cron running `cpis
//     nightly`) has today as its night. The night's window runs from 00:00
//     London time on that date to the end of that day, or now when sooner.
//     Each job is shown once, with how many runs the window holds (pull and
//     push run every 15 minutes), how many failed or were skipped, its
//     latest run and the counts summed over its runs.
//   - An LA's outcome last night is each return taken in the window, with
//     its current state and outcome (a held return released since shows as
//     applied).
//   - An LA is quiet when no return of it was taken in the 7 days before
//     today (London) nor today: the default period of the operations
//     report. The page shows the last return taken and the last one applied.
//   - Undelivered is the operations report's rule (expire.OutboxAt).
//   - The reports offered are the nightly workbooks in <data>/reports
//     (report.FileName); a workbook or CSV folder written elsewhere with
//     `cpis report --out` or `--csv` is not.
package overview

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cpis/batch/expire"
	"cpis/batch/ingest"
	"cpis/batch/report"
	"cpis/batch/schedule"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
)

// QuietDays is how many days before today an LA may go without a return
// taken before it is quiet (today also without one).
const QuietDays = report.DefaultDays

// Night is the last nightly run at a glance.
type Night struct {
	// Date is the night's London date; Start and End bound its window.
	Date       caldate.Date
	Start, End time.Time
	// Jobs holds one entry per job of the schedule, in the order of the
	// night (schedule.Jobs).
	Jobs []Job
	// LAs holds every LA, by code, with the returns taken in the window.
	LAs []LANight
}

// Job is one job's runs in the night's window.
type Job struct {
	Name                  string
	Runs, Failed, Skipped int
	// Last is the latest run in the window; Last.Job is "" when none ran.
	Last store.JobRun
	// FirstError is the error of the first failed run in the window.
	FirstError string
	// Counts are the counts of the window's runs, summed.
	Counts map[string]int
}

// LANight is one LA's returns taken in the night's window.
type LANight struct {
	LA      store.Authority
	Returns []Return
}

// Return is a return as the store holds it now.
type Return struct {
	MessageID string
	File      string
	Kind      string // FULL or DELTA when the name parsed
	Extract   caldate.Date
	Taken     time.Time
	State     store.State
	// Code, Detail and Counts are its current outcome, when decided.
	Code   codes.Code
	Detail codes.Detail
	Counts store.Counts
	// Applied says the return was applied, at AppliedAt.
	Applied   bool
	AppliedAt time.Time
}

func returnOf(m *store.Message) Return {
	r := Return{MessageID: m.MessageID, File: m.File, Kind: m.Kind, Extract: m.Extract, Taken: m.TakenAt, State: m.State, Applied: m.Applied, AppliedAt: m.AppliedAt}
	if m.Outcome != nil {
		r.Code, r.Detail, r.Counts = m.Outcome.Code, m.Outcome.Detail, m.Outcome.Counts
	}
	return r
}

// londonMidnight returns 00:00 London time on d.
func londonMidnight(d caldate.Date) time.Time {
	y, m, day := d.YMD()
	return time.Date(y, m, day, 0, 0, 0, 0, caldate.London)
}

// LastNight reads the last nightly run as of now.
func LastNight(db *store.DB, now time.Time) (*Night, error) {
	var runs []store.JobRun
	var las []store.Authority
	if err := db.View(func(tx *store.Tx) (err error) {
		if runs, err = tx.JobRuns(store.JobRunsKept); err != nil {
			return err
		}
		las, err = tx.Authorities()
		return err
	}); err != nil {
		return nil, fmt.Errorf("overview: last night: %w", err)
	}
	n := &Night{Date: caldate.InLondon(now)}
	for _, r := range runs { // newest first
		if r.Job == schedule.Ingest && !r.Start.After(now) {
			n.Date = caldate.InLondon(r.Start)
			break
		}
	}
	n.Start, n.End = londonMidnight(n.Date), londonMidnight(n.Date.AddDays(1))
	if now.Before(n.End) {
		n.End = now
	}
	in := func(t time.Time) bool { return !t.Before(n.Start) && !t.After(n.End) }

	for _, name := range schedule.Jobs() {
		j := Job{Name: name, Counts: map[string]int{}}
		for _, r := range slices.Backward(runs) { // oldest first
			if r.Job != name || !in(r.Start) {
				continue
			}
			j.Runs++
			switch r.Outcome {
			case "failed":
				j.Failed++
				if j.FirstError == "" {
					j.FirstError = r.Error
				}
			case "skipped":
				j.Skipped++
			}
			for k, v := range r.Counts {
				j.Counts[k] += v
			}
			j.Last = r
		}
		n.Jobs = append(n.Jobs, j)
	}

	for _, a := range las {
		l := LANight{LA: a}
		// Newest first, so that a year of returns is not read each time.
		if err := db.View(func(tx *store.Tx) error {
			return tx.MessagesNewestFirst(a.Code, func(m *store.Message) (bool, error) {
				if in(m.TakenAt) {
					l.Returns = append(l.Returns, returnOf(m))
				}
				return !m.TakenAt.Before(n.Start), nil
			})
		}); err != nil {
			return nil, fmt.Errorf("overview: last night: LA %s: %w", a.Code, err)
		}
		slices.Reverse(l.Returns)
		n.LAs = append(n.LAs, l)
	}
	return n, nil
}

// Quiet is an LA with no return taken for QuietDays days.
type Quiet struct {
	LA store.Authority
	// Last is the last return taken, and LastApplied the last taken of
	// those applied; each nil when there was none.
	Last, LastApplied *Return
	// Days is how many London days ago the last return was taken; -1 when
	// none ever was.
	Days int
}

// QuietLAs returns the LAs with no return taken in the QuietDays days
// before today (London) nor today: those that never sent one first, then
// the longest quiet, then by code.
func QuietLAs(db *store.DB, now time.Time) ([]Quiet, error) {
	var las []store.Authority
	if err := db.View(func(tx *store.Tx) (err error) { las, err = tx.Authorities(); return err }); err != nil {
		return nil, fmt.Errorf("overview: quiet LAs: %w", err)
	}
	today := caldate.InLondon(now)
	var out []Quiet
	for _, a := range las {
		q := Quiet{LA: a, Days: -1}
		// Newest first: the last taken, then back to the last applied.
		if err := db.View(func(tx *store.Tx) error {
			return tx.MessagesNewestFirst(a.Code, func(m *store.Message) (bool, error) {
				if m.TakenAt.After(now) {
					return true, nil // read as of an earlier --now
				}
				if q.Last == nil {
					r := returnOf(m)
					q.Last = &r
				}
				if m.Applied && !m.AppliedAt.After(now) {
					r := returnOf(m)
					q.LastApplied = &r
				}
				return q.LastApplied == nil, nil
			})
		}); err != nil {
			return nil, fmt.Errorf("overview: quiet LAs: LA %s: %w", a.Code, err)
		}
		if q.Last != nil {
			q.Days = today.DaysSince(caldate.InLondon(q.Last.Taken))
		}
		if q.Days == -1 || q.Days > QuietDays {
			out = append(out, q)
		}
	}
	sent := func(q Quiet) bool { return q.Last != nil }
	slices.SortFunc(out, func(a, b Quiet) int {
		return cmp.Or(compareBool(sent(a), sent(b)), cmp.Compare(b.Days, a.Days), strings.Compare(a.LA.Code, b.LA.Code))
	})
	return out, nil
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// Undelivered returns the messages waiting uncollected in an LA's outbox
// for more than expire.UndeliveredAfter at now: by LA, oldest first.
func Undelivered(dataDir string, db *store.DB, now time.Time) ([]expire.Undelivered, error) {
	var las []store.Authority
	if err := db.View(func(tx *store.Tx) (err error) { las, err = tx.Authorities(); return err }); err != nil {
		return nil, fmt.Errorf("overview: undelivered: %w", err)
	}
	var out []expire.Undelivered
	for _, a := range las {
		_, late, err := expire.OutboxAt(dataDir, a, now)
		if err != nil {
			return nil, fmt.Errorf("overview: undelivered: LA %s: %w", a.Code, err)
		}
		slices.SortStableFunc(late, func(a, b expire.Undelivered) int {
			return cmp.Or(a.Since.Compare(b.Since), strings.Compare(a.File, b.File))
		})
		out = append(out, late...)
	}
	return out, nil
}

// Held returns the held FULL returns, which operations release or discard,
// and the returns otherwise unfinished (waiting for demographics, waiting
// behind a held return, interrupted), as `cpis returns list` lists them.
func Held(dataDir string, db *store.DB) (held, others []ingest.Unfinished, err error) {
	all, err := ingest.ListUnfinished(dataDir, db)
	if err != nil {
		return nil, nil, fmt.Errorf("overview: held returns: %w", err)
	}
	for _, u := range all {
		if u.Held() {
			held = append(held, u)
		} else {
			others = append(others, u)
		}
	}
	return held, others, nil
}

// ReportFile is a nightly report workbook in <data>/reports.
type ReportFile struct {
	Name     string
	Day      caldate.Date
	Size     int64
	Modified time.Time
}

// ErrNoReport means a name given is not that of a nightly report held.
var ErrNoReport = errors.New("no such report")

// Reports returns the n latest nightly report workbooks, newest first.
func Reports(dataDir string, n int) ([]ReportFile, error) {
	des, err := os.ReadDir(report.Dir(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("overview: reports: %w", err)
	}
	var out []ReportFile
	for _, de := range des {
		day, ok := report.ParseFileName(de.Name())
		if !ok || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("overview: reports: %w", err)
		}
		out = append(out, ReportFile{Name: de.Name(), Day: day, Size: info.Size(), Modified: info.ModTime()})
	}
	slices.SortFunc(out, func(a, b ReportFile) int { return b.Day.Compare(a.Day) })
	return out[:min(n, len(out))], nil
}

// ReportPath returns the path of the nightly report named name, which
// must be a report file name (report.FileName) of a regular file in
// <data>/reports: anything else, a path above all, is ErrNoReport.
func ReportPath(dataDir, name string) (string, error) {
	if _, ok := report.ParseFileName(name); !ok {
		return "", fmt.Errorf("report %q: %w", name, ErrNoReport)
	}
	path := filepath.Join(report.Dir(dataDir), name)
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !info.Mode().IsRegular()) {
		return "", fmt.Errorf("report %q: %w", name, ErrNoReport)
	}
	if err != nil {
		return "", fmt.Errorf("report %q: %w", name, err)
	}
	return path, nil
}

// Glance counts what waits for operations, for the top of the overview.
type Glance struct {
	Held, OtherUnfinished, Undelivered, Quiet int
	// Latest is the latest nightly report; nil when there is none.
	Latest *ReportFile
}

// AtAGlance counts what waits for operations at now.
func AtAGlance(dataDir string, db *store.DB, now time.Time) (Glance, error) {
	var g Glance
	held, others, err := Held(dataDir, db)
	if err != nil {
		return g, err
	}
	und, err := Undelivered(dataDir, db, now)
	if err != nil {
		return g, err
	}
	quiet, err := QuietLAs(db, now)
	if err != nil {
		return g, err
	}
	reps, err := Reports(dataDir, 1)
	if err != nil {
		return g, err
	}
	g.Held, g.OtherUnfinished, g.Undelivered, g.Quiet = len(held), len(others), len(und), len(quiet)
	if len(reps) > 0 {
		g.Latest = &reps[0]
	}
	return g, nil
}
