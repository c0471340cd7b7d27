package ingest

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// DefaultHeapFloor is the heap below which the Go collector does not run
// during a run (Config.HeapFloor). A run begins with a few megabytes live,
// and a write transaction holds every page it touches until it commits:
// with Go's pacing (a collection each time the heap doubles) the second
// night's one commit of plans, its heap growing from 2 to 40 MB, ran under
// four or five collections back to back, each marking the whole
// transaction again while allocation assisted; with a floor of 64 MiB,
// two. Below 128 MiB such a night has none. The heap stays under the
// floor while what is live is under half of it, and is paced by Go above:
// the national FULL night peaks at 110 to 116 MiB of heap (it was 80 to
// 100), well inside the binary's memory limit.
const DefaultHeapFloor int64 = 128 << 20

// pacingPoll is how often a run looks for a finished collection.
const pacingPoll = 5 * time.Millisecond

// pacing is the collector's pacing for the runs in this process: the
// first run sets it, the last one restores it. Runs of one data dir never
// overlap (the store's lock), but a process can run several, and each
// changing and restoring the process-wide settings on its own would leave
// them to whichever ended last.
var pacing struct {
	mu    sync.Mutex
	users int
	undo  func()
}

// pace sets the Go runtime's memory limit to limit while runs run, unless
// a limit is in force already (GOMEMLIMIT, or set by the program), and
// keeps the collector from running below floor bytes of heap (keepFloor);
// a limit or floor of 0 or less sets nothing. It returns what undoes it
// (once every run that paced has undone it). Runs at the same time share
// the first one's settings.
func pace(limit, floor int64) (undo func()) {
	pacing.mu.Lock()
	defer pacing.mu.Unlock()
	pacing.users++
	if pacing.users == 1 {
		pacing.undo = startPacing(limit, floor)
	}
	return sync.OnceFunc(func() {
		pacing.mu.Lock()
		defer pacing.mu.Unlock()
		pacing.users--
		if pacing.users == 0 {
			pacing.undo()
			pacing.undo = nil
		}
	})
}

func startPacing(limit, floor int64) (undo func()) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	percent, was := s[0].Value.Uint64(), int64(s[1].Value.Uint64())
	base := was
	if limit > 0 && was == math.MaxInt64 {
		base = limit
		debug.SetMemoryLimit(base)
	}
	unfloor := func() {}
	// GOGC set by the environment or the program (to other than 100) is
	// theirs to pace.
	if floor > 0 && percent == 100 {
		unfloor = keepFloor(floor, base)
	}
	return func() {
		unfloor()
		debug.SetMemoryLimit(was)
	}
}

// keepFloor keeps the collector from running below floor bytes of heap:
// while the live heap the last collection found is under half of it, the
// collector runs only when the memory limit is reached, and the limit is
// floor (or limit, if lower); from half of it on, Go's pacing and limit
// return. The collections are polled for (every pacingPoll). When the
// live heap grows past the floor before the poll sees it, the collector
// runs more often for those milliseconds: the lag costs CPU, never
// memory. It returns what restores GOGC (100) and limit.
func keepFloor(floor, limit int64) (undo func()) {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/live:bytes"}}
	seen := ^uint64(0) // the collections counted when last looked: none yet
	below := false     // the collector held off below the floor
	hold := func(on bool) {
		if on {
			debug.SetMemoryLimit(min(limit, floor))
			debug.SetGCPercent(-1)
		} else {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(limit)
		}
		below = on
	}
	look := func() {
		metrics.Read(s)
		if s[0].Value.Uint64() == seen {
			return
		}
		seen = s[0].Value.Uint64()
		if low := s[1].Value.Uint64() < uint64(floor)/2; low != below {
			hold(low)
		}
	}
	look()
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(pacingPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				look()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		if below {
			hold(false)
		}
	}
}
