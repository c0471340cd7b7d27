package pds_test

import (
	"testing"

	"cpis/store/demographics"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/pds"
	"cpis/store/codes"
)

func lookupOf(recs ...demographics.Record) pds.Lookup {
	m := make(map[string]demographics.Record, len(recs))
	for _, r := range recs {
		m[r.NHS] = r
	}
	return func(nhs string) (demographics.Record, bool) {
		r, ok := m[nhs]
		return r, ok
	}
}

func TestCurrent(t *testing.T) {
	look := lookupOf(
		demographics.Record{NHS: nA, SupersededBy: nB},
		demographics.Record{NHS: nB, SupersededBy: nC},
		demographics.Record{NHS: nC},
		demographics.Record{NHS: nD, SupersededBy: nE},                     // successor missing: only without Read
		demographics.Record{NHS: "9990000042", SupersededBy: "9990000050"}, // loop: only without Read
		demographics.Record{NHS: "9990000050", SupersededBy: "9990000042"},
	)
	tests := []struct {
		name, nhs, want string
		ok              bool
	}{
		{"chain of two", nA, nC, true},
		{"one step", nB, nC, true},
		{"current", nC, nC, false},
		{"unknown", "9990000069", "9990000069", false},
		{"successor missing", nD, nE, true},
		{"loop ends at the step limit", "9990000042", "9990000050", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pds.Current(tt.nhs, look)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Current(%s) = %s, %v; want %s, %v", tt.nhs, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestReconcile(t *testing.T) {
	dob := date(t, "2015-03-01")
	other := date(t, "2015-03-02")
	dod := date(t, "2024-01-05")
	look := lookupOf(
		demographics.Record{NHS: nA, FamilyName: "Smith", GivenName: "Anne", DOB: dob, SupersededBy: nB, Sensitive: true},
		demographics.Record{NHS: nB, FamilyName: "Smith", GivenName: "Anne", DOB: dob, SupersededBy: nC},
		demographics.Record{NHS: nC, FamilyName: "Smith", GivenName: "Anne", DOB: dob},
		demographics.Record{NHS: nD, FamilyName: "Jones", DOB: dob, Sensitive: true},
		demographics.Record{NHS: nE, FamilyName: "O'Brien", GivenName: "Anne-Marie", DOB: dob, DOD: dod},
		demographics.Record{NHS: "9990000042"}, // nothing known but the number
	)
	reject := func(d codes.Detail, text string) *codes.Problem { return &codes.Problem{Detail: d, Text: text} }
	tests := []struct {
		name string
		nhs  string
		row  pds.Fields
		want pds.Outcome
	}{
		{"superseded twice, beats sensitive and date of birth", nA,
			pds.Fields{FamilyName: "Smyth", DOB: other},
			pds.Outcome{Reject: reject(codes.P004,
				"NHS number 9990276579 has been superseded by 9990000018: resend the row with the current number"),
				Current: nC}},
		{"superseded once", nB, pds.Fields{},
			pds.Outcome{Reject: reject(codes.P004,
				"NHS number 9990275831 has been superseded by 9990000018: resend the row with the current number"),
				Current: nC}},
		{"unknown", "9990000069", pds.Fields{DOB: dob},
			pds.Outcome{Reject: reject(codes.P001, "NHS number 9990000069 is not known to the demographics reference")}},
		{"sensitive beats date of birth", nD, pds.Fields{DOB: other},
			pds.Outcome{Reject: reject(codes.P002,
				"NHS number 9990000026 has a sensitive demographics record: child protection information cannot be attached")}},
		{"date of birth differs: names the row's date only", nC, pds.Fields{FamilyName: "Smyth", DOB: other},
			pds.Outcome{Reject: reject(codes.P003, "date_of_birth 2015-03-02 does not match the demographics record")}},
		{"all match", nC, pds.Fields{FamilyName: "SMITH", GivenName: "anne", DOB: dob}, pds.Outcome{}},
		{"nothing sent", nC, pds.Fields{}, pds.Outcome{}},
		{"reference has nothing to compare", "9990000042",
			pds.Fields{FamilyName: "Smith", GivenName: "Anne", DOB: dob}, pds.Outcome{}},
		{"family name differs", nC, pds.Fields{FamilyName: "Smyth", GivenName: "Anne", DOB: dob},
			pds.Outcome{Warnings: []codes.Problem{{Detail: codes.P005,
				Text: `family_name "Smyth" differs from the demographics record`}}}},
		{"given name differs", nC, pds.Fields{GivenName: "Ann"},
			pds.Outcome{Warnings: []codes.Problem{{Detail: codes.P005,
				Text: `given_name "Ann" differs from the demographics record`}}}},
		{"both names differ: one warning", nC, pds.Fields{FamilyName: "Smyth", GivenName: "Ann"},
			pds.Outcome{Warnings: []codes.Problem{{Detail: codes.P005,
				Text: `family_name "Smyth" and given_name "Ann" differ from the demographics record`}}}},
		{"blank name is not sent", nC, pds.Fields{FamilyName: "  ", GivenName: "Anne"}, pds.Outcome{}},
		{"date of death, names folded equal", nE, pds.Fields{FamilyName: "OBRIEN", GivenName: "anne marie", DOB: dob},
			pds.Outcome{Warnings: []codes.Problem{{Detail: codes.P006,
				Text: "the demographics record shows a date of death"}}}},
		{"name and date of death, in code order", nE, pds.Fields{GivenName: "Marie"},
			pds.Outcome{Warnings: []codes.Problem{
				{Detail: codes.P005, Text: `given_name "Marie" differs from the demographics record`},
				{Detail: codes.P006, Text: "the demographics record shows a date of death"},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pds.Reconcile(tt.nhs, tt.row, look)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Reconcile (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNamesEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"O'Brien", "OBRIEN", true},
		{"O’Brien", "o'brien", true},
		{"O’Brien", "OBrien", true},
		{"Anne-Marie", "anne marie", true},
		{"Anne\u2011Marie", "AnneMarie", true}, // non-breaking hyphen
		{"Anne\u00a0Marie", "annemarie", true}, // no-break space
		{"Straße", "STRASSE", true},            // full folding: ß is ss
		{"José", "Jose", false},                // accents count
		{"Zoë", "ZOË", true},
		{"Jos\u00e9", "Jose\u0301", true}, // NFC and NFD
		{"ΣΊΣΥΦΟΣ", "σίσυφος", true},      // final sigma
		{"Smith", "Smyth", false},
		{"", "", true},
		{"Smith", "", false},
	}
	for _, tt := range tests {
		if got := pds.NamesEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("NamesEqual(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := pds.NamesEqual(tt.b, tt.a); got != tt.want {
			t.Errorf("NamesEqual(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}
