package pds

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"cpis/store/demographics"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"cpis/store/caldate"
	"cpis/store/codes"
)

// Lookup finds the reference record of a normalised NHS number.
type Lookup func(nhs string) (demographics.Record, bool)

// maxSteps bounds a walk along superseded_by. Read rejects loops, so only a
// reference that did not come through Read can reach it; real chains are a
// step or two long.
const maxSteps = 1000

// Current returns the number at the end of nhs's supersession chain
// (A to B to C gives C) and true, or nhs itself and false when nhs is not
// superseded or not in the reference.
func Current(nhs string, look Lookup) (string, bool) {
	rec, ok := look(nhs)
	if !ok || rec.SupersededBy == "" {
		return nhs, false
	}
	return follow(rec, look), true
}

// follow walks from a superseded record to the end of its chain. A successor
// missing from the reference ends the walk at that successor: it is the
// number the reference names. A loop ends it after maxSteps at whatever
// number it reached, which is still a later number than the one sent.
func follow(rec demographics.Record, look Lookup) string {
	cur := rec.SupersededBy
	for range maxSteps {
		next, ok := look(cur)
		if !ok || next.SupersededBy == "" {
			break
		}
		cur = next.SupersededBy
	}
	return cur
}

// Fields are the demographic values a return row sent. An empty name or a
// zero date means the row did not send it.
type Fields struct {
	FamilyName, GivenName string
	DOB                   caldate.Date
}

// Outcome is the demographics verdict on one row: at most one rejection,
// else the warnings that apply, in code order.
type Outcome struct {
	Reject   *codes.Problem  // P004, P001, P002 or P003; nil when accepted
	Warnings []codes.Problem // P005, P006; nil when rejected
	Current  string          // with P004: the current number
}

// Reconcile checks the row with the normalised number nhs against the
// reference, in the order of batch/returns/returns.md: superseded (P004), unknown (P001),
// sensitive (P002), date of birth (P003), then the warnings name (P005) and
// date of death (P006). A field is compared only when both the row and the
// reference have it.
//
// Texts name the row's own values and never the reference's, so an LA
// learns nothing it did not send; the one exception is the current number
// of a merged record, which the LA needs to correct its row.
func Reconcile(nhs string, row Fields, look Lookup) Outcome {
	rec, ok := look(nhs)
	switch {
	case ok && rec.SupersededBy != "":
		cur := follow(rec, look)
		return reject(codes.P004, fmt.Sprintf(
			"NHS number %s has been superseded by %s: resend the row with the current number", nhs, cur), cur)
	case !ok:
		return reject(codes.P001, fmt.Sprintf(
			"NHS number %s is not known to the demographics reference", nhs), "")
	case rec.Sensitive:
		return reject(codes.P002, fmt.Sprintf(
			"NHS number %s has a sensitive demographics record: child protection information cannot be attached", nhs), "")
	case !row.DOB.IsZero() && !rec.DOB.IsZero() && row.DOB != rec.DOB:
		return reject(codes.P003, fmt.Sprintf(
			"date_of_birth %s does not match the demographics record", row.DOB), "")
	}

	var out Outcome
	var differ []string
	if nameDiffers(row.FamilyName, rec.FamilyName) {
		differ = append(differ, fmt.Sprintf("family_name %q", row.FamilyName))
	}
	if nameDiffers(row.GivenName, rec.GivenName) {
		differ = append(differ, fmt.Sprintf("given_name %q", row.GivenName))
	}
	switch len(differ) {
	case 1:
		out.Warnings = append(out.Warnings, codes.Problem{Detail: codes.P005,
			Text: differ[0] + " differs from the demographics record"})
	case 2:
		out.Warnings = append(out.Warnings, codes.Problem{Detail: codes.P005,
			Text: differ[0] + " and " + differ[1] + " differ from the demographics record"})
	}
	if !rec.DOD.IsZero() {
		out.Warnings = append(out.Warnings, codes.Problem{Detail: codes.P006,
			Text: "the demographics record shows a date of death"})
	}
	return out
}

func reject(d codes.Detail, text, current string) Outcome {
	return Outcome{Reject: &codes.Problem{Detail: d, Text: text}, Current: current}
}

// nameDiffers compares a row's name with the reference's only when both
// have one.
func nameDiffers(row, ref string) bool {
	if strings.TrimSpace(row) == "" || strings.TrimSpace(ref) == "" {
		return false
	}
	return !NamesEqual(row, ref)
}

// NamesEqual reports whether two names are the same person's name under the
// rule of store/domain.md: NFC normalisation, full Unicode case folding, then
// spaces, hyphens and apostrophes (' and ’) removed. Accents count, so José
// and Jose differ; Straße and STRASSE are equal.
func NamesEqual(a, b string) bool {
	return foldName(a) == foldName(b)
}

// foldName returns the comparison form of a name. After folding it
// normalises to NFC again, since full folding can leave a decomposed
// sequence (U+0345 folds to ι after its base letter); it removes every
// white-space rune, and U+2010 and U+2011 with the ASCII hyphen.
func foldName(s string) string {
	if ascii(s) {
		// NFC and full folding are plain lower-casing on ASCII, and most
		// names are ASCII: skip the tables.
		return strings.Map(func(r rune) rune {
			if ignored(r) {
				return -1
			}
			return unicode.ToLower(r)
		}, s)
	}
	// A Caser keeps state and must not be shared between goroutines.
	s = norm.NFC.String(cases.Fold().String(norm.NFC.String(s)))
	return strings.Map(func(r rune) rune {
		if ignored(r) {
			return -1
		}
		return r
	}, s)
}

func ignored(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\'', '\u2019':
		return true
	}
	return unicode.IsSpace(r)
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
