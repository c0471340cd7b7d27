package store

import (
	"bytes"
	"errors"
	"fmt"

	"cpis/store/plans"
)

func planKey(k plans.Key) []byte { return appendPlanKey(make([]byte, 0, planKeyMax), k) }

func laIndexKey(k plans.Key) []byte { return appendLAIndexKey(make([]byte, 0, planKeyMax), k) }

// laIndexFill is how full bbolt makes the pages of plans_by_la when it
// splits them at commit. An LA's plans arrive in NHS number order, so its
// index entries are appended to its own range of keys: at bbolt's default
// (half full) the pages left behind would stay half empty for good.
const laIndexFill = 0.9

// planKeyMax is the length of the longest plan key: NHS(10) + LA(3) + UCPP.
const planKeyMax = 17

func appendPlanKey(dst []byte, k plans.Key) []byte {
	dst = append(dst, k.NHS...)
	dst = append(dst, k.LA...)
	return append(dst, k.Type...)
}

func appendLAIndexKey(dst []byte, k plans.Key) []byte {
	dst = append(dst, k.LA...)
	dst = append(dst, k.NHS...)
	return append(dst, k.Type...)
}

func keyFromPlanKey(b []byte) plans.Key {
	return plans.Key{NHS: string(b[:10]), LA: string(b[10:13]), Type: plans.Type(b[13:])}
}

func keyFromLAIndex(b []byte) plans.Key {
	return plans.Key{LA: string(b[:3]), NHS: string(b[3:13]), Type: plans.Type(b[13:])}
}

// Plan returns the plan held under k.
func (t *Tx) Plan(k plans.Key) (plans.Plan, bool, error) {
	var kb [planKeyMax]byte
	key := appendPlanKey(kb[:0], k)
	v := t.b(bPlans).Get(key)
	if v == nil {
		return plans.Plan{}, false, nil
	}
	r, err := decodePlanRecord(v)
	if err != nil {
		return plans.Plan{}, false, recordError(bPlans, k.String(), err)
	}
	return plans.Plan{Key: k, Start: r.Start, End: r.End, Due: r.Due, LocalID: r.LocalID}, true, nil
}

// PutPlan adds or replaces the plan under p.Key, with its LA index entry.
func (t *Tx) PutPlan(p plans.Plan) error {
	if _, err := t.putPlanRecord(p, false); err != nil {
		return err
	}
	return t.putLAIndex(p.Key)
}

// putPlanRecord adds or replaces the plan under p.Key, without its LA
// index entry. With check, it reports whether a plan was held under p.Key
// before (else it reports false).
func (t *Tx) putPlanRecord(p plans.Plan, check bool) (held bool, err error) {
	if len(p.NHS) != 10 || len(p.LA) != 3 || p.Type == "" {
		return false, fmt.Errorf("put plan %s: malformed key", p.Key)
	}
	rec := planRecord{Start: p.Start, End: p.End, Due: p.Due, LocalID: p.LocalID}
	key := t.slab.keep(appendPlanKey(t.slab.next(planKeyMax), p.Key))
	v := t.slab.keep(appendPlanRecord(t.slab.next(16+len(p.LocalID)), rec))
	b := t.b(bPlans)
	held = check && b.Get(key) != nil
	if err := b.Put(key, v); err != nil {
		return false, fmt.Errorf("put plan %s: %w", p.Key, err)
	}
	return held, nil
}

// putLAIndex adds the LA index entry of the plan under k.
func (t *Tx) putLAIndex(k plans.Key) error {
	ib := t.b(bPlansByLA)
	ib.FillPercent = laIndexFill
	return ib.Put(t.slab.keep(appendLAIndexKey(t.slab.next(planKeyMax), k)), nil)
}

// DeletePlan removes the plan under k, reporting whether there was one.
func (t *Tx) DeletePlan(k plans.Key) (bool, error) {
	pk := planKey(k)
	if t.b(bPlans).Get(pk) == nil {
		return false, nil
	}
	if err := t.b(bPlans).Delete(pk); err != nil {
		return false, fmt.Errorf("delete plan: %w", err)
	}
	if err := t.b(bPlansByLA).Delete(laIndexKey(k)); err != nil {
		return false, fmt.Errorf("delete plan index: %w", err)
	}
	return true, nil
}

// PlansOfLA calls fn for every plan held for la, in (NHS number, type)
// order. fn must not change plans; collect keys and change them after.
func (t *Tx) PlansOfLA(la string, fn func(plans.Plan) error) error {
	c := t.b(bPlansByLA).Cursor()
	prefix := []byte(la)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		p, ok, err := t.Plan(keyFromLAIndex(k))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("plan index names %q but no plan is held", k)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// PlansOf returns every plan held under nhs, in (LA, type) order.
func (t *Tx) PlansOf(nhs string) ([]plans.Plan, error) {
	var out []plans.Plan
	c := t.b(bPlans).Cursor()
	prefix := []byte(nhs)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		p, err := decodePlan(k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// AllPlans calls fn for every plan, in (NHS number, LA, type) order.
func (t *Tx) AllPlans(fn func(plans.Plan) error) error {
	return t.b(bPlans).ForEach(func(k, v []byte) error {
		p, err := decodePlan(k, v)
		if err != nil {
			return err
		}
		return fn(p)
	})
}

// CountPlans returns the number of plans held.
func (t *Tx) CountPlans() int { return t.b(bPlans).Stats().KeyN }

// decodePlan reads the plan stored under the plans key k.
func decodePlan(k, v []byte) (plans.Plan, error) {
	if len(k) < 14 {
		return plans.Plan{}, recordError(bPlans, readable(k), errors.New("malformed key"))
	}
	key := keyFromPlanKey(k)
	r, err := decodePlanRecord(v)
	if err != nil {
		return plans.Plan{}, recordError(bPlans, key.String(), err)
	}
	return plans.Plan{Key: key, Start: r.Start, End: r.End, Due: r.Due, LocalID: r.LocalID}, nil
}
