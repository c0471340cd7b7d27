package caldate_test

import (
	"testing"
	"time"

	"cpis/store/caldate"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" means an error
	}{
		{"2026-03-02", "2026-03-02"},
		{" 2026-03-02 ", "2026-03-02"},
		{"2/3/2026", "2026-03-02"},
		{"02/03/2026", "2026-03-02"},
		{"29/2/2024", "2024-02-29"},
		{"29/2/2026", ""},
		{"31/02/2026", ""},
		{"2026-02-30", ""},
		{"2026-2-3", ""},
		{"002/3/2026", ""},
		{"2/3/26", ""},
		{"", ""},
		{"x", ""},
		{"0001-01-01", "0001-01-01"},
		{"9999-12-31", "9999-12-31"},
	}
	for _, c := range cases {
		d, err := caldate.Parse(c.in)
		got := d.String()
		if err != nil {
			got = ""
		}
		if got != c.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestArithmetic(t *testing.T) {
	d := caldate.Of(2015, time.March, 1)
	if got := d.AddDays(1).String(); got != "2015-03-02" {
		t.Errorf("AddDays = %s", got)
	}
	if !caldate.Of(2015, time.March, 1).Before(caldate.Of(2015, time.March, 2)) {
		t.Error("2015-03-01 should be before 2015-03-02")
	}
	if got := caldate.Of(2008, time.February, 29).AddYears(18).String(); got != "2026-03-01" {
		t.Errorf("18th birthday of a 29 February child = %s, want 2026-03-01", got)
	}
	if got := caldate.Of(2026, time.November, 22).DaysSince(caldate.Of(2025, time.November, 22)); got != 365 {
		t.Errorf("DaysSince = %d", got)
	}
}

func TestInLondon(t *testing.T) {
	cases := []struct {
		utc  string
		want string
	}{
		{"2026-07-01T23:30:00Z", "2026-07-02"}, // BST: 00:30 next day
		{"2026-12-01T23:30:00Z", "2026-12-01"}, // GMT
		{"2026-03-28T23:59:59Z", "2026-03-28"}, // before the spring change
		{"2026-10-24T23:00:00Z", "2026-10-25"}, // BST until 01:00 UTC on 25 October
	}
	for _, c := range cases {
		at, _ := time.Parse(time.RFC3339, c.utc)
		if got := caldate.InLondon(at).String(); got != c.want {
			t.Errorf("InLondon(%s) = %s, want %s", c.utc, got, c.want)
		}
	}
}

func TestDayNumber(t *testing.T) {
	for _, c := range []struct {
		date string
		n    int
	}{{"", 0}, {"0001-01-01", 1}, {"1970-01-01", 719163}, {"2026-11-23", 739943}, {"9999-12-31", caldate.MaxDayNumber}} {
		var d caldate.Date
		if c.date != "" {
			d = mustISO(t, c.date)
		}
		if got := d.DayNumber(); got != c.n {
			t.Errorf("%q.DayNumber() = %d, want %d", c.date, got, c.n)
		}
		if back, ok := caldate.FromDayNumber(c.n); !ok || back != d {
			t.Errorf("caldate.FromDayNumber(%d) = %v, %v; want %q", c.n, back, ok, c.date)
		}
	}
	for _, n := range []int{-1, caldate.MaxDayNumber + 1} {
		if _, ok := caldate.FromDayNumber(n); ok {
			t.Errorf("caldate.FromDayNumber(%d) accepted", n)
		}
	}
}

func mustISO(t *testing.T, s string) caldate.Date {
	t.Helper()
	d, err := caldate.ParseISO(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
