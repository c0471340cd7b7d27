// Package report makes the operations report: the reconciliation workbook
// that tells the CP-IS operations team, at a glance, which LAs send good
// returns, which NHS numbers need fixing, who has plans with more than one
// LA, what leaves visibility soon, and what waits undelivered or held.
//
// A report is made in two steps (style point 6): Collect reads a snapshot
// of the store in short read transactions (one per LA, one per page of
// plans or lookups, one per day of notifications) and lists the outboxes;
// then WriteXLSX or WriteCSV render it without touching the store, so the
// report never holds the writer up. The workbook is streamed sheet by
// sheet (excelize's StreamWriter); what the snapshot holds is small beside
// the plans (counts per LA, and the rows of the sheets themselves).
//
// The same tables make the workbook and the CSV files:
//
//	Summary                     one row per LA, and a totals row
//	Rejections                  every rejected or warned row of the returns taken in the period
//	Rejections by LA and code   the pivot of those rows: counts per LA and CPR code
//	NHS numbers                 CPR01-CPR05 rows and inactive numbers awaiting an LA correction
//	Cross-LA                    people with visible plans from more than one LA
//	Expiring                    plans leaving visibility in the next 30 days
//	Undelivered and held        outbox messages over 5 days old; held FULL returns
//
// Decisions where the issue is silent:
//
//   - The period runs from 00:00 London time on its first day (by default 7
//     days before today) to the moment the report is made, so the nightly
//     report includes the ingest that ran just before it. A message belongs
//     to the period by the time it was taken.
//   - Days since the last applied return count London calendar days from the
//     day the hub applied it; over 7 is late (red). An LA that never had a
//     return applied has no count and shows amber.
//   - Accesses are the lookups in the period that raised an alert (scheduled
//     ones included), counted for every LA that now holds a plan under the
//     number looked up or a number superseded into it. Notifications are the
//     rows of the LA's access files for the days of the period (rows still
//     owed for a day not yet written included).
//   - Uncollected and undelivered come from the outbox folders: every data
//     file still there is uncollected (a collection deletes it); one whose
//     modification time is more than 5 days before the report is
//     undelivered (MESH code 14). Until the daemon records collections,
//     the folder listing is the record.
//   - A CPR01-CPR05 row awaits a correction until a later FULL return of the
//     same LA is applied without the same (local_id, NHS number) among its
//     CPR01-CPR05 rows; it is listed once with when it was first and last
//     reported (within the 90 days row outcomes are kept). An inactive
//     number awaits a correction while its plan is still held and the
//     demographics reference still gives the same reason; the store keeps
//     no date for those, so they follow the dated rows.
//   - Cross-LA joins numbers superseded into a current one (same person).
//   - Text cells beginning with =, +, - or @ are inline strings with the
//     text number format, never formulas; the CSV files prefix such values
//     (and those beginning with TAB or CR) with a single quote.
package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cpis/batch/expire"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/caldate"
)

// DefaultDays is the length of the default period: the 7 days before today
// (London), and today until the report is made.
const DefaultDays = 7

// LateAfter is how many days after its last applied return an LA is late.
const LateAfter = 7

// UndeliveredAfter is how long a message may wait in an outbox before it
// counts as undelivered (MESH code 14).
const UndeliveredAfter = expire.UndeliveredAfter

// ExpiringDays is how far ahead the Expiring sheet looks.
const ExpiringDays = 30

// Config says what a report covers.
type Config struct {
	DataDir string
	DB      *store.DB
	// Now is when the report is made: the end of the period, "today" of
	// every visibility rule and the age of outbox messages.
	Now time.Time
	// Since is the first day of the period (London); zero means
	// DefaultDays before today.
	Since caldate.Date
}

// ErrSinceAfterToday means the period would start after today.
var ErrSinceAfterToday = fmt.Errorf("the period cannot start after today")

// Report is a snapshot of the store and the outboxes, ready to render.
type Report struct {
	Now   time.Time    // when it was made
	Today caldate.Date // London date of Now
	Since caldate.Date // first day of the period
	// Store is the store file read; Mailboxes the folder of the outboxes.
	Store, Mailboxes string
	// Demographics is when the demographics reference was imported.
	Demographics time.Time

	las         []*laSummary
	laByCode    map[string]*laSummary // las by code
	rejections  []rejection
	nhs         []nhsProblem
	cross       []crossLA
	expiring    []expiringPlan
	undelivered []pending
}

// PeriodStart returns the instant the period starts: 00:00 London time on
// its first day.
func (r *Report) PeriodStart() time.Time { return londonMidnight(r.Since) }

func londonMidnight(d caldate.Date) time.Time {
	y, m, day := d.YMD()
	return time.Date(y, m, day, 0, 0, 0, 0, caldate.London)
}

// FileName returns the name of the report made on day: report-YYYYMMDD.xlsx.
func FileName(day caldate.Date) string { return "report-" + day.Compact() + ".xlsx" }

// ParseFileName returns the day of a nightly report's file name (FileName);
// ok is false for any other name.
func ParseFileName(name string) (day caldate.Date, ok bool) {
	compact, found := strings.CutPrefix(name, "report-")
	if compact, found = strings.CutSuffix(compact, ".xlsx"); !found || len(compact) != 8 {
		return caldate.Date{}, false
	}
	day, err := caldate.ParseCompact(compact)
	return day, err == nil && FileName(day) == name
}

// Dir returns the folder of the nightly reports in the data directory
// dataDir: <data>/reports.
func Dir(dataDir string) string { return filepath.Join(dataDir, "reports") }

// Nightly makes the report of the default period into
// <dataDir>/reports/report-YYYYMMDD.xlsx (London date of now), atomically:
// a reader sees the previous file or the whole new one, never a part. It
// returns the path written.
func Nightly(dataDir string, db *store.DB, now time.Time) (string, error) {
	r, err := Collect(Config{DataDir: dataDir, DB: db, Now: now})
	if err != nil {
		return "", err
	}
	dir := Dir(dataDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	name := FileName(r.Today)
	if err := mesh.WriteFileAtomic(dir, name, r.WriteXLSX, 0o640); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return filepath.Join(dir, name), nil
}

// Headline says in one line what the report found, for the command's
// output and logs.
func (r *Report) Headline() string {
	var late, never, held int
	for _, s := range r.las {
		switch {
		case s.appliedAt.IsZero():
			never++
		case r.Today.DaysSince(caldate.InLondon(s.appliedAt)) > LateAfter:
			late++
		}
		held += s.held
	}
	return fmt.Sprintf("period %s 00:00 to %s (London): %d LAs, %d late, %d never applied; rejected or warned rows %d, "+
		"NHS numbers to fix %d, cross-LA people %d, plans expiring %d, undelivered messages %d, held returns %d",
		r.Since, r.Now.In(caldate.London).Format("2006-01-02 15:04"), len(r.las), late, never, len(r.rejections),
		len(r.nhs), len(r.cross), len(r.expiring), len(r.undelivered)-held, held)
}
