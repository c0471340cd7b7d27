// Package plans holds the CP-IS plan: its types, its key, and the rules that
// decide how long health staff can see it (store/domain.md, "Visibility").
package plans

import (
	"fmt"
	"strings"

	"cpis/store/caldate"
)

// Type is a plan type.
type Type string

// The plan types of store/domain.md.
const (
	CPP  Type = "CPP"  // child protection plan, on the child's NHS number
	LAC  Type = "LAC"  // looked after child, on the child's NHS number
	UCPP Type = "UCPP" // unborn child protection plan, on the mother's NHS number
)

// Types lists every plan type in their sort order.
var Types = []Type{CPP, LAC, UCPP}

// ParseType reads a plan type in any case, around white space.
func ParseType(s string) (Type, bool) {
	switch t := Type(strings.ToUpper(strings.TrimSpace(s))); t {
	case CPP, LAC, UCPP:
		return t, true
	}
	return "", false
}

// Key identifies a plan: an LA holds at most one plan of each type per person.
type Key struct {
	NHS  string // normalised NHS number
	LA   string // DfE LA code
	Type Type
}

// String formats k for messages (never shown to LAs other than k.LA).
func (k Key) String() string { return fmt.Sprintf("%s/%s/%s", k.NHS, k.LA, k.Type) }

// Plan is what the hub holds for one key.
type Plan struct {
	Key
	Start   caldate.Date
	End     caldate.Date // zero while open
	Due     caldate.Date // UCPP only
	LocalID string       // the LA's own reference; never shown to health staff
}

// VisibleAfterEnd is how many days a plan stays visible after its
// (effective) end: care leavers stay visible for a year.
const VisibleAfterEnd = 365

// VisibleAfterDue is how many days a UCPP stays visible after its due date.
const VisibleAfterDue = 28

// EffectiveEnd returns the end that the visibility rule uses: for CPP and
// LAC the earlier of the end sent and the 18th birthday (when dob is known),
// for UCPP the end sent. Zero while open with no bound.
func (p Plan) EffectiveEnd(dob caldate.Date) caldate.Date {
	end := p.End
	if p.Type == UCPP || dob.IsZero() {
		return end
	}
	adult := dob.AddYears(18)
	if end.IsZero() || adult.Before(end) {
		return adult
	}
	return end
}

// VisibleUntil returns the last day (inclusive) on which p is visible, given
// the person's date of birth from demographics (zero when unknown), and false
// when p is open with no bound.
func (p Plan) VisibleUntil(dob caldate.Date) (caldate.Date, bool) {
	var until caldate.Date
	if end := p.EffectiveEnd(dob); !end.IsZero() {
		until = end.AddDays(VisibleAfterEnd)
	}
	if p.Type == UCPP && !p.Due.IsZero() {
		byDue := p.Due.AddDays(VisibleAfterDue)
		if until.IsZero() || byDue.Before(until) {
			until = byDue
		}
	}
	return until, !until.IsZero()
}

// VisibleOn reports whether p is visible on day.
func (p Plan) VisibleOn(day, dob caldate.Date) bool {
	until, bounded := p.VisibleUntil(dob)
	return !bounded || !day.After(until)
}
