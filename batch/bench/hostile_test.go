package bench_test

import (
	"context"
	"testing"

	"cpis/batch/bench"
)

// BenchmarkHostileNight ingests the night that once stopped the hub: one
// LA's gzipped FULL return of 499,999 rows with every free-text cell at
// its widest, and eight LAs each sending one such row 499,999 times, all
// in one run. It reports the peak resident memory of the run (the target
// is at most 512 MiB) and rows per second:
//
//	go test -run '^$' -bench HostileNight -benchtime 1x ./batch/bench
func BenchmarkHostileNight(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		night, err := bench.MakeHostileNight(bench.HostileOptions{Dir: b.TempDir(), Start: start})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := bench.RunHostileNight(context.Background(), night)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.PeakRSS)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(st.PeakHeap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(st.RowsPerSecond(), "rows/s")
		b.ReportMetric(st.Wall.Seconds(), "s")
		b.ReportMetric(st.CPU.Seconds(), "cpu-s")
		b.ReportMetric(float64(night.Bytes)/(1<<20), "stored-MiB")
	}
}

// TestHostileNightSmall runs the hostile night's shapes at a small size:
// the wide return is applied with a warning on every row, the identical
// ones are refused, and the run measures what it did.
func TestHostileNightSmall(t *testing.T) {
	night, err := bench.MakeHostileNight(bench.HostileOptions{Dir: t.TempDir(), Start: start, Rows: 300, Identical: 2})
	if err != nil {
		t.Fatal(err)
	}
	if night.Rows != 900 {
		t.Errorf("%d rows sent, want 900", night.Rows)
	}
	st, err := bench.RunHostileNight(context.Background(), night)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 900 || st.Wall <= 0 || st.CPU < 0 {
		t.Errorf("stage %+v", st)
	}
}
