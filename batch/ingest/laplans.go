package ingest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unsafe"

	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

// laPlans is what a return's evaluation reads of the plans its LA holds:
// the plan under a key, and (for a FULL return's withdrawals) all of them
// in key order.
type laPlans interface {
	find(k plans.Key) (plans.Plan, bool, error)
	each(fn func(plans.Plan) error) error
}

// storePlans reads the LA's plans from the store: a lookup per row.
type storePlans struct {
	tx *store.Tx
	la string
}

func (s storePlans) find(k plans.Key) (plans.Plan, bool, error) {
	if k.LA != s.la {
		return plans.Plan{}, false, nil // not a plan of the LA
	}
	return s.tx.Plan(k)
}

func (s storePlans) each(fn func(plans.Plan) error) error { return s.tx.PlansOfLA(s.la, fn) }

// heldPlans are the LA's plans read once, in key order, before a FULL
// return's rows are evaluated: the rows then find their plans by binary
// search instead of a store lookup each, and the withdrawals that follow
// walk the same list. A compact entry a plan.
type heldPlans struct {
	la    string
	plans []heldPlan
}

type heldPlan struct {
	key             planKey
	start, end, due caldate.Date
	localID         string
}

// heldSlack is how many more plans than its rows a FULL return's LA may
// hold for them to be read into memory: the return is charged for one
// held plan a row (heldPlanBytes), and an LA's plans that a FULL return
// replaces are about as many as its rows.
const heldSlack = 1024

// heldPlanBytes is what a return is charged a row for its LA's held
// plans: a held plan with a local_id of up to 16 bytes. Plans with longer
// ones take more, and are read from the store when they all would not fit
// (readPlans).
const heldPlanBytes = 64

// errTooMany stops reading the LA's plans into memory.
var errTooMany = errors.New("more plans than the return pays for")

// errUnusualKey stops reading the LA's plans into memory at a plan whose
// key the compact list cannot hold (a type other than CPP, LAC or UCPP).
var errUnusualKey = errors.New("a plan key the list cannot hold")

// readPlans returns the plans la holds: in memory when they take at most
// max bytes (what the return's memory charge covers) and every key can be
// held compactly, else read from the store as they are needed.
func readPlans(tx *store.Tx, la string, max int64) (laPlans, error) {
	// Room for as many plans as the charge allows (a plan with a short
	// local_id), so that the list never holds twice its size growing.
	h := &heldPlans{la: la, plans: make([]heldPlan, 0, max/heldPlanBytes)}
	var used int64
	err := tx.PlansOfLA(la, func(p plans.Plan) error {
		used += int64(unsafe.Sizeof(heldPlan{})) + int64(len(p.LocalID))
		if used > max {
			return errTooMany
		}
		n, err := strconv.ParseUint(p.NHS, 10, 64)
		if err != nil {
			return fmt.Errorf("plan %s: %w", p.Key, err)
		}
		typ := typeIndex(p.Type)
		if typ == 0 {
			// A key the list cannot give back as it is (its NHS number,
			// ten digits, always can): the store's plans are withdrawn
			// under their own keys.
			return errUnusualKey
		}
		h.plans = append(h.plans, heldPlan{key: planKey{n, typ}, start: p.Start, end: p.End, due: p.Due, localID: p.LocalID})
		return nil
	})
	switch {
	case errors.Is(err, errTooMany), errors.Is(err, errUnusualKey):
		return storePlans{tx, la}, nil
	case err != nil:
		return nil, err
	}
	// The LA index is in (NHS number, type) order within the LA, and the
	// type indexes follow the types' order: already sorted, but the
	// binary search must not depend on it.
	if !slices.IsSortedFunc(h.plans, func(a, b heldPlan) int { return comparePlanKeys(a.key, b.key) }) {
		slices.SortFunc(h.plans, func(a, b heldPlan) int { return comparePlanKeys(a.key, b.key) })
	}
	return h, nil
}

func (h *heldPlans) plan(e heldPlan) plans.Plan {
	return plans.Plan{Key: plans.Key{NHS: nhsString(e.key.nhs), LA: h.la, Type: typeAt(e.key.typ)}, LocalID: e.localID, Start: e.start, End: e.end, Due: e.due}
}

func (h *heldPlans) find(k plans.Key) (plans.Plan, bool, error) {
	n, err := strconv.ParseUint(k.NHS, 10, 64)
	if err != nil || len(k.NHS) != 10 || k.LA != h.la {
		return plans.Plan{}, false, nil // no plan of the LA has such a key
	}
	want := planKey{n, typeIndex(k.Type)}
	i, ok := slices.BinarySearchFunc(h.plans, want, func(e heldPlan, k planKey) int { return comparePlanKeys(e.key, k) })
	if !ok {
		return plans.Plan{}, false, nil
	}
	e := h.plans[i]
	return plans.Plan{Key: k, LocalID: e.localID, Start: e.start, End: e.end, Due: e.due}, true, nil
}

func (h *heldPlans) each(fn func(plans.Plan) error) error {
	for _, e := range h.plans {
		if err := fn(h.plan(e)); err != nil {
			return err
		}
	}
	return nil
}
