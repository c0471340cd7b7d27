package meshstore

import (
	"fmt"
	"sync"

	"cpis/store"
)

// groupCommit shares store writes among concurrent requests without
// bbolt's Batch timer: a write queued while a commit runs goes into the
// next one, which starts as soon as the running one ends, so a quiet
// server commits at once and a busy one commits many writes per fsync.
// Each caller returns only once a commit holding its write is on disk.
// A commit that fails is retried one write at a time, so one failing
// write fails only its own caller (as with Batch, a function may run more
// than once and must be idempotent).
type groupCommit struct {
	db      *store.DB
	mu      sync.Mutex
	queue   []groupWrite
	running bool
}

type groupWrite struct {
	fn   func(*store.Tx) error
	done chan error
}

// do runs fn in a shared write transaction and returns once it is
// committed (or failed).
func (g *groupCommit) do(fn func(*store.Tx) error) error {
	done := make(chan error, 1)
	g.mu.Lock()
	g.queue = append(g.queue, groupWrite{fn: fn, done: done})
	if !g.running {
		g.running = true
		go g.run()
	}
	g.mu.Unlock()
	return <-done
}

// run commits the queue, a batch at a time, until it is empty.
func (g *groupCommit) run() {
	g.mu.Lock()
	for len(g.queue) > 0 {
		batch := g.queue
		g.queue = nil
		g.mu.Unlock()
		err := g.db.Update(func(tx *store.Tx) error {
			for _, w := range batch {
				if err := safely(w.fn, tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && len(batch) > 1 {
			for _, w := range batch {
				w.done <- g.db.Update(func(tx *store.Tx) error { return safely(w.fn, tx) })
			}
		} else {
			for _, w := range batch {
				w.done <- err
			}
		}
		g.mu.Lock()
	}
	g.running = false
	g.mu.Unlock()
}

// safely runs fn, a panic turned into an error (the commit's goroutine
// must go on serving the others).
func safely(fn func(*store.Tx) error, tx *store.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store write panicked: %v", p)
		}
	}()
	return fn(tx)
}
