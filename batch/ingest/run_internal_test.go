package ingest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"cpis/batch/generate"
	"cpis/batch/hubtest"
	"cpis/mesh"
	"cpis/store/caldate"
	"cpis/store/codes"
)

// TestRunWaitsNeverCircle: a run with room for one return at a time in its
// memory budget and fewer LAs in flight than it has finishes every return,
// with nothing but the LAs stopping to end the writer's hold on plans: an
// LA waiting for memory that a held decision keeps must not count as at
// work (applier.waiting), nor an LA not started yet.
func TestRunWaitsNeverCircle(t *testing.T) {
	defer func(d time.Duration) { holdFor = d }(holdFor)
	holdFor = time.Hour
	gen := t.TempDir()
	extract := caldate.Of(2026, time.November, 20)
	res, err := generate.Generate(generate.Options{Out: gen, Plans: 800, Authorities: 8, Seed: 3, Extract: extract, Accesses: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.New(t, hubtest.Options{
		Authorities:  &hubtest.File{Name: "authorities.csv", Data: hubtest.ReadFile(t, filepath.Join(gen, generate.AuthoritiesFile))},
		Demographics: &hubtest.File{Name: "demographics.csv", Data: hubtest.ReadFile(t, filepath.Join(gen, generate.DemographicsFile))},
	})
	sent := 0
	for _, r := range res.Returns {
		for _, rel := range []string{r.Full, r.Delta} {
			sent++
			h.Send(t, filepath.Join(gen, filepath.FromSlash(rel)), mesh.NewMessageID(time.Date(2026, time.November, 21, 1, 0, sent, 0, time.UTC)))
		}
	}
	now := time.Date(2026, time.November, 21, 2, 0, 0, 0, time.UTC)
	done := make(chan *Report, 1)
	go func() {
		rep, err := Run(context.Background(), Config{DataDir: h.Dir, DB: h.DB, Now: func() time.Time { return now },
			RealNow: func() time.Time { return now.Add(time.Hour) }, Parallel: 3, MemoryBudget: 1})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	select {
	case rep := <-done:
		if rep == nil {
			return
		}
		answered := 0
		for _, r := range rep.Results {
			if r.Code != codes.FileApplied && r.Code != codes.FilePartial {
				t.Errorf("%s %s: %s %s", r.LA, r.File, r.Code, r.Detail)
			}
			answered++
		}
		if answered != sent || len(rep.Failed) > 0 {
			t.Errorf("%d of %d returns answered; failed LAs: %v", answered, sent, rep.Failed)
		}
	case <-time.After(time.Minute):
		t.Fatal("the run did not finish: its waits circle")
	}
}
