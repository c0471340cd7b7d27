package schedules_test

import (
	"testing"
	"time"

	"cpis/batch/schedule"
	"cpis/schedules"
	"cpis/store/caldate"
)

func TestDefaultIsValid(t *testing.T) {
	set, err := schedule.Load(schedules.Default)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Entries) != len(schedule.Jobs()) {
		t.Errorf("%d entries, want one per job", len(set.Entries))
	}
}

// TestDefaultAcrossClockChanges: on both change days and the days around
// them, each nightly job runs exactly once a London day, and the frequent
// jobs never leave more than 15 real minutes between runs.
func TestDefaultAcrossClockChanges(t *testing.T) {
	set, err := schedule.Load(schedules.Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, day := range []string{"2026-10-25", "2027-03-28"} {
		d, err := time.ParseInLocation(time.DateOnly, day, caldate.London)
		if err != nil {
			t.Fatal(err)
		}
		from, to := d.AddDate(0, 0, -2), d.AddDate(0, 0, 3)
		for _, job := range []string{schedule.Ingest, schedule.Expire, schedule.Notify, schedule.Report} {
			perDay := map[caldate.Date]int{}
			for _, r := range set.Next(job, from, 20) {
				if r.Before(to) {
					perDay[caldate.InLondon(r)]++
				}
			}
			for dd := from; dd.Before(to); dd = dd.AddDate(0, 0, 1) {
				if n := perDay[caldate.InLondon(dd)]; n != 1 {
					t.Errorf("%s runs %d times on %s, want once", job, n, dd.Format(time.DateOnly))
				}
			}
		}
		for _, job := range []string{schedule.Pull, schedule.Push} {
			prev := from
			for _, r := range set.Next(job, from, 5*24*4) {
				if gap := r.Sub(prev); gap > 15*time.Minute {
					t.Errorf("%s: %v between %v and %v", job, gap, prev, r)
				}
				prev = r
			}
		}
	}
}
