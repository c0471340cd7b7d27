package store

import (
	"fmt"
	"time"

	"cpis/batch/caldate"
	"cpis/batch/pds"
)

// demographic is the stored form of a pds.Record (short keys: the
// reference holds a record for every person the hub may meet).
type demographic struct {
	Family       string       `json:"f,omitempty"`
	Given        string       `json:"g,omitempty"`
	DOB          caldate.Date `json:"b,omitzero"`
	SupersededBy string       `json:"s,omitempty"`
	Sensitive    bool         `json:"x,omitempty"`
	DOD          caldate.Date `json:"d,omitzero"`
}

// ReplaceDemographics empties the demographics reference and returns a
// function that adds one record to the new one. Everything happens in t:
// when the transaction fails, the previous reference stays whole.
func (t *Tx) ReplaceDemographics(at time.Time) (func(pds.Record) error, error) {
	if err := t.tx.DeleteBucket(bDemographics); err != nil {
		return nil, fmt.Errorf("replace demographics: %w", err)
	}
	b, err := t.tx.CreateBucket(bDemographics)
	if err != nil {
		return nil, fmt.Errorf("replace demographics: %w", err)
	}
	b.FillPercent = 0.9 // imports arrive mostly in key order
	if err := t.tx.DeleteBucket(bPrior); err != nil {
		return nil, fmt.Errorf("replace demographics: %w", err)
	}
	prior, err := t.tx.CreateBucket(bPrior)
	if err != nil {
		return nil, fmt.Errorf("replace demographics: %w", err)
	}
	if err := t.b(bMeta).Put([]byte("demographics_imported"), []byte(at.UTC().Format(time.RFC3339Nano))); err != nil {
		return nil, err
	}
	return func(r pds.Record) error {
		if r.SupersededBy != "" {
			if err := prior.Put(concat([]byte(r.SupersededBy), []byte(r.NHS)), nil); err != nil {
				return err
			}
		}
		return putJSON(b, []byte(r.NHS), demographic{
			Family: r.FamilyName, Given: r.GivenName, DOB: r.DOB,
			SupersededBy: r.SupersededBy, Sensitive: r.Sensitive, DOD: r.DOD,
		})
	}, nil
}

// HasDemographics reports whether a demographics reference was imported.
func (t *Tx) HasDemographics() bool {
	return t.b(bMeta).Get([]byte("demographics_imported")) != nil
}

// Demographic returns the reference record of nhs.
func (t *Tx) Demographic(nhs string) (pds.Record, bool) {
	var d demographic
	ok, err := getJSON(t.b(bDemographics), []byte(nhs), &d)
	if !ok || err != nil {
		return pds.Record{}, false
	}
	return pds.Record{NHS: nhs, FamilyName: d.Family, GivenName: d.Given, DOB: d.DOB,
		SupersededBy: d.SupersededBy, Sensitive: d.Sensitive, DOD: d.DOD}, true
}

// DateOfBirth returns the reference date of birth of nhs (zero when the
// number or its date of birth is unknown).
func (t *Tx) DateOfBirth(nhs string) caldate.Date {
	r, _ := t.Demographic(nhs)
	return r.DOB
}
