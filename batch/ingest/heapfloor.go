package ingest

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultHeapFloor is the smallest heap the Go collector aims for during a
// run (Config.HeapFloor). A run begins with a few megabytes live, and its
// commits hold every page they write until they end: with Go's default
// (a collection each time the heap doubles) a small night's single commit
// of plans, growing from 2 to 40 MB, ran under five collections back to
// back, each marking all of it again, and allocation slowed while they
// ran. A floor of 64 MiB leaves such a night one or two; a national FULL
// night, whose live heap is larger, is paced as before.
const DefaultHeapFloor int64 = 64 << 20

// heapFloorPoll is how often floorHeap looks for a finished collection.
const heapFloorPoll = 5 * time.Millisecond

// floorHeap keeps the collector's heap goal at floor bytes or more until
// stop is called: after each collection it sets GOGC so that the next
// goal (the live heap times 1 + GOGC/100) is at least floor, and back to
// the program's setting once that gives more. The memory limit
// (Config.MemoryLimit) still bounds the heap. GOGC set by the environment
// or by the program (other than Go's default, 100) is left alone.
func floorHeap(floor int64) (stop func()) {
	percent := debug.SetGCPercent(100)
	if percent != 100 || floor <= 0 {
		debug.SetGCPercent(percent)
		return func() {}
	}
	// The collections are polled for: a finalizer run by each one could
	// run while the next is marking, read the live heap of the one
	// before, and give a collection that found a large heap a goal many
	// times larger.
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/live:bytes"}}
	seen := ^uint64(0) // the collections counted when last tuned: none yet
	tune := func() {
		metrics.Read(s)
		if s[0].Value.Uint64() == seen {
			return
		}
		seen = s[0].Value.Uint64()
		p := percent
		if live := s[1].Value.Uint64(); live > 0 && uint64(floor) > live*uint64(100+percent)/100 {
			p = int(uint64(floor)*100/live) - 100
		}
		debug.SetGCPercent(p)
	}
	tune()
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(heapFloorPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				tune()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		debug.SetGCPercent(percent)
	}
}
