package schedule_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"cpis/batch/schedule"
)

// robfig/cron v3 cannot take a fake clock, so these tests run the real
// scheduler on "@every 1s" (the shortest it fires at) and wait on events,
// never on sleeps; they run in parallel and take a few seconds in all. The
// schedule math is tested through Set.Next.

const waitLimit = 5 * time.Second

// runs collects what OnRun reports.
type runs struct {
	mu  sync.Mutex
	all []schedule.Run
	ch  chan schedule.Run
}

func newRuns() *runs { return &runs{ch: make(chan schedule.Run, 100)} }

func (r *runs) onRun(run schedule.Run) {
	r.mu.Lock()
	r.all = append(r.all, run)
	r.mu.Unlock()
	r.ch <- run
}

// next waits for the next run that satisfies ok.
func (r *runs) next(t *testing.T, what string, ok func(schedule.Run) bool) schedule.Run {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case run := <-r.ch:
			if ok(run) {
				return run
			}
		case <-timeout:
			t.Fatalf("no %s within %v", what, waitLimit)
		}
	}
}

// syncBuffer is a log destination safe for concurrent jobs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func every1s(jobs ...string) schedule.Set {
	var set schedule.Set
	for _, j := range jobs {
		set.Entries = append(set.Entries, schedule.Entry{Job: j, Spec: "@every 1s"})
	}
	return set
}

func start(t *testing.T, set schedule.Set, jobs map[string]func(context.Context) error, r *runs, log *slog.Logger) *schedule.Scheduler {
	t.Helper()
	s, err := schedule.New(set, jobs, log, schedule.WithOnRun(r.onRun))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { <-s.Stop().Done() })
	return s
}

func TestOverlappingRunIsSkipped(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}, 10), make(chan struct{})
	jobs := map[string]func(context.Context) error{"slow": func(ctx context.Context) error {
		started <- struct{}{}
		<-release
		return nil
	}}
	var logs syncBuffer
	r := newRuns()
	s := start(t, every1s("slow"), jobs, r, slog.New(slog.NewTextHandler(&logs, nil)))

	<-started
	skip := r.next(t, "skipped run", func(run schedule.Run) bool { return run.Skipped })
	if skip.Job != "slow" {
		t.Errorf("skipped run of %q, want slow", skip.Job)
	}
	close(release)
	done := r.next(t, "finished run", func(run schedule.Run) bool { return !run.Skipped })
	if done.Err != nil || done.Duration < 900*time.Millisecond {
		t.Errorf("run = %+v, want success lasting over a second", done)
	}
	<-s.Stop().Done()
	if n := len(started); n > 1 { // the first start was consumed above
		t.Errorf("%d more starts while the first run was going", n)
	}
	if !strings.Contains(logs.String(), `msg="job skipped: its previous run is still going" job=slow`) {
		t.Errorf("log does not name the skipped job:\n%s", logs.String())
	}
}

func TestPanickingJobRunsAgain(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	r := newRuns()
	jobs := map[string]func(context.Context) error{"boom": func(context.Context) error { panic("kaboom") }}
	s := start(t, every1s("boom"), jobs, r, slog.New(slog.NewTextHandler(&logs, nil)))
	for i := range 2 {
		run := r.next(t, "run", func(schedule.Run) bool { return true })
		if run.Skipped || !errors.Is(run.Err, schedule.ErrPanic) || !strings.Contains(run.Err.Error(), "kaboom") {
			t.Fatalf("run %d = %+v, want a recovered panic", i+1, run)
		}
	}
	<-s.Stop().Done() // cron.Recover logs after OnRun, before the run ends
	if got := strings.Count(logs.String(), `msg="cron panic" job=boom err=kaboom stack=`); got < 2 {
		t.Errorf("%d panics logged with job and stack, want 2:\n%s", got, logs.String())
	}
}

func TestStopWaitsForRunningJob(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	var jobCtxErr error
	jobs := map[string]func(context.Context) error{"long": func(ctx context.Context) error {
		schedule.AddCount(ctx, "files", 2)
		schedule.AddCount(ctx, "files", 1)
		close(started)
		<-release
		jobCtxErr = ctx.Err()
		return errors.New("partly done")
	}}
	r := newRuns()
	s := start(t, every1s("long"), jobs, r, nil)
	<-started
	stopped := s.Stop()
	select {
	case <-stopped.Done():
		t.Fatal("Stop done while the job runs")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped.Done():
	case <-time.After(waitLimit):
		t.Fatal("Stop not done after the job returned")
	}
	if jobCtxErr != nil {
		t.Errorf("job context: %v; Stop must not cancel it", jobCtxErr)
	}
	got := s.Recent()
	if len(got) != 1 || got[0].Err == nil || got[0].Err.Error() != "partly done" || got[0].Counts["files"] != 3 {
		t.Errorf("Recent = %+v, want one failed run with files=3", got)
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	ran := make(chan string, 100)
	jobs := map[string]func(context.Context) error{
		"a": func(context.Context) error { ran <- "a"; return nil },
		"b": func(context.Context) error { ran <- "b"; return nil },
	}
	r := newRuns()
	set := schedule.Set{Entries: []schedule.Entry{{Job: "a", Spec: "0 3 * * *"}, {Job: "b", Spec: "15 2 * * *"}}}
	s := start(t, set, jobs, r, nil)
	before := s.NextRuns()

	for _, bad := range []schedule.Set{
		{Entries: []schedule.Entry{{Job: "a", Spec: "@every 1s"}, {Job: "b", Spec: "61 * * * *"}}},
		{Entries: []schedule.Entry{{Job: "a", Spec: "@every 1s"}, {Job: "c", Spec: "@every 1s"}}},
		{Entries: []schedule.Entry{{Job: "a", Spec: "@every 1s"}, {Job: "a", Spec: "@every 2s"}}},
	} {
		if err := s.Reload(bad); err == nil {
			t.Errorf("Reload(%v) = nil, want an error", bad)
		}
	}
	if got := s.Set(); len(got.Entries) != 2 || got.Entries[0].Spec != "0 3 * * *" {
		t.Errorf("Set after bad reloads = %v, want the first", got)
	}
	if after := s.NextRuns(); len(after) != 2 || !after[0].Next.Equal(before[0].Next) || !after[1].Next.Equal(before[1].Next) {
		t.Errorf("NextRuns after bad reloads = %v, want %v", after, before)
	}

	if err := s.Reload(schedule.Set{Entries: []schedule.Entry{{Job: "a", Spec: "@every 1s"}, {Job: "b", Spec: "15 2 * * *"}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case j := <-ran:
		if j != "a" {
			t.Errorf("job %s ran, want a", j)
		}
	case <-time.After(waitLimit):
		t.Fatal("job a did not run on its new schedule")
	}
}

// TestReloadDoesNotOverlap: a run going on under the old schedule makes
// the new schedule's run skip, as SkipIfStillRunning would.
func TestReloadDoesNotOverlap(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}, 10), make(chan struct{})
	jobs := map[string]func(context.Context) error{"slow": func(context.Context) error {
		started <- struct{}{}
		<-release
		return nil
	}}
	r := newRuns()
	s := start(t, every1s("slow"), jobs, r, nil)
	<-started
	if err := s.Reload(schedule.Set{Entries: []schedule.Entry{{Job: "slow", Spec: "@every 1s"}, {Job: "slow2", Spec: "@every 1h"}}}); err == nil {
		t.Fatal("Reload with a job the daemon lacks: no error")
	}
	if err := s.Reload(schedule.Set{Entries: []schedule.Entry{{Job: "slow", Spec: "* * * * *"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(every1s("slow")); err != nil { // a new cron, a new SkipIfStillRunning
		t.Fatal(err)
	}
	r.next(t, "skipped run", func(run schedule.Run) bool { return run.Skipped })
	close(release)
	<-s.Stop().Done()
	if n := len(started); n != 0 {
		t.Errorf("%d overlapping starts across the reload", n)
	}
}

func TestNewNeedsEveryJob(t *testing.T) {
	_, err := schedule.New(every1s("a", "b"), map[string]func(context.Context) error{"a": func(context.Context) error { return nil }}, nil)
	if err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("New without job b = %v, want an error naming it", err)
	}
}
