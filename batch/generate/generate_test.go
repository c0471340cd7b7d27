package generate

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cpis/store/demographics"

	"cpis/batch/datadir"
	"cpis/batch/hubtest"
	"cpis/batch/ingest"
	"cpis/batch/pds"
	"cpis/batch/returns"
	"cpis/batch/sample"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

var testExtract = caldate.Of(2026, time.November, 21)

func run(t *testing.T, opts Options) *Result {
	t.Helper()
	if opts.Out == "" {
		opts.Out = filepath.Join(t.TempDir(), "set")
	}
	if opts.Extract.IsZero() {
		opts.Extract = testExtract
	}
	res, err := Generate(opts)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", opts, err)
	}
	return res
}

// tree returns every file under dir by slash path.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	opts := Options{Authorities: 12, Plans: 3000, ErrorRate: 0.05, Seed: 7}
	a := run(t, opts)
	b := run(t, opts)
	ta, tb := tree(t, a.Dir), tree(t, b.Dir)
	if len(ta) != 3+2*12 {
		t.Fatalf("%d files, want %d", len(ta), 3+2*12)
	}
	for name, data := range ta {
		if !bytes.Equal(data, tb[name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
	if len(ta) != len(tb) {
		t.Errorf("%d files, then %d", len(ta), len(tb))
	}
	opts.Seed = 8
	tc := tree(t, run(t, opts).Dir)
	for _, name := range []string{DemographicsFile, AccessesFile, a.Returns[0].Full} {
		if bytes.Equal(ta[name], tc[name]) {
			t.Errorf("%s is the same with seeds 7 and 8", name)
		}
	}
	if !bytes.Equal(ta[AuthoritiesFile], tc[AuthoritiesFile]) {
		t.Errorf("authorities differ between seeds")
	}
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Out: "", Extract: testExtract},
		{Out: dir + "/a"},
		{Out: dir + "/b", Extract: testExtract, Authorities: 154},
		{Out: dir + "/c", Extract: testExtract, Plans: -1},
		{Out: dir + "/d", Extract: testExtract, Plans: MaxPlans + 1},
		{Out: dir + "/e", Extract: testExtract, ErrorRate: 1.5},
		{Out: dir, Extract: testExtract, Plans: 10}, // not empty
	} {
		if _, err := Generate(o); err == nil {
			t.Errorf("Generate(%+v) succeeded", o)
		}
	}
}

func TestSizes(t *testing.T) {
	las, err := sampleAuthorities(153)
	if err != nil {
		t.Fatal(err)
	}
	counts := allocate(DefaultPlans, las)
	sum, top := 0, 0
	for i, c := range counts {
		sum += c
		top = max(top, c)
		if c < 1 {
			t.Errorf("LA %s gets %d plans", las[i].code, c)
		}
	}
	if sum != DefaultPlans {
		t.Errorf("allocated %d plans, want %d", sum, DefaultPlans)
	}
	mean := float64(sum) / 153
	if r := float64(top) / mean; r < 4.9 || r > 5.1 {
		t.Errorf("largest LA %d plans, %.2f times the mean %.0f, want about 5", top, r, mean)
	}
	t.Logf("national: mean %.0f, largest %d", mean, top)
	// A subset shares the plans among its LAs exactly.
	if c := allocate(7, las[:5]); c[0]+c[1]+c[2]+c[3]+c[4] != 7 || slices.Contains(c, 0) {
		t.Errorf("allocate(7, 5 LAs) = %v", c)
	}
}

// set is a generated data set read back.
type set struct {
	res   *Result
	demog map[string]demographics.Record
	full  map[string][]returns.Checked // by LA
	delta map[string][]returns.Checked
	names map[string][2]returns.Name
}

func (s *set) look(nhs string) (demographics.Record, bool) {
	r, ok := s.demog[nhs]
	return r, ok
}

// readSet reads and checks every file of a generated set: demographics
// with pds.Read, returns with returns.NewReader and returns.Check.
func readSet(t *testing.T, res *Result) *set {
	t.Helper()
	s := &set{res: res, demog: map[string]demographics.Record{}, full: map[string][]returns.Checked{},
		delta: map[string][]returns.Checked{}, names: map[string][2]returns.Name{}}
	f, err := os.Open(filepath.Join(res.Dir, DemographicsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pds.Read(f, DemographicsFile, func(r demographics.Record) error {
		if !strings.HasPrefix(r.NHS, "999") {
			t.Errorf("demographics number %s is not in the 999 range", r.NHS)
		}
		s.demog[r.NHS] = r
		return nil
	}); err != nil {
		t.Fatalf("demographics: %v", err)
	}
	if len(s.demog) != res.People {
		t.Errorf("%d people, Result says %d", len(s.demog), res.People)
	}
	for _, lr := range res.Returns {
		var ns [2]returns.Name
		for i, rel := range []string{lr.Full, lr.Delta} {
			n, err := returns.ParseName(filepath.Base(rel))
			if err != nil {
				t.Fatal(err)
			}
			ns[i] = n
			if n.LA != lr.LA {
				t.Errorf("%s is not LA %s's", rel, lr.LA)
			}
			data, err := os.ReadFile(filepath.Join(res.Dir, filepath.FromSlash(rel)))
			if err != nil {
				t.Fatal(err)
			}
			r, err := returns.NewReader(bytes.NewReader(data), n)
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			var rows []returns.Checked
			for {
				row, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", rel, err)
				}
				rows = append(rows, returns.Check(row, n))
			}
			if i == 0 {
				s.full[lr.LA] = rows
				if len(rows) != lr.FullRows {
					t.Errorf("%s: %d rows, Result says %d", rel, len(rows), lr.FullRows)
				}
			} else {
				s.delta[lr.LA] = rows
				if len(rows) != lr.DeltaRows {
					t.Errorf("%s: %d rows, Result says %d", rel, len(rows), lr.DeltaRows)
				}
			}
		}
		if ns[0].Kind != returns.Full || ns[1].Kind != returns.Delta || ns[0].Extract != res.Extract || ns[1].Extract != res.Extract.AddDays(1) {
			t.Errorf("LA %s: names %+v", lr.LA, ns)
		}
		s.names[lr.LA] = ns
	}
	return s
}

func TestCleanSet(t *testing.T) {
	const nLA, nPlans = 20, 10_000
	res := run(t, Options{Authorities: nLA, Plans: nPlans, Seed: 3})
	s := readSet(t, res)
	if res.Plans != nPlans || res.Authorities != nLA || len(res.Returns) != nLA || res.ErrorRows != 0 {
		t.Fatalf("Result %+v", res)
	}

	sum, xmlCount := 0, 0
	types := map[plans.Type]int{}
	delta := res.Extract.AddDays(1)
	for _, lr := range res.Returns {
		if lr.Format == returns.XML {
			xmlCount++
		}
		held := map[plans.Key]bool{}
		for _, rows := range [][]returns.Checked{s.full[lr.LA], s.delta[lr.LA]} {
			seen := map[plans.Key]bool{}
			for _, c := range rows {
				if c.Reject != nil || len(c.Warnings) > 0 {
					t.Fatalf("LA %s line %d: %+v %+v (row %+v)", lr.LA, c.Row.Line, c.Reject, c.Warnings, c.Row)
				}
				if !strings.HasPrefix(c.NHS, "999") || !nhsnumber.Valid(c.NHS) {
					t.Errorf("LA %s: NHS number %q", lr.LA, c.Row.NHSNumber)
				}
				if seen[c.Key] {
					t.Errorf("LA %s: %v twice in one return", lr.LA, c.Key)
				}
				seen[c.Key] = true
				if c.Action == returns.Delete {
					if !held[c.Key] {
						t.Errorf("LA %s: DELETE of %v, not in the FULL", lr.LA, c.Key)
					}
					continue
				}
				rec, ok := s.demog[c.NHS]
				out := pds.Reconcile(c.NHS, pds.Fields{FamilyName: c.Row.FamilyName, GivenName: c.Row.GivenName, DOB: c.DOB}, s.look)
				if !ok || out.Reject != nil || len(out.Warnings) > 0 || c.DOB != rec.DOB {
					t.Fatalf("LA %s: %s reconciles as %+v", lr.LA, c.NHS, out)
				}
				if !c.Plan.VisibleOn(res.Extract, rec.DOB) || !c.Plan.VisibleOn(delta, rec.DOB) {
					t.Errorf("LA %s: %+v not visible", lr.LA, c.Plan)
				}
				if c.Plan.Start.Before(rec.DOB) && c.Plan.Type != plans.UCPP {
					t.Errorf("LA %s: %+v starts before the birth %s", lr.LA, c.Plan, rec.DOB)
				}
				switch c.Plan.Type {
				case plans.UCPP:
					if !c.Plan.Due.After(delta) {
						t.Errorf("LA %s: UCPP due %s", lr.LA, c.Plan.Due)
					}
					if age := res.Extract.DaysSince(rec.DOB) / 365; age < 16 || age > 45 {
						t.Errorf("LA %s: mother aged %d", lr.LA, age)
					}
				default:
					if !rec.DOB.AddYears(18).After(delta) {
						t.Errorf("LA %s: child born %s is 18 on %s", lr.LA, rec.DOB, delta)
					}
				}
			}
			if len(held) == 0 {
				for k := range seen {
					held[k] = true
				}
				sum += len(rows)
				for _, c := range rows {
					types[c.Key.Type]++
				}
			}
		}
		if d := len(s.delta[lr.LA]); d < 1 || d > lr.FullRows/100+1 {
			t.Errorf("LA %s: %d DELTA rows for %d FULL rows", lr.LA, d, lr.FullRows)
		}
	}
	if sum != nPlans {
		t.Errorf("FULL returns hold %d rows, want %d", sum, nPlans)
	}
	if xmlCount != nLA/5 {
		t.Errorf("%d XML returns of %d", xmlCount, nLA)
	}
	for typ, want := range map[plans.Type]float64{plans.LAC: 0.45, plans.CPP: 0.50, plans.UCPP: 0.05} {
		if got := float64(types[typ]) / nPlans; got < want-0.02 || got > want+0.02 {
			t.Errorf("%s: %.3f of plans, want about %.2f", typ, got, want)
		}
	}

	// Authorities: the first N of the sample, same header.
	got, err := os.ReadFile(filepath.Join(res.Dir, AuthoritiesFile))
	if err != nil {
		t.Fatal(err)
	}
	las, err := datadir.ReadAuthorities(bytes.NewReader(got), AuthoritiesFile)
	if err != nil || len(las) != nLA {
		t.Fatalf("authorities: %d, %v", len(las), err)
	}
	if want := sample.Authorities(); !bytes.HasPrefix(want, got) {
		t.Errorf("authorities.csv is not the start of the sample file")
	}

	// Accesses: known people, settings of store/domain.md.
	af, err := os.Open(filepath.Join(res.Dir, AccessesFile))
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	recs, err := csv.NewReader(af).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != AccessesHeader || len(recs)-1 != res.Accesses || res.Accesses != nPlans/5 {
		t.Fatalf("accesses: header %v, %d rows, Result %d", recs[0], len(recs)-1, res.Accesses)
	}
	valid := map[string]bool{}
	for _, st := range settings {
		valid[st.code] = true
	}
	hasPlan := map[string]bool{}
	for _, rows := range s.full {
		for _, c := range rows {
			hasPlan[c.NHS] = true
		}
	}
	withPlan := 0
	for _, r := range recs[1:] {
		if _, ok := s.demog[r[0]]; !ok || !valid[r[3]] || r[1] == "" || r[2] == "" || r[4] == "" || r[5] == "" {
			t.Fatalf("access %v", r)
		}
		if hasPlan[r[0]] {
			withPlan++
		}
	}
	if share := float64(withPlan) / float64(res.Accesses); share < 0.8 || share > 0.9 {
		t.Errorf("%.2f of lookups are of people with a plan, want about 0.85", share)
	}
}

func TestErrorCodes(t *testing.T) {
	const rate = 0.1
	res := run(t, Options{Authorities: 20, Plans: 10_000, ErrorRate: rate, Seed: 5})
	s := readSet(t, res)
	found := map[codes.Detail]int{}
	rowsWithCode, rows := 0, 0
	for _, lr := range res.Returns {
		stored := map[plans.Key]bool{}
		for i, checked := range [][]returns.Checked{s.full[lr.LA], s.delta[lr.LA]} {
			n := s.names[lr.LA][i]
			details := evaluate(checked, n, s, stored)
			for _, ds := range details {
				rows++
				if len(ds) > 0 {
					rowsWithCode++
				}
				for _, d := range ds {
					found[d]++
				}
			}
		}
	}
	all := []codes.Detail{codes.R001, codes.R002, codes.R003, codes.R004, codes.R005, codes.R006, codes.R007,
		codes.R008, codes.R009, codes.R010, codes.R011, codes.R012, codes.R013,
		codes.P001, codes.P002, codes.P003, codes.P004, codes.P005, codes.P006, codes.W001, codes.W002, codes.W003}
	for _, d := range all {
		if found[d] == 0 {
			t.Errorf("no row with %s", d)
		}
	}
	if len(found) != len(all) {
		t.Errorf("codes found: %v", found)
	}
	// R009 rejects both rows of a pair: a little over the rate.
	if share := float64(rowsWithCode) / float64(rows); share < rate*0.85 || share > rate*1.25 {
		t.Errorf("%.3f of rows carry a code, want about %.2f", share, rate)
	}
	if want := float64(rows) * rate; float64(res.ErrorRows) < want*0.85 || float64(res.ErrorRows) > want*1.15 {
		t.Errorf("Result.ErrorRows %d of %d rows", res.ErrorRows, rows)
	}
	t.Logf("%d rows, %d with a code: %v", rows, rowsWithCode, found)
}

// evaluate gives each row's detail codes as ingest would (batch/returns/returns.md,
// "Checks, in order"): Check, duplicates, demographics, visibility, and
// for DELETE whether the plan is held; stored is what the LA holds, updated.
func evaluate(checked []returns.Checked, n returns.Name, s *set, stored map[plans.Key]bool) [][]codes.Detail {
	out := make([][]codes.Detail, len(checked))
	count := map[plans.Key]int{}
	for _, c := range checked {
		if c.Reject == nil {
			count[c.Key]++
		}
	}
	named := map[plans.Key]bool{}
	for i, c := range checked {
		switch {
		case c.Reject != nil:
			out[i] = []codes.Detail{c.Reject.Detail}
			continue
		case count[c.Key] > 1:
			out[i] = []codes.Detail{codes.R009}
			continue
		}
		for _, w := range c.Warnings {
			out[i] = append(out[i], w.Detail)
		}
		if c.Action == returns.Delete {
			if !stored[c.Key] {
				out[i] = append(out[i], codes.W003)
			}
			delete(stored, c.Key)
			continue
		}
		res := pds.Reconcile(c.NHS, pds.Fields{FamilyName: c.Row.FamilyName, GivenName: c.Row.GivenName, DOB: c.DOB}, s.look)
		if res.Reject != nil {
			out[i] = []codes.Detail{res.Reject.Detail}
			continue
		}
		for _, w := range res.Warnings {
			out[i] = append(out[i], w.Detail)
		}
		named[c.Key] = true
		if c.Plan.VisibleOn(n.Extract, s.demog[c.NHS].DOB) {
			stored[c.Key] = true
		} else {
			out[i] = append(out[i], codes.W001)
			delete(stored, c.Key)
		}
	}
	return out
}

// TestIngest sends a generated set through the real ingest: every return
// of a clean set is CPF02; with errors every row detail code comes back in
// the responses.
func TestIngest(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
	}{{"clean", 0}, {"errors", 0.1}} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, Options{Authorities: 5, Plans: 2000, ErrorRate: tc.rate, Seed: 11})
			now := time.Date(2026, time.November, 22, 2, 30, 0, 0, time.UTC)
			fix := hubtest.New(t, hubtest.Options{
				Authorities:  &hubtest.File{Name: AuthoritiesFile, Data: hubtest.ReadFile(t, filepath.Join(res.Dir, AuthoritiesFile))},
				Demographics: &hubtest.File{Name: DemographicsFile, Data: hubtest.ReadFile(t, filepath.Join(res.Dir, DemographicsFile))},
				Created:      now,
			})
			dataDir, db := fix.Dir, fix.DB
			for _, lr := range res.Returns {
				for _, rel := range []string{lr.Full, lr.Delta} {
					fix.Send(t, filepath.Join(res.Dir, filepath.FromSlash(rel)), mesh.NewMessageID(now))
				}
			}
			rep, err := ingest.Run(context.Background(), ingest.Config{DataDir: dataDir, DB: db,
				Now: func() time.Time { return now }})
			if err != nil || len(rep.Failed) > 0 {
				t.Fatalf("ingest: %v %v", err, rep.Failed)
			}
			if len(rep.Results) != 2*len(res.Returns) {
				t.Fatalf("%d results for %d returns", len(rep.Results), 2*len(res.Returns))
			}
			rowsOf := map[string]int{}
			for _, lr := range res.Returns {
				rowsOf[filepath.Base(lr.Full)] = lr.FullRows
				rowsOf[filepath.Base(lr.Delta)] = lr.DeltaRows
			}
			for _, r := range rep.Results {
				if r.Read != rowsOf[r.File] {
					t.Errorf("%s: read=%d, want %d", r.File, r.Read, rowsOf[r.File])
				}
				if tc.rate > 0 {
					continue
				}
				if r.Code != codes.FileApplied || r.Applied != r.Read || r.Warnings != 0 {
					t.Errorf("%s: %s %s %+v, want CPF02 with every row applied and no warning", r.File, r.Code, r.Detail, r.Counts)
				}
				if strings.Contains(r.File, "_FULL_") && r.Withdrawn != 0 {
					t.Errorf("%s: withdrawn=%d", r.File, r.Withdrawn)
				}
			}
			if tc.rate == 0 {
				return
			}
			found := map[string]bool{}
			for _, lr := range res.Returns {
				out := local.Open(dataDir, mesh.MailboxID(lr.LA)).OutboxDir()
				ents, err := os.ReadDir(out)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range ents {
					if !strings.Contains(e.Name(), "_RESPONSE_") || !strings.HasSuffix(e.Name(), ".csv") {
						continue
					}
					b, err := os.ReadFile(filepath.Join(out, e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range recs[2:] { // header, summary
						found[r[5]] = true
					}
				}
			}
			var missing []string
			for _, d := range []string{"R001", "R002", "R003", "R004", "R005", "R006", "R007", "R008", "R009", "R010", "R011", "R012", "R013",
				"P001", "P002", "P003", "P004", "P005", "P006", "W001", "W002", "W003"} {
				if !found[d] {
					missing = append(missing, d)
				}
			}
			if len(missing) > 0 {
				t.Errorf("responses carry no %v (found %v)", missing, found)
			}
		})
	}
}

func TestNumberPool(t *testing.T) {
	res := run(t, Options{Authorities: 3, Plans: 300, Seed: 1})
	s := readSet(t, res)
	for nhs := range s.demog {
		if n, p := nhsnumber.Normalize(nhs); p != nhsnumber.OK || n != nhs || !strings.HasPrefix(nhs, "999") {
			t.Errorf("%s: %q", nhs, p)
		}
	}
	// Every valid 999 number exactly once.
	seen := map[string]bool{}
	var pool numberPool
	pool.a, pool.b = 100_003, 12_345
	for {
		nhs, _, ok := pool.next()
		if !ok {
			break
		}
		if seen[nhs] || !nhsnumber.Valid(nhs) {
			t.Fatalf("pool gave %s twice or invalid", nhs)
		}
		seen[nhs] = true
	}
	valid := 0
	for mid := range uint32(1_000_000) {
		if _, ok := nhsOf(mid); ok {
			valid++
		}
	}
	if len(seen) != valid {
		t.Errorf("pool gave %d numbers of %d", len(seen), valid)
	}
	t.Logf("%d valid numbers in the 999 range", valid)
}
