package store

import (
	"cmp"
	"slices"

	"cpis/store/plans"
)

// PutPlans adds or replaces many plans, as PutPlan each, reordering ps.
// The plans are written in the plans bucket's key order (NHS number, LA,
// type), then their LA index entries in the index's (LA, NHS number,
// type). bbolt splits a node only when the transaction commits: keys put
// in random order into a node that grows within one transaction move most
// of its entries at each insertion, and touch pages all over the tree; in
// key order they are mostly appended.
func (t *Tx) PutPlans(ps []plans.Plan) error {
	slices.SortFunc(ps, func(a, b plans.Plan) int {
		return cmp.Or(cmp.Compare(a.NHS, b.NHS), cmp.Compare(a.LA, b.LA), cmp.Compare(a.Type, b.Type))
	})
	for _, p := range ps {
		if err := t.putPlanRecord(p); err != nil {
			return err
		}
	}
	slices.SortFunc(ps, func(a, b plans.Plan) int {
		return cmp.Or(cmp.Compare(a.LA, b.LA), cmp.Compare(a.NHS, b.NHS), cmp.Compare(a.Type, b.Type))
	})
	for _, p := range ps {
		if err := t.putLAIndex(p.Key); err != nil {
			return err
		}
	}
	return nil
}
