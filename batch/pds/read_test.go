package pds_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"cpis/store/demographics"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/pds"
	"cpis/store/caldate"
)

// Synthetic test-range numbers with valid check digits.
const (
	nA = "9990276579" // published test patient
	nB = "9990275831" // published test patient
	nC = "9990000018"
	nD = "9990000026"
	nE = "9990000034"
)

const header = "nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n"

var dateEq = cmp.Comparer(func(a, b caldate.Date) bool { return a == b })

func date(t testing.TB, s string) caldate.Date {
	t.Helper()
	d, err := caldate.ParseISO(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readAll(data string) ([]demographics.Record, error) {
	var got []demographics.Record
	err := pds.Read(strings.NewReader(data), "pds.csv", func(r demographics.Record) error {
		got = append(got, r)
		return nil
	})
	return got, err
}

func TestRead(t *testing.T) {
	// BOM, CRLF, a blank line, quoting, a spaced number, a successor named
	// before its own line, and every sensitive spelling.
	data := "\uFEFF" + strings.ReplaceAll(header, "\n", "\r\n") +
		"999 027 6579,Smith,Anne,2015-03-01,9990275831,,\r\n" +
		"\r\n" +
		"9990275831,\"O'Brien, Jr\",Ann,2015-03-01,,n,\r\n" +
		"9990000018,Jones,,,,Y,2024-01-05\r\n" +
		"9990000026,,,,,y,\r\n" +
		"9990000034,Li,Wei,2010-12-31,,N,\r\n"
	got, err := readAll(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []demographics.Record{
		{NHS: nA, FamilyName: "Smith", GivenName: "Anne", DOB: date(t, "2015-03-01"), SupersededBy: nB},
		{NHS: nB, FamilyName: "O'Brien, Jr", GivenName: "Ann", DOB: date(t, "2015-03-01")},
		{NHS: nC, FamilyName: "Jones", Sensitive: true, DOD: date(t, "2024-01-05")},
		{NHS: nD, Sensitive: true},
		{NHS: nE, FamilyName: "Li", GivenName: "Wei", DOB: date(t, "2010-12-31")},
	}
	if diff := cmp.Diff(want, got, dateEq); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestReadHeaderOnly(t *testing.T) {
	got, err := readAll(header)
	if err != nil || len(got) != 0 {
		t.Errorf("got %v, %v; want no records, no error", got, err)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty file", "",
			`demographics file "pds.csv" line 1: header "" is missing: want ` + strings.TrimSpace(header)},
		{"header in another case",
			"NHS_NUMBER,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n",
			`demographics file "pds.csv" line 1: header "NHS_NUMBER,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death" is not ` + strings.TrimSpace(header)},
		{"header missing a column",
			"nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive\n",
			`demographics file "pds.csv" line 1: header "nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive" is not ` + strings.TrimSpace(header)},
		{"header in another order",
			"family_name,nhs_number,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n",
			`demographics file "pds.csv" line 1: header "family_name,nhs_number,given_name,date_of_birth,superseded_by,sensitive,date_of_death" is not ` + strings.TrimSpace(header)},
		{"too few fields", header + nA + ",Smith,Anne,,,\n",
			`demographics file "pds.csv" line 2: record "9990276579,Smith,Anne,,," has 6 fields, want 7`},
		{"too many fields", header + nA + ",Smith,Anne,,,,,\n",
			`demographics file "pds.csv" line 2: record "9990276579,Smith,Anne,,,,," has 8 fields, want 7`},
		{"empty number", header + nA + ",,,,,,\n,Smith,,,,,\n",
			`demographics file "pds.csv" line 3: nhs_number "" is empty: want an NHS number`},
		{"number not ten digits", header + "99902765X9,,,,,,\n",
			`demographics file "pds.csv" line 2: nhs_number "99902765X9" is not an NHS number: want 10 digits`},
		{"number fails check digit", header + "9990276578,,,,,,\n",
			`demographics file "pds.csv" line 2: nhs_number "9990276578" is not an NHS number: fails the check digit`},
		{"number of one repeated digit", header + "4444444444,,,,,,\n",
			`demographics file "pds.csv" line 2: nhs_number "4444444444" is not an NHS number: fails the check digit`},
		{"duplicate number", header + nA + ",,,,,,\n" + nB + ",,,,,,\n999-027-6579,,,,,,\n",
			`demographics file "pds.csv" line 4: nhs_number "999-027-6579" appears more than once in the file`},
		{"date of birth not a date", header + nA + ",,,2015-02-30,,,\n",
			`demographics file "pds.csv" line 2: date_of_birth "2015-02-30" is not a date (want YYYY-MM-DD)`},
		{"date of birth in D/M/YYYY", header + nA + ",,,1/3/2015,,,\n",
			`demographics file "pds.csv" line 2: date_of_birth "1/3/2015" is not a date (want YYYY-MM-DD)`},
		{"date of death not a date", header + nA + ",,,,,,2024-13-01\n",
			`demographics file "pds.csv" line 2: date_of_death "2024-13-01" is not a date (want YYYY-MM-DD)`},
		{"sensitive not Y or N", header + nA + ",,,,,yes,\n",
			`demographics file "pds.csv" line 2: sensitive "yes" is not Y, N or empty`},
		{"superseded_by not a number", header + nA + ",,,,99902758,,\n",
			`demographics file "pds.csv" line 2: superseded_by "99902758" is not an NHS number: want 10 digits`},
		{"superseded_by itself", header + nA + ",,,,999 027 6579,,\n",
			`demographics file "pds.csv" line 2: superseded_by "999 027 6579" names the record's own number (supersession loop)`},
		{"superseded_by not in the file", header + nA + ",,,,,,\n" + nB + ",,,,9990000018,,\n",
			`demographics file "pds.csv" line 3: superseded_by "9990000018" is not a number in the file`},
		{"loop of two", header + nE + ",,,,,,\n" + nA + ",,,,9990275831,,\n" + nB + ",,,,9990276579,,\n",
			`demographics file "pds.csv" line 3: superseded_by "9990275831" makes a supersession loop (9990276579 -> 9990275831 -> 9990276579)`},
		{"loop of three behind a chain",
			header + nE + ",,,,9990000026,,\n" + nD + ",,,,9990275831,,\n" +
				nA + ",,,,9990000018,,\n" + nB + ",,,,9990276579,,\n" + nC + ",,,,9990275831,,\n",
			`demographics file "pds.csv" line 4: superseded_by "9990000018" makes a supersession loop (9990276579 -> 9990000018 -> 9990275831 -> 9990276579)`},
		{"malformed quoting", header + nA + ",\"Sm\"ith,,,,,\n",
			`demographics file "pds.csv" line 2: malformed CSV: extraneous or missing " in quoted-field`},
		{"name not UTF-8", header + nA + ",Sm\xe9th,,,,,\n",
			`demographics file "pds.csv" line 2: family_name "Sm\xe9th" is not UTF-8 text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(tt.data)
			var le *pds.LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v (%T), want a *pds.LineError", err, err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadPutError(t *testing.T) {
	stop := errors.New("store full")
	err := pds.Read(strings.NewReader(header+nA+",,,,,,\n"), "pds.csv", func(demographics.Record) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("error %v, want it to wrap %v", err, stop)
	}
	if want := `demographics file "pds.csv" line 2: store full`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// withCheck appends the modulus 11 check digit to nine digits, or returns
// "" when there is none (check 10).
func withCheck(nine int) string {
	s := fmt.Sprintf("%09d", nine)
	sum := 0
	for i := range 9 {
		sum += int(s[i]-'0') * (10 - i)
	}
	c := 11 - sum%11
	switch c {
	case 11:
		c = 0
	case 10:
		return ""
	}
	return s + string(rune('0'+c))
}

// BenchmarkRead reads a reference of 250,000 records, one in 50 superseded
// by the record before it.
func BenchmarkRead(b *testing.B) {
	const n = 250_000
	var buf bytes.Buffer
	buf.WriteString(header)
	prev := ""
	for nine, count := 999_000_001, 0; count < n; nine++ {
		num := withCheck(nine)
		if num == "" {
			continue
		}
		succ := ""
		if count%50 == 1 {
			succ = prev
		}
		fmt.Fprintf(&buf, "%s,Surname%d,Given%d,2012-%02d-%02d,%s,%s,\n",
			num, count, count, count%12+1, count%28+1, succ, map[bool]string{true: "Y", false: "N"}[count%97 == 0])
		prev = num
		count++
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rows := 0
		err := pds.Read(bytes.NewReader(data), "bench.csv", func(demographics.Record) error { rows++; return nil })
		if err != nil || rows != n {
			b.Fatalf("rows %d, err %v", rows, err)
		}
	}
}
