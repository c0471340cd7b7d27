package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/jobs"
	"cpis/batch/schedule"
)

// acquired is the outcome of an Acquire run in a goroutine.
type acquired struct {
	release func()
	err     error
}

// acquireAsync starts an Acquire and returns the holders it was told to
// wait for (sent as they come) and its outcome.
func acquireAsync(ctx context.Context, l *jobs.Lock, holder string) (<-chan string, <-chan acquired) {
	told := make(chan string, 10)
	done := make(chan acquired, 1)
	go func() {
		release, err := l.Acquire(ctx, holder, func(h string) { told <- h })
		done <- acquired{release, err}
	}()
	return told, done
}

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s after 10s", what)
		panic("unreachable")
	}
}

func TestLockWaitsAndSaysForWhom(t *testing.T) {
	var l jobs.Lock
	if h := l.Holder(); h != "" {
		t.Fatalf("a zero Lock is held by %q", h)
	}
	release, err := l.Acquire(t.Context(), "report job", func(h string) { t.Errorf("a free lock made its taker wait for %q", h) })
	if err != nil {
		t.Fatal(err)
	}
	if h := l.Holder(); h != "report job" {
		t.Errorf("holder %q, want report job", h)
	}
	told, done := acquireAsync(t.Context(), &l, "`cpis ingest` command")
	if h := recv(t, told, "waiting message"); h != "report job" {
		t.Errorf("told to wait for %q, want report job", h)
	}
	select {
	case a := <-done:
		t.Fatalf("acquired while the report job held the lock: %v", a.err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	release() // a second release changes nothing
	a := recv(t, done, "acquire after the release")
	if a.err != nil {
		t.Fatal(a.err)
	}
	if h := l.Holder(); h != "`cpis ingest` command" {
		t.Errorf("holder %q, want the ingest command", h)
	}
	a.release()
	if h := l.Holder(); h != "" {
		t.Errorf("holder %q after the release, want none", h)
	}
}

// TestLockTellsEachHolder: a waiter is told again when the lock passes to
// another holder while it still waits.
func TestLockTellsEachHolder(t *testing.T) {
	var l jobs.Lock
	release, err := l.Acquire(t.Context(), "ingest job", nil)
	if err != nil {
		t.Fatal(err)
	}
	toldB, doneB := acquireAsync(t.Context(), &l, "B")
	recv(t, toldB, "B waiting")
	toldC, doneC := acquireAsync(t.Context(), &l, "C")
	if h := recv(t, toldC, "C waiting"); h != "ingest job" {
		t.Fatalf("C told %q, want ingest job", h)
	}
	release()
	// One of them takes it; the other is told it now waits for that one.
	var winner string
	var won acquired
	var otherTold <-chan string
	var otherDone <-chan acquired
	select {
	case won = <-doneB:
		winner, otherTold, otherDone = "B", toldC, doneC
	case won = <-doneC:
		winner, otherTold, otherDone = "C", toldB, doneB
	case <-time.After(10 * time.Second):
		t.Fatal("neither waiter took the released lock")
	}
	if won.err != nil {
		t.Fatal(won.err)
	}
	if h := recv(t, otherTold, "second waiting message"); h != winner {
		t.Errorf("the waiter left was told %q, want %q", h, winner)
	}
	won.release()
	last := recv(t, otherDone, "the last acquire")
	if last.err != nil {
		t.Fatal(last.err)
	}
	last.release()
}

func TestLockWaitEndsWithContext(t *testing.T) {
	var l jobs.Lock
	release, err := l.Acquire(t.Context(), "push job", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	told, done := acquireAsync(ctx, &l, "`cpis nightly` command")
	recv(t, told, "waiting message")
	cancel()
	if a := recv(t, done, "cancelled acquire"); !errors.Is(a.err, context.Canceled) || a.release != nil {
		t.Errorf("cancelled acquire: %v", a.err)
	}
	if h := l.Holder(); h != "push job" {
		t.Errorf("holder %q after a cancelled wait, want push job", h)
	}
}

// syncBuffer is a log destination the job's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// TestScheduledJobWaitsForCommand: a scheduled job waits for a command
// that holds the lock, logs what it waits for, and holds the lock itself
// while it runs.
func TestScheduledJobWaitsForCommand(t *testing.T) {
	h := newHub(t)
	var log syncBuffer
	env := h.env(runAt)
	env.Log = slog.New(slog.NewTextHandler(&log, nil))
	release, err := env.Lock.Acquire(t.Context(), "`cpis ingest` command", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- env.Funcs()[schedule.Expire](t.Context()) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "job waits for the running batch work") {
		if time.Now().After(deadline) {
			t.Fatalf("no waiting line logged:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := "job=expire running=\"`cpis ingest` command\""; !strings.Contains(log.String(), want) {
		t.Errorf("log %q does not contain %q", log.String(), want)
	}
	select {
	case err := <-done:
		t.Fatalf("expire ran while the command held the lock: %v", err)
	default:
	}
	release()
	if err := recv(t, done, "expire's end"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("", env.Lock.Holder()); diff != "" {
		t.Errorf("the lock is still held (-want +got):\n%s", diff)
	}
}
