package report_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"cpis/store/demographics"

	"cpis/batch/hubtest"
	"cpis/batch/report"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

// BenchmarkReport250k makes the report of a national-size store: 250,000
// plans over the 153 LAs (some people with plans at two LAs), a
// demographics reference with superseded, sensitive and missing numbers, a
// week of returns with row outcomes and of lookups, and inactive-number
// findings. It reports the time per report (collect and write the
// workbook), the peak heap in use while it runs and the bytes allocated.
//
//	go test -run '^$' -bench Report250k -benchtime 1x ./batch/report
//
// Target on the CI machine: under 10 s and 300 MiB.
func BenchmarkReport250k(b *testing.B) {
	dir, db := nationalStore(b, 250_000)
	out := filepath.Join(b.TempDir(), "report.xlsx")

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapInuse
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	})
	n := 0
	for b.Loop() {
		r, err := report.Collect(report.Config{DataDir: dir, DB: db, Now: reportAt})
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.WriteXLSX(f); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Logf("report of the %s", r.Headline())
		}
		n++
	}
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	const mib = 1 << 20
	b.ReportMetric(float64(peak)/mib, "peak-heap-MiB")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/mib/float64(n), "alloc-MiB/op")
	if info, err := os.Stat(out); err == nil {
		b.ReportMetric(float64(info.Size())/mib, "xlsx-MiB")
	}
}

// nationalStore builds a data dir of n plans quickly: plans written
// directly with PutPlan on a store opened with NoSync (tests only).
func nationalStore(b *testing.B, n int) (string, *store.DB) {
	b.Helper()
	fix := hubtest.New(b, hubtest.Options{Created: created, NoDemographics: true})
	dir, db := fix.Dir, fix.DB
	var las []store.Authority
	if err := db.View(func(tx *store.Tx) (err error) { las, err = tx.Authorities(); return err }); err != nil {
		b.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	today := caldate.InLondon(reportAt)
	people := n * 24 / 25 // the other plans go to people at a second LA
	nhs := func(i int) string { return fmt.Sprintf("9%09d", i) }
	dobs := make([]caldate.Date, people)

	// Demographics: 1% superseded, 0.5% sensitive, 1% missing.
	if err := db.Update(func(tx *store.Tx) error {
		return tx.ReplaceDemographics(created, func(put func(demographics.Record) error) error {
			for i := range people {
				dobs[i] = today.AddDays(-rng.IntN(18 * 365))
				r := demographics.Record{NHS: nhs(i), FamilyName: "Family", GivenName: "Given", DOB: dobs[i]}
				switch x := rng.IntN(1000); {
				case x < 10:
					continue
				case x < 20:
					r.SupersededBy = nhs(rng.IntN(people))
				case x < 25:
					r.Sensitive = true
				}
				if err := put(r); err != nil {
					return err
				}
			}
			return nil
		})
	}); err != nil {
		b.Fatal(err)
	}

	// Plans, in batches of 25,000 per transaction.
	const batch = 25_000
	for start := 0; start < n; start += batch {
		if err := db.Update(func(tx *store.Tx) error {
			for i := start; i < min(start+batch, n); i++ {
				person := i
				la := las[i%len(las)].Code
				if i >= people { // a second plan, at another LA
					person = rng.IntN(people)
					la = las[(person+1+rng.IntN(len(las)-1))%len(las)].Code
				}
				p := plans.Plan{Key: plans.Key{NHS: nhs(person), LA: la, Type: plans.CPP},
					Start: today.AddDays(-rng.IntN(3 * 365)), LocalID: fmt.Sprintf("L-%07d", i)}
				switch x := rng.IntN(100); {
				case x < 35:
					p.Type = plans.LAC
				case x < 40:
					p.Type = plans.UCPP
					p.Due = today.AddDays(rng.IntN(300) - 60)
				}
				if rng.IntN(10) < 3 {
					p.End = p.Start.AddDays(rng.IntN(today.DaysSince(p.Start) + 1))
				}
				if i%1000 == 0 {
					p.LocalID = "=HYPERLINK(\"x\")"
				}
				if err := tx.PutPlan(p); err != nil {
					return err
				}
				if _, known, err := tx.Demographic(p.NHS); err != nil {
					return err
				} else if !known {
					if err := tx.MarkInactiveSent(p.Key, "UNKNOWN", created); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}

	// A week of daily returns from every LA, 10 row outcomes each, and
	// 10,000 alert lookups.
	if err := db.Update(func(tx *store.Tx) error {
		for _, a := range las {
			for d := 7; d >= 0; d-- {
				at := reportAt.Add(-time.Duration(d) * 24 * time.Hour)
				m := &store.Message{LA: a.Code, MailboxID: a.MailboxID, MessageID: fmt.Sprintf("%s000000_%s%03d", at.Format("20060102150405"), a.Code, d),
					File: fmt.Sprintf("CPIS_%s_DELTA_%s.csv", a.Code, caldate.InLondon(at).AddDays(-1).Compact()), Kind: "DELTA",
					Extract: caldate.InLondon(at).AddDays(-1), TakenAt: at, State: store.Responded, Applied: true, AppliedAt: at,
					Outcome: &store.Outcome{Code: codes.FilePartial, Counts: store.Counts{Read: 500, Applied: 490, Rejected: 10, Warnings: 2, Withdrawn: 3}}}
				if err := tx.NewMessage(m); err != nil {
					return err
				}
				rows := make([]store.RowOutcome, 10)
				for i := range rows {
					rows[i] = store.RowOutcome{Line: 2 + i*40, LocalID: fmt.Sprintf("R-%d", i), NHSNumber: nhs(rng.IntN(people)),
						Code: codes.RowUnknown, Detail: codes.P001, Text: "NHS number is not known to the demographics reference"}
				}
				if err := tx.PutOutcomes(m, rows); err != nil {
					return err
				}
			}
		}
		for range 10_000 {
			at := reportAt.Add(-time.Duration(rng.IntN(7*24*3600)) * time.Second)
			if err := tx.AddLookupAudit(store.LookupAudit{At: at, OrgCode: "RXX", NHSNumber: nhs(rng.IntN(people)),
				Via: "http", Outcome: "alert", Status: 200, Plans: 1, Notified: 1}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return dir, db
}
