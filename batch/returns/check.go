package returns

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

// Action is what a row asks for.
type Action string

// The actions of a DELTA row; every row of a FULL return is an Upsert.
const (
	Upsert Action = "UPSERT"
	Delete Action = "DELETE"
)

// Limits on cells (returns.md, CSV).
const (
	maxLocalID = 64  // characters of local_id
	maxName    = 100 // characters of family_name and given_name
)

// Checked is a row after the checks that need neither the store nor
// demographics.
type Checked struct {
	Row Row
	// NHS is the normalised NHS number; when it is invalid, as much of it
	// as could be normalised.
	NHS string
	// Key is the plan's key: NHS, the file name's LA, and the plan type
	// ("" when unknown).
	Key plans.Key
	// Plan always carries Key and the local_id as sent; its dates are set
	// only for an accepted Upsert (Due only for a UCPP).
	Plan plans.Plan
	// Action is Delete only for a valid DELETE in a DELTA return.
	Action Action
	// DOB is the row's date_of_birth, zero when empty or not accepted.
	DOB caldate.Date
	// Reject is the first rejection, nil when the row passed.
	Reject *codes.Problem
	// Warnings are those found here (W002), only for a row that passed.
	Warnings []codes.Problem
}

// Check runs the row checks of returns.md that come before duplicates
// (R009) and demographics: the NHS number (R001-R003), then R004-R008 and
// R010-R013 in code order; the first rejection wins. A DELETE row is
// checked only for its NHS number, plan type and, when given, local_id.
// Every text names the value at fault and nothing of any other row.
func Check(row Row, n Name) Checked {
	c := Checked{Row: row, Action: Upsert}
	nhs, problem := nhsnumber.Normalize(row.NHSNumber)
	c.NHS = nhs
	c.Key = plans.Key{NHS: nhs, LA: n.LA}
	typ, typeOK := plans.ParseType(row.PlanType)
	if typeOK {
		c.Key.Type = typ
	}
	action, actionProblem := checkAction(row.Action, n.Kind)
	if actionProblem == nil {
		c.Action = action
	}
	c.Plan = plans.Plan{Key: c.Key, LocalID: row.LocalID}

	if p := unreadable(row, colNHSNumber, codes.R001); p != nil {
		return c.reject(*p)
	}
	if problem != nhsnumber.OK {
		return c.reject(nhsProblem(row.NHSNumber, problem))
	}
	if p := unreadable(row, colPlanType, codes.R004); p != nil {
		return c.reject(*p)
	}
	if !typeOK {
		return c.reject(typeProblem(row.PlanType))
	}
	if c.Action == Delete {
		if p := unreadable(row, colLocalID, codes.R010); p != nil {
			return c.reject(*p)
		}
		if strings.TrimSpace(row.LocalID) != "" {
			if p := checkLocalID(row.LocalID); p != nil {
				return c.reject(*p)
			}
		}
		// The other cells of a DELETE are ignored, but a cell whose value
		// is unknown still rejects its row (returns.md, XLSX).
		for _, f := range unreadableChecks {
			if p := unreadable(row, f.col, f.detail); p != nil {
				return c.reject(*p)
			}
		}
		return c
	}

	if p := unreadable(row, colStartDate, codes.R005); p != nil {
		return c.reject(*p)
	}
	start, p := checkStart(row.StartDate, row.Cells[colStartDate])
	if p != nil {
		return c.reject(*p)
	}
	if p := unreadable(row, colEndDate, codes.R006); p != nil {
		return c.reject(*p)
	}
	end, p := checkEnd(row.EndDate, row.Cells[colEndDate], row.StartDate, start)
	if p != nil {
		return c.reject(*p)
	}
	if start.After(n.Extract) {
		return c.reject(problemf(codes.R007, "start_date %s is after the extract date %s", strings.TrimSpace(row.StartDate), n.Extract))
	}
	if end.After(n.Extract) {
		return c.reject(problemf(codes.R007, "end_date %s is after the extract date %s", strings.TrimSpace(row.EndDate), n.Extract))
	}
	var due caldate.Date
	hasDue := strings.TrimSpace(row.DueDate) != ""
	if p := unreadable(row, colDueDate, codes.R008); p != nil {
		return c.reject(*p)
	}
	if typ == plans.UCPP {
		if due, p = checkDue(row.DueDate, row.Cells[colDueDate]); p != nil {
			return c.reject(*p)
		}
	}
	if p := unreadable(row, colLocalID, codes.R010); p != nil {
		return c.reject(*p)
	}
	if p := checkLocalID(row.LocalID); p != nil {
		return c.reject(*p)
	}
	if p := unreadable(row, colAction, codes.R011); p != nil {
		return c.reject(*p)
	}
	if actionProblem != nil {
		return c.reject(*actionProblem)
	}
	if p := unreadable(row, colDateOfBirth, codes.R012); p != nil {
		return c.reject(*p)
	}
	var dob caldate.Date
	if s := strings.TrimSpace(row.DateOfBirth); s != "" {
		var err error
		if dob, err = caldate.Parse(s); err != nil {
			return c.reject(notADate(codes.R012, "date_of_birth", s, row.Cells[colDateOfBirth]))
		}
	}
	if p := unreadable(row, colFamilyName, codes.R013); p != nil {
		return c.reject(*p)
	}
	if p := unreadable(row, colGivenName, codes.R013); p != nil {
		return c.reject(*p)
	}
	for _, name := range []struct{ column, value string }{
		{"family_name", row.FamilyName},
		{"given_name", row.GivenName},
	} {
		if n := utf8.RuneCountInString(strings.TrimSpace(name.value)); n > maxName {
			return c.reject(problemf(codes.R013, "%s %s is %d characters long (at most %d)", name.column, show(name.value), n, maxName))
		}
	}

	c.Plan.Start, c.Plan.End, c.Plan.Due = start, end, due
	c.DOB = dob
	if typ != plans.UCPP && hasDue {
		c.Warnings = append(c.Warnings, problemf(codes.W002,
			"due_date %s is ignored: only a UCPP plan has a due date, this row is %s", show(strings.TrimSpace(row.DueDate)), typ))
	}
	return c
}

// unreadableChecks are the columns a DELETE row does not check, in the order
// of the checks of any other row, with the detail code of their check.
var unreadableChecks = []struct {
	col    column
	detail codes.Detail
}{
	{colStartDate, codes.R005}, {colEndDate, codes.R006}, {colDueDate, codes.R008},
	{colAction, codes.R011}, {colDateOfBirth, codes.R012},
	{colFamilyName, codes.R013}, {colGivenName, codes.R013},
}

// unreadable returns the rejection of a row whose cell in column col
// holds a formula without a cached value or an Excel error value (XLSX),
// or nil. Its value is unknown, so it fails that column's own check, with
// detail code d: the cell is named so that the officer can find it, and
// the text ends with what to do (codes.WorkbookFix, which codes.FixFor
// then gives instead of the column's own fix).
func unreadable(row Row, col column, d codes.Detail) *codes.Problem {
	var p codes.Problem
	switch cell := row.Cells[col]; cell.Kind {
	case CellNoValue:
		p = problemf(d, "%s in cell %s is a formula without a saved value: %s", columnNames[col].csv, cell.Ref, codes.WorkbookFix)
	case CellError:
		p = problemf(d, "%s in cell %s holds the Excel error %s: %s", columnNames[col].csv, cell.Ref, excelError(*row.cell(col)), codes.WorkbookFix)
	default:
		return nil
	}
	return &p
}

// excelError shows an Excel error value as Excel does (#N/A), or quoted
// when it is not one such.
func excelError(v string) string {
	v = strings.TrimSpace(v)
	ok := len(v) > 1 && len(v) <= 16 && v[0] == '#'
	for _, r := range v {
		ok = ok && (r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("#/!?_", r))
	}
	if ok {
		return v
	}
	return show(v)
}

func (c Checked) reject(p codes.Problem) Checked {
	c.Reject = &p
	return c
}

func nhsProblem(sent string, p nhsnumber.Problem) codes.Problem {
	sent = strings.TrimSpace(sent)
	switch p {
	case nhsnumber.Missing:
		return problemf(codes.R001, "NHS number is missing")
	case nhsnumber.NotTenDigits:
		digits := 0
		for _, r := range sent {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case r != ' ' && r != '-':
				return problemf(codes.R002, "NHS number %s is not 10 digits", show(sent))
			}
		}
		return problemf(codes.R002, "NHS number %s is not 10 digits (it has %d)", show(sent), digits)
	}
	if n, _ := nhsnumber.Normalize(sent); strings.Count(n, n[:1]) == len(n) {
		return problemf(codes.R003, "NHS number %s is one digit repeated, which is never a valid number", show(sent))
	}
	return problemf(codes.R003, "NHS number %s fails the check digit (is a digit mistyped?)", show(sent))
}

func typeProblem(sent string) codes.Problem {
	if strings.TrimSpace(sent) == "" {
		return problemf(codes.R004, "plan_type is missing (use CPP, LAC or UCPP)")
	}
	return problemf(codes.R004, "plan_type %s is not CPP, LAC or UCPP", show(strings.TrimSpace(sent)))
}

// checkAction reads a row's action: in a DELTA, UPSERT or DELETE in any
// case, empty meaning UPSERT; in a FULL, nothing.
func checkAction(sent string, kind Kind) (Action, *codes.Problem) {
	s := strings.TrimSpace(sent)
	if s == "" {
		return Upsert, nil
	}
	if kind == Full {
		p := problemf(codes.R011, "action %s is not allowed in a FULL return (leave it empty, or send a DELTA)", show(s))
		return Upsert, &p
	}
	switch a := Action(upperASCII(s)); a {
	case Upsert, Delete:
		return a, nil
	}
	p := problemf(codes.R011, "action %s is not UPSERT or DELETE", show(s))
	return Upsert, &p
}

func checkStart(sent string, cell Cell) (caldate.Date, *codes.Problem) {
	s := strings.TrimSpace(sent)
	if s == "" {
		p := problemf(codes.R005, "start_date is missing")
		return caldate.Date{}, &p
	}
	d, err := caldate.Parse(s)
	if err != nil {
		p := notADate(codes.R005, "start_date", s, cell)
		return caldate.Date{}, &p
	}
	return d, nil
}

func checkEnd(sent string, cell Cell, sentStart string, start caldate.Date) (caldate.Date, *codes.Problem) {
	s := strings.TrimSpace(sent)
	if s == "" {
		return caldate.Date{}, nil
	}
	d, err := caldate.Parse(s)
	if err != nil {
		p := notADate(codes.R006, "end_date", s, cell)
		return caldate.Date{}, &p
	}
	if d.Before(start) {
		p := problemf(codes.R006, "end_date %s is before start_date %s", s, strings.TrimSpace(sentStart))
		return caldate.Date{}, &p
	}
	return d, nil
}

func checkDue(sent string, cell Cell) (caldate.Date, *codes.Problem) {
	s := strings.TrimSpace(sent)
	if s == "" {
		p := problemf(codes.R008, "due_date is missing: a UCPP plan needs the expected date of birth")
		return caldate.Date{}, &p
	}
	d, err := caldate.Parse(s)
	if err != nil {
		p := notADate(codes.R008, "due_date", s, cell)
		return caldate.Date{}, &p
	}
	return d, nil
}

// checkLocalID checks local_id as sent: 1 to 64 printable characters (a
// value of spaces only is missing).
func checkLocalID(sent string) *codes.Problem {
	if strings.TrimSpace(sent) == "" {
		p := problemf(codes.R010, "local_id is missing")
		return &p
	}
	if n := utf8.RuneCountInString(sent); n > maxLocalID {
		p := problemf(codes.R010, "local_id %s is %d characters long (at most %d)", show(sent), n, maxLocalID)
		return &p
	}
	// Graphic, not just IsPrint: a no-break space (common from
	// spreadsheets) is a printable character; controls are not.
	for _, r := range sent {
		if !unicode.IsGraphic(r) {
			p := problemf(codes.R010, "local_id %s holds a character that is not printable (%U)", show(sent), r)
			return &p
		}
	}
	return nil
}

// notADate is the rejection of a date column's value that is not a date.
// A workbook cell holding a number not formatted as a date (returns.md,
// XLSX) is named: its value is a number, which the officer may not see.
func notADate(d codes.Detail, column, value string, cell Cell) codes.Problem {
	if cell.Kind == CellNumber {
		return problemf(d, "%s in cell %s is the number %s, not formatted as a date: format the cell as a date in Excel, or type the date as YYYY-MM-DD", column, cell.Ref, value)
	}
	return problemf(d, "%s %s is not a date (use YYYY-MM-DD or D/M/YYYY)", column, show(value))
}

// dateColumn reports whether column c holds a date.
func dateColumn(c column) bool {
	switch c {
	case colStartDate, colEndDate, colDueDate, colDateOfBirth:
		return true
	}
	return false
}

func problemf(d codes.Detail, format string, args ...any) codes.Problem {
	return codes.Problem{Detail: d, Text: fmt.Sprintf(format, args...)}
}

// maxShown is how many characters of a value a message quotes.
const maxShown = 40

// show quotes a value for a message, escaping what is not printable and
// cutting a long value short.
func show(s string) string {
	if utf8.RuneCountInString(s) > maxShown {
		s = string([]rune(s)[:maxShown]) + "…"
	}
	return strconv.Quote(s)
}
