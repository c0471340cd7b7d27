package caldate_test

// Fuzz targets for date parsing (issue 6).
//
//	go test -run='^$' -fuzz=FuzzParse    -fuzztime=60s -fuzzminimizetime=5s ./store/caldate
//	go test -run='^$' -fuzz=FuzzParseISO -fuzztime=60s -fuzzminimizetime=5s ./store/caldate
//
// Plain go test replays the corpus under testdata/fuzz/<FuzzName>/: the
// seeds, written from the list in gen_fuzz_corpus.go by
//
//	go generate ./store/caldate
//
// and any crasher a fuzzer found, kept under the name it gave.

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpis/store/caldate"
)

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := caldate.Parse(s)
		if err != nil {
			if !errors.Is(err, caldate.ErrNotADate) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrNotADate", s, err)
			}
			if !d.IsZero() {
				t.Fatalf("Parse(%q) failed but returned %v", s, d)
			}
			return
		}
		checkDate(t, "Parse", s, d)
		if again, err := caldate.Parse(d.String()); err != nil || again != d {
			t.Fatalf("Parse(%q) = %v, but Parse(%q) = %v, %v", s, d, d.String(), again, err)
		}
		// D/M/YYYY is day first, as written; anything else is YYYY-MM-DD.
		y, m, day := d.YMD()
		if parts := strings.Split(strings.TrimSpace(s), "/"); len(parts) == 3 {
			pd, _ := strconv.Atoi(parts[0])
			pm, _ := strconv.Atoi(parts[1])
			py, _ := strconv.Atoi(parts[2])
			if pd != day || pm != int(m) || py != y {
				t.Fatalf("Parse(%q) = %v: day, month, year not as written", s, d)
			}
		} else if strings.TrimSpace(s) != d.String() {
			t.Fatalf("Parse(%q) = %v, not D/M/YYYY and not that date as YYYY-MM-DD", s, d)
		}
	})
}

func FuzzParseISO(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := caldate.ParseISO(s)
		if err != nil {
			if !errors.Is(err, caldate.ErrNotADate) {
				t.Fatalf("ParseISO(%q) error %v does not wrap ErrNotADate", s, err)
			}
			if !d.IsZero() {
				t.Fatalf("ParseISO(%q) failed but returned %v", s, d)
			}
			return
		}
		checkDate(t, "ParseISO", s, d)
		// YYYY-MM-DD has one spelling per date.
		if d.String() != s {
			t.Fatalf("ParseISO(%q) = %v, which formats as %q", s, d, d.String())
		}
		if p, err := caldate.Parse(s); err != nil || p != d {
			t.Fatalf("ParseISO(%q) = %v but Parse gives %v, %v", s, d, p, err)
		}
		if c, err := caldate.ParseCompact(d.Compact()); err != nil || c != d {
			t.Fatalf("ParseCompact(%q) = %v, %v, want %v", d.Compact(), c, err, d)
		}
	})
}

// checkDate checks what every accepted date must satisfy: it is a real
// date in years 1 to 9999, and its YYYY-MM-DD form is accepted by ParseISO
// as the same date.
func checkDate(t *testing.T, fn, s string, d caldate.Date) {
	t.Helper()
	if d.IsZero() {
		t.Fatalf("%s(%q) succeeded with the zero Date", fn, s)
	}
	y, m, day := d.YMD()
	if !caldate.Valid(y, m, day) || caldate.Of(y, m, day) != d {
		t.Fatalf("%s(%q) = %v (%d-%d-%d), not a valid date", fn, s, d, y, m, day)
	}
	iso := d.String()
	back, err := caldate.ParseISO(iso)
	if err != nil || back != d {
		t.Fatalf("%s(%q) = %v, formatted %q, which ParseISO reads as %v, %v", fn, s, d, iso, back, err)
	}
	if got := d.Time(); got.Location() != time.UTC || got.Hour() != 0 || got.Minute() != 0 || got.Second() != 0 {
		t.Fatalf("%s(%q).Time() = %v, not midnight UTC", fn, s, got)
	}
	var u caldate.Date
	if err := u.UnmarshalText([]byte(iso)); err != nil || u != d {
		t.Fatalf("UnmarshalText(%q) = %v, %v, want %v", iso, u, err, d)
	}
}
