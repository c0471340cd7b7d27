package overview_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"cpis/batch/expire"
	"cpis/batch/ingest"
	"cpis/batch/overview"
	"cpis/batch/overview/overviewtest"
	"cpis/batch/report"
	"cpis/store"
	"cpis/store/caldate"
)

var (
	darlington = store.Authority{Code: "841", GSS: "E06000005", Name: "Darlington", Region: "North East", MailboxID: "LA841HC001", EmergencyPhone: "0191 498 0123"}
	camden     = store.Authority{Code: "202", GSS: "E09000007", Name: "Camden", Region: "London", MailboxID: "LA202HC001", EmergencyPhone: "020 7946 0101", OfficePhone: "020 7946 0501"}
	city       = store.Authority{Code: "201", GSS: "E09000001", Name: "City of London", Region: "London", MailboxID: "LA201HC001", EmergencyPhone: "020 7946 0100", OfficePhone: "020 7946 0500"}

	// heldReturn is Darlington's FULL return as the store holds it.
	heldReturn = overview.Return{MessageID: overviewtest.HeldID, File: overviewtest.HeldFile, Kind: "FULL", Extract: day("2026-11-20"),
		Taken: overviewtest.Night2, State: store.Held, Code: "CPF04", Detail: "F009",
		Counts: store.Counts{Read: 3, Applied: 3, Warnings: 1, Withdrawn: 22}}
	// camdenReturn is Camden's FULL return, applied on the first night.
	camdenReturn = overview.Return{MessageID: overviewtest.CamdenID, File: overviewtest.CamdenFile, Kind: "FULL", Extract: day("2026-11-12"),
		Taken: overviewtest.Night1, State: store.Responded, Code: "CPF02", Counts: store.Counts{Read: 4, Applied: 4},
		Applied: true, AppliedAt: overviewtest.Night1}
)

func day(s string) caldate.Date {
	d, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return d
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var cmpOpts = cmp.Options{cmpopts.EquateComparable(caldate.Date{}), cmpopts.EquateEmpty()}

// job is a Job with its latest run.
func job(name string, runs, failed, skipped int, last store.JobRun, firstErr string, counts map[string]int) overview.Job {
	last.Job = name
	return overview.Job{Name: name, Runs: runs, Failed: failed, Skipped: skipped, Last: last, FirstError: firstErr, Counts: counts}
}

func TestLastNight(t *testing.T) {
	h := overviewtest.Morning(t)
	night22 := []overview.Job{
		job("pull", 2, 1, 0, store.JobRun{Start: utc("2026-11-22T02:20:00Z"), Duration: time.Second, Outcome: "failed",
			Error: "pull: 1 of 1 remote mailboxes failed", Counts: map[string]int{"pulled": 2}},
			"pull: 1 of 1 remote mailboxes failed", map[string]int{"pulled": 3}),
		job("ingest", 1, 0, 0, store.JobRun{Start: utc("2026-11-22T02:15:00Z"), Duration: 3 * time.Second, Outcome: "ok",
			Counts: map[string]int{"returns": 1, "held": 1}}, "", map[string]int{"returns": 1, "held": 1}),
		job("expire", 1, 0, 0, store.JobRun{Start: utc("2026-11-22T03:00:00Z"), Duration: time.Second, Outcome: "ok",
			Counts: map[string]int{"purged": 0}}, "", map[string]int{"purged": 0}),
		job("notify", 1, 0, 1, store.JobRun{Start: utc("2026-11-22T03:10:00Z"), Outcome: "skipped"}, "", nil),
		job("report", 1, 0, 0, store.JobRun{Start: utc("2026-11-22T03:30:00Z"), Duration: 4 * time.Second, Outcome: "ok"}, "", nil),
		job("push", 1, 0, 0, store.JobRun{Start: utc("2026-11-22T02:30:00Z"), Duration: time.Second, Outcome: "ok",
			Counts: map[string]int{"pushed": 1}}, "", map[string]int{"pushed": 1}),
	}
	none := func(name string) overview.Job { return overview.Job{Name: name} }
	tests := []struct {
		name string
		now  time.Time
		want overview.Night
	}{
		{
			name: "the morning after: the night of the latest ingest, until now",
			now:  overviewtest.Now,
			want: overview.Night{Date: day("2026-11-22"), Start: utc("2026-11-22T00:00:00Z"), End: overviewtest.Now, Jobs: night22,
				LAs: []overview.LANight{{LA: city}, {LA: camden}, {LA: darlington, Returns: []overview.Return{heldReturn}}}},
		},
		{
			name: "the next night before its ingest: still the whole last night",
			now:  utc("2026-11-23T01:00:00Z"),
			want: overview.Night{Date: day("2026-11-22"), Start: utc("2026-11-22T00:00:00Z"), End: utc("2026-11-23T00:00:00Z"), Jobs: night22,
				LAs: []overview.LANight{{LA: city}, {LA: camden}, {LA: darlington, Returns: []overview.Return{heldReturn}}}},
		},
		{
			name: "read as of an earlier time: the night before, runs and returns after it left out",
			now:  utc("2026-11-21T12:00:00Z"),
			want: overview.Night{Date: day("2026-11-21"), Start: utc("2026-11-21T00:00:00Z"), End: utc("2026-11-21T12:00:00Z"),
				Jobs: []overview.Job{none("pull"), job("ingest", 1, 0, 0, store.JobRun{Start: utc("2026-11-21T02:15:00Z"), Duration: 2 * time.Second,
					Outcome: "ok", Counts: map[string]int{"returns": 0}}, "", map[string]int{"returns": 0}),
					none("expire"), none("notify"), none("report"), none("push")},
				LAs: []overview.LANight{{LA: city}, {LA: camden}, {LA: darlington}}},
		},
		{
			name: "before any ingest ran: today, with the returns taken today",
			now:  utc("2026-11-13T10:00:00Z"),
			want: overview.Night{Date: day("2026-11-13"), Start: utc("2026-11-13T00:00:00Z"), End: utc("2026-11-13T10:00:00Z"),
				Jobs: []overview.Job{none("pull"), none("ingest"), none("expire"), none("notify"), none("report"), none("push")},
				LAs:  []overview.LANight{{LA: city}, {LA: camden, Returns: []overview.Return{camdenReturn}}, {LA: darlington}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := overview.LastNight(h.DB, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.want, got, cmpOpts); diff != "" {
				t.Errorf("LastNight(%s) (-want +got):\n%s", tt.now, diff)
			}
		})
	}
}

// TestLastNightSummerTime: the night's window is London's day, an hour
// ahead of UTC in summer.
func TestLastNightSummerTime(t *testing.T) {
	h := overviewtest.Morning(t)
	now := utc("2027-06-10T08:00:00Z")
	if err := h.DB.Update(func(tx *store.Tx) error {
		return tx.AddJobRun(store.JobRun{Job: "ingest", Start: utc("2027-06-10T01:15:00Z"), Outcome: "ok"})
	}); err != nil {
		t.Fatal(err)
	}
	got, err := overview.LastNight(h.DB, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Date != day("2027-06-10") || !got.Start.Equal(utc("2027-06-09T23:00:00Z")) || !got.End.Equal(now) {
		t.Errorf("night %s from %s to %s, want 2027-06-10 from 2027-06-09T23:00:00Z to %s", got.Date, got.Start, got.End, now)
	}
}

func TestQuietLAs(t *testing.T) {
	h := overviewtest.Morning(t)
	tests := []struct {
		name string
		now  time.Time
		want []overview.Quiet
	}{
		{
			name: "the morning after: the LA that never sent first, then Camden 9 days",
			now:  overviewtest.Now,
			want: []overview.Quiet{{LA: city, Days: -1}, {LA: camden, Last: &camdenReturn, LastApplied: &camdenReturn, Days: 9}},
		},
		{
			name: "7 days after Camden's return it is not yet quiet; Darlington's return is still to come",
			now:  utc("2026-11-20T23:59:00Z"),
			want: []overview.Quiet{{LA: city, Days: -1}, {LA: darlington, Days: -1}},
		},
		{
			name: "8 days after, it is",
			now:  utc("2026-11-21T00:00:00Z"),
			want: []overview.Quiet{{LA: city, Days: -1}, {LA: darlington, Days: -1}, {LA: camden, Last: &camdenReturn, LastApplied: &camdenReturn, Days: 8}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := overview.QuietLAs(h.DB, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("QuietLAs(%s) (-want +got):\n%s", tt.now, diff)
			}
		})
	}
}

func TestUndelivered(t *testing.T) {
	h := overviewtest.Morning(t)
	resp := overviewtest.CamdenResponse(t, h)
	delivered := overviewtest.Night1.Add(time.Minute)
	camdenLate := expire.Undelivered{LA: "202", MailboxID: "LA202HC001", File: resp, MessageID: resp[len("CPIS_202_RESPONSE_20261113_") : len(resp)-len(".csv")],
		Size: 175, Since: delivered}
	tests := []struct {
		name string
		now  time.Time
		want []expire.Undelivered
	}{
		{name: "the morning after", now: overviewtest.Now, want: []expire.Undelivered{camdenLate}},
		{name: "exactly 5 days after delivery: not yet", now: delivered.Add(expire.UndeliveredAfter)},
		{name: "just over 5 days", now: delivered.Add(expire.UndeliveredAfter + time.Second), want: []expire.Undelivered{camdenLate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := overview.Undelivered(h.Dir, h.DB, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("Undelivered(%s) (-want +got):\n%s", tt.now, diff)
			}
		})
	}
}

func TestHeld(t *testing.T) {
	h := overviewtest.Morning(t)
	held, others, err := overview.Held(h.Dir, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	wantHeld := []ingest.Unfinished{{MessageID: overviewtest.HeldID, LA: "841", State: "held", File: overviewtest.HeldFile, Extract: "2026-11-20",
		Code: "CPF04", Detail: "F009", Withdrawn: 22, Taken: overviewtest.Night2}}
	wantOthers := []ingest.Unfinished{{LA: "841", State: ingest.StateWaitingBehindHeld, File: overviewtest.DeltaFile, Extract: "2026-11-21", Behind: overviewtest.HeldID}}
	if diff := cmp.Diff(wantHeld, held); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOthers, others); diff != "" {
		t.Errorf("others (-want +got):\n%s", diff)
	}
}

func TestReports(t *testing.T) {
	h := overviewtest.Morning(t)
	r21 := overview.ReportFile{Name: overviewtest.Report21, Day: day("2026-11-21"), Size: 14, Modified: utc("2026-11-21T03:30:05Z")}
	r22 := overview.ReportFile{Name: overviewtest.Report22, Day: day("2026-11-22"), Size: 14, Modified: utc("2026-11-22T03:30:05Z")}
	for _, tt := range []struct {
		n    int
		want []overview.ReportFile
	}{{1, []overview.ReportFile{r22}}, {5, []overview.ReportFile{r22, r21}}} {
		got, err := overview.Reports(h.Dir, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
			t.Errorf("Reports(%d) (-want +got):\n%s", tt.n, diff)
		}
	}
}

func TestReportPath(t *testing.T) {
	h := overviewtest.Morning(t)
	if err := os.Mkdir(filepath.Join(report.Dir(h.Dir), "report-20261119.xlsx"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(h.Dir, "cpis.db"), filepath.Join(report.Dir(h.Dir), "report-20261118.xlsx")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string // path; "" means ErrNoReport
	}{
		{name: overviewtest.Report22, want: filepath.Join(h.Dir, "reports", overviewtest.Report22)},
		{name: "report-20261120.xlsx"}, // none that day
		{name: "report-20261119.xlsx"}, // a folder
		{name: "report-20261118.xlsx"}, // a symbolic link
		{name: "notes.txt"},            // not a report's name
		{name: "report-2026112.xlsx"},  // nor this
		{name: "report-20261122.XLSX"}, // nor this
		{name: "../cpis.db"},           // a path
		{name: "../reports/" + overviewtest.Report22},
		{name: "report-20261131.xlsx"}, // no such day
	}
	for _, tt := range tests {
		got, err := overview.ReportPath(h.Dir, tt.name)
		if tt.want == "" {
			if !errors.Is(err, overview.ErrNoReport) {
				t.Errorf("ReportPath(%q) = %q, %v; want ErrNoReport", tt.name, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ReportPath(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestAtAGlance(t *testing.T) {
	h := overviewtest.Morning(t)
	got, err := overview.AtAGlance(h.Dir, h.DB, overviewtest.Now)
	if err != nil {
		t.Fatal(err)
	}
	want := overview.Glance{Held: 1, OtherUnfinished: 1, Undelivered: 1, Quiet: 2,
		Latest: &overview.ReportFile{Name: overviewtest.Report22, Day: day("2026-11-22"), Size: 14, Modified: utc("2026-11-22T03:30:05Z")}}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("AtAGlance (-want +got):\n%s", diff)
	}
}
