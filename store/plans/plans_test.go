package plans_test

import (
	"testing"

	"cpis/store/caldate"
	"cpis/store/plans"
)

func d(s string) caldate.Date {
	if s == "" {
		return caldate.Date{}
	}
	v, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestVisibleUntil(t *testing.T) {
	cases := []struct {
		name            string
		typ             plans.Type
		start, end, due string
		dob             string
		want            string // "" = open with no bound
	}{
		{"open CPP, no dob", plans.CPP, "2026-01-01", "", "", "", ""},
		{"ended CPP", plans.CPP, "2025-01-01", "2026-01-10", "", "2015-05-05", "2027-01-10"},
		{"open LAC bounded by 18th birthday", plans.LAC, "2020-01-01", "", "", "2010-06-15", "2029-06-15"},
		{"end after 18th birthday", plans.LAC, "2020-01-01", "2030-01-01", "", "2010-06-15", "2029-06-15"},
		{"29 February birth turns 18 on 1 March", plans.CPP, "2020-01-01", "", "", "2008-02-29", "2027-03-01"},
		{"UCPP open: due + 28", plans.UCPP, "2026-05-01", "", "2026-12-01", "1990-01-01", "2026-12-29"},
		{"UCPP ended early: end + 365 beyond due + 28", plans.UCPP, "2026-05-01", "2026-06-01", "2026-12-01", "", "2026-12-29"},
		{"UCPP ignores 18th birthday", plans.UCPP, "2026-05-01", "", "2026-12-01", "2008-01-01", "2026-12-29"},
	}
	for _, c := range cases {
		p := plans.Plan{Key: plans.Key{Type: c.typ}, Start: d(c.start), End: d(c.end), Due: d(c.due)}
		until, bounded := p.VisibleUntil(d(c.dob))
		got := until.String()
		if !bounded {
			got = ""
		}
		if got != c.want {
			t.Errorf("%s: VisibleUntil = %q, want %q", c.name, got, c.want)
		}
		if c.want != "" {
			if !p.VisibleOn(d(c.want), d(c.dob)) || p.VisibleOn(d(c.want).AddDays(1), d(c.dob)) {
				t.Errorf("%s: the last visible day must be %s inclusive", c.name, c.want)
			}
		}
	}
}

// TestDateOfBirthOnlyShortens checks what expire relies on to skip
// looking up dates of birth: a known date of birth can only end a plan's
// visibility sooner, and never changes a UCPP's.
func TestDateOfBirthOnlyShortens(t *testing.T) {
	ends := []string{"", "2026-01-31", "2026-06-30", "2030-01-01"}
	dobs := []string{"2008-02-10", "2008-06-01", "2012-05-05", "1990-01-01"}
	days := []string{"2026-02-01", "2026-03-15", "2026-07-01", "2026-09-01", "2027-01-01"}
	for _, typ := range plans.Types {
		for _, end := range ends {
			for _, due := range []string{"", "2026-05-01"} {
				p := plans.Plan{Key: plans.Key{Type: typ}, Start: d("2025-01-01"), End: d(end), Due: d(due)}
				for _, dob := range dobs {
					for _, day := range days {
						with, without := p.VisibleOn(d(day), d(dob)), p.VisibleOn(d(day), caldate.Date{})
						if with && !without || typ == plans.UCPP && with != without {
							t.Errorf("%s plan ending %q due %q on %s: visible %v with date of birth %s, %v without", typ, end, due, day, with, dob, without)
						}
					}
				}
			}
		}
	}
}
