package durable

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// newFlusher is a flusher of its own, outside the shared ones.
func newFlusher() *flusher {
	fl := &flusher{}
	fl.cond.L = &fl.mu
	return fl
}

// waitUntil polls cond (under fl.mu) until it holds, for at most a minute.
func waitUntil(t *testing.T, fl *flusher, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		fl.mu.Lock()
		ok := cond()
		fl.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// Callers that arrive while a flush runs are not answered by it: they wait
// for it to end, then share one flush between them.
func TestFlusherShares(t *testing.T) {
	fl := newFlusher()
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() { first <- fl.wait(func() error { <-release; return nil }) }()
	waitUntil(t, fl, "the first flush runs", func() bool { return fl.running })

	const late = 40
	var wg sync.WaitGroup
	errs := make(chan error, late)
	for range late {
		wg.Go(func() { errs <- fl.wait(func() error { return nil }) })
	}
	waitUntil(t, fl, "every late caller waits", func() bool { return fl.waiting == late })
	if fl.done != 0 {
		t.Fatalf("a flush ended before the first was released")
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("late caller: %v", err)
		}
	}
	if err := <-first; err != nil {
		t.Errorf("first caller: %v", err)
	}
	if fl.flushes != 2 {
		t.Errorf("%d flushes for 1 + %d callers, want 2 (the first, then one shared)", fl.flushes, late)
	}
}

// A failed flush is reported to every caller it answers; a later caller
// served by a good flush is not told of it.
func TestFlusherReportsFailure(t *testing.T) {
	fl := newFlusher()
	bad := errors.New("disk gone")
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() { first <- fl.wait(func() error { <-release; return nil }) }()
	waitUntil(t, fl, "the first flush runs", func() bool { return fl.running })

	const late = 8
	errs := make(chan error, late)
	for range late {
		go func() { errs <- fl.wait(func() error { return bad }) }()
	}
	waitUntil(t, fl, "every late caller waits", func() bool { return fl.waiting == late })
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first caller, served by a good flush: %v", err)
	}
	for range late {
		if err := <-errs; !errors.Is(err, bad) {
			t.Errorf("late caller, served by the failed flush: %v, want %v", err, bad)
		}
	}
	if err := fl.wait(func() error { return nil }); err != nil {
		t.Errorf("caller after the failure, served by a good flush: %v", err)
	}
}
