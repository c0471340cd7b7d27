package ingest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"cpis/batch/ingest"
	"cpis/store/caldate"
)

// TestWaitingBehindHeld: the DELTA that ingest leaves in the inbox behind
// a held FULL return is the one the listing names, and the listing is
// empty once the held return is released.
func TestWaitingBehindHeld(t *testing.T) {
	c := hubCase{name: "delta_waits_behind_held"}
	h := newHub(t, c, false)
	waiting := func() []ingest.Waiting {
		t.Helper()
		open, err := ingest.Open(h.db)
		if err != nil {
			t.Fatal(err)
		}
		w, err := ingest.WaitingBehindHeld(h.dir, open)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	if got := waiting(); len(got) != 0 {
		t.Fatalf("before any run: %+v waiting", got)
	}
	h.do(t.Context(), 1, step{send: []input{{file: "CPIS_841_FULL_20261120.csv", ctl: id2}, {file: "CPIS_841_DELTA_20261121.csv", ctl: id1}}})
	extract, _ := caldate.ParseISO("2026-11-21")
	want := []ingest.Waiting{{LA: "841", File: "CPIS_841_DELTA_20261121.csv", Extract: extract, Held: id2}}
	if diff := cmp.Diff(want, waiting(), cmpopts.EquateComparable(caldate.Date{})); diff != "" {
		t.Errorf("waiting behind the held return (-want +got):\n%s", diff)
	}
	// A second run takes nothing: the DELTA still waits.
	if res := h.do(t.Context(), 2, step{}); len(res) != 0 {
		t.Errorf("second run took %+v", res)
	}
	if diff := cmp.Diff(want, waiting(), cmpopts.EquateComparable(caldate.Date{})); diff != "" {
		t.Errorf("after a second run (-want +got):\n%s", diff)
	}
	h.do(t.Context(), 3, step{release: id2})
	if got := waiting(); len(got) != 0 {
		t.Errorf("after the release: %+v waiting", got)
	}
}
