package ingest

import (
	"sync"

	"cpis/store"
	"cpis/store/plans"
)

// applier is a run's single writer: every write of the run goes through
// it (taking, archiving, deciding and answering returns), and it commits
// everything queued at that moment in one write transaction. LAs evaluate
// in parallel; each hands its return's changes to the applier. A return is
// still applied whole or not at all: its changes are all in one
// transaction. Plans are keyed by NHS number, so one LA's changes touch
// pages all over the tree; grouping many returns into one commit writes
// each page once instead of once per return. The small records of every
// other step ride in the same commits, so that 153 LAs each taking,
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

func newApplier(db *store.DB) *applier {
	a := &applier{db: db, reqs: make(chan applyReq), done: make(chan struct{})}
	go a.run()
	return a
}

// apply runs fn in a write transaction, possibly shared with other
// returns, then puts the plans of src (merged in key order with those of
// the other returns), and reports its own outcome.
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

// close stops the applier once every apply has returned.
func (a *applier) close() {
	close(a.reqs)
	<-a.done
}

func (a *applier) run() {
	defer close(a.done)
	var next *applyReq // taken from the queue but too big for the last group
	for {
		var first applyReq
		if next != nil {
			first, next = *next, nil
		} else {
			r, ok := <-a.reqs
			if !ok {
				return
			}
			first = r
		}
		group, rows := []applyReq{first}, first.rows
	drain:
		for len(group) < maxGroup && rows < maxGroupRows {
			select {
			case r, ok := <-a.reqs:
				if !ok {
					break drain
				}
				if rows+r.rows > maxGroupRows {
					next = &r
					break drain
				}
				group, rows = append(group, r), rows+r.rows
			default:
				break drain
			}
		}
		err := a.update(rows, func(tx *store.Tx) error {
			srcs := make([]planSource, 0, len(group))
			for _, r := range group {
				if err := r.fn(tx); err != nil {
					return err
				}
				srcs = append(srcs, r.plans)
			}
			return putPlans(tx, &a.bufs, srcs...)
		})
		if err == nil || len(group) == 1 {
			for _, r := range group {
				r.result <- err
			}
			continue
		}
		for _, r := range group {
			r.result <- a.update(r.rows, func(tx *store.Tx) error {
				if err := r.fn(tx); err != nil {
					return err
				}
				return putPlans(tx, &a.bufs, r.plans)
			})
		}
	}
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
