package schedule_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/schedule"
	"cpis/store/caldate"
)

const goodSet = `# a comment
5,20,35,50 * * * *  pull   # every 15 minutes
15 2 * * *          ingest
0 3 * * *           expire
10 3 * * *          notify
@daily              report
@every 15m          push
`

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"default.schedule": {Data: []byte(goodSet)},
		"README.md":        {Data: []byte("not a schedule")},
	}
	got, err := schedule.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := schedule.Set{Entries: []schedule.Entry{
		{Job: "pull", Spec: "5,20,35,50 * * * *", File: "default.schedule", Line: 2},
		{Job: "ingest", Spec: "15 2 * * *", File: "default.schedule", Line: 3},
		{Job: "expire", Spec: "0 3 * * *", File: "default.schedule", Line: 4},
		{Job: "notify", Spec: "10 3 * * *", File: "default.schedule", Line: 5},
		{Job: "report", Spec: "@daily", File: "default.schedule", Line: 6},
		{Job: "push", Spec: "@every 15m", File: "default.schedule", Line: 7},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// TestLoadErrors checks that every problem of a set is reported at once,
// each with file, line and value.
func TestLoadErrors(t *testing.T) {
	fsys := fstest.MapFS{
		"a.schedule": {Data: []byte(`15 2 * * * ingest
0 3 * * * pul
61 3 * * * expire
30 1 * * * report
0 1-23/2 * * * report
CRON_TZ=UTC 0 3 * * * expire
0 3 * * *
0 3 * * * expire --now
0 0 30 2 * expire
`)},
		"b.schedule": {Data: []byte("*/15 * * * * push\n0 4 * * * ingest\n30 1 * * * pull # daily in the 01 hour, whatever the job\n")},
	}
	_, err := schedule.Load(fsys)
	if err == nil {
		t.Fatal("Load: no error")
	}
	want := `a.schedule:2: unknown job "pul" (jobs: pull, ingest, expire, notify, report, push)
a.schedule:3: bad schedule "61 3 * * *" for expire: end of range (61) above maximum (59): 61
a.schedule:4: runs in the 01:00-01:59 London hour: "30 1 * * *" for report; the spring clock change skips that hour and the autumn one repeats it: choose another hour, or run at least hourly
a.schedule:5: runs in the 01:00-01:59 London hour: "0 1-23/2 * * *" for report; the spring clock change skips that hour and the autumn one repeats it: choose another hour, or run at least hourly
a.schedule:6: bad schedule "CRON_TZ=UTC": no time zone allowed, every job runs in Europe/London time
a.schedule:7: bad schedule "0 3 * * *": want a 5-field cron spec (or @daily, @every 15m, ...) then a job name
a.schedule:8: bad schedule: unexpected "--now" after job "expire" (one spec and one job a line; no flags)
a.schedule:9: bad schedule "0 0 30 2 *" for expire: never runs
b.schedule:2: job scheduled twice: "ingest", already at a.schedule:1
b.schedule:3: runs in the 01:00-01:59 London hour: "30 1 * * *" for pull; the spring clock change skips that hour and the autumn one repeats it: choose another hour, or run at least hourly
job not scheduled: "notify" has no schedule line (every job must be scheduled once)`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Load error (-want +got):\n%s", diff)
	}
	var first *schedule.Error
	if !errors.As(err, &first) || first.File != "a.schedule" || first.Line != 2 || first.Value != "pul" {
		t.Errorf("first error = %+v, want a.schedule:2 value pul", first)
	}
	for _, sentinel := range []error{schedule.ErrUnknownJob, schedule.ErrBadSpec, schedule.ErrDuplicate, schedule.ErrMissingJob, schedule.ErrClockChangeHour} {
		if !errors.Is(err, sentinel) {
			t.Errorf("errors.Is(err, %v) = false", sentinel)
		}
	}
}

func TestLoadNoFiles(t *testing.T) {
	_, err := schedule.Load(fstest.MapFS{"default.cron": {Data: []byte(goodSet)}})
	if !errors.Is(err, schedule.ErrNoFiles) {
		t.Errorf("Load = %v, want ErrNoFiles", err)
	}
}

// london formats times as the tests expect them: London wall clock with
// offset and zone abbreviation.
func london(ts []time.Time) string {
	var out []string
	for _, t := range ts {
		if t.Location() != caldate.London {
			return "not in London time: " + t.String()
		}
		out = append(out, t.Format("2006-01-02 15:04 -07:00 MST"))
	}
	return strings.Join(out, "\n")
}

// TestNextClockChanges pins robfig/cron's behaviour (v3.0.1) at London's
// clock changes, which the package documentation describes.
func TestNextClockChanges(t *testing.T) {
	tests := []struct {
		name, spec, from string
		n                int
		want             string
	}{{
		// Spring 2027-03-28: 01:00 GMT becomes 02:00 BST; 01:30 never happens.
		name: "spring 01:30 daily does not run that day", spec: "30 1 * * *", from: "2027-03-27T00:00:00Z", n: 3,
		want: "2027-03-27 01:30 +00:00 GMT\n2027-03-29 01:30 +01:00 BST\n2027-03-30 01:30 +01:00 BST",
	}, {
		name: "spring 02:15 daily runs every day", spec: "15 2 * * *", from: "2027-03-27T00:00:00Z", n: 3,
		want: "2027-03-27 02:15 +00:00 GMT\n2027-03-28 02:15 +01:00 BST\n2027-03-29 02:15 +01:00 BST",
	}, {
		name: "spring every 15 minutes keeps real-time rhythm", spec: "*/15 * * * *", from: "2027-03-28T00:40:00Z", n: 3,
		want: "2027-03-28 00:45 +00:00 GMT\n2027-03-28 02:00 +01:00 BST\n2027-03-28 02:15 +01:00 BST",
	}, {
		// Autumn 2026-10-25: 02:00 BST becomes 01:00 GMT; 01:30 happens twice
		// and robfig runs it both times.
		name: "autumn 01:30 daily runs twice", spec: "30 1 * * *", from: "2026-10-24T12:00:00Z", n: 3,
		want: "2026-10-25 01:30 +01:00 BST\n2026-10-25 01:30 +00:00 GMT\n2026-10-26 01:30 +00:00 GMT",
	}, {
		name: "autumn 02:15 daily runs once", spec: "15 2 * * *", from: "2026-10-24T12:00:00Z", n: 3,
		want: "2026-10-25 02:15 +00:00 GMT\n2026-10-26 02:15 +00:00 GMT\n2026-10-27 02:15 +00:00 GMT",
	}, {
		name: "autumn every 15 minutes runs through both 01 hours", spec: "*/15 * * * *", from: "2026-10-25T00:40:00Z", n: 3,
		want: "2026-10-25 01:45 +01:00 BST\n2026-10-25 01:00 +00:00 GMT\n2026-10-25 01:15 +00:00 GMT",
	}, {
		name: "every is counted from the start, in London time", spec: "@every 15m", from: "2026-11-22T02:30:00Z", n: 2,
		want: "2026-11-22 02:45 +00:00 GMT\n2026-11-22 03:00 +00:00 GMT",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, err := time.Parse(time.RFC3339, tt.from)
			if err != nil {
				t.Fatal(err)
			}
			set := schedule.Set{Entries: []schedule.Entry{{Job: "j", Spec: tt.spec}}}
			if diff := cmp.Diff(tt.want, london(set.Next("j", from, tt.n))); diff != "" {
				t.Errorf("Next (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNextUnknownJob(t *testing.T) {
	set := schedule.Set{Entries: []schedule.Entry{{Job: "bad", Spec: "not a spec"}}}
	if got := set.Next("bad", time.Now(), 3); got != nil {
		t.Errorf("Next of a bad spec = %v, want nil", got)
	}
	if got := set.Next("other", time.Now(), 3); got != nil {
		t.Errorf("Next of a missing job = %v, want nil", got)
	}
}
