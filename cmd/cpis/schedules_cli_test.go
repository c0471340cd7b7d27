package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSchedulesValidateShipped(t *testing.T) {
	got := cliRun(t, "schedules", "validate")
	if got.code != exitOK || got.stdout != "6 jobs OK (shipped set).\n" || got.stderr != "" {
		t.Errorf("validate = %+v, want exit 0 and 6 jobs OK", got)
	}
}

func TestSchedulesValidateDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("default.schedule", "*/10 * * * * pull\n0 2 * * * ingest\n0 3 * * * expire\n@daily notify\n0 6 * * MON report\n@every 5m push\n")
	if got := cliRun(t, "schedules", "validate", dir); got.code != exitOK || got.stdout != "6 jobs OK ("+dir+").\n" {
		t.Errorf("validate good set = %+v, want exit 0", got)
	}

	write("extra.schedule", "# operations' additions\n0 4 * * * ingest\n30 1 * * 0 report\n0 5 * * * pul\n")
	got := cliRun(t, "schedules", "validate", dir)
	p := filepath.Join(dir, "extra.schedule")
	want := p + `:2: job scheduled twice: "ingest", already at default.schedule:2
` + p + `:3: runs in the 01:00-01:59 London hour: "30 1 * * 0" for report; the spring clock change skips that hour and the autumn one repeats it: choose another hour, or run at least hourly
` + p + `:4: unknown job "pul" (jobs: pull, ingest, expire, notify, report, push)
3 problem(s) in ` + dir + ".\n"
	if got.code != exitFailure || got.stderr != "" {
		t.Errorf("validate bad set: exit %d, stderr %q; want 1 and nothing", got.code, got.stderr)
	}
	if diff := cmp.Diff(want, got.stdout); diff != "" {
		t.Errorf("validate bad set (-want +got):\n%s", diff)
	}

	write("default.schedule", "30 1 * * * ingest\n")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	got = cliRun(t, "schedules", "validate", dir)
	if got.code != exitFailure || !strings.Contains(got.stdout, filepath.Join(dir, "default.schedule")+`:1: runs in the 01:00-01:59 London hour: "30 1 * * *" for ingest;`) ||
		!strings.Contains(got.stdout, dir+`: job not scheduled: "pull"`) || !strings.Contains(got.stdout, "6 problem(s)") {
		t.Errorf("validate = %+v, want the 01 hour and five missing jobs", got)
	}

	if got := cliRun(t, "schedules", "validate", filepath.Join(dir, "missing")); got.code != exitFailure || !strings.Contains(got.stderr, "no such file") {
		t.Errorf("validate missing dir = %+v, want exit 1 and a message", got)
	}
	if got := cliRun(t, "schedules", "validate", dir, dir); got.code != exitUsage {
		t.Errorf("validate with two dirs: exit %d, want 2", got.code)
	}
	if got := cliRun(t, "schedules", "list", "--schedules", dir); got.code != exitFailure || !strings.Contains(got.stderr, "is not valid") {
		t.Errorf("list of a bad set = %+v, want exit 1", got)
	}
}

func TestSchedulesList(t *testing.T) {
	got := cliRun(t, "--now", cliNow, "schedules", "list")
	want := `Next 3 run(s) of each job after 2026-11-22 02:30 +00:00 GMT, Europe/London time (shipped set):
JOB     SCHEDULE            NEXT RUNS
pull    5,20,35,50 * * * *  2026-11-22 02:35 +00:00 GMT
                            2026-11-22 02:50 +00:00 GMT
                            2026-11-22 03:05 +00:00 GMT
ingest  15 2 * * *          2026-11-23 02:15 +00:00 GMT
                            2026-11-24 02:15 +00:00 GMT
                            2026-11-25 02:15 +00:00 GMT
expire  0 3 * * *           2026-11-22 03:00 +00:00 GMT
                            2026-11-23 03:00 +00:00 GMT
                            2026-11-24 03:00 +00:00 GMT
notify  10 3 * * *          2026-11-22 03:10 +00:00 GMT
                            2026-11-23 03:10 +00:00 GMT
                            2026-11-24 03:10 +00:00 GMT
report  30 3 * * *          2026-11-22 03:30 +00:00 GMT
                            2026-11-23 03:30 +00:00 GMT
                            2026-11-24 03:30 +00:00 GMT
push    */15 * * * *        2026-11-22 02:45 +00:00 GMT
                            2026-11-22 03:00 +00:00 GMT
                            2026-11-22 03:15 +00:00 GMT
`
	if got.code != exitOK || got.stderr != "" {
		t.Errorf("list: exit %d, stderr %q", got.code, got.stderr)
	}
	if diff := cmp.Diff(want, got.stdout); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
}

// TestSchedulesListSpringForward: the night the clocks go forward, the
// nightly jobs still run once, in BST, and push goes from 00:45 GMT
// straight to 02:00 BST, 15 real minutes later.
func TestSchedulesListSpringForward(t *testing.T) {
	got := cliRun(t, "--now", "2027-03-28T00:40:00Z", "schedules", "list", "--count", "2")
	want := `Next 2 run(s) of each job after 2027-03-28 00:40 +00:00 GMT, Europe/London time (shipped set):
JOB     SCHEDULE            NEXT RUNS
pull    5,20,35,50 * * * *  2027-03-28 00:50 +00:00 GMT
                            2027-03-28 02:05 +01:00 BST
ingest  15 2 * * *          2027-03-28 02:15 +01:00 BST
                            2027-03-29 02:15 +01:00 BST
expire  0 3 * * *           2027-03-28 03:00 +01:00 BST
                            2027-03-29 03:00 +01:00 BST
notify  10 3 * * *          2027-03-28 03:10 +01:00 BST
                            2027-03-29 03:10 +01:00 BST
report  30 3 * * *          2027-03-28 03:30 +01:00 BST
                            2027-03-29 03:30 +01:00 BST
push    */15 * * * *        2027-03-28 00:45 +00:00 GMT
                            2027-03-28 02:00 +01:00 BST
`
	if diff := cmp.Diff(want, got.stdout); diff != "" || got.code != exitOK {
		t.Errorf("list: exit %d (-want +got):\n%s", got.code, diff)
	}
	if got := cliRun(t, "schedules", "list", "--count", "0"); got.code != exitUsage {
		t.Errorf("list --count 0: exit %d, want 2", got.code)
	}
}
