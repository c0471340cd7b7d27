package access

import (
	"sync"
	"time"

	"cpis/store"
)

// auditQueue commits audit records of silent reads, "no alert" answers and
// refusals in groups, at most a delay late (access.md allows 100 ms).
type auditQueue struct {
	db    *store.DB
	delay time.Duration

	mu      sync.Mutex
	pending []store.LookupAudit
	timer   *time.Timer
	closed  bool
	err     error
	wg      sync.WaitGroup
}

func newAuditQueue(db *store.DB, delay time.Duration) *auditQueue {
	return &auditQueue{db: db, delay: delay}
}

func (q *auditQueue) add(a store.LookupAudit) {
	q.mu.Lock()
	if q.closed {
		// After Close (a CLI run ending), write at once.
		q.mu.Unlock()
		q.write([]store.LookupAudit{a})
		return
	}
	q.pending = append(q.pending, a)
	if q.timer == nil {
		q.wg.Add(1)
		q.timer = time.AfterFunc(q.delay, q.flush)
	}
	q.mu.Unlock()
}

// flush writes the group queued. The lock is not held while the group is
// committed (a disk sync): lookups go on queueing the next group.
func (q *auditQueue) flush() {
	defer q.wg.Done()
	q.mu.Lock()
	batch := q.pending
	q.pending, q.timer = nil, nil
	q.mu.Unlock()
	if len(batch) > 0 {
		q.write(batch)
	}
}

func (q *auditQueue) write(batch []store.LookupAudit) {
	err := q.db.Update(func(tx *store.Tx) error {
		for _, a := range batch {
			if err := tx.AddLookupAudit(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		q.mu.Lock()
		if q.err == nil {
			q.err = err
		}
		q.mu.Unlock()
	}
}

// close writes what is queued, waits for a group being written, and
// reports the first write error.
func (q *auditQueue) close() error {
	q.mu.Lock()
	q.closed = true
	var batch []store.LookupAudit
	if q.timer != nil && q.timer.Stop() {
		batch = q.pending
		q.pending, q.timer = nil, nil
		q.wg.Done()
	}
	q.mu.Unlock()
	if len(batch) > 0 {
		q.write(batch)
	}
	q.wg.Wait()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}
