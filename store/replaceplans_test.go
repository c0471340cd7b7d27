package store

import (
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

// TestReplacePlans: ReplacePlans holds plans as PutPlans does, LA index
// included, but leaves the index's pages as they are for plans that were
// held (bbolt writes a changed page elsewhere, so an untouched index keeps
// its root page), and still indexes a plan that turns out not to be held.
func TestReplacePlans(t *testing.T) {
	// Enough plans for the index to have pages of its own (a small
	// bucket is kept inside its parent's page).
	var held []plans.Plan
	for n := 9990000000; len(held) < 300; n++ {
		if nhs := strconv.Itoa(n); nhsnumber.Valid(nhs) {
			held = append(held, plans.Plan{Key: plans.Key{NHS: nhs, LA: "841", Type: plans.CPP}, Start: day("2025-01-01"), LocalID: "C-" + nhs})
		}
	}
	ended := held[7]
	ended.End = day("2026-11-30")
	unheld := plans.Plan{Key: plans.Key{NHS: "9990276579", LA: "202", Type: plans.LAC}, Start: day("2026-03-02"), LocalID: "L-1"}
	with := func(extra ...plans.Plan) []plans.Plan {
		ps := slices.Clone(held)
		ps[7] = ended
		return append(ps, extra...)
	}
	cases := []struct {
		name         string
		replace      []plans.Plan
		indexRewrite bool
		want         []plans.Plan // PlansOfLA 841, then 202
	}{
		{"held plans", []plans.Plan{ended}, false, with()},
		{"a plan not held after all", []plans.Plan{ended, unheld}, true, with(unheld)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(t.TempDir(), Options{Create: true, NoSync: true, Setup: func(tx *Tx) error {
				for _, la := range []string{"841", "202"} {
					if err := tx.PutAuthority(Authority{Code: la, Name: "LA " + la, EmergencyPhone: "0191 498 0123"}); err != nil {
						return err
					}
				}
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *Tx) error { return tx.PutPlans(held) }); err != nil {
				t.Fatal(err)
			}
			indexRoot := func() (root uint64) {
				if err := db.View(func(tx *Tx) error { root = uint64(tx.tx.Bucket(bPlansByLA).Root()); return nil }); err != nil {
					t.Fatal(err)
				}
				return root
			}
			before := indexRoot()
			if err := db.Update(func(tx *Tx) error { return tx.ReplacePlans(c.replace) }); err != nil {
				t.Fatal(err)
			}
			if rewritten := indexRoot() != before; rewritten != c.indexRewrite {
				t.Errorf("LA index rewritten: %v, want %v", rewritten, c.indexRewrite)
			}
			var got []plans.Plan
			if err := db.View(func(tx *Tx) error {
				for _, la := range []string{"841", "202"} {
					if err := tx.PlansOfLA(la, func(p plans.Plan) error { got = append(got, p); return nil }); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got, allowDate); diff != "" {
				t.Errorf("plans by LA (-want +got):\n%s", diff)
			}
			rep, err := db.Check()
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Errorf("store check: %v", rep)
			}
		})
	}
}
