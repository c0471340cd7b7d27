package ingest

import (
	"context"
	"sync"
)

// DefaultMemoryBudget is the memory the returns being evaluated at once may
// hold between them (Config.MemoryBudget). With the store's write
// transaction and the runtime beside it, a run stays within 512 MiB.
const DefaultMemoryBudget int64 = 160 << 20

// DefaultMemoryLimit is the Go runtime's soft memory limit during a run
// (Config.MemoryLimit). Applying a return is one write transaction, which
// holds every page it writes: a return of 500,000 plans holds about
// 200 MiB there, and without a limit the collector lets the heap grow to
// twice what is live before it runs. Near the limit it runs sooner.
const DefaultMemoryLimit int64 = 384 << 20

// Memory a return is charged against the budget while it is read,
// evaluated and committed: a fixed part (read buffers, spill buffers, a
// chunk of row outcomes in a transaction: returnBytes at most,
// smallReturnBytes and more with its size, fixedCharge) and a part per row (its fact, its
// place in the duplicate sort, at most one plan key it names, protects
// or removes, and for a FULL return one of its LA's plans held while it is
// evaluated, laplans.go). A return's rows are bounded before it is read by counting
// its line ends (CSV) or tags (XML).
const (
	returnBytes      = 8 << 20
	smallReturnBytes = 256 << 10
	rowBytes         = factBytes + 4 + 96 + heldPlanBytes
)

// budget is a weighted semaphore shared by the LAs of a run: returns are
// admitted in the order they ask while their charges fit, so a few large
// returns run one or two at a time and many small ones run together.
type budget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{}
}

func newBudget(size int64) *budget { return &budget{size: size} }

// acquire waits until n (at most the whole budget) fits, and returns what
// it took, to be given back with release.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	if b == nil {
		return 0, nil
	}
	n = min(n, b.size)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return n, nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready: // admitted meanwhile: give it back
			b.used -= n
		default:
			for i, o := range b.waiters {
				if o == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
		}
		b.admit()
		return 0, ctx.Err()
	}
}

// release gives back what acquire took.
func (b *budget) release(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.admit()
}

// admit lets in waiters from the front while they fit.
func (b *budget) admit() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.size {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}

// slots is a counting semaphore: a run's CPU slots. A run keeps every LA in
// flight (DefaultParallel), but only twice as many returns as there are
// processors are read and evaluated at once: more would not finish sooner,
// and in the daemon they would lengthen the scheduler's queue in front of
// the lookup API's requests. nil means no limit.
type slots chan struct{}

// take waits for a slot, or for ctx to end.
func (s slots) take(ctx context.Context) error {
	if s == nil {
		return nil
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// give returns a slot taken.
func (s slots) give() {
	if s != nil {
		<-s
	}
}
