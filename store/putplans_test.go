package store_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

// TestPutPlans: plans put together in any order are held as PutPlan holds
// them (records and LA index), replacing plans already held, and a
// malformed key fails the whole transaction.
func TestPutPlans(t *testing.T) {
	db := open(t, t.TempDir())
	held := plans.Plan{Key: plans.Key{NHS: "9990276579", LA: "841", Type: plans.CPP}, Start: date("2025-01-01"), LocalID: "OLD"}
	if err := db.Update(func(tx *store.Tx) error { return tx.PutPlan(held) }); err != nil {
		t.Fatal(err)
	}
	ps := []plans.Plan{
		{Key: plans.Key{NHS: "9990276579", LA: "841", Type: plans.CPP}, Start: date("2026-03-02"), LocalID: "C-1"},
		{Key: plans.Key{NHS: "9990275831", LA: "841", Type: plans.UCPP}, Start: date("2026-05-01"), Due: date("2026-12-01"), LocalID: "U-1"},
		{Key: plans.Key{NHS: "9990276579", LA: "202", Type: plans.LAC}, Start: date("2025-01-01"), End: date("2026-01-01"), LocalID: "L-1"},
		{Key: plans.Key{NHS: "9990275831", LA: "202", Type: plans.CPP}, Start: date("2026-02-01"), LocalID: "C-2"},
	}
	want := append([]plans.Plan(nil), ps...)
	if err := db.Update(func(tx *store.Tx) error { return tx.PutPlans(ps) }); err != nil {
		t.Fatal(err)
	}
	var of202, of841, all []plans.Plan
	if err := db.View(func(tx *store.Tx) error {
		if err := tx.PlansOfLA("202", func(p plans.Plan) error { of202 = append(of202, p); return nil }); err != nil {
			return err
		}
		if err := tx.PlansOfLA("841", func(p plans.Plan) error { of841 = append(of841, p); return nil }); err != nil {
			return err
		}
		return tx.AllPlans(func(p plans.Plan) error { all = append(all, p); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	opt := cmp.AllowUnexported(caldate.Date{})
	for _, c := range []struct {
		name      string
		got, want []plans.Plan
	}{
		{"plans of 202", of202, []plans.Plan{want[3], want[2]}},
		{"plans of 841", of841, []plans.Plan{want[1], want[0]}},
		{"all plans", all, []plans.Plan{want[3], want[1], want[2], want[0]}},
	} {
		if diff := cmp.Diff(c.want, c.got, opt); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}

	bad := []plans.Plan{{Key: plans.Key{NHS: "9990000018", LA: "841", Type: plans.CPP}, LocalID: "A"}, {Key: plans.Key{NHS: "99", LA: "841", Type: plans.CPP}}}
	if err := db.Update(func(tx *store.Tx) error { return tx.PutPlans(bad) }); err == nil {
		t.Error("PutPlans with a malformed key: no error")
	}
	if err := db.View(func(tx *store.Tx) error {
		if _, ok, _ := tx.Plan(bad[0].Key); ok {
			t.Error("a plan of the failed PutPlans is held")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
