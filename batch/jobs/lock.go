package jobs

import (
	"context"
	"sync"
)

// Lock serialises batch work inside the daemon: a scheduled job and a
// batch command sent to the daemon never work on the same mailboxes at
// once. It knows who holds it, so whoever must wait can say what for. The
// zero Lock is free.
type Lock struct {
	mu     sync.Mutex
	held   bool
	holder string
	// free is closed when the holder releases the lock.
	free chan struct{}
}

// Acquire takes the lock for holder, a name for people ("report job",
// "`cpis ingest` command"), waiting while someone else holds it. Before
// it waits, and again whenever the lock passes to another holder while it
// still waits, waiting (when set) is called with the name of the one it
// waits for. It returns the function that releases the lock (safe to call
// twice), or ctx's error if ctx ends first.
func (l *Lock) Acquire(ctx context.Context, holder string, waiting func(holder string)) (release func(), err error) {
	told := ""
	for {
		l.mu.Lock()
		if !l.held {
			l.held, l.holder, l.free = true, holder, make(chan struct{})
			l.mu.Unlock()
			var once sync.Once
			return func() { once.Do(l.release) }, nil
		}
		running, free := l.holder, l.free
		l.mu.Unlock()
		if waiting != nil && running != told {
			waiting(running)
			told = running
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-free:
		}
	}
}

func (l *Lock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held, l.holder = false, ""
	close(l.free)
}

// Holder returns the name of who holds the lock, or "" when it is free.
func (l *Lock) Holder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}
