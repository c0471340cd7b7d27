package httpapi

// BenchmarkLookupHTTP drives the HTTP API over loopback (net.Listen on
// 127.0.0.1:0 + Serve) with 64 concurrent keep-alive clients against a
// store of 250,000 plans (153 LAs, about 230,000 people, some with plans at
// two LAs), for a fixed duration per case, and reports lookups/s and p50/p99
// latency:
//
//   - unscheduled: setting ED, a new user on every request, so each one
//     adds a history entry and owes notifications, durable (fsync, group
//     commit) before it is answered;
//   - silent: setting GP, a silent read (audit grouped up to 100 ms).
//
// The store is built with NoSync, then reopened normally (synced): the
// durability of unscheduled accesses is what is measured. Run with
//
//	go test ./batch/access/httpapi -run '^$' -bench LookupHTTP -benchtime 1x
//
// and -lookup.duration 10s to measure longer (default 5s per case). Targets
// on a 2-core machine, load generator included: 2,000 unscheduled/s and
// 10,000 silent/s, p99 under 50 ms.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cpis/store/demographics"

	"cpis/batch/access"
	"cpis/batch/datadir"
	"cpis/batch/hubtest"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

var benchDuration = flag.Duration("lookup.duration", 5*time.Second, "how long BenchmarkLookupHTTP drives each case")

const (
	benchPlans   = 250_000
	benchClients = 64
	benchToken   = "cpis_bench-token-of-RXX01"
)

// benchNow is the clock of every lookup: a fixed instant (all accesses of
// a run share one second, which the 24-hour rule does not mind since every
// request has its own user).
var benchNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// benchNHS returns n valid NHS numbers from the 999 test range.
func benchNHS(n int) []string {
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		for c := 0; c <= 9; c++ {
			num := fmt.Sprintf("999%06d%d", i, c)
			if _, p := nhsnumber.Normalize(num); p == nhsnumber.OK {
				out = append(out, num)
				break
			}
		}
	}
	return out
}

// benchStore builds the store in dir (NoSync) and returns the NHS numbers
// that have a visible plan.
func benchStore(b *testing.B, dir string) []string {
	b.Helper()
	f, err := os.Open(hubtest.Testdata("authorities.csv"))
	if err != nil {
		b.Fatal(err)
	}
	las, err := datadir.ReadAuthorities(f, "authorities.csv")
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(dir, store.Options{Create: true, NoSync: true, Now: benchNow.AddDate(0, -1, 0)})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// One person in ten of the plan holders has a second plan at another LA.
	people := benchNHS(benchPlans * 10 / 11)
	rng := rand.New(rand.NewPCG(1, 2))
	start := caldate.InLondon(benchNow).AddDays(-200)
	var ps []plans.Plan
	for i, n := range people {
		la := las[rng.IntN(len(las))].Code
		typ := []plans.Type{plans.CPP, plans.LAC}[i%2]
		ps = append(ps, plans.Plan{Key: plans.Key{NHS: n, LA: la, Type: typ}, Start: start.AddDays(i % 150), LocalID: fmt.Sprintf("L-%d", i)})
		if i%10 == 0 && len(ps) < benchPlans {
			other := las[(rng.IntN(len(las)-1)+1+indexOf(las, la))%len(las)].Code
			ps = append(ps, plans.Plan{Key: plans.Key{NHS: n, LA: other, Type: plans.CPP}, Start: start, LocalID: fmt.Sprintf("C-%d", i)})
		}
	}
	ps = ps[:min(len(ps), benchPlans)]
	if err := db.Update(func(tx *store.Tx) error {
		for _, a := range las {
			if err := tx.PutAuthority(a); err != nil {
				return err
			}
		}
		if err := tx.ReplaceDemographics(benchNow, func(add func(demographics.Record) error) error {
			for i, n := range people {
				if err := add(demographics.Record{NHS: n, FamilyName: "Family", GivenName: "Given",
					DOB: caldate.InLondon(benchNow).AddDays(-365*5 - i%3000)}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.PutOrg(store.Org{ODS: "RXX01", Name: "Example Hospital Emergency Department",
			TokenHash: store.TokenHash(benchToken), AddedAt: benchNow})
	}); err != nil {
		b.Fatal(err)
	}
	for len(ps) > 0 {
		chunk := ps[:min(len(ps), 50_000)]
		ps = ps[len(chunk):]
		if err := db.Update(func(tx *store.Tx) error {
			for _, p := range chunk {
				if err := tx.PutPlan(p); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	var n int
	_ = db.View(func(tx *store.Tx) error { n = tx.CountPlans(); return nil })
	if n != benchPlans {
		b.Fatalf("store holds %d plans, want %d", n, benchPlans)
	}
	return people
}

func indexOf(las []store.Authority, code string) int {
	for i, a := range las {
		if a.Code == code {
			return i
		}
	}
	return 0
}

func BenchmarkLookupHTTP(b *testing.B) {
	dir := b.TempDir()
	t0 := time.Now()
	people := benchStore(b, dir)
	b.Logf("built a store of %d plans in %s", benchPlans, time.Since(t0).Round(time.Millisecond))

	// Measured on a normal, synced store.
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc, err := access.New(db, func() time.Time { return benchNow })
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, Handler(svc, db, nil), Options{Addr: l.Addr().String()}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Serve: %v", err)
		}
	}()
	url := "http://" + l.Addr().String() + "/v1/alerts/"

	var user atomic.Int64
	for _, c := range []struct{ name, setting string }{{"unscheduled", "ED"}, {"silent", "GP"}} {
		b.Run(c.name, func(b *testing.B) {
			benchDrive(b, url, people, c.setting, &user)
		})
	}
}

// benchDrive runs benchClients clients for benchDuration and reports.
func benchDrive(b *testing.B, url string, people []string, setting string, user *atomic.Int64) {
	tr := &http.Transport{MaxIdleConns: benchClients, MaxIdleConnsPerHost: benchClients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		failures atomic.Int64
		firstErr atomic.Value
	)
	b.ResetTimer()
	start := time.Now()
	deadline := start.Add(*benchDuration)
	for w := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			mine := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				nhs := people[rng.IntN(len(people))]
				req, _ := http.NewRequest(http.MethodGet, url+nhs, nil)
				req.Header.Set("Authorization", "Bearer "+benchToken)
				req.Header.Set("X-Setting", setting)
				req.Header.Set("X-User-Name", fmt.Sprintf("Clinician %d", user.Add(1)))
				req.Header.Set("X-User-Role", "Staff Nurse")
				req.Header.Set("X-RBAC", "B0264,B0107")
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				d := time.Since(t)
				if err != nil || resp.StatusCode != http.StatusOK || !benchAlert(body) {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d: %.200s (%v)", resp.StatusCode, body, err))
					continue
				}
				mine = append(mine, d)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d lookups failed; first: %v", n, firstErr.Load())
	}
	if len(lat) == 0 {
		b.Fatal("no lookup answered")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	rate := float64(len(lat)) / elapsed.Seconds()
	b.ReportMetric(rate, "lookups/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(len(lat)), "ns/op")
	b.Logf("%s: %d lookups in %s: %.0f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms", setting, len(lat),
		elapsed.Round(time.Millisecond), rate, pct(0.50), pct(0.99), float64(lat[len(lat)-1].Microseconds())/1000)
}

// benchAlert reports whether an answer body says alert true (indented or not).
func benchAlert(body []byte) bool {
	return bytes.Contains(body, []byte(`"alert": true`)) || bytes.Contains(body, []byte(`"alert":true`))
}
