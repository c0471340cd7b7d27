package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/jobs"
	"cpis/batch/overview"
	"cpis/store"
)

// cpisLines returns the lines of stderr that cpis itself printed (not the
// log lines of the jobs).
func cpisLines(stderr string) []string {
	var out []string
	for l := range strings.Lines(stderr) {
		if strings.HasPrefix(l, "cpis: ") {
			out = append(out, l)
		}
	}
	return out
}

// TestCLINightlyReportsEveryFailure: one LA's inbox is gone (ingest fails
// for it) and a file stands where the reports folder should be (the report
// fails). Every stage still runs: expire and notify print as usual, and
// each failed stage is named on stderr; exit 1.
func TestCLINightlyReportsEveryFailure(t *testing.T) {
	h := initCLIHub(t)
	sendExpiring(h)
	if err := os.RemoveAll(filepath.Join(h.data, "mailboxes", "LA202HC001", "inbox")); err != nil {
		t.Fatal(err)
	}
	reports := filepath.Join(h.data, "reports")
	if err := os.RemoveAll(reports); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reports, []byte("a file, not a folder"), 0o640); err != nil {
		t.Fatal(err)
	}
	r := h.runAt("2026-11-23T02:30:00Z", "nightly")
	if r.code != exitFailure {
		t.Fatalf("nightly: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "total  1 message(s)") || !strings.Contains(r.stdout, "FAILED LA 202: ") ||
		!strings.HasSuffix(r.stdout, "Expire: 0 plan(s) no longer visible purged.\nNotify: 153 access file(s) written for 1 day(s), 0 access row(s).\n") {
		t.Errorf("stdout does not show ingest, expire and notify:\n%s", r.stdout)
	}
	got := cpisLines(r.stderr)
	if len(got) != 2 || got[0] != "cpis: nightly ingest: 1 LA(s) could not be processed; the others were\n" ||
		!strings.HasPrefix(got[1], "cpis: nightly report: report: mkdir "+reports+": not a directory") {
		t.Errorf("stderr names %q, want the ingest and report stages\nstderr:\n%s", got, r.stderr)
	}
	// The report failed alone: with the folder back, the next night writes it.
	if err := os.Remove(reports); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(h.data, "mailboxes", "LA202HC001", "inbox"), 0o750); err != nil {
		t.Fatal(err)
	}
	out := h.okAt("2026-11-24T02:30:00Z", "nightly")
	if want := "No returns were waiting.\nExpire: 0 plan(s) no longer visible purged.\nNotify: 153 access file(s) written for 1 day(s), 0 access row(s).\nReport: " + filepath.Join(reports, "report-20261124.xlsx") + "\n"; out != want {
		t.Errorf("the next night printed %q, want %q", out, want)
	}
}

// TestCLIIngestSaysWhy: a run that takes nothing says why.
func TestCLIIngestSaysWhy(t *testing.T) {
	t.Run("DELTA behind a held FULL", func(t *testing.T) {
		h := initCLIHub(t)
		held := holdFull(t, h, "841", "9990276579", "9994812866")
		h.ingestJSON()
		h.send("841", "CPIS_841_DELTA_20261121.csv", crlf("nhs_number,plan_type,start_date,local_id", "9993765570,CPP,2026-10-01,K-3"))
		why := "No returns were taken: DELTA returns wait behind a held FULL return.\n" +
			"LA 841: 1 DELTA return(s) wait behind the held FULL return " + held + " (release or discard it: cpis returns list).\n"
		if out := h.ok("ingest"); out != why {
			t.Errorf("ingest printed %q, want %q", out, why)
		}
		// --json: stdout stays JSON lines (none); the reason goes to stderr.
		if r := h.run("ingest", "--json"); r.code != exitOK || r.stdout != "" || r.stderr != why {
			t.Errorf("ingest --json: exit %d, stdout %q, stderr %q; want 0, nothing, %q", r.code, r.stdout, r.stderr, why)
		}
		// Another LA's run is not told about Darlington's.
		if out := h.ok("ingest", "--la", "202"); out != "No returns were waiting.\n" {
			t.Errorf("ingest --la 202 printed %q", out)
		}
		// Released, the held return lets the DELTA through.
		h.ok("returns", "release", held)
		if got := h.ingestJSON(); len(got) != 1 || got[0]["file"] != "CPIS_841_DELTA_20261121.csv" {
			t.Errorf("ingest after the release took %v", got)
		}
	})
	t.Run("every LA failed", func(t *testing.T) {
		h := initCLIHub(t)
		if err := os.RemoveAll(filepath.Join(h.data, "mailboxes", "LA841HC001", "inbox")); err != nil {
			t.Fatal(err)
		}
		r := h.run("ingest", "--la", "841")
		if r.code != exitFailure || !strings.HasPrefix(r.stdout, "No returns were taken: every LA failed.\nFAILED LA 841: list inbox") {
			t.Errorf("ingest --la 841: exit %d, stdout:\n%s", r.code, r.stdout)
		}
		if diff := cmp.Diff([]string{"cpis: every LA failed: none of the 1 LA(s) could be processed\n"}, cpisLines(r.stderr)); diff != "" {
			t.Errorf("stderr (-want +got):\n%s", diff)
		}
		// The other LAs were still served by a whole run; none had a
		// return, and the one that failed is not said to have had none.
		r = h.run("ingest")
		if r.code != exitFailure || !strings.HasPrefix(r.stdout, "No returns were taken: 1 LA(s) failed, and no other LA had a return waiting.\nFAILED LA 841: ") ||
			!strings.HasSuffix(r.stderr, "cpis: 1 LA(s) could not be processed; the others were\n") {
			t.Errorf("ingest: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

// lockedBuffer is a writer a command and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDaemonCommandWaitsForJob: a batch command run inside the daemon
// while a job holds the job lock says which job it waits for, then runs
// once the job ends; a command that needs no lock does not wait.
func TestDaemonCommandWaitsForJob(t *testing.T) {
	h := initCLIHub(t)
	db, err := store.Open(h.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := &daemonContext{db: db, jobs: &jobs.Lock{}}
	release, err := d.jobs.Acquire(t.Context(), "report job", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	// returns list reads only: it runs at once.
	var out, errb bytes.Buffer
	if code := runWith(t.Context(), []string{"--data", h.data, "--now", cliNow, "returns", "list"}, &out, &errb, d); code != exitOK || errb.Len() != 0 {
		t.Fatalf("returns list while the report job runs: exit %d, stderr %q", code, errb.String())
	}

	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- runWith(context.Background(), []string{"--data", h.data, "--now", cliNow, "ingest"}, &stdout, &stderr, d)
	}()
	const waiting = "waiting for the running report job to finish...\n"
	deadline := time.Now().Add(20 * time.Second)
	for stderr.String() != waiting {
		if time.Now().After(deadline) {
			t.Fatalf("stderr %q, want %q", stderr.String(), waiting)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case code := <-done:
		t.Fatalf("ingest ran (exit %d) while the report job held the lock", code)
	case <-time.After(100 * time.Millisecond):
	}
	if got := d.jobs.Holder(); got != "report job" {
		t.Errorf("holder %q, want report job", got)
	}
	release()
	select {
	case code := <-done:
		if code != exitOK || stdout.String() != "No returns were waiting.\n" || stderr.String() != waiting {
			t.Errorf("ingest: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("ingest did not end after the report job released the lock")
	}
	if got := d.jobs.Holder(); got != "" {
		t.Errorf("the lock is still held by %q after the command", got)
	}

	// While a command holds it, the next command names that command.
	release, err = d.jobs.Acquire(t.Context(), "`cpis nightly` command", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var errc lockedBuffer
	go func() {
		done <- runWith(ctx, []string{"--data", h.data, "--now", cliNow, "expire"}, &bytes.Buffer{}, &errc, d)
	}()
	for !strings.Contains(errc.String(), "waiting for the running `cpis nightly` command to finish...\n") {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("stderr %q", errc.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A client that goes away stops waiting.
	cancel()
	if code := <-done; code != exitFailure {
		t.Errorf("cancelled expire: exit %d, want 1", code)
	}
	if got := d.jobs.Holder(); got != "`cpis nightly` command" {
		t.Errorf("holder %q after the cancelled wait", got)
	}
}

// TestCLICommandsRecordJobRuns: cpis nightly and cpis ingest, run directly
// or through the daemon, record their job runs as the scheduler records
// its own, named by the command: cpis jobs lists them and the operations
// overview of last night counts them.
func TestCLICommandsRecordJobRuns(t *testing.T) {
	h := initCLIHub(t)
	sendExpiring(h)
	h.okAt("2026-11-22T02:30:00Z", "nightly")
	h.send("841", "CPIS_841_DELTA_20261122.csv", crlf("nhs_number,plan_type,start_date,local_id", "9993765570,CPP,2026-10-01,K-3"))
	h.okAt("2026-11-22T09:00:00Z", "ingest", "--la", "841")

	db, err := store.Open(h.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemonContext{db: db, jobs: &jobs.Lock{}}
	var out, errb bytes.Buffer
	if code := runWith(t.Context(), []string{"--data", h.data, "--now", "2026-11-22T09:30:00Z", "ingest"}, &out, &errb, d); code != exitOK {
		t.Fatalf("ingest through the daemon: exit %d, stderr %q", code, errb.String())
	}
	night, err := overview.LastNight(db, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	type ran struct {
		Job, Start, Outcome, By string
		Counts                  map[string]int
	}
	var got []ran
	for _, o := range cliJSONLines(t, h.ok("jobs", "--json")) {
		r := ran{Job: o["job"].(string), Start: o["start"].(string), Outcome: o["outcome"].(string), By: o["by"].(string)}
		if c, ok := o["counts"].(map[string]any); ok {
			r.Counts = map[string]int{}
			for k, v := range c {
				r.Counts[k] = int(v.(float64))
			}
		}
		got = append(got, r)
	}
	want := []ran{
		{"ingest", "2026-11-22T09:30:00Z", "ok", "cpis ingest (through the daemon)", map[string]int{"messages": 0, "failed_las": 0}},
		{"ingest", "2026-11-22T09:00:00Z", "ok", "cpis ingest", map[string]int{"messages": 1, "failed_las": 0}},
		{"report", "2026-11-22T02:30:00Z", "ok", "cpis nightly", nil},
		{"notify", "2026-11-22T02:30:00Z", "ok", "cpis nightly", map[string]int{"files": 0}},
		{"expire", "2026-11-22T02:30:00Z", "ok", "cpis nightly", map[string]int{"plans_purged": 0, "outbox_archived": 0}},
		{"ingest", "2026-11-22T02:30:00Z", "ok", "cpis nightly", map[string]int{"messages": 1, "failed_las": 0}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("jobs --json (-want +got):\n%s", diff)
	}
	if out := h.ok("jobs", "--count", "1"); !strings.HasPrefix(out, "JOB     START (LONDON)           DURATION  OUTCOME  RUN BY                            COUNTS\n") ||
		!strings.Contains(out, "  ok       cpis ingest (through the daemon)  failed_las=0 messages=0\n") {
		t.Errorf("jobs --count 1 printed:\n%s", out)
	}

	// Last night's overview: every job of the nightly ran, none "did not run".
	byJob := map[string]overview.Job{}
	for _, j := range night.Jobs {
		byJob[j.Name] = j
	}
	for _, name := range jobs.NightlyStages {
		if byJob[name].Runs == 0 {
			t.Errorf("overview: %s did not run, want the command's runs counted", name)
		}
	}
	if j := byJob["ingest"]; j.Runs != 3 || j.Counts["messages"] != 2 || j.Last.By != "cpis ingest (through the daemon)" {
		t.Errorf("overview of ingest: %d runs, counts %v, last by %q", j.Runs, j.Counts, j.Last.By)
	}
}
