package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"cpis/batch/returns"
	"cpis/store"
	"cpis/store/caldate"
)

// The memory an ingest holds must not grow with a return's width, and with
// its rows only by the fact kept per row (the issue "ingest memory
// bounded"). These tests check that by structure and by live heap, never by
// time.

// TestFactSize keeps the budget's charge per row honest.
func TestFactSize(t *testing.T) {
	if got := unsafe.Sizeof(fact{}); got != factBytes {
		t.Errorf("a fact is %d bytes; the budget charges factBytes = %d", got, factBytes)
	}
}

// TestReadHoldsFactsOnly reads a return of wide rows (every free-text cell
// at its widest) and checks that what stays on the heap is the facts, not
// the rows: well under the width of one row per row.
func TestReadHoldsFactsOnly(t *testing.T) {
	const rows = 50_000
	name, err := returns.ParseName("CPIS_841_FULL_20261121_wide.csv")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("nhs_number,plan_type,start_date,end_date,due_date,local_id,family_name,given_name,date_of_birth\n")
	wide := func(s string, n int) string { return s + strings.Repeat("x", n-len(s)) }
	for i := range rows {
		// Distinct rows, all wide; most fail the check digit (R003).
		fmt.Fprintf(&b, "99900%05d,CPP,2026-03-02,,,%s,%s,%s,2015-03-10\n", i, wide(fmt.Sprint("C-", i), 64), wide("F", 100), wide("G", 100))
	}
	path := filepath.Join(t.TempDir(), "return.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	rowWidth := b.Len() / rows
	b = strings.Builder{}

	l := &laRun{cfg: &Config{}, la: store.Authority{Code: "841"}}
	l.cfg.defaults()
	before := liveHeap()
	in, err := l.read(context.Background(), &store.Message{ArchivePath: path, File: "return.csv"}, name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.close()
	held := liveHeap() - before
	runtime.KeepAlive(in)
	if len(in.facts) != rows {
		t.Fatalf("read %d rows, want %d", len(in.facts), rows)
	}
	// The facts slice grows by doubling: at most twice what it holds, plus
	// the reader's and spill's buffers and what other goroutines hold.
	limit := int64(2*rows*factBytes + 4<<20)
	t.Logf("%d rows of %d bytes: %d bytes held (%d per row)", rows, rowWidth, held, held/rows)
	if held > limit {
		t.Errorf("reading %d rows of %d bytes holds %d bytes, want at most %d", rows, rowWidth, held, limit)
	}
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestBudget checks that the returns admitted at once never hold more than
// the budget, that one larger than the budget still runs (alone), and that
// all get their turn.
func TestBudget(t *testing.T) {
	b := newBudget(100)
	var mu sync.Mutex
	var used, peak int64
	var wg sync.WaitGroup
	sizes := []int64{60, 30, 250, 10, 100, 40, 70, 5, 90, 1}
	for i := 0; i < 20; i++ {
		for _, n := range sizes {
			wg.Add(1)
			go func(n int64) {
				defer wg.Done()
				took, err := b.acquire(context.Background(), n)
				if err != nil {
					t.Error(err)
					return
				}
				if took != min(n, 100) {
					t.Errorf("acquire(%d) took %d", n, took)
				}
				mu.Lock()
				used += took
				peak = max(peak, used)
				mu.Unlock()
				runtime.Gosched()
				mu.Lock()
				used -= took
				mu.Unlock()
				b.release(took)
			}(n)
		}
	}
	wg.Wait()
	if peak > 100 {
		t.Errorf("peak %d admitted, budget 100", peak)
	}
	if b.used != 0 || len(b.waiters) != 0 {
		t.Errorf("after all: used %d, %d waiting", b.used, len(b.waiters))
	}
}

// TestBudgetCancel checks that a return waiting for its turn gives up when
// the run is cancelled, and takes nothing.
func TestBudgetCancel(t *testing.T) {
	b := newBudget(10)
	took, _ := b.acquire(context.Background(), 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := b.acquire(ctx, 5)
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("acquire after cancel: no error")
	}
	b.release(took)
	if b.used != 0 || len(b.waiters) != 0 {
		t.Errorf("after cancel: used %d, %d waiting", b.used, len(b.waiters))
	}
}

// TestSpillDates checks that dates survive the spill, the zero date
// included.
func TestSpillDates(t *testing.T) {
	s, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	dates := []caldate.Date{{}, caldate.Of(1, 1, 1), caldate.Of(2026, 11, 21), caldate.Of(9999, 12, 31)}
	for _, d := range dates {
		s.putDate(d)
		s.putString(d.String())
		if err := s.end(); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // read twice: a spill is read as often as needed
		r, err := s.reader()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range dates {
			if !r.next() {
				t.Fatal("spill ended early")
			}
			if got, text := r.date(), r.string(); got != want || text != want.String() {
				t.Errorf("read %v %q, want %v", got, text, want)
			}
		}
		if r.next() || r.err() != nil {
			t.Errorf("after the last: next true or error %v", r.err())
		}
	}
}

// TestRowBoundRecount: a return not hashed in this run (recovered after a
// crash) is counted again from its archived file, no further than the row
// limit; beyond it, or unreadable, it is charged as the largest return.
func TestRowBoundRecount(t *testing.T) {
	dir := t.TempDir()
	name := returns.Name{LA: "201", Kind: returns.Full, Format: returns.CSV}
	cases := []struct {
		name       string
		content    *string // nil: no file
		counted    *separators
		rows, size int64
	}{
		{"counted when hashed", nil, &separators{lines: 2, bytes: 30}, 3, 30},
		{"small file", ptr("header\nrow 1\n"), nil, 3, 13},
		{"at the row limit", ptr("h\n1\n2\n3\n"), nil, 4, -1},
		{"far over the row limit", ptr(strings.Repeat("row\n", 100_000)), nil, 4, -1},
		{"no file", nil, nil, 4, -1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &store.Message{SHA256: fmt.Sprint(i), ArchivePath: filepath.Join(dir, fmt.Sprintf("%d.csv", i))}
			if c.content != nil {
				if err := os.WriteFile(m.ArchivePath, []byte(*c.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			l := &laRun{cfg: &Config{MaxRows: 3, SizeLimit: 1 << 20}}
			if c.counted != nil {
				l.keepSeparators(m.SHA256, *c.counted)
			}
			rows, size := l.rowBound(m, name)
			if rows != c.rows || size != c.size {
				t.Errorf("rowBound: %d rows, %d bytes; want %d rows, %d bytes", rows, size, c.rows, c.size)
			}
		})
	}
}

func ptr(s string) *string { return &s }
