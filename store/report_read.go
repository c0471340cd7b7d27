package store

import (
	"bytes"
	"fmt"
	"time"

	"cpis/store/caldate"
	"cpis/store/plans"

	bolt "go.etcd.io/bbolt"
)

// Readers for the operations report (batch/report). The report reads the
// whole national set of plans and a week of lookups, so these read a page
// at a time: each call is meant for a short read transaction of its own,
// and the key it returns starts the next page in the next transaction
// (style point 6: a long read transaction would hold up the writer when
// the file grows). A page key is opaque and a copy, safe after the
// transaction; nil means there is no next page.

// PlansPage calls fn for at most limit plans in (NHS number, LA, type)
// order, from the page key from (nil: the first plan), and returns the key
// of the next page.
func (t *Tx) PlansPage(from []byte, limit int, fn func(plans.Plan) error) ([]byte, error) {
	c := t.b(bPlans).Cursor()
	k, v := c.First()
	if from != nil {
		k, v = c.Seek(from)
	}
	for n := 0; k != nil; k, v = c.Next() {
		if n == limit {
			return bytes.Clone(k), nil
		}
		p, err := decodePlan(k, v)
		if err != nil {
			return nil, err
		}
		if err := fn(p); err != nil {
			return nil, err
		}
		n++
	}
	return nil, nil
}

// LookupAuditsPage calls fn for at most limit lookup audit records at or
// after since, oldest first, from the page key from (nil: from since), and
// returns the key of the next page.
func (t *Tx) LookupAuditsPage(since time.Time, from []byte, limit int, fn func(LookupAudit) error) ([]byte, error) {
	if from == nil {
		from = timeKey(since)
	}
	c := t.b(bLookupAudit).Cursor()
	k, v := c.Seek(from)
	for n := 0; k != nil; k, v = c.Next() {
		if n == limit {
			return bytes.Clone(k), nil
		}
		var a LookupAudit
		if err := jsonUnmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("decode lookup audit %x: %w", k, err)
		}
		if err := fn(a); err != nil {
			return nil, err
		}
		n++
	}
	return nil, nil
}

// InactiveFindingsPage calls fn for at most limit inactive-number findings
// already reported to LAs (MarkInactiveSent), by plan key then reason, from
// the page key from (nil: the first), and returns the key of the next page.
// The store keeps no date for a finding.
func (t *Tx) InactiveFindingsPage(from []byte, limit int, fn func(k plans.Key, reason string, at time.Time) error) ([]byte, error) {
	c := t.b(bInactiveSent).Cursor()
	k, v := c.First()
	if from != nil {
		k, v = c.Seek(from)
	}
	for n := 0; k != nil; k, v = c.Next() {
		if n == limit {
			return bytes.Clone(k), nil
		}
		i := bytes.IndexByte(k, 0)
		if i < 14 {
			return nil, fmt.Errorf("inactive finding key %q is malformed", k)
		}
		at, _ := time.Parse(time.RFC3339Nano, string(v)) // when it was reported
		if err := fn(keyFromPlanKey(k[:i]), string(k[i+1:]), at); err != nil {
			return nil, err
		}
		n++
	}
	return nil, nil
}

// DemographicsImported returns when the demographics reference in use was
// imported (zero when none was).
func (t *Tx) DemographicsImported() time.Time {
	v, _ := time.Parse(time.RFC3339Nano, string(t.b(bMeta).Get([]byte("demographics_imported"))))
	return v
}

// CountOwed returns how many notification rows are still owed to la for the
// London day day (rows of a day are deleted once its access file is
// written), without decoding them.
func (t *Tx) CountOwed(day caldate.Date, la string) int {
	n := 0
	prefix := concat([]byte(day.Compact()), []byte(la))
	c := t.b(bOwed).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// FactsWalk looks up reference facts for NHS numbers asked in ascending
// order, as the plans come from PlansPage: a cursor walks the reference
// alongside instead of a search from the root for each number (a
// merge-join; both buckets are keyed by NHS number). It is valid only
// within the transaction that made it.
type FactsWalk struct {
	c    *bolt.Cursor
	k, v []byte
	seek bool // no position yet, or the last number asked was lower
	last string
}

// factsWalkSteps is how many records FactsWalk steps over before it
// searches from the root instead (the reference may hold many numbers
// that have no plan).
const factsWalkSteps = 8

// FactsWalk returns a walk over the demographics reference for DemographicFacts
// calls in ascending NHS-number order.
func (t *Tx) FactsWalk() *FactsWalk {
	return &FactsWalk{c: t.b(bDemographics).Cursor(), seek: true}
}

// Facts is Tx.DemographicFacts(nhs). Numbers are meant to be asked in
// ascending order; a lower one than the last is still answered, by a
// search from the root.
func (w *FactsWalk) Facts(nhs string) (DemographicFacts, bool, error) {
	if w.seek || nhs < w.last {
		w.k, w.v = w.c.Seek([]byte(nhs))
		w.seek = false
	} else {
		for n := 0; w.k != nil && string(w.k) < nhs; n++ {
			if n == factsWalkSteps {
				w.k, w.v = w.c.Seek([]byte(nhs))
				break
			}
			w.k, w.v = w.c.Next()
		}
	}
	w.last = nhs
	if w.k == nil || string(w.k) != nhs {
		return DemographicFacts{}, false, nil
	}
	f, err := decodeDemographicFacts(w.v)
	if err != nil {
		return DemographicFacts{}, false, recordError(bDemographics, nhs, err)
	}
	return f, true, nil
}
