package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/hubtest"
	"cpis/batch/returns"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

// TestUpsertsTellHeldPlans: the plans an evaluation puts say whether they
// replace a plan the LA holds, so that the commit rewrites only the
// records of those and leaves their LA index entries alone
// (store.Tx.ReplacePlans); an unchanged plan is not put at all.
func TestUpsertsTellHeldPlans(t *testing.T) {
	date := func(s string) caldate.Date {
		d, err := caldate.ParseISO(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	held := []plans.Plan{
		{Key: plans.Key{NHS: "9990276579", LA: "841", Type: plans.CPP}, Start: date("2026-03-02"), LocalID: "C-1"},
		{Key: plans.Key{NHS: "9993765570", LA: "841", Type: plans.LAC}, Start: date("2025-06-01"), LocalID: "L-1"},
	}
	h := hubtest.New(t, hubtest.Options{LAs: []string{"841"}, Plans: held})
	const file = "CPIS_841_DELTA_20261121_a.csv"
	data := "nhs_number,plan_type,start_date,end_date,due_date,local_id,family_name,given_name,date_of_birth,action\n" +
		"9990276579,CPP,2026-03-02,2026-11-20,,C-1,Hartwell,Maisie,2016-05-12,UPSERT\n" + // ends a held plan
		"9994812866,CPP,2026-11-01,,,C-2,Brackley,Amara,2018-12-06,\n" + // a new plan
		"9993765570,LAC,2025-06-01,,,L-1,Ashdown,Alfie,2016-03-05,UPSERT\n" // unchanged
	path := filepath.Join(t.TempDir(), file)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	name, err := returns.ParseName(file)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, time.November, 21, 2, 0, 0, 0, time.UTC)
	l := &laRun{cfg: &Config{DB: h.DB, Now: func() time.Time { return now }}, la: store.Authority{Code: "841"}, today: caldate.InLondon(now)}
	l.cfg.defaults()
	m := &store.Message{ArchivePath: path, File: file}
	in, err := l.read(context.Background(), m, name)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := l.evaluateParsed(m, name, in, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.close()
	type put struct {
		NHS  string
		Held bool
	}
	var got []put
	if err := eachPlan(ev.upserts, "841", func(p plans.Plan, held bool) error {
		got = append(got, put{p.NHS, held})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []put{{"9990276579", true}, {"9994812866", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plans put (-want +got):\n%s", diff)
	}
}
