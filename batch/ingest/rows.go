package ingest

import (
	"fmt"
	"strconv"

	"cpis/batch/returns"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

// fact is what the evaluation of a return keeps in memory for each row:
// what the other rows' decisions need (duplicates, withdrawals). The rest of
// the row is in the return's row spill.
type fact struct {
	nhs   uint64 // the normalised NHS number, when the row's number is valid
	line  int32
	typ   uint8 // index in plans.Types plus one; 0 when unknown
	flags uint8
	dup   int32 // 1 + the index of the row's R009 problem; 0 when none
}

// Flags of a fact.
const (
	checkRejected uint8 = 1 << iota // rejected by the row checks of package returns
	isDelete                        // a valid DELETE row
)

// factBytes is the memory of one fact, for the budget.
const factBytes = 24

// typeIndex returns t's index in plans.Types plus one, 0 when unknown.
func typeIndex(t plans.Type) uint8 {
	for i, u := range plans.Types {
		if u == t {
			return uint8(i + 1)
		}
	}
	return 0
}

func typeAt(i uint8) plans.Type {
	if i == 0 {
		return ""
	}
	return plans.Types[i-1]
}

// nhsString formats a valid NHS number held as a number.
func nhsString(n uint64) string {
	var b [10]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[:])
}

// parsed is a return read and checked row by row: a fact per row and the
// rows themselves in a spill, in line order.
type parsed struct {
	facts []fact
	rows  *spill
	dir   string // where its spills go
}

func (p *parsed) close() {
	if p != nil {
		p.rows.close()
	}
}

// add records the checked row c.
func (p *parsed) add(c returns.Checked) error {
	f := fact{line: int32(c.Row.Line), typ: typeIndex(c.Key.Type)}
	if c.Reject == nil || codes.RowCode(c.Reject.Detail) != codes.RowNHSFormat {
		// The number passed its format checks: ten digits.
		n, err := strconv.ParseUint(c.NHS, 10, 64)
		if err != nil {
			return fmt.Errorf("row %d: NHS number %q: %w", c.Row.Line, c.NHS, err)
		}
		f.nhs = n
	}
	if c.Reject != nil {
		f.flags |= checkRejected
	}
	if c.Action == returns.Delete {
		f.flags |= isDelete
	}
	p.facts = append(p.facts, f)

	s := p.rows
	s.putString(c.Row.NHSNumber)
	s.putString(c.Row.LocalID)
	s.putString(c.Row.FamilyName)
	s.putString(c.Row.GivenName)
	s.putDate(c.Plan.Start)
	s.putDate(c.Plan.End)
	s.putDate(c.Plan.Due)
	s.putDate(c.DOB)
	if c.Reject != nil {
		s.putUint(1)
		s.putString(string(c.Reject.Detail))
		s.putString(c.Reject.Text)
	} else {
		s.putUint(0)
	}
	s.putUint(uint64(len(c.Warnings)))
	for _, w := range c.Warnings {
		s.putString(string(w.Detail))
		s.putString(w.Text)
	}
	return s.end()
}

// row is a row read back from the spill, with its fact.
type row struct {
	fact
	nhsSent, localID string
	family, given    string
	start, end, due  caldate.Date
	dob              caldate.Date
	reject           *codes.Problem // of the row checks
	warnings         []codes.Problem
}

// readRow reads the next row of the spill into r (f is its fact).
func readRow(sr *spillReader, f fact, r *row) {
	*r = row{fact: f, warnings: r.warnings[:0]}
	r.nhsSent = sr.string()
	r.localID = sr.string()
	r.family = sr.string()
	r.given = sr.string()
	r.start, r.end, r.due, r.dob = sr.date(), sr.date(), sr.date(), sr.date()
	if sr.uint() == 1 {
		r.reject = &codes.Problem{Detail: codes.Detail(sr.string()), Text: sr.string()}
	}
	for n := sr.uint(); n > 0 && sr.err() == nil; n-- {
		r.warnings = append(r.warnings, codes.Problem{Detail: codes.Detail(sr.string()), Text: sr.string()})
	}
}
