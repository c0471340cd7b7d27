package ingest

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

// TestHeldPlanSize keeps the budget's charge per row for held plans
// honest: a held plan with a 16-byte local_id fits heldPlanBytes.
func TestHeldPlanSize(t *testing.T) {
	if got := unsafe.Sizeof(heldPlan{}) + 16; got > heldPlanBytes {
		t.Errorf("a held plan with a 16-byte local_id is %d bytes; the budget charges heldPlanBytes = %d", got, heldPlanBytes)
	}
}

// TestReadPlans: a FULL return's LA plans read into memory answer as the
// store does (each plan, every key asked, in the same order), and when
// they would take more than the return pays for, the store answers.
func TestReadPlans(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	start := caldate.Of(2026, time.January, 5)
	var held []plans.Plan
	for i, nhs := range []string{"9990000018", "9990000026", "9990000034"} {
		for j, typ := range plans.Types[:i+1] {
			held = append(held, plans.Plan{Key: plans.Key{NHS: nhs, LA: "201", Type: typ}, LocalID: fmt.Sprintf("P-%d-%d", i, j), Start: start.AddDays(i)})
		}
	}
	other := plans.Plan{Key: plans.Key{NHS: "9990000042", LA: "202", Type: plans.CPP}, LocalID: "OTHER", Start: start}
	if err := db.Update(func(tx *store.Tx) error { return tx.PutPlans(append(append([]plans.Plan(nil), held...), other)) }); err != nil {
		t.Fatal(err)
	}
	asked := []plans.Key{held[0].Key, held[4].Key, other.Key, {NHS: "9990000026", LA: "201", Type: plans.UCPP}, {NHS: "9990000059", LA: "201", Type: plans.CPP}, {NHS: "bad", LA: "201", Type: plans.CPP}}
	type found struct {
		Plan plans.Plan
		OK   bool
	}
	answers := func(p laPlans) (all []plans.Plan, got []found) {
		t.Helper()
		if err := p.each(func(pl plans.Plan) error { all = append(all, pl); return nil }); err != nil {
			t.Fatal(err)
		}
		for _, k := range asked {
			pl, ok, err := p.find(k)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, found{pl, ok})
		}
		return all, got
	}
	opt := cmp.AllowUnexported(caldate.Date{})
	if err := db.View(func(tx *store.Tx) error {
		wantAll, want := answers(storePlans{tx, "201"})
		if diff := cmp.Diff(held, wantAll, opt); diff != "" {
			t.Errorf("the store's plans of LA 201 (-want +got):\n%s", diff)
		}
		for _, c := range []struct {
			name   string
			max    int64
			inHeap bool
		}{
			{"room for all", 1 << 20, true},
			{"room for none", 10, false},
		} {
			p, err := readPlans(tx, "201", c.max)
			if err != nil {
				t.Fatal(err)
			}
			if _, inHeap := p.(*heldPlans); inHeap != c.inHeap {
				t.Errorf("%s: held in memory %v, want %v", c.name, inHeap, c.inHeap)
			}
			gotAll, got := answers(p)
			if diff := cmp.Diff(wantAll, gotAll, opt); diff != "" {
				t.Errorf("%s: each (-store +read):\n%s", c.name, diff)
			}
			if diff := cmp.Diff(want, got, opt); diff != "" {
				t.Errorf("%s: find (-store +read):\n%s", c.name, diff)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestReadPlansUnusualKeys: plans whose keys the compact list cannot hold
// as they are (a type that is not CPP, LAC or UCPP, as a damaged or older
// store may have) are read from the store, so that a FULL return withdraws
// them under their own keys as it did before the list.
func TestReadPlansUnusualKeys(t *testing.T) {
	start := caldate.Of(2026, time.January, 5)
	plan := func(nhs string, typ plans.Type, id string) plans.Plan {
		return plans.Plan{Key: plans.Key{NHS: nhs, LA: "201", Type: typ}, LocalID: id, Start: start}
	}
	for _, c := range []struct {
		name   string
		held   []plans.Plan
		inHeap bool
	}{
		{"usual keys", []plans.Plan{plan("9990000018", plans.CPP, "A"), plan("9990000026", plans.UCPP, "B")}, true},
		{"an unknown type", []plans.Plan{plan("9990000018", plans.CPP, "A"), plan("9990000018", "XYZ", "B")}, false},
		{"a type in lower case", []plans.Plan{plan("9990000026", "cpp", "B")}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := store.Open(t.TempDir(), store.Options{Create: true, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Update(func(tx *store.Tx) error {
				for _, p := range c.held {
					if err := tx.PutPlan(p); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			each := func(p laPlans) (all []plans.Plan) {
				t.Helper()
				if err := p.each(func(pl plans.Plan) error { all = append(all, pl); return nil }); err != nil {
					t.Fatal(err)
				}
				return all
			}
			opt := cmp.AllowUnexported(caldate.Date{})
			if err := db.View(func(tx *store.Tx) error {
				p, err := readPlans(tx, "201", 1<<20)
				if err != nil {
					return err
				}
				if _, inHeap := p.(*heldPlans); inHeap != c.inHeap {
					t.Errorf("held in memory %v, want %v", inHeap, c.inHeap)
				}
				if diff := cmp.Diff(each(storePlans{tx, "201"}), each(p), opt); diff != "" {
					t.Errorf("each (-store +read):\n%s", diff)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
