package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cpis/batch/bench"
)

var start = time.Date(2026, 11, 23, 2, 30, 0, 0, time.UTC)

// TestRunSmall runs the whole night on a small generated set: every stage
// runs, returns ingest cleanly, and the second night is a small fraction.
func TestRunSmall(t *testing.T) {
	stages, err := bench.Run(context.Background(), bench.Options{Dir: t.TempDir(), Plans: 3000, Authorities: 6, Seed: 7, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range stages {
		names = append(names, s.Name)
		if s.Wall <= 0 || s.Rows <= 0 {
			t.Errorf("stage %s: wall %s, rows %d", s.Name, s.Wall, s.Rows)
		}
	}
	want := "generate|init + demographics import|night 1: ingest FULL|night 1: expire|night 1: notify|night 1: report|night 2: ingest DELTA (1%)"
	if got := strings.Join(names, "|"); got != want {
		t.Errorf("stages %q, want %q", got, want)
	}
	if delta, full := stages[6].Rows, stages[2].Rows; delta*20 > full {
		t.Errorf("second night has %d rows for %d plans: more than 5%%", delta, full)
	}
}

// BenchmarkNight runs the national night (250,000 plans, 153 LAs) and
// reports each stage's seconds and peak memory:
//
//	go test -run '^$' -bench Night -benchtime 1x ./batch/bench
func BenchmarkNight(b *testing.B) {
	for i := 0; i < b.N; i++ {
		stages, err := bench.Run(context.Background(), bench.Options{Dir: b.TempDir(), Seed: 1, Start: start})
		if err != nil {
			b.Fatal(err)
		}
		var night time.Duration
		for _, s := range stages {
			key := strings.NewReplacer(" ", "_", ":", "", "+", "", "(", "", ")", "", "%", "pct").Replace(s.Name)
			b.ReportMetric(s.Wall.Seconds(), key+"_s")
			b.ReportMetric(s.CPU.Seconds(), key+"_cpu_s")
			b.ReportMetric(float64(s.PeakRSS)/(1<<20), key+"_rss_MiB")
			if strings.HasPrefix(s.Name, "night 1:") {
				night += s.Wall
			}
		}
		b.ReportMetric(night.Seconds(), "night1_total_s")
	}
}
