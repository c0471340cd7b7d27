package store

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/store/codes"
)

// The fuzz targets read arbitrary bytes as a stored record: never a panic,
// and a value that decodes is a record whose binary form reads back equal
// and is written the same again. Run one with, for example,
//
//	go test -run '^$' -fuzz FuzzDecodePlan ./store
//
// The seeds below are their corpus in every ordinary test run.

func FuzzDecodePlan(f *testing.F) {
	for _, r := range []planRecord{
		{},
		{Start: day("2026-03-02"), LocalID: "C-1"},
		{Start: day("2026-03-02"), End: day("2027-03-02"), Due: day("2026-01-01"), LocalID: "Ä-ß \"q\""},
		{Start: day("0001-01-01"), End: day("9999-12-31")},
	} {
		f.Add(appendPlanRecord(nil, r))
		js, _ := json.Marshal(r)
		f.Add(js)
	}
	f.Add([]byte{1, 0xff})
	f.Add([]byte{1, planEnd, 0x7f, 0})
	f.Add([]byte(`{"s":"2026-02-30"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodePlanRecord(b)
		if err != nil {
			return
		}
		enc := appendPlanRecord(nil, r)
		back, err := decodePlanRecord(enc)
		if err != nil {
			t.Fatalf("%#v decodes to %+v, whose binary form %#v does not decode: %v", b, r, enc, err)
		}
		if !cmp.Equal(r, back, allowDate) {
			t.Fatalf("%+v reads back as %+v", r, back)
		}
		if again := appendPlanRecord(nil, back); !bytes.Equal(enc, again) {
			t.Fatalf("%+v is written as %#v, then as %#v", r, enc, again)
		}
	})
}

func FuzzDecodeDemographic(f *testing.F) {
	for _, r := range []demographic{
		{},
		{Family: "Smith", Given: "Amy", DOB: day("2015-03-04")},
		{Family: "O'Brien", Given: "Siobhán", DOB: day("1990-02-28"), DOD: day("2026-10-01"), Sensitive: true, SupersededBy: "9990276579"},
		{DOD: day("2026-10-01")},
	} {
		f.Add(appendDemographic(nil, r))
		js, _ := json.Marshal(r)
		f.Add(js)
	}
	f.Add([]byte{1, demoSuperseded, 0, 0, 0})
	f.Add([]byte{1, demoDOB | demoDOD, 1, 0x80, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeDemographic(b)
		if err != nil {
			return
		}
		enc := appendDemographic(nil, r)
		back, err := decodeDemographic(enc)
		if err != nil {
			t.Fatalf("%#v decodes to %+v, whose binary form %#v does not decode: %v", b, r, enc, err)
		}
		if !cmp.Equal(r, back, allowDate) {
			t.Fatalf("%+v reads back as %+v", r, back)
		}
		if again := appendDemographic(nil, back); !bytes.Equal(enc, again) {
			t.Fatalf("%+v is written as %#v, then as %#v", r, enc, again)
		}
	})
}

func FuzzDecodeRowOutcome(f *testing.F) {
	for _, o := range []RowOutcome{
		{},
		{Line: 2, LocalID: "C-1", NHSNumber: "9990276579"},
		{Line: 4, LocalID: "X-9", NHSNumber: "999 000 0042", Code: codes.RowNHSFormat, Detail: codes.R003, Text: "check digit fails"},
		{Line: -1 << 40},
	} {
		f.Add(appendRowOutcome(nil, o))
		js, _ := json.Marshal(o)
		f.Add(js)
	}
	f.Add([]byte{1, 0x80})
	f.Add([]byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeRowOutcome(b)
		if err != nil {
			return
		}
		enc := appendRowOutcome(nil, o)
		back, err := decodeRowOutcome(enc)
		if err != nil {
			t.Fatalf("%#v decodes to %+v, whose binary form %#v does not decode: %v", b, o, enc, err)
		}
		if o != back {
			t.Fatalf("%+v reads back as %+v", o, back)
		}
		if again := appendRowOutcome(nil, back); !bytes.Equal(enc, again) {
			t.Fatalf("%+v is written as %#v, then as %#v", o, enc, again)
		}
	})
}
