package store

import (
	"bytes"
	"fmt"

	"cpis/store/caldate"
	"cpis/store/plans"
)

// planRecord is the stored form of a plan; the key carries its identity.
type planRecord struct {
	Start   caldate.Date `json:"s"`
	End     caldate.Date `json:"e,omitzero"`
	Due     caldate.Date `json:"d,omitzero"`
	LocalID string       `json:"l"`
}

func planKey(k plans.Key) []byte {
	return concat([]byte(k.NHS), []byte(k.LA), []byte(k.Type))
}

func laIndexKey(k plans.Key) []byte {
	return concat([]byte(k.LA), []byte(k.NHS), []byte(k.Type))
}

func keyFromPlanKey(b []byte) plans.Key {
	return plans.Key{NHS: string(b[:10]), LA: string(b[10:13]), Type: plans.Type(b[13:])}
}

func keyFromLAIndex(b []byte) plans.Key {
	return plans.Key{LA: string(b[:3]), NHS: string(b[3:13]), Type: plans.Type(b[13:])}
}

// Plan returns the plan held under k.
func (t *Tx) Plan(k plans.Key) (plans.Plan, bool, error) {
	var r planRecord
	ok, err := getJSON(t.b(bPlans), planKey(k), &r)
	if !ok || err != nil {
		return plans.Plan{}, false, err
	}
	return plans.Plan{Key: k, Start: r.Start, End: r.End, Due: r.Due, LocalID: r.LocalID}, true, nil
}

// PutPlan adds or replaces the plan under p.Key, with its LA index entry.
func (t *Tx) PutPlan(p plans.Plan) error {
	if err := t.putPlanRecord(p); err != nil {
		return err
	}
	return t.b(bPlansByLA).Put(laIndexKey(p.Key), nil)
}

// putPlanRecord adds or replaces the plan under p.Key, without its LA
// index entry.
func (t *Tx) putPlanRecord(p plans.Plan) error {
	if len(p.NHS) != 10 || len(p.LA) != 3 || p.Type == "" {
		return fmt.Errorf("put plan %s: malformed key", p.Key)
	}
	rec := planRecord{Start: p.Start, End: p.End, Due: p.Due, LocalID: p.LocalID}
	if err := putJSON(t.b(bPlans), planKey(p.Key), rec); err != nil {
		return fmt.Errorf("put plan: %w", err)
	}
	return nil
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

func decodePlan(k, v []byte) (plans.Plan, error) {
	var r planRecord
	if err := jsonUnmarshal(v, &r); err != nil {
		return plans.Plan{}, fmt.Errorf("decode plan %q: %w", k, err)
	}
	return plans.Plan{Key: keyFromPlanKey(k), Start: r.Start, End: r.End, Due: r.Due, LocalID: r.LocalID}, nil
}
