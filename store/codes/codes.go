// Package codes names the outcome codes of batch/returns/returns.md: the real CP-IS file
// (CPF..) and record (CPR..) codes, and the hub's detail codes that say
// exactly what happened. Responses, the ingest report and the operations
// reports all speak this vocabulary.
package codes

import "strings"

// Code is a CP-IS outcome code, for a whole file (CPF..) or a row (CPR..).
type Code string

// File outcomes.
const (
	FileCorrupt   Code = "CPF01" // not formed correctly: nothing applied
	FileApplied   Code = "CPF02" // every row applied (warnings allowed)
	FilePartial   Code = "CPF03" // some rows applied, some rejected
	FileNotUsed   Code = "CPF04" // nothing applied
	FileAwaitsPDS Code = "CPF05" // no demographics reference yet
)

// Row outcomes.
const (
	RowUnknown    Code = "CPR01" // NHS number unknown to demographics
	RowSensitive  Code = "CPR02" // sensitive record
	RowDOB        Code = "CPR03" // date of birth differs
	RowNHSFormat  Code = "CPR04" // NHS number format incorrect
	RowSuperseded Code = "CPR05" // NHS number superseded
	RowWarning    Code = "CPR06" // accepted with a warning
	RowRejected   Code = "CPR07" // rejected for another reason
)

// Detail is a detail code (F.., R.., P.., W..).
type Detail string

// File detail codes.
const (
	F001 Detail = "F001" // not UTF-8 text (or not gzip in a .gz file)
	F002 Detail = "F002" // name, XML root or control file not as specified
	F003 Detail = "F003" // another LA's code
	F004 Detail = "F004" // header or elements: missing required, unknown
	F005 Detail = "F005" // malformed CSV/XML, line too long, DTD
	F006 Detail = "F006" // over the size limit
	F007 Detail = "F007" // repeat
	F008 Detail = "F008" // out of date order, or dated after today
	F009 Detail = "F009" // FULL return held
	F010 Detail = "F010" // more than half the rows rejected
	F011 Detail = "F011" // held return superseded by a later FULL
	F012 Detail = "F012" // held return discarded by operations
)

// Row detail codes.
const (
	P001 Detail = "P001" // NHS number not known to demographics
	P002 Detail = "P002" // sensitive record
	P003 Detail = "P003" // date of birth differs
	P004 Detail = "P004" // superseded: the detail names the current number
	P005 Detail = "P005" // name differs (warning)
	P006 Detail = "P006" // date of death recorded (warning)
	R001 Detail = "R001" // NHS number missing or blank
	R002 Detail = "R002" // NHS number not 10 digits
	R003 Detail = "R003" // check digit fails, or one repeated digit
	R004 Detail = "R004" // plan type unknown
	R005 Detail = "R005" // start date missing or not a date
	R006 Detail = "R006" // end date not a date, or before the start
	R007 Detail = "R007" // start or end after the extract date
	R008 Detail = "R008" // UCPP without a valid due date
	R009 Detail = "R009" // same (NHS number, plan type) twice in the file
	R010 Detail = "R010" // local_id missing, too long or not printable
	R011 Detail = "R011" // action unknown, or non-empty in a FULL return
	R012 Detail = "R012" // date of birth not a date
	R013 Detail = "R013" // a name over 100 characters
	W001 Detail = "W001" // not visible on the extract date: not stored
	W002 Detail = "W002" // due date on a non-UCPP row: ignored
	W003 Detail = "W003" // DELETE of a plan not held
)

// RowCode returns the CPR code that carries a row detail code.
func RowCode(d Detail) Code {
	switch d {
	case P001:
		return RowUnknown
	case P002:
		return RowSensitive
	case P003:
		return RowDOB
	case P004:
		return RowSuperseded
	case R001, R002, R003:
		return RowNHSFormat
	case P005, P006, W001, W002, W003:
		return RowWarning
	}
	return RowRejected
}

// Problem is one finding about a row or a file: its detail code and a
// sentence a data officer understands, naming the value at fault.
type Problem struct {
	Detail Detail
	Text   string
}

// Error makes a file-level Problem usable as an error.
type Error struct {
	Detail Detail
	Line   int    // physical line (CSV) or Plan ordinal (XML); 0 when none
	Text   string // names the value at fault
}

func (e *Error) Error() string { return e.Text }

// FileDetails are the file detail codes, in code order.
var FileDetails = []Detail{F001, F002, F003, F004, F005, F006, F007, F008, F009, F010, F011, F012}

// RowDetails are the row detail codes, in code order.
var RowDetails = []Detail{P001, P002, P003, P004, P005, P006,
	R001, R002, R003, R004, R005, R006, R007, R008, R009, R010, R011, R012, R013,
	W001, W002, W003}

// fixes are the "what the LA should do" column of the code tables of
// batch/returns/returns.md, word for word without its backquotes (and
// with its escaped pipes, \|, as |; a test holds them together).
var fixes = map[Detail]string{
	F001: "save it as CSV UTF-8, UTF-8 XML or an Excel workbook (.xlsx) without a password, gzip a CSV or XML file properly if at all, and send it again",
	F002: "give the file a name like CPIS_<LA>_<FULL|DELTA>_<YYYYMMDD>.csv (or .xml or .xlsx), with your LA's 3-digit code and the extract date, such as CPIS_841_FULL_20261121.csv; save a workbook as .xlsx, without macros; correct anything else the detail names; send again",
	F003: "send only your own returns, named with your own code",
	F004: "correct the header: its columns are nhs_number, plan_type, start_date, end_date, due_date, local_id, family_name, given_name, date_of_birth and action; send again",
	F005: "correct the file at the line named; send again",
	F006: "check the export (a return is a few thousand rows) and send a correct file",
	F007: "nothing, unless a new return was meant: then give it a new name or message ID",
	F008: "send a current return (dated today or earlier, not older than the last one applied)",
	F009: "check the export was complete; the CP-IS operations team releases or discards it; a new response follows",
	F010: "correct the rejected rows and send the whole return again",
	F011: "nothing: the later return stands",
	F012: "send a correct FULL return",
	P001: "check the number (an adopted child has a new one)",
	P002: "nothing to resend: CP information cannot be shared for this person",
	P003: "check the date of birth and the number (for a UCPP, the mother's)",
	P004: "resend the row under the current number; in a DELTA, also DELETE the plan under the old number (a FULL return withdraws it once no row names it)",
	P005: "check the name; nothing if it changed (adoption, marriage)",
	P006: "check and end the plan",
	R001: "add the number",
	R002: "correct the number",
	R003: "correct the mistyped digit",
	R004: "correct the plan type",
	R005: "give a start date as YYYY-MM-DD or D/M/YYYY",
	R006: "correct the end date",
	R007: "correct the date, or the extract date",
	R008: "give the expected date of birth",
	R009: "keep one row per person and plan type",
	R010: "correct the reference",
	R011: "correct the action, or leave it empty in a FULL return",
	R012: "correct the date",
	R013: "shorten the name",
	W001: "nothing; stop sending rows that ended long ago",
	W002: "leave due_date empty on CPP and LAC rows",
	W003: "nothing; check the NHS number and plan type if a plan was meant",
}

// Fix returns what an LA data officer should do about an outcome with
// detail code d: plain text, the "what the LA should do" column of
// batch/returns/returns.md without its backquotes, for a response reader
// or a web page. It returns "" for a code it does not know.
func Fix(d Detail) string { return fixes[d] }

// WorkbookFix is what an LA data officer should do about a row rejected
// for a workbook cell whose value the hub cannot know: a formula without a
// saved value, or an Excel error value (batch/returns/returns.md, "XLSX").
// The detail of such a rejection ends with it, after ": ", so that the
// response, which carries no fix, says it too.
const WorkbookFix = "open the workbook in Excel, let it calculate (or correct the formula) and save it again, or paste the values only"

// FixFor returns what an LA data officer should do about an outcome with
// detail code d and detail text: WorkbookFix for a rejection about a
// workbook cell whose value is unknown (its text ends with ": " and
// WorkbookFix), whatever its column's detail code, else Fix(d). Pages
// that show a detail beside what to fix use it.
func FixFor(d Detail, text string) string {
	if strings.HasPrefix(string(d), "R") && strings.HasSuffix(text, ": "+WorkbookFix) {
		return WorkbookFix
	}
	return Fix(d)
}
