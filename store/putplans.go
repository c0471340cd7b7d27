package store

import (
	"cmp"
	"encoding/binary"
	"slices"

	"cpis/store/plans"
)

// PutPlans adds or replaces many plans, as PutPlan each. The plans are
// written in the plans bucket's key order (NHS number, LA, type), then
// their LA index entries in the index's (LA, NHS number, type). bbolt
// splits a node only when the transaction commits: keys put in random
// order into a node that grows within one transaction move most of its
// entries at each insertion, and touch pages all over the tree; in key
// order they are mostly appended.
//
// The plans are sorted by the first 16 bytes of their keys as two
// integers (a key is 16 or 17 bytes), the whole keys compared only when
// those are equal: comparing strings field by field cost a quarter of a
// national night's single writer.
func (t *Tx) PutPlans(ps []plans.Plan) error { return t.putPlans(ps, false) }

// ReplacePlans is PutPlans for plans the caller found held: a held plan's
// LA index entry is there already, so only its record is rewritten, and
// the index entry is put only for a plan that turns out not to be held.
// A night's DELTA returns mostly end plans held: their index entries,
// clustered by LA, were a third of the pages the night wrote.
func (t *Tx) ReplacePlans(ps []plans.Plan) error { return t.putPlans(ps, true) }

// putPlans is PutPlans, or ReplacePlans when replace is set.
func (t *Tx) putPlans(ps []plans.Plan, replace bool) error {
	order := make([]keyOrder, len(ps))
	for i, p := range ps {
		order[i] = newKeyOrder(i, p.NHS, p.LA, string(p.Type))
	}
	slices.SortFunc(order, func(a, b keyOrder) int {
		return a.compare(b, func() int { return cmp.Compare(planKeyString(ps[a.i].Key), planKeyString(ps[b.i].Key)) })
	})
	index := order[:0] // the plans whose index entries are put, in the same array
	for _, o := range order {
		held, err := t.putPlanRecord(ps[o.i], replace)
		if err != nil {
			return err
		}
		if !held {
			index = append(index, o)
		}
	}
	for i := range index {
		p := ps[index[i].i]
		index[i] = newKeyOrder(index[i].i, p.LA, p.NHS, string(p.Type))
	}
	slices.SortFunc(index, func(a, b keyOrder) int {
		return a.compare(b, func() int { return cmp.Compare(laIndexKeyString(ps[a.i].Key), laIndexKeyString(ps[b.i].Key)) })
	})
	for _, o := range index {
		if err := t.putLAIndex(ps[o.i].Key); err != nil {
			return err
		}
	}
	return nil
}

// keyOrder is where a plan goes in a key order: the first 16 bytes of its
// key, big-endian, and its index.
type keyOrder struct {
	hi, lo uint64
	i      int
}

// newKeyOrder is the order of the key that parts make, joined, for the
// plan at index i.
func newKeyOrder(i int, parts ...string) keyOrder {
	var b [16]byte
	n := 0
	for _, p := range parts {
		n += copy(b[n:], p)
	}
	return keyOrder{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:]), i: i}
}

// compare orders a and b by their first 16 bytes, then by whole when
// those are equal (a key longer than 16 bytes, or a shorter one padded
// with zeros).
func (a keyOrder) compare(b keyOrder, whole func() int) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	if c := cmp.Compare(a.lo, b.lo); c != 0 {
		return c
	}
	return whole()
}

func planKeyString(k plans.Key) string    { return k.NHS + k.LA + string(k.Type) }
func laIndexKeyString(k plans.Key) string { return k.LA + k.NHS + string(k.Type) }
