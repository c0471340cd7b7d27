package caldate_test

// Fuzz targets for date parsing (issue 6).
//
//	go test -run='^$' -fuzz=FuzzParse    -fuzztime=60s -fuzzminimizetime=5s ./store/caldate
//	go test -run='^$' -fuzz=FuzzParseISO -fuzztime=60s -fuzzminimizetime=5s ./store/caldate
//
// Plain go test replays the seeds below and the corpus under
// testdata/fuzz/<FuzzName>/, written from dateSeeds by
//
//	CPIS_WRITE_FUZZ_CORPUS=1 go test -run=TestWriteFuzzCorpus ./store/caldate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpis/store/caldate"
)

func FuzzParse(f *testing.F) {
	for _, s := range dateSeeds() {
		f.Add(s)
	}
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
	for _, s := range dateSeeds() {
		f.Add(s)
	}
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

func dateSeeds() []string {
	return []string{
		"2026-11-21", " 2026-11-21\t", "21/11/2026", "1/1/2026", "01/01/2026", "29/02/2024", "29/02/2023",
		"2024-02-29", "2023-02-29", "0000-01-01", "0001-01-01", "9999-12-31", "10000-01-01",
		"2026-1-01", "2026-11-1", "2026/11/21", "11/21/2026", "0/1/2026", "1/0/2026", "001/1/2026",
		"1/1/26", "1/1/02026", "+2026-11-21", "-2026-11-21", "2026-11-21T00:00:00Z", "20261121",
		"2026-+1-21", "٢٠٢٦-١١-٢١", "２０２６-１１-２１", "2026\u201011\u201021", "1//2026", "//", "/", "",
		"2026-11-21\x00", "\xff2026-11-21", "31/12/9999", "1/1/0001", " 1 / 1 / 2026 ",
	}
}

// TestWriteFuzzCorpus writes the seed corpus of this package's fuzz targets
// under testdata/fuzz when CPIS_WRITE_FUZZ_CORPUS is set; crashers already
// there are kept.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("CPIS_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set CPIS_WRITE_FUZZ_CORPUS=1 to rewrite the seed corpus")
	}
	for _, target := range []string{"FuzzParse", "FuzzParseISO"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range dateSeeds() {
			content := fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
