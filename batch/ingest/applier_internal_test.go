package ingest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

// TestApplierRetriesAlone: when a group commit fails because of one of its
// members, the others are committed alone, and a step whose first attempt
// was rolled back leaves its message as one commit makes it (one response
// owed, not two).
func TestApplierRetriesAlone(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, time.November, 21, 2, 0, 0, 0, time.UTC)
	m := &store.Message{LA: "841", MailboxID: "X26OT123", MessageID: "20261121020000000000_ABCDEF", File: "CPIS_841_FULL_20261121_a.csv", State: store.Archived, TakenAt: now}
	if err := db.Update(func(tx *store.Tx) error { return tx.NewMessage(m) }); err != nil {
		t.Fatal(err)
	}
	ap := newApplier(db, maxHold)
	defer ap.close()
	l := &laRun{cfg: &Config{DB: db, Now: func() time.Time { return now }}, la: store.Authority{Code: "841"}, applier: ap}

	// Hold the writer in a commit of its own while the two requests queue,
	// so that they make one group.
	started, release := make(chan struct{}), make(chan struct{})
	go ap.apply(0, func(*store.Tx) error { close(started); <-release; return nil }, nil)
	<-started
	failed := 0
	bad := make(chan error, 1)
	go func() { bad <- ap.apply(0, func(*store.Tx) error { failed++; return errors.New("bad request") }, nil) }()
	committed := make(chan error, 1)
	out := &store.Outcome{Code: codes.FileNotUsed, Detail: codes.F008, Text: "Too late."}
	go func() { committed <- l.commit(m, out, nil, store.Decided) }()
	time.Sleep(100 * time.Millisecond) // both queued behind the commit held
	close(release)
	if err := <-bad; err == nil {
		t.Error("the failing request: no error")
	}
	if err := <-committed; err != nil {
		t.Fatalf("commit: %v", err)
	}
	if failed != 2 {
		t.Fatalf("the failing request ran %d times, want 2 (in the group, then alone): no group was made", failed)
	}
	var stored *store.Message
	if err := db.View(func(tx *store.Tx) (err error) { stored, err = tx.Message(m.Key); return err }); err != nil {
		t.Fatal(err)
	}
	type summary struct {
		State     store.State
		Responses int
		Outcome   *store.Outcome
	}
	want := summary{store.Decided, 1, out}
	for _, c := range []struct {
		name string
		m    *store.Message
	}{{"in memory", m}, {"stored", stored}} {
		if diff := cmp.Diff(want, summary{c.m.State, len(c.m.Responses), c.m.Outcome}); diff != "" {
			t.Errorf("message %s (-want +got):\n%s", c.name, diff)
		}
	}
}

// TestGroupBeginsAfterEvaluations: a group that changes many records
// begins its write transaction only once the evaluations reading the store
// have finished, so that the pages the last commit freed are reused, not
// pinned by those readers while the commit takes new ones at the end of
// the file. A store whose plans are rewritten again and again then stays
// the same size. Evaluations may start again once the transaction has
// begun, and a small group (an LA taking, archiving or answering a
// return) does not wait for them at all.
func TestGroupBeginsAfterEvaluations(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ap := newApplier(db, maxHold)
	defer ap.close()
	rewrite := func(round int) planSource {
		return func(put func(plans.Plan, bool) error) error {
			for i := range 5000 {
				p := plans.Plan{Key: plans.Key{NHS: fmt.Sprintf("999%07d", i*37), LA: "841", Type: plans.CPP},
					Start: caldate.Of(2026, time.January, 5), LocalID: fmt.Sprintf("C-%d-%d", i, round)}
				if err := put(p, round > 0); err != nil {
					return err
				}
			}
			return nil
		}
	}
	size := func() int64 {
		n, err := db.Size()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for round := range 3 {
		if err := ap.apply(5000, func(*store.Tx) error { return nil }, rewrite(round)); err != nil {
			t.Fatal(err)
		}
	}
	before := size()

	reading, released := make(chan struct{}), make(chan struct{})
	var release sync.Once
	defer release.Do(func() { close(released) }) // before ap.close, on failure too
	evaluated := make(chan error, 1)
	go func() {
		evaluated <- ap.evaluating(func() error {
			return db.View(func(tx *store.Tx) error {
				close(reading)
				<-released
				return nil
			})
		})
	}()
	<-reading
	small := make(chan error, 1)
	go func() { small <- ap.apply(1, func(*store.Tx) error { return nil }, nil) }()
	select {
	case err := <-small:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a small group waited for an evaluation")
	}
	var done atomic.Bool
	committed := make(chan error, 1)
	go func() {
		committed <- ap.apply(5000, func(*store.Tx) error {
			if !done.Load() {
				return errors.New("the group began while an evaluation was reading")
			}
			again := make(chan error, 1)
			go func() { again <- ap.evaluating(func() error { return nil }) }()
			select {
			case err := <-again:
				return err
			case <-time.After(5 * time.Second):
				return errors.New("no evaluation could start while the group's transaction was open")
			}
		}, rewrite(3))
	}()
	time.Sleep(100 * time.Millisecond) // the group waits to begin
	done.Store(true)
	release.Do(func() { close(released) })
	if err := <-evaluated; err != nil {
		t.Fatal(err)
	}
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if after := size(); after != before {
		t.Errorf("the store grew from %d to %d bytes on a rewrite of the same plans", before, after)
	}
}

// TestPlansWaitForLAsAtWork: the writer holds the requests that put plans
// while any LA of the run is still at work, and commits them together
// once none is; it does not hold the other steps, nor a group that has
// heldRows changes, nor any for longer than maxHold; an LA waiting for
// memory (which only a commit can free) is not at work, and is at work
// again once it has it.
func TestPlansWaitForLAsAtWork(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const timeout = 5 * time.Second
	// putting applies a request that puts one plan, with rows changes, and
	// reports its outcome and the transaction it ran in.
	type outcome struct {
		tx  *store.Tx
		err error
	}
	putting := func(ap *applier, nhs string, rows int) chan outcome {
		out := make(chan outcome, 1)
		go func() {
			var in *store.Tx
			err := ap.apply(rows, func(tx *store.Tx) error { in = tx; return nil }, func(put func(plans.Plan, bool) error) error {
				return put(plans.Plan{Key: plans.Key{NHS: nhs, LA: "841", Type: plans.CPP}, Start: caldate.Of(2026, time.January, 5), LocalID: "C-" + nhs}, false)
			})
			out <- outcome{in, err}
		}()
		return out
	}
	wait := func(t *testing.T, what string, out chan outcome) outcome {
		t.Helper()
		select {
		case o := <-out:
			if o.err != nil {
				t.Fatalf("%s: %v", what, o.err)
			}
			return o
		case <-time.After(timeout):
			t.Fatalf("%s: not committed", what)
			return outcome{}
		}
	}
	// waiting reports whether out is still waiting after a while; it can
	// pass wrongly on a slow machine, never fail wrongly.
	waiting := func(out chan outcome) bool {
		select {
		case o := <-out:
			out <- o
			return false
		case <-time.After(100 * time.Millisecond):
			return true
		}
	}

	t.Run("held until no LA is at work", func(t *testing.T) {
		ap := newApplier(db, time.Hour)
		defer ap.close()
		ap.working() // the LA that sends a
		ap.working() // the LA that sends b
		ap.working() // the LA still at work, which sends a step
		a, b := putting(ap, "9990276579", 1), putting(ap, "9993765570", 1)
		step := make(chan outcome, 1)
		go func() { step <- outcome{err: ap.apply(0, func(*store.Tx) error { return nil }, nil)} }()
		wait(t, "a step that puts no plans", step)
		if !waiting(a) || !waiting(b) {
			t.Fatal("plans were committed while an LA was at work")
		}
		ap.pause() // the last LA finishes
		if oa, ob := wait(t, "plans a", a), wait(t, "plans b", b); oa.tx != ob.tx {
			t.Error("the plans held were committed in two transactions, want one")
		}
	})
	t.Run("a group of heldRows is not held", func(t *testing.T) {
		ap := newApplier(db, time.Hour)
		defer ap.close()
		ap.working()
		ap.working() // at work throughout
		wait(t, "plans of heldRows changes", putting(ap, "9994812866", heldRows))
	})
	t.Run("none held longer than maxHold", func(t *testing.T) {
		ap := newApplier(db, 50*time.Millisecond)
		defer ap.close()
		ap.working()
		ap.working() // at work throughout
		wait(t, "plans held", putting(ap, "9996543217", 1))
	})
	t.Run("an LA waiting for memory is not at work", func(t *testing.T) {
		ap := newApplier(db, time.Hour)
		defer ap.close()
		ap.working()
		ap.working()
		a := putting(ap, "9995860155", 1)
		// The other LA waits for memory that a's commit frees.
		freed := make(chan outcome, 1)
		go func() {
			var o outcome
			ap.waiting(func() { o = <-a })
			freed <- o // once it is at work again
		}()
		wait(t, "plans of the LA holding memory", freed)
		// It has the memory: at work again, so plans wait for it.
		again := putting(ap, "9992345676", 1)
		if !waiting(again) {
			t.Fatal("plans were committed while the LA that had waited for memory was at work")
		}
		ap.pause()
		wait(t, "plans sent once it finished", again)
	})
}
