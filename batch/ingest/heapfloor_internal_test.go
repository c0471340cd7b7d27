package ingest

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// TestHeapFloor: while a floor is kept, the collector's heap goal is at
// least the floor, after collections too; once it is stopped, or when the
// program set GOGC itself, the collector is paced as the program set it.
func TestHeapFloor(t *testing.T) {
	read := func() (goal uint64, gogc int) {
		s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return s[0].Value.Uint64(), int(s[1].Value.Uint64())
	}
	const floor = 256 << 20
	cases := []struct {
		name     string
		gogc     int // set before the floor
		floored  bool
		wantGOGC int // once stopped
	}{
		{"Go's default pacing", 100, true, 100},
		{"GOGC set by the program", 50, false, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer debug.SetGCPercent(debug.SetGCPercent(c.gogc))
			runtime.GC()
			stop := floorHeap(floor)
			for i := range 3 { // the floor holds after collections
				if goal, _ := read(); goal >= floor*95/100 != c.floored {
					t.Errorf("after %d collections: heap goal %d MiB with a floor of %d MiB", i, goal>>20, floor>>20)
				}
				runtime.GC()
			}
			if c.floored {
				// A live heap that grows past half the floor brings the goal
				// back to Go's pacing, once the collection has found it.
				live := make([]byte, floor*3/8)
				runtime.GC()
				deadline := time.Now().Add(2 * time.Second)
				for goal, _ := read(); goal > 2*floor; goal, _ = read() {
					if time.Now().After(deadline) {
						t.Fatalf("with %d MiB live: heap goal %d MiB, want at most %d MiB", len(live)>>20, goal>>20, 2*floor>>20)
					}
					time.Sleep(time.Millisecond)
				}
				runtime.KeepAlive(live)
			}
			stop()
			runtime.GC()
			if goal, gogc := read(); goal >= floor*95/100 || gogc != c.wantGOGC {
				t.Errorf("stopped: heap goal %d MiB, GOGC %d; want under %d MiB and %d", goal>>20, gogc, floor>>20, c.wantGOGC)
			}
		})
	}
}
