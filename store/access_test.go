package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

func TestPurgeHistories(t *testing.T) {
	db := open(t, t.TempDir())
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	start, _ := caldate.ParseISO("2026-01-05")
	// 9990276579 keeps a plan of another LA; 9993765570 has none left;
	// 9994812866 lost no plan.
	kept := plans.Key{NHS: "9990276579", LA: "202", Type: plans.CPP}
	gone := []plans.Key{
		{NHS: "9990276579", LA: "841", Type: plans.CPP},
		{NHS: "9993765570", LA: "841", Type: plans.LAC},
		{NHS: "9993765570", LA: "841", Type: plans.CPP},
	}
	untouched := plans.Key{NHS: "9994812866", LA: "841", Type: plans.CPP}
	if err := db.Update(func(tx *store.Tx) error {
		for _, k := range append([]plans.Key{kept, untouched}, gone...) {
			if err := tx.PutPlan(plans.Plan{Key: k, Start: start, LocalID: k.LA + "-" + k.NHS}); err != nil {
				return err
			}
			if err := tx.AddHistory(k.NHS, store.HistoryEntry{AccessedAt: at, OrgCode: "RX1", OrgName: "Hospital", Setting: "ED"}); err != nil {
				return err
			}
		}
		for _, k := range gone {
			if _, err := tx.DeletePlan(k); err != nil {
				return err
			}
		}
		return tx.PurgeHistories(gone)
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	if err := db.View(func(tx *store.Tx) error {
		for _, nhs := range []string{"9990276579", "9993765570", "9994812866"} {
			h, err := tx.History(nhs)
			if err != nil {
				return err
			}
			got[nhs] = len(h)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// AddHistory was called once per plan key: 2 for 9990276579 (kept and
	// one gone), 2 for 9993765570, 1 for 9994812866.
	want := map[string]int{"9990276579": 2, "9993765570": 0, "9994812866": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history entries left (-want +got):\n%s", diff)
	}
}
