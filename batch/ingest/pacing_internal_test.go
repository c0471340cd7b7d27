package ingest

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// runtimePacing is what the collector is told: GOGC, the memory limit,
// and the heap goal they give.
type runtimePacing struct {
	gogc        int
	limit, goal uint64
}

func readPacing() runtimePacing {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}, {Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return runtimePacing{int(s[0].Value.Uint64()), s[1].Value.Uint64(), s[2].Value.Uint64()}
}

// TestPaceHeapFloor: below the floor the collector's goal is the floor
// (the collector runs only at it), after collections too; once the live
// heap passes half the floor, Go's pacing returns (this needs the poll);
// undone, or when the program set GOGC itself, the collector is paced as
// the program set it.
func TestPaceHeapFloor(t *testing.T) {
	const floor = 128 << 20
	cases := []struct {
		name    string
		gogc    int   // set before
		limit   int64 // in force before
		floored bool
	}{
		{"Go's default pacing", 100, math.MaxInt64, true},
		{"under a lower memory limit", 100, 100 << 20, true},
		{"GOGC set by the program", 50, math.MaxInt64, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			noRuns(t)
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(c.limit))
			defer debug.SetGCPercent(debug.SetGCPercent(c.gogc))
			runtime.GC()
			undo := pace(-1, floor)
			defer undo() // on failure; undoing twice undoes once
			top := uint64(min(floor, c.limit))
			for i := range 3 {
				if p := readPacing(); (p.goal > top/2 && p.goal <= top) != c.floored {
					t.Errorf("after %d collections: %+v, with a floor of %d MiB", i, p, floor>>20)
				}
				runtime.GC()
			}
			if c.floored {
				live := make([]byte, floor*3/4)
				runtime.GC()
				deadline := time.Now().Add(2 * time.Second)
				for p := readPacing(); p.gogc != 100 || p.limit != uint64(c.limit); p = readPacing() {
					if time.Now().After(deadline) {
						t.Fatalf("with %d MiB live: %+v, want Go's pacing back", len(live)>>20, p)
					}
					time.Sleep(time.Millisecond)
				}
				runtime.KeepAlive(live)
			}
			undo()
			if p := readPacing(); p.gogc != c.gogc || p.limit != uint64(c.limit) {
				t.Errorf("undone: %+v, want GOGC %d and the limit %d", p, c.gogc, c.limit)
			}
		})
	}
}

// noRuns ends t when runs of this process are pacing the collector: a
// test before left one running.
func noRuns(t *testing.T) {
	t.Helper()
	pacing.mu.Lock()
	defer pacing.mu.Unlock()
	if pacing.users != 0 {
		t.Fatalf("%d runs pacing the collector", pacing.users)
	}
}

// TestPaceShared: the memory limit is set only where none is, runs at the
// same time share the pacing (the floor too), and the last one to end
// restores it.
func TestPaceShared(t *testing.T) {
	noRuns(t)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const limit = 300 << 20
	only := pace(limit, -1)
	if p := readPacing(); p.limit != limit {
		t.Errorf("a run where no limit is in force: limit %d MiB, want %d MiB", p.limit>>20, limit>>20)
	}
	only()
	runtime.GC() // little live: the floor holds the collector off
	first := pace(limit, 64<<20)
	defer first()
	second := pace(limit/2, -1)
	defer second()
	if p := readPacing(); p.limit != 64<<20 || p.gogc != -1 {
		t.Errorf("two runs: %+v, want the first's floor of 64 MiB", p)
	}
	first()
	first() // undoing twice undoes once
	if p := readPacing(); p.limit != 64<<20 || p.gogc != -1 {
		t.Errorf("the first run ended: %+v, want its floor still", p)
	}
	second()
	if p := readPacing(); p.limit != math.MaxInt64 || p.gogc != 100 {
		t.Errorf("both ended: %+v, want no limit and GOGC 100", p)
	}
	debug.SetMemoryLimit(500 << 20) // set by the program
	pace(limit, -1)()
	if p := readPacing(); p.limit != 500<<20 {
		t.Errorf("a limit the program set: %d MiB after a run, want 500 MiB", p.limit>>20)
	}
}
