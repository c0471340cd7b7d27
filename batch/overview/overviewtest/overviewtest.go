// Package overviewtest makes the hub of the morning after a night that the
// tests of the operations overview (batch/overview) and of the operations
// pages read: a few LAs, two nights of returns (one held), the jobs the
// daemon recorded, outbox messages old and new, and nightly reports. It is
// imported only by _test.go files.
//
// The hub, at Now (2026-11-22 09:00, London on GMT):
//
//	201 City of London  no return ever                        quiet, never
//	202 Camden          a clean FULL return taken 2026-11-13  quiet 9 days; its response
//	                                                          uncollected since then: undelivered
//	841 Darlington      last night: a FULL return held (F009, HeldID) and a
//	                    DELTA waiting behind it in the inbox; 25 plans held before
//
// The jobs recorded: an ingest on 2026-11-21 (the night before) and, on
// 2026-11-22, pull 02:05 ok, ingest 02:15 ok, pull 02:20 failed, push 02:30
// ok, expire 03:00 ok, notify 03:10 skipped, report 03:30 ok. The reports
// folder holds report-20261121.xlsx and report-20261122.xlsx (and two
// files that are not nightly reports).
package overviewtest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cpis/batch/hubtest"
	"cpis/batch/ingest"
	"cpis/batch/jobs"
	"cpis/batch/report"
	"cpis/batch/schedule"
	"cpis/store/caldate"
	"cpis/store/plans"
)

// The instants of the story.
var (
	Created = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	// Night1 is when the ingest took Camden's return.
	Night1 = time.Date(2026, 11, 13, 2, 15, 0, 0, time.UTC)
	// Night2 is last night's ingest.
	Night2 = time.Date(2026, 11, 22, 2, 15, 0, 0, time.UTC)
	// Now is the morning after.
	Now = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
)

// The message IDs of the returns sent.
const (
	CamdenID = "20261113010000000001_000001"
	HeldID   = "20261121014500000002_00000B"
	DeltaID  = "20261121013000123456_3F9A0C"
)

// File names of the returns and the reports.
const (
	CamdenFile = "CPIS_202_FULL_20261112.csv"
	HeldFile   = "CPIS_841_FULL_20261120.csv"
	DeltaFile  = "CPIS_841_DELTA_20261121.csv"
	Report21   = "report-20261121.xlsx"
	Report22   = "report-20261122.xlsx"
)

// Morning makes the hub of the morning after (the package doc).
func Morning(t testing.TB) *hubtest.Hub {
	t.Helper()
	ingestData := hubtest.Testdata("ingest")
	h := hubtest.New(t, hubtest.Options{
		LAs:          []string{"201", "202", "841"},
		Demographics: &hubtest.File{Name: "demographics.csv", Data: hubtest.ReadFile(t, filepath.Join(ingestData, "demographics.csv"))},
		Created:      Created,
		Plans:        seedPlans(t, filepath.Join(ingestData, "delta_waits_behind_held", "seed.csv")),
	})

	// Night 1: Camden's clean FULL return.
	camden := filepath.Join(t.TempDir(), CamdenFile)
	if err := os.WriteFile(camden, hubtest.ReadFile(t, filepath.Join(ingestData, "cpf02_clean", "CPIS_841_FULL_20261121.csv")), 0o640); err != nil {
		t.Fatal(err)
	}
	h.Send(t, camden, CamdenID)
	run(t, h, Night1)
	touchOutbox(t, h, "202", Night1.Add(time.Minute))

	// Night 2: Darlington's FULL return is held, its DELTA waits.
	h.Send(t, filepath.Join(ingestData, "delta_waits_behind_held", HeldFile), HeldID)
	h.Send(t, filepath.Join(ingestData, "delta_waits_behind_held", DeltaFile), DeltaID)
	run(t, h, Night2)
	touchOutbox(t, h, "841", Night2.Add(time.Minute))

	record := jobs.Record(h.DB, slog.New(slog.DiscardHandler))
	at := func(d time.Time, hh, mm int) time.Time {
		return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, caldate.London)
	}
	night1 := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	for _, r := range []schedule.Run{
		{Job: schedule.Ingest, Start: at(night1, 2, 15), Duration: 2 * time.Second, Counts: map[string]int{"returns": 0}},
		{Job: schedule.Pull, Start: at(Night2, 2, 5), Duration: time.Second, Counts: map[string]int{"pulled": 1}},
		{Job: schedule.Ingest, Start: at(Night2, 2, 15), Duration: 3 * time.Second, Counts: map[string]int{"returns": 1, "held": 1}},
		{Job: schedule.Pull, Start: at(Night2, 2, 20), Duration: time.Second, Err: errors.New("pull: 1 of 1 remote mailboxes failed"), Counts: map[string]int{"pulled": 2}},
		{Job: schedule.Push, Start: at(Night2, 2, 30), Duration: time.Second, Counts: map[string]int{"pushed": 1}},
		{Job: schedule.Expire, Start: at(Night2, 3, 0), Duration: time.Second, Counts: map[string]int{"purged": 0}},
		{Job: schedule.Notify, Start: at(Night2, 3, 10), Skipped: true},
		{Job: schedule.Report, Start: at(Night2, 3, 30), Duration: 4 * time.Second},
	} {
		record(r)
	}

	dir := report.Dir(h.Dir)
	for name, content := range map[string]string{Report21: "workbook of 21", Report22: "workbook of 22", "notes.txt": "not a report", "report-2026112.xlsx": "misnamed"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if day, ok := report.ParseFileName(name); ok {
			made := at(day.Time(), 3, 30).Add(5 * time.Second)
			if err := os.Chtimes(path, made, made); err != nil {
				t.Fatal(err)
			}
		}
	}
	return h
}

// CamdenResponse returns the name of the response to Camden's return,
// uncollected in its outbox (a response's message ID has a random part).
func CamdenResponse(t testing.TB, h *hubtest.Hub) string {
	t.Helper()
	files, err := h.Mailbox("202").Outbox()
	if err != nil || len(files) != 1 {
		t.Fatalf("Camden's outbox: %v, %v: want one response", files, err)
	}
	return files[0].Name
}

// run runs the nightly ingest at instant at.
func run(t testing.TB, h *hubtest.Hub, at time.Time) {
	t.Helper()
	rep, err := ingest.Run(context.Background(), ingest.Config{DataDir: h.Dir, DB: h.DB, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("ingest at %s: %v", at, err)
	}
	if len(rep.Failed) > 0 {
		t.Fatalf("ingest at %s: %v", at, rep.Failed)
	}
}

// touchOutbox dates every file in LA la's outbox at: when it was
// delivered, as the clock of the story has it.
func touchOutbox(t testing.TB, h *hubtest.Hub, la string, at time.Time) {
	t.Helper()
	des, err := os.ReadDir(h.Mailbox(la).OutboxDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if err := os.Chtimes(filepath.Join(h.Mailbox(la).OutboxDir(), de.Name()), at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// seedPlans reads plans held before a case (testdata/ingest/README.md:
// nhs_number,la,plan_type,start_date,end_date,due_date,local_id).
func seedPlans(t testing.TB, path string) []plans.Plan {
	t.Helper()
	var out []plans.Plan
	lines := strings.Split(strings.TrimSpace(string(hubtest.ReadFile(t, path))), "\n")
	for _, line := range lines[1:] {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) != 7 {
			t.Fatalf("%s: %q: want 7 fields", path, line)
		}
		typ, ok := plans.ParseType(f[2])
		if !ok {
			t.Fatalf("%s: plan type %q", path, f[2])
		}
		p := plans.Plan{Key: plans.Key{NHS: f[0], LA: f[1], Type: typ}, LocalID: f[6]}
		for i, d := range []*caldate.Date{&p.Start, &p.End, &p.Due} {
			if f[3+i] == "" {
				continue
			}
			var err error
			if *d, err = caldate.ParseISO(f[3+i]); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		out = append(out, p)
	}
	return out
}
