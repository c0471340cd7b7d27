package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/demographics"
	"cpis/store/plans"
)

var allowDate = cmp.AllowUnexported(caldate.Date{})

func day(s string) caldate.Date {
	d, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Each record has one binary form, byte for byte, and reads back equal;
// its JSON form of record format 0 reads to the same record.
func TestPlanRecord(t *testing.T) {
	tests := []struct {
		name string
		r    planRecord
		want []byte
	}{
		{"open plan", planRecord{Start: day("2026-03-02"), LocalID: "C-1"},
			[]byte{1, planStart, 0xdd, 0x92, 0x2d, 3, 'C', '-', '1'}},
		{"ended plan", planRecord{Start: day("2026-03-02"), End: day("2026-03-01"), LocalID: ""},
			[]byte{1, planStart | planEnd, 0xdd, 0x92, 0x2d, 1, 0}},
		{"UCPP with a due date", planRecord{Start: day("2026-03-02"), Due: day("2026-03-04"), LocalID: "U"},
			[]byte{1, planStart | planDue, 0xdd, 0x92, 0x2d, 4, 1, 'U'}},
		{"no dates at all", planRecord{End: day("0001-01-01"), LocalID: "Ä"},
			[]byte{1, planEnd, 2, 2, 0xc3, 0x84}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendPlanRecord([]byte("prefix"), tt.r)
			if !bytes.Equal(got[6:], tt.want) || string(got[:6]) != "prefix" {
				t.Errorf("appendPlanRecord = %#v, want prefix + %#v", got, tt.want)
			}
			back, err := decodePlanRecord(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.r, back, allowDate); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
			js, err := json.Marshal(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, err := decodePlanRecord(js)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.r, fromJSON, allowDate); diff != "" {
				t.Errorf("decode of %s (-want +got):\n%s", js, diff)
			}
		})
	}
}

func TestDemographicRecord(t *testing.T) {
	tests := []demographic{
		{},
		{Family: "Smith", Given: "Amy", DOB: day("2015-03-04")},
		{Family: "O'Brien", Given: "Siobhán", DOB: day("1990-02-28"), DOD: day("2026-10-01"), Sensitive: true},
		{Given: "Zoë", SupersededBy: "9990276579"},
		{DOD: day("2026-10-01")},
	}
	for _, r := range tests {
		b := appendDemographic(nil, r)
		back, err := decodeDemographic(b)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if diff := cmp.Diff(r, back, allowDate); diff != "" {
			t.Errorf("decode (-want +got):\n%s", diff)
		}
		js, _ := json.Marshal(r)
		if fromJSON, err := decodeDemographic(js); err != nil || !cmp.Equal(r, fromJSON, allowDate) {
			t.Errorf("decode of %s = %+v, %v", js, fromJSON, err)
		}
	}
	// A date of birth in the binary form is read without the names.
	want := []byte{1, demoDOB, 0xad, 0xf3, 0x2c, 5, 'S', 'm', 'i', 't', 'h', 3, 'A', 'm', 'y'}
	if got := appendDemographic(nil, tests[1]); !bytes.Equal(got, want) {
		t.Errorf("appendDemographic = %#v, want %#v", got, want)
	}
}

func TestRowOutcomeRecord(t *testing.T) {
	tests := []RowOutcome{
		{},
		{Line: 2, LocalID: "C-1", NHSNumber: "9990276579"},
		{Line: 4, LocalID: "X-9", NHSNumber: "999 000 0042", Code: codes.RowNHSFormat, Detail: codes.R003, Text: "check digit fails: 999 000 0042"},
		{Line: -1, Text: strings.Repeat("é", 300)},
	}
	for _, o := range tests {
		back, err := decodeRowOutcome(appendRowOutcome(nil, o))
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if diff := cmp.Diff(o, back); diff != "" {
			t.Errorf("decode (-want +got):\n%s", diff)
		}
		js, _ := json.Marshal(o)
		if fromJSON, err := decodeRowOutcome(js); err != nil || fromJSON != o {
			t.Errorf("decode of %s = %+v, %v", js, fromJSON, err)
		}
	}
	want := []byte{1, 4, 1, 'C', 10, '9', '9', '9', '0', '2', '7', '6', '5', '7', '9', 5, 'C', 'P', 'R', '0', '6', 4, 'P', '0', '0', '5', 0}
	if got := appendRowOutcome(nil, RowOutcome{Line: 2, LocalID: "C", NHSNumber: "9990276579", Code: codes.RowWarning, Detail: codes.P005}); !bytes.Equal(got, want) {
		t.Errorf("appendRowOutcome = %#v, want %#v", got, want)
	}
}

// A value that is not a whole record of this format is an error that
// says what is wrong and where, never a panic and never a record.
func TestDecodeDamaged(t *testing.T) {
	plan := appendPlanRecord(nil, planRecord{Start: day("2026-03-02"), End: day("2026-04-01"), LocalID: "C-1"})
	tests := []struct {
		name string
		v    []byte
		want string
	}{
		{"empty", nil, "empty value at byte 0"},
		{"another format", []byte{2, 0}, "unknown record format 0x02 at byte 0"},
		{"no flags", []byte{1}, "no flags at byte 1"},
		{"unknown flag", []byte{1, 0x80}, "unknown flags 0x80 at byte 1"},
		{"cut in the start date", plan[:3], "bad number at byte 2"},
		{"cut before the local ID", plan[:6], "bad number at byte 6"},
		{"cut in the local ID", plan[:len(plan)-1], "length 3 beyond the value at byte 7"},
		{"bytes after", append(plan[:len(plan):len(plan)], 0), "1 bytes after the record at byte 10"},
		{"start day 0", []byte{1, planStart, 0, 0}, "day number 0 is not a date at byte 3"},
		{"start after 9999", append(binary.AppendUvarint([]byte{1, planStart}, caldate.MaxDayNumber+1), 0), "day number 3652060 is not a date at byte 6"},
		{"end before 0001-01-01", []byte{1, planStart | planEnd, 1, 1, 0}, "day number 0 is not a date at byte 4"},
		{"overlong number", []byte{1, planStart, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "bad number at byte 2"},
		{"bad JSON", []byte(`{"s":"2026-02-30"}`), `"2026-02-30": not a date`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodePlanRecord(tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decode %#v: %v, want an error with %q", tt.v, err, tt.want)
			}
			if tt.v == nil || tt.v[0] != recordJSON {
				if !errors.Is(err, errRecord) {
					t.Errorf("%v is not errRecord", err)
				}
			}
		})
	}
	if _, err := decodeDemographic([]byte{1, demoSuperseded, 0, 0, 0}); err == nil || !strings.Contains(err.Error(), "empty successor") {
		t.Errorf("a successor flag with no number: %v", err)
	}
}

// A damaged value read through the store is an error naming the bucket
// and the key, never a panic; Check lists every such record.
func TestDamagedValueNamesBucketAndKey(t *testing.T) {
	db, err := Open(t.TempDir(), Options{Create: true, NoSync: true, Setup: func(tx *Tx) error {
		return tx.PutAuthority(Authority{Code: "841", Name: "Darlington", EmergencyPhone: "0191 498 0123"})
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := plans.Key{NHS: "9990276579", LA: "841", Type: plans.CPP}
	m := &Message{LA: "841", MessageID: "M1", File: "f.csv", SHA256: "00", State: Responded}
	if err := db.Update(func(tx *Tx) error {
		if err := tx.ReplaceDemographics(time.Now(), func(put func(demographics.Record) error) error {
			return put(demographics.Record{NHS: key.NHS, FamilyName: "Smith", DOB: day("2015-03-04")})
		}); err != nil {
			return err
		}
		if err := tx.PutPlan(plans.Plan{Key: key, Start: day("2026-03-02"), LocalID: "C-1"}); err != nil {
			return err
		}
		if err := tx.NewMessage(m); err != nil {
			return err
		}
		if err := tx.PutOutcomes(m, []RowOutcome{{Line: 2}}); err != nil {
			return err
		}
		// Each value cut short by one byte.
		for _, name := range [][]byte{bPlans, bDemographics, bOutcomes} {
			b := tx.b(name)
			k, v := b.Cursor().First()
			if err := b.Put(bytes.Clone(k), bytes.Clone(v[:len(v)-1])); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantPlan := "store: plans 9990276579/841/CPP does not decode: not a record of this format: length 3 beyond the value at byte 6"
	db.View(func(tx *Tx) error {
		_, _, err := tx.Plan(key)
		var re *RecordError
		if !errors.As(err, &re) || err.Error() != wantPlan {
			t.Errorf("Plan: %v, want %s", err, wantPlan)
		}
		if err := tx.AllPlans(func(plans.Plan) error { return nil }); err == nil || err.Error() != wantPlan {
			t.Errorf("AllPlans: %v, want %s", err, wantPlan)
		}
		if _, err := tx.PlansOf(key.NHS); err == nil || err.Error() != wantPlan {
			t.Errorf("PlansOf: %v, want %s", err, wantPlan)
		}
		want := "store: outcomes 841:1/0 does not decode: not a record of this format: bad number at byte 6"
		if err := tx.Outcomes(m.Key, func(RowOutcome) error { return nil }); err == nil || err.Error() != want {
			t.Errorf("Outcomes: %v, want %s", err, want)
		}
		// A damaged reference record is refused, never read as an
		// unknown number.
		wantDemo := "store: demographics 9990276579 does not decode: not a record of this format: bad number at byte 11"
		if r, ok, err := tx.Demographic(key.NHS); !errors.As(err, &re) || err.Error() != wantDemo || ok {
			t.Errorf("Demographic: %+v %v %v, want %s", r, ok, err, wantDemo)
		}
		if dob, err := tx.DateOfBirth(key.NHS); !errors.As(err, &re) || err.Error() != wantDemo || !dob.IsZero() {
			t.Errorf("DateOfBirth: %s %v, want %s", dob, err, wantDemo)
		}
		if f, ok, err := tx.DemographicFacts(key.NHS); !errors.As(err, &re) || err.Error() != wantDemo || ok {
			t.Errorf("DemographicFacts: %+v %v %v, want %s", f, ok, err, wantDemo)
		}
		return nil
	})
	rep, err := db.Check()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range rep.Problems {
		lines = append(lines, p.String())
	}
	want := []string{
		"plans 9990276579/841/CPP: does not decode",
		"outcomes 841:1/0: does not decode",
		"demographics 9990276579: does not decode",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("check (-want +got):\n%s", diff)
	}
}
