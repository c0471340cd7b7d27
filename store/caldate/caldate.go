// Package caldate provides calendar dates without a time of day, as CP-IS
// plans and returns use them, and "today" in Europe/London.
//
// Every date rule of the hub (visibility windows, the 18th birthday, extract
// date order) works on whole calendar days; a Date never carries a clock or
// a zone, so comparisons cannot drift across a clock change.
package caldate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London on machines without a zoneinfo database.
)

// London is the zone whose calendar decides "today" for every rule.
var London = mustLoad("Europe/London")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("load %s: %v", name, err))
	}
	return loc
}

// Date is a calendar date. The zero Date means "no date" (an empty cell).
type Date struct {
	days int32 // days since 0001-01-01 plus one; 0 means no date
}

// ErrNotADate reports text that is not a date in an accepted format.
var ErrNotADate = errors.New("not a date")

// epoch is day 1; time.Duration spans only 292 years, so arithmetic uses
// Unix seconds.
var epoch = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)

const secondsPerDay = 24 * 60 * 60

// Of returns the date of year, month and day. It does not normalise: the
// caller must pass a real date (see Valid).
func Of(year int, month time.Month, day int) Date {
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	return Date{days: int32((t.Unix()-epoch.Unix())/secondsPerDay) + 1}
}

// Valid reports whether year, month and day name a real calendar date.
func Valid(year int, month time.Month, day int) bool {
	if year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 {
		return false
	}
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	return t.Day() == day && t.Month() == month
}

// InLondon returns the London calendar date of the instant t.
func InLondon(t time.Time) Date {
	y, m, d := t.In(London).Date()
	return Of(y, m, d)
}

// MaxDayNumber is the day number of 9999-12-31, the last date Valid
// accepts.
const MaxDayNumber = 3652059

// DayNumber returns d as a count of days: 1 is 0001-01-01, 0 is the zero
// Date. Day numbers are how the store keeps dates (store/doc.go).
func (d Date) DayNumber() int { return int(d.days) }

// FromDayNumber returns the Date of day number n (see DayNumber), and
// false when n is outside 0 to MaxDayNumber.
func FromDayNumber(n int) (Date, bool) {
	if n < 0 || n > MaxDayNumber {
		return Date{}, false
	}
	return Date{days: int32(n)}, true
}

// IsZero reports whether d is "no date".
func (d Date) IsZero() bool { return d.days == 0 }

// Time returns midnight UTC at the start of d (for arithmetic and display).
func (d Date) Time() time.Time {
	return time.Unix(epoch.Unix()+int64(d.days-1)*secondsPerDay, 0).UTC()
}

// YMD returns the year, month and day of d.
func (d Date) YMD() (int, time.Month, int) { return d.Time().Date() }

// AddDays returns d moved by n calendar days. The zero Date stays zero.
func (d Date) AddDays(n int) Date {
	if d.IsZero() {
		return d
	}
	return Date{days: d.days + int32(n)}
}

// AddYears returns the anniversary of d n years on; 29 February moves to
// 1 March in a year without one (as the 18th-birthday rule requires).
func (d Date) AddYears(n int) Date {
	if d.IsZero() {
		return d
	}
	y, m, day := d.YMD()
	if m == time.February && day == 29 && !Valid(y+n, m, day) {
		return Of(y+n, time.March, 1)
	}
	return Of(y+n, m, day)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.days < e.days:
		return -1
	case d.days > e.days:
		return 1
	}
	return 0
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.days < e.days }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.days > e.days }

// DaysSince returns the number of days from e to d (d - e).
func (d Date) DaysSince(e Date) int { return int(d.days - e.days) }

// String formats d as YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	y, m, day := d.YMD()
	return fmt.Sprintf("%04d-%02d-%02d", y, int(m), day)
}

// Compact formats d as YYYYMMDD (file names), or "" for the zero Date.
func (d Date) Compact() string {
	if d.IsZero() {
		return ""
	}
	y, m, day := d.YMD()
	return fmt.Sprintf("%04d%02d%02d", y, int(m), day)
}

// MarshalText implements encoding.TextMarshaler as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for YYYY-MM-DD or "".
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseISO(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseISO parses exactly YYYY-MM-DD.
func ParseISO(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("%q: %w (want YYYY-MM-DD)", s, ErrNotADate)
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || !Valid(y, time.Month(m), d) {
		return Date{}, fmt.Errorf("%q: %w", s, ErrNotADate)
	}
	return Of(y, time.Month(m), d), nil
}

// ParseCompact parses exactly YYYYMMDD (the date in a file name).
func ParseCompact(s string) (Date, error) {
	if len(s) != 8 {
		return Date{}, fmt.Errorf("%q: %w (want YYYYMMDD)", s, ErrNotADate)
	}
	return ParseISO(s[0:4] + "-" + s[4:6] + "-" + s[6:8])
}

// Parse parses a date in a return: YYYY-MM-DD, or D/M/YYYY with a one- or
// two-digit day and month. Surrounding white space is ignored.
func Parse(s string) (Date, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		parts := strings.Split(s, "/")
		if len(parts) == 3 && len(parts[0]) >= 1 && len(parts[0]) <= 2 &&
			len(parts[1]) >= 1 && len(parts[1]) <= 2 && len(parts[2]) == 4 {
			d, ok1 := digits(parts[0])
			m, ok2 := digits(parts[1])
			y, ok3 := digits(parts[2])
			if ok1 && ok2 && ok3 && Valid(y, time.Month(m), d) {
				return Of(y, time.Month(m), d), nil
			}
		}
		return Date{}, fmt.Errorf("%q: %w (want YYYY-MM-DD or D/M/YYYY)", s, ErrNotADate)
	}
	v, err := ParseISO(s)
	if err != nil {
		return Date{}, fmt.Errorf("%q: %w (want YYYY-MM-DD or D/M/YYYY)", s, ErrNotADate)
	}
	return v, nil
}

func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
