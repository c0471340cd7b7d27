package store

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"cpis/store/demographics"

	bolt "go.etcd.io/bbolt"

	"cpis/store/caldate"
)

// ReplaceDemographics replaces the demographics reference with the records
// fill passes to put. Everything happens in t: when fill or the transaction
// fails, the previous reference stays whole.
//
// Records are written in key order: bbolt splits its pages only when a
// transaction commits, so a whole reference put in file order would cost
// time quadratic in its size.
func (t *Tx) ReplaceDemographics(at time.Time, fill func(put func(demographics.Record) error) error) error {
	if err := t.deleteBucket(bDemographics); err != nil {
		return fmt.Errorf("replace demographics: %w", err)
	}
	b, err := t.tx.CreateBucket(bDemographics)
	if err != nil {
		return fmt.Errorf("replace demographics: %w", err)
	}
	b.FillPercent = 1.0 // written in key order, never inserted into again
	if err := t.deleteBucket(bPrior); err != nil {
		return fmt.Errorf("replace demographics: %w", err)
	}
	prior, err := t.tx.CreateBucket(bPrior)
	if err != nil {
		return fmt.Errorf("replace demographics: %w", err)
	}
	if err := t.b(bMeta).Put([]byte("demographics_imported"), []byte(at.UTC().Format(time.RFC3339Nano))); err != nil {
		return err
	}
	type entry struct{ key, value []byte }
	var records, edges []entry
	put := func(r demographics.Record) error {
		if r.SupersededBy != "" {
			edges = append(edges, entry{key: t.slab.keep(append(append(t.slab.next(20), r.SupersededBy...), r.NHS...))})
		}
		key := t.slab.keep(append(t.slab.next(10), r.NHS...))
		v := t.slab.keep(appendDemographic(t.slab.next(24+len(r.FamilyName)+len(r.GivenName)+len(r.SupersededBy)), demographic{
			Family: r.FamilyName, Given: r.GivenName, DOB: r.DOB,
			SupersededBy: r.SupersededBy, Sensitive: r.Sensitive, DOD: r.DOD,
		}))
		records = append(records, entry{key: key, value: v})
		return nil
	}
	if err := fill(put); err != nil {
		return err
	}
	for _, set := range []struct {
		b  *bolt.Bucket
		es []entry
	}{{b, records}, {prior, edges}} {
		sort.Slice(set.es, func(i, j int) bool { return bytes.Compare(set.es[i].key, set.es[j].key) < 0 })
		for _, e := range set.es {
			if err := set.b.Put(e.key, e.value); err != nil {
				return fmt.Errorf("replace demographics: %w", err)
			}
		}
	}
	return nil
}

// HasDemographics reports whether a demographics reference was imported.
func (t *Tx) HasDemographics() bool {
	return t.b(bMeta).Get([]byte("demographics_imported")) != nil
}

// Demographic returns the reference record of nhs, and false when the
// reference has no record of it. A record that does not decode is a
// *RecordError naming the bucket and the number: a damaged reference is
// refused, never taken for an unknown number.
func (t *Tx) Demographic(nhs string) (demographics.Record, bool, error) {
	v := t.b(bDemographics).Get([]byte(nhs))
	if v == nil {
		return demographics.Record{}, false, nil
	}
	d, err := decodeDemographic(v)
	if err != nil {
		return demographics.Record{}, false, recordError(bDemographics, nhs, err)
	}
	return demographics.Record{NHS: nhs, FamilyName: d.Family, GivenName: d.Given, DOB: d.DOB,
		SupersededBy: d.SupersededBy, Sensitive: d.Sensitive, DOD: d.DOD}, true, nil
}

// DemographicFacts are what most readers need of a reference record: no
// names, so reading them copies nothing.
type DemographicFacts struct {
	DOB        caldate.Date // zero when the reference has none
	Superseded bool         // merged into another number (Demographic names it)
	Sensitive  bool
}

// DemographicFacts returns the facts of nhs's reference record, and false
// when the reference has no record of it. The whole record is checked: one
// that does not decode is a *RecordError, as with Demographic.
func (t *Tx) DemographicFacts(nhs string) (DemographicFacts, bool, error) {
	v := t.b(bDemographics).Get([]byte(nhs))
	if v == nil {
		return DemographicFacts{}, false, nil
	}
	f, err := decodeDemographicFacts(v)
	if err != nil {
		return DemographicFacts{}, false, recordError(bDemographics, nhs, err)
	}
	return f, true, nil
}

// DateOfBirth returns the reference date of birth of nhs (zero when the
// number or its date of birth is unknown). A record that does not decode
// is a *RecordError, as with Demographic.
func (t *Tx) DateOfBirth(nhs string) (caldate.Date, error) {
	f, _, err := t.DemographicFacts(nhs)
	return f.DOB, err
}
