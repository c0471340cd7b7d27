package ingest

import (
	"sync"
	"sync/atomic"
	"time"

	"cpis/store"
	"cpis/store/plans"
)

// applier is a run's single writer: every write of the run goes through
// it (taking, archiving, deciding and answering returns), and it commits
// what is queued in one write transaction: the steps that put no plans at
// once, those that put plans once the LAs still at work have handed theirs
// in too, or after heldRows changes or maxHold (run). LAs evaluate
// in parallel; each hands its return's changes to the applier. A return is
// still applied whole or not at all: its changes are all in one
// transaction. Plans are keyed by NHS number, so one LA's changes touch
// pages all over the tree; grouping many returns into one commit writes
// each page once instead of once per return. The small records of the
// other steps share commits of their own, so that 153 LAs each taking,
// archiving, deciding and answering a return cost a few commits (and their
// disk syncs), not four each; nothing else in the run waits on the store's
// write lock.
//
// Each step still waits for its own commit before the next begins, so the
// lifecycle a crash can interrupt is the same as with a transaction per
// step (ingest.go).
//
// When a group fails, its members are applied one by one, so one bad
// return never holds up another. Apply functions must therefore be safe to
// run again after a rolled-back attempt (they work on copies).
//
// A group that changes many records begins only when no return is being
// evaluated (readers, update). bbolt reuses the pages a commit freed only
// once no read transaction is open as the next write transaction begins;
// a return's evaluation reads for tens of milliseconds, and with several
// in flight one often was, so a commit rewriting most of the plans tree
// took that many new pages at the end of the file (the national store
// then ended over 1.5 times sqlite3's database in about one run in four).
// Other reads (lookups, an LA's small reads between its steps) are not
// held back, and can still pin a commit's pages now and then.
type applier struct {
	// readers is held shared by each evaluation while it reads the store
	// (evaluating), and exclusively by the writer while a large group's
	// write transaction begins (update).
	readers sync.RWMutex
	db      *store.DB
	reqs    chan applyReq
	done    chan struct{}
	bufs    planBufs // putPlans's
	// active counts the LAs of the run at work: started (working) and not
	// finished, not waiting for memory (waiting), and without a request in
	// the writer's hands (place to reply). wake tells the writer that the
	// count fell to none.
	active atomic.Int64
	wake   chan struct{}
	// maxHold is the longest a plan-carrying request is held (maxHold).
	maxHold time.Duration
}

type applyReq struct {
	fn     func(*store.Tx) error
	plans  planSource // plans the return puts, after fn (nil: none)
	rows   int        // plans the return changes
	result chan error
}

// planSource calls put for each plan a return puts, and whether it
// replaces a plan the return found held.
type planSource func(put func(p plans.Plan, held bool) error) error

// putChunk is how many plans are sorted and put at a time.
const putChunk = 32768

// planBufs are putPlans's buffers, reused: the new plans and the ones
// replacing plans held.
type planBufs struct{ added, replaced []plans.Plan }

// putPlans puts the plans of srcs, a chunk of putChunk plans at a time
// through bufs: the new ones with store.Tx.PutPlans, those replacing
// plans held with store.Tx.ReplacePlans (both in key order). The plans of
// a group's returns are merged before they are sorted.
func putPlans(tx *store.Tx, bufs *planBufs, srcs ...planSource) error {
	flush := func(buf *[]plans.Plan, put func([]plans.Plan) error) error {
		err := put(*buf)
		clear(*buf) // drop the strings
		*buf = (*buf)[:0]
		return err
	}
	bufs.added, bufs.replaced = bufs.added[:0], bufs.replaced[:0]
	for _, src := range srcs {
		if src == nil {
			continue
		}
		err := src(func(p plans.Plan, held bool) error {
			buf, put := &bufs.added, tx.PutPlans
			if held {
				buf, put = &bufs.replaced, tx.ReplacePlans
			}
			*buf = append(*buf, p)
			if len(*buf) == putChunk {
				return flush(buf, put)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := flush(&bufs.replaced, tx.ReplacePlans); err != nil {
		return err
	}
	return flush(&bufs.added, tx.PutPlans)
}

// A group stops growing at maxGroup requests or maxGroupRows changed
// records (the first request always goes in). A commit holds every page it
// dirties in memory, and changes keyed all over the tree dirty almost a
// page each until most of the tree's leaves are dirty: the row bound keeps
// a commit's memory bounded at a million plans (26,000 leaves), the
// request bound keeps many small returns in few commits. Every leaf a
// commit touches is read into a node and written again, so fewer, larger
// commits cost less: at 20,000 rows the national night made about 15 plan
// commits and bbolt's node inserts allocated 390 MB; at 50,000 it makes
// about 6, and the million-plan night peaks lower (398 MiB against 426
// MiB), its group commits holding pages that were dirty anyway.
const (
	maxGroup     = 256
	maxGroupRows = 50000
)

// heldRows is how many changed records a group of plan-carrying requests
// may gather while LAs of the run are still at work (applier.run). A
// night of small DELTA returns changes fewer: its plans all go in one
// commit, each leaf written once. A FULL night's groups are as large
// as what is queued, as before: the hold only waits for more.
const heldRows = 10000

// maxHold is the longest a plan-carrying request waits for the LAs still
// at work (applier.run): an LA can be at work for a long time without
// the writer (hashing or evaluating a return of half a million rows), and
// the LAs whose decisions wait meanwhile are answered late, their plans
// looked up as they were.
const maxHold = 250 * time.Millisecond

// holdFor is the hold of runs' appliers: maxHold; tests set it longer to
// check that nothing but the LAs stopping ends a hold.
var holdFor = maxHold

// newApplier starts the writer of a run on db, holding a plan-carrying
// request hold at most (maxHold).
func newApplier(db *store.DB, hold time.Duration) *applier {
	a := &applier{db: db, reqs: make(chan applyReq), done: make(chan struct{}), wake: make(chan struct{}, 1), maxHold: hold}
	go a.run()
	return a
}

// apply runs fn in a write transaction, possibly shared with other
// returns, then puts the plans of src (merged in key order with those of
// the other returns), and reports its own outcome. Its LA is not at work
// from when the writer takes the request until it replies (place, reply).
func (a *applier) apply(rows int, fn func(*store.Tx) error, src planSource) error {
	r := applyReq{fn: fn, plans: src, rows: rows, result: make(chan error, 1)}
	a.reqs <- r
	return <-r.result
}

// evaluating runs read, an evaluation's reading of the store, while no
// large group's write transaction begins. Outside a run (a nil applier)
// it only runs read.
func (a *applier) evaluating(read func() error) error {
	if a == nil {
		return read()
	}
	a.readers.RLock()
	defer a.readers.RUnlock()
	return read()
}

// working counts an LA of the run at work: while it is, plans that other
// LAs hand the writer may wait for its own (run).
func (a *applier) working() { a.active.Add(1) }

// pause tells that an LA at work has stopped: it has finished, or waits
// for memory that only a commit can free.
func (a *applier) pause() {
	if a.active.Add(-1) <= 0 {
		select {
		case a.wake <- struct{}{}:
		default: // a wake is pending already
		}
	}
}

// waiting runs wait, a wait of an LA at work for something only a commit
// can end (memory of the run's budget), as paused. Outside a run (a nil
// applier) it only runs wait.
func (a *applier) waiting(wait func()) {
	if a == nil {
		wait()
		return
	}
	a.pause()
	defer a.working()
	wait()
}

// stopped reports whether no LA of the run is at work.
func (a *applier) stopped() bool { return a.active.Load() <= 0 }

// close stops the applier once every apply has returned.
func (a *applier) close() {
	close(a.reqs)
	<-a.done
}

// group is requests committed together, how many records they change,
// and when the first came.
type group struct {
	reqs  []applyReq
	rows  int
	since time.Time
}

// full reports whether r must go in a group of its own: g is as large as
// a group may be, or r would make it larger (the first request always
// goes in).
func (g *group) full(r applyReq) bool {
	return len(g.reqs) >= maxGroup || len(g.reqs) > 0 && g.rows+r.rows > maxGroupRows
}

func (g *group) add(r applyReq) {
	if len(g.reqs) == 0 {
		g.since = time.Now()
	}
	g.reqs = append(g.reqs, r)
	g.rows += r.rows
}

// run is the writer. It commits what is queued at once, except the
// requests that put plans: those wait, in a group of their own, until no
// LA of the run is at work (every one has finished, waits for the writer,
// or waits for memory), the group has heldRows changes (or is full:
// place), its first request has waited maxHold, or the run ends. Plans are
// keyed by NHS number, so each return's changes touch leaves all over the
// tree: the DELTA returns of a night committed as they came took five
// commits, rewriting every branch page and many leaves five times; held,
// they take one. The other steps (taking, archiving, answering) are not
// held, so the LAs still at work reach their decisions sooner.
func (a *applier) run() {
	defer close(a.done)
	var held group
	reqs := a.reqs
	timer := time.NewTimer(a.maxHold) // ends the hold of the group held since armed
	defer timer.Stop()
	var armed time.Time
	for reqs != nil || len(held.reqs) > 0 {
		if len(held.reqs) > 0 && (reqs == nil || held.rows >= heldRows || time.Since(held.since) >= a.maxHold || a.stopped()) {
			a.commit(held)
			held = group{}
			continue
		}
		var wake chan struct{}
		var timeout <-chan time.Time
		if len(held.reqs) > 0 {
			wake = a.wake
			if !armed.Equal(held.since) {
				timer.Reset(a.maxHold - time.Since(held.since))
				armed = held.since
			}
			timeout = timer.C
		}
		var now group
		select {
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			a.place(r, &held, &now)
		case <-wake:
			continue
		case <-timeout:
			continue
		}
	drain:
		for {
			select {
			case r, ok := <-reqs:
				if !ok {
					reqs = nil
					break drain
				}
				a.place(r, &held, &now)
			default:
				break drain
			}
		}
		if len(now.reqs) > 0 {
			a.commit(now)
		}
	}
}

// place takes r from its LA, which is no longer at work until the reply,
// and puts it in the group held (plans) or now (the rest), committing that
// group first when it is full.
func (a *applier) place(r applyReq, held, now *group) {
	a.active.Add(-1)
	g := now
	if r.plans != nil {
		g = held
	}
	if g.full(r) {
		a.commit(*g)
		*g = group{}
	}
	g.add(r)
}

// commit commits the requests of g in one transaction and gives each its
// outcome. When it fails, each request is committed alone, so one bad
// return never holds up another.
func (a *applier) commit(g group) {
	err := a.update(g.rows, func(tx *store.Tx) error {
		srcs := make([]planSource, 0, len(g.reqs))
		for _, r := range g.reqs {
			if err := r.fn(tx); err != nil {
				return err
			}
			srcs = append(srcs, r.plans)
		}
		return putPlans(tx, &a.bufs, srcs...)
	})
	if err != nil && len(g.reqs) > 1 {
		for _, r := range g.reqs {
			a.reply(r, a.update(r.rows, func(tx *store.Tx) error {
				if err := r.fn(tx); err != nil {
					return err
				}
				return putPlans(tx, &a.bufs, r.plans)
			}))
		}
		return
	}
	for _, r := range g.reqs {
		a.reply(r, err)
	}
}

// reply gives r its outcome; its LA is at work again from here.
func (a *applier) reply(r applyReq, err error) {
	a.working()
	r.result <- err
}

// gatedRows is how many changed records make a group wait for the
// evaluations in flight before it begins (applier). A smaller group
// rewrites few pages: the few a reader pins are reused at a later begin,
// and the small steps of every LA (taking, archiving, answering) are not
// held up behind a long evaluation.
const gatedRows = 1000

// update runs fn in a write transaction that changes about rows records.
// From gatedRows on, the transaction begins only once no evaluation is
// reading the store (evaluating), which may start again as soon as it
// has begun.
func (a *applier) update(rows int, fn func(*store.Tx) error) error {
	if rows < gatedRows {
		return a.db.Update(fn)
	}
	a.readers.Lock()
	begun := false
	defer func() {
		if !begun {
			a.readers.Unlock()
		}
	}()
	return a.db.Update(func(tx *store.Tx) error {
		if !begun {
			begun = true
			a.readers.Unlock()
		}
		return fn(tx)
	})
}
