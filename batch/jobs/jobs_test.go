package jobs_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/datadir"
	"cpis/batch/jobs"
	"cpis/batch/schedule"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
)

// runAt is the clock of every job: 02:30 on 22 November 2026 (GMT), the
// night after the returns' extract date 2026-11-21.
var runAt = time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)

var repoTestdata = filepath.Join("..", "..", "testdata")

// hub is a data dir made by datadir.Init from the repository's reference
// files, with two LAs (Camden 202, Darlington 841) to keep it quick.
type hub struct {
	t   *testing.T
	dir string
	db  *store.DB
	log *bytes.Buffer
}

func newHub(t *testing.T) *hub {
	t.Helper()
	f, err := os.Open(filepath.Join(repoTestdata, "authorities.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var las bytes.Buffer
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, datadir.AuthoritiesHeader) || strings.HasPrefix(l, "202,") || strings.HasPrefix(l, "841,") {
			las.WriteString(l + "\n")
		}
	}
	pds, err := os.ReadFile(filepath.Join(repoTestdata, "demographics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := datadir.Init(dir, datadir.InitOptions{
		Authorities:  datadir.Source{Name: "authorities.csv", R: &las},
		Demographics: &datadir.Source{Name: "demographics.csv", R: bytes.NewReader(pds)},
		Now:          runAt,
	}); err != nil {
		t.Fatalf("init: %v", err)
	}
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &hub{t: t, dir: dir, db: db, log: &bytes.Buffer{}}
}

func (h *hub) env(now time.Time) jobs.Env {
	return jobs.Env{DataDir: h.dir, DB: h.db, Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(h.log, nil)), Lock: &jobs.Lock{}}
}

// send puts a return into the LA's inbox, settled (an hour old).
func (h *hub) send(la, name string, rows ...string) {
	h.t.Helper()
	path := filepath.Join(h.inbox(la), name)
	body := "nhs_number,plan_type,start_date,local_id\r\n" + strings.Join(rows, "\r\n") + "\r\n"
	if err := os.WriteFile(path, []byte(body), 0o640); err != nil {
		h.t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hub) inbox(la string) string {
	return local.Open(h.dir, "LA"+la+"HC001").InboxDir()
}

func (h *hub) outbox(la string) []string {
	h.t.Helper()
	des, err := os.ReadDir(local.Open(h.dir, "LA"+la+"HC001").OutboxDir())
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// TestEachJob runs every job, as the scheduler names it, against a fresh
// data dir, and compares the counts the scheduler would record.
func TestEachJob(t *testing.T) {
	later := runAt.Add(48 * time.Hour)
	cases := []struct {
		job    string
		now    time.Time
		setup  func(h *hub)
		counts map[string]int
		check  func(t *testing.T, h *hub, res jobs.Result)
	}{
		{job: schedule.Pull, now: runAt, counts: map[string]int{"las": 0, "files": 0, "bytes": 0, "problems": 0, "failed": 0}},
		{job: schedule.Ingest, now: runAt,
			setup:  func(h *hub) { h.send("841", "CPIS_841_DELTA_20261121.csv", "9990276579,CPP,2026-10-01,L-1") },
			counts: map[string]int{"messages": 1, "failed_las": 0},
			check: func(t *testing.T, h *hub, res jobs.Result) {
				r := res.(jobs.IngestResult)
				if len(r.Results) != 1 || r.Results[0].Code != "CPF02" || r.Results[0].Applied != 1 {
					t.Errorf("ingest results %+v, want one CPF02 with one row applied", r.Results)
				}
				if got := h.outbox("841"); len(got) != 2 {
					t.Errorf("841 outbox %v, want a response and its control file", got)
				}
			}},
		{job: schedule.Expire, now: runAt, counts: map[string]int{"plans_purged": 0, "outbox_archived": 0}},
		// Two finished days since the store was made, two LAs.
		{job: schedule.Notify, now: later, counts: map[string]int{"files": 4},
			check: func(t *testing.T, h *hub, res jobs.Result) {
				want := []string{"CPIS_202_ACCESS_20261122.csv", "CPIS_202_ACCESS_20261123.csv"}
				var got []string
				for _, n := range h.outbox("202") {
					if strings.HasSuffix(n, ".csv") {
						got = append(got, n)
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("202 access files (-want +got):\n%s", diff)
				}
			}},
		{job: schedule.Report, now: runAt, counts: map[string]int{},
			check: func(t *testing.T, h *hub, res jobs.Result) {
				r := res.(jobs.ReportResult)
				if want := filepath.Join(h.dir, "reports", "report-20261122.xlsx"); r.Workbook != want {
					t.Errorf("workbook %q, want %q", r.Workbook, want)
				}
				if _, err := os.Stat(r.Workbook); err != nil {
					t.Error(err)
				}
				if !strings.Contains(r.Headline, "2 LAs") {
					t.Errorf("headline %q", r.Headline)
				}
			}},
		{job: schedule.Push, now: runAt, counts: map[string]int{"las": 0, "files": 0, "bytes": 0, "problems": 0, "failed": 0}},
	}
	all := jobs.All()
	var names []string
	for _, c := range cases {
		names = append(names, c.job)
	}
	if !slices.Equal(names, schedule.Jobs()) || len(all) != len(schedule.Jobs()) {
		t.Fatalf("cases %v, jobs defined %d: want one case and one definition per schedule job %v", names, len(all), schedule.Jobs())
	}
	for _, c := range cases {
		t.Run(c.job, func(t *testing.T) {
			h := newHub(t)
			if c.setup != nil {
				c.setup(h)
			}
			res, err := all[c.job](t.Context(), h.env(c.now))
			if err != nil {
				t.Fatalf("%s: %v\nlog:\n%s", c.job, err, h.log)
			}
			if err := res.Failure(); err != nil {
				t.Errorf("%s failure: %v", c.job, err)
			}
			if diff := cmp.Diff(c.counts, res.Counts()); diff != "" {
				t.Errorf("%s counts (-want +got):\n%s", c.job, diff)
			}
			if c.check != nil {
				c.check(t, h, res)
			}
		})
	}
}

// holdFull makes LA 841 hold a FULL return (it would withdraw every plan
// the LA holds) and puts a DELTA of the same date behind it.
func holdFull(t *testing.T, h *hub) string {
	t.Helper()
	h.send("841", "CPIS_841_FULL_20261120.csv", "9990276579,CPP,2026-03-02,K-1")
	if _, err := jobs.Ingest(t.Context(), h.env(runAt), jobs.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	h.send("841", "CPIS_841_FULL_20261121.csv", "9993765570,CPP,2026-10-01,K-2")
	res, err := jobs.Ingest(t.Context(), h.env(runAt), jobs.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0].Detail != "F009" {
		t.Fatalf("second FULL: %+v, want it held (F009)", res.Results)
	}
	h.send("841", "CPIS_841_DELTA_20261121.csv", "9994812866,CPP,2026-10-01,K-3")
	return res.Results[0].MessageID
}

func TestIngestSaysWhy(t *testing.T) {
	t.Run("waiting behind a held return", func(t *testing.T) {
		h := newHub(t)
		held := holdFull(t, h)
		for _, las := range [][]string{nil, {"841"}} {
			res, err := jobs.Ingest(t.Context(), h.env(runAt), jobs.IngestOptions{LAs: las})
			if err != nil || res.Failure() != nil {
				t.Fatalf("ingest %v: %v %v", las, err, res.Failure())
			}
			want := []string{"841 CPIS_841_DELTA_20261121.csv " + held}
			var got []string
			for _, w := range res.Waiting {
				got = append(got, w.LA+" "+w.File+" "+w.Held)
			}
			if len(res.Results) != 0 || !cmp.Equal(want, got) {
				t.Errorf("ingest %v: took %+v, waiting %v; want nothing taken, waiting %v", las, res.Results, got, want)
			}
		}
		// Camden's run does not see Darlington's waiting return.
		res, err := jobs.Ingest(t.Context(), h.env(runAt), jobs.IngestOptions{LAs: []string{"202"}})
		if err != nil || len(res.Waiting) != 0 {
			t.Errorf("ingest of 202: waiting %+v (%v), want none", res.Waiting, err)
		}
	})
	t.Run("every LA failed", func(t *testing.T) {
		h := newHub(t)
		for _, la := range []string{"202", "841"} {
			if err := os.RemoveAll(h.inbox(la)); err != nil {
				t.Fatal(err)
			}
		}
		res, err := jobs.Ingest(t.Context(), h.env(runAt), jobs.IngestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if f := res.Failure(); !res.AllFailed() || f == nil || f.Error() != "every LA failed: none of the 2 LA(s) could be processed" {
			t.Errorf("all failed %v, failure %v", res.AllFailed(), f)
		}
		var lae *mesh.LAError
		if !errors.As(res.Failure(), &lae) {
			t.Errorf("failure %v does not carry the LA errors", res.Failure())
		}
	})
	t.Run("one LA failed", func(t *testing.T) {
		h := newHub(t)
		if err := os.RemoveAll(h.inbox("202")); err != nil {
			t.Fatal(err)
		}
		res, err := jobs.Ingest(t.Context(), h.env(runAt), jobs.IngestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if f := res.Failure(); res.AllFailed() || f == nil || f.Error() != "1 LA(s) could not be processed; the others were" {
			t.Errorf("all failed %v, failure %v", res.AllFailed(), f)
		}
		// The scheduler's record names the LA that failed first.
		err = h.env(runAt).Funcs()[schedule.Ingest](t.Context())
		if err == nil || !strings.HasPrefix(err.Error(), "1 LA(s) could not be processed; the others were; first: LA 202: list inbox") {
			t.Errorf("scheduled ingest: %v", err)
		}
	})
}

// TestNightlyEveryStageRuns: ingest fails for one LA and the report
// cannot be written (a file where the reports folder should be); expire,
// notify and report still run, and both failures are returned.
func TestNightlyEveryStageRuns(t *testing.T) {
	h := newHub(t)
	h.send("841", "CPIS_841_DELTA_20261121.csv", "9990276579,CPP,2026-10-01,L-1")
	if err := os.RemoveAll(h.inbox("202")); err != nil {
		t.Fatal(err)
	}
	reports := filepath.Join(h.dir, "reports")
	if err := os.Remove(reports); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reports, []byte("not a folder"), 0o640); err != nil {
		t.Fatal(err)
	}
	type ran struct {
		Stage  string
		Failed bool
		Counts map[string]int
	}
	var got []ran
	err := jobs.Nightly(t.Context(), h.env(runAt.Add(24*time.Hour)), func(s jobs.Stage) {
		got = append(got, ran{s.Name, s.Failed != nil, s.Result.Counts()})
	})
	want := []ran{
		{"ingest", true, map[string]int{"messages": 1, "failed_las": 1}},
		{"expire", false, map[string]int{"plans_purged": 0, "outbox_archived": 0}},
		{"notify", false, map[string]int{"files": 2}},
		{"report", true, map[string]int{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	var ne *jobs.NightlyError
	if !errors.As(err, &ne) || len(ne.Failed) != 2 {
		t.Fatalf("nightly returned %v, want a NightlyError of 2 stages", err)
	}
	if ne.Failed[0].Name != "ingest" || ne.Failed[0].Err != nil || !strings.Contains(ne.Failed[0].Failed.Error(), "1 LA(s) could not be processed") {
		t.Errorf("ingest stage: %+v", ne.Failed[0])
	}
	if ne.Failed[1].Name != "report" || ne.Failed[1].Err == nil || !strings.Contains(ne.Failed[1].Err.Error(), "not a directory") {
		t.Errorf("report stage: %+v", ne.Failed[1])
	}
	if !strings.HasPrefix(err.Error(), "nightly: ingest: 1 LA(s) could not be processed; the others were; report: ") {
		t.Errorf("error text %q", err)
	}
	// Darlington's return was applied and answered, despite Camden.
	if got := h.outbox("841"); len(got) != 4 {
		t.Errorf("841 outbox %v, want a response and an access file, each with its control file", got)
	}
}

func TestNightlyCancelled(t *testing.T) {
	h := newHub(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var failed []string
	err := jobs.Nightly(ctx, h.env(runAt), func(s jobs.Stage) {
		if errors.Is(s.Failed, context.Canceled) {
			failed = append(failed, s.Name)
		}
	})
	if diff := cmp.Diff(jobs.NightlyStages, failed); diff != "" || !errors.Is(err, context.Canceled) {
		t.Errorf("stages failed as cancelled (-want +got):\n%s\nerr %v", diff, err)
	}
}

// TestNightlyRecordsRuns: a command's nightly run (Env.By set) records
// each stage as a run of its job, as the scheduler records its runs, with
// what ran it; a failed stage is recorded failed, its first part named.
// Without By nothing is recorded (the scheduler records its own).
func TestNightlyRecordsRuns(t *testing.T) {
	h := newHub(t)
	runs := func() []store.JobRun {
		t.Helper()
		var out []store.JobRun
		if err := h.db.View(func(tx *store.Tx) (err error) { out, err = tx.JobRuns(store.JobRunsKept); return err }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	now := runAt.Add(24 * time.Hour)
	_ = jobs.Nightly(t.Context(), h.env(now), nil)
	if got := runs(); len(got) != 0 {
		t.Fatalf("Nightly without By recorded %v", got)
	}

	h.send("841", "CPIS_841_DELTA_20261121.csv", "9990276579,CPP,2026-10-01,L-1")
	if err := os.RemoveAll(h.inbox("202")); err != nil {
		t.Fatal(err)
	}
	e := h.env(now)
	e.By = "cpis nightly"
	_ = jobs.Nightly(t.Context(), e, nil)
	got := runs()
	for i := range got {
		if got[i].Duration <= 0 {
			t.Errorf("%s recorded a duration of %v", got[i].Job, got[i].Duration)
		}
		got[i].Duration = 0
		if j := &got[i]; j.Job == "ingest" && strings.HasPrefix(j.Error, "1 LA(s) could not be processed; the others were; first: LA 202: ") {
			j.Error = "(first failure)"
		}
	}
	want := []store.JobRun{
		{Job: "report", Start: now, Outcome: "ok", By: "cpis nightly"},
		{Job: "notify", Start: now, Outcome: "ok", Counts: map[string]int{"files": 0}, By: "cpis nightly"},
		{Job: "expire", Start: now, Outcome: "ok", Counts: map[string]int{"plans_purged": 0, "outbox_archived": 0}, By: "cpis nightly"},
		{Job: "ingest", Start: now, Outcome: "failed", Error: "(first failure)", Counts: map[string]int{"messages": 1, "failed_las": 1}, By: "cpis nightly"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs recorded, newest first (-want +got):\n%s", diff)
	}

	// A single job through Recorded: the same record.
	if _, err := jobs.Recorded(t.Context(), e, schedule.Expire, jobs.Expire); err != nil {
		t.Fatal(err)
	}
	if got := runs()[0]; got.Job != "expire" || got.By != "cpis nightly" || got.Outcome != "ok" {
		t.Errorf("Recorded expire: %+v", got)
	}
}
