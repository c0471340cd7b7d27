package report

import (
	"fmt"
	"iter"
	"strings"
	"time"

	"cpis/store/caldate"
	"cpis/store/codes"
)

// kind is what a column holds, which decides how it is written.
type kind uint8

const (
	text     kind = iota // string
	number               // int
	date                 // caldate.Date, written as a date
	datetime             // time.Time, written as London date and time
)

type column struct {
	name string
	kind kind
}

// table is one sheet of the workbook and one CSV file. A row holds, per
// column, a value of the column's kind or nil for an empty cell.
type table struct {
	sheet, file string
	subject     string // what the sheet lists, for its title row
	cols        []column
	// freezeCols is how many columns stay in view when scrolling right.
	freezeCols int
	rows       iter.Seq[[]any]
	// total is the totals row written after the rows, outside the filter.
	total []any
	// lateCol is the column of days since the last applied return whose
	// rows are coloured (-1: none).
	lateCol int
}

// col returns the index of the column named name.
func (t *table) col(name string) int {
	for i, c := range t.cols {
		if c.name == name {
			return i
		}
	}
	panic("report: no column " + name + " in " + t.sheet)
}

// rowsOf yields one row per element of xs, filled by fill into a buffer
// reused from row to row.
func rowsOf[T any](xs []T, width int, fill func(row []any, x *T)) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		row := make([]any, width)
		for i := range xs {
			clear(row)
			fill(row, &xs[i])
			if !yield(row) {
				return
			}
		}
	}
}

// opt returns v, or nil (an empty cell) for a zero date, time or string.
func opt[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// title is the first row of every sheet: what it lists, the period, when
// and from what the report was made.
func (r *Report) title(t *table) string {
	s := fmt.Sprintf("CP-IS operations report · %s · period %s 00:00 to %s London time · made %s from %s and the outboxes in %s",
		t.subject, r.Since, r.Now.In(caldate.London).Format("2006-01-02 15:04"),
		r.Now.In(caldate.London).Format("2006-01-02 15:04"), r.Store, r.Mailboxes)
	if !r.Demographics.IsZero() {
		s += " · demographics reference of " + r.Demographics.In(caldate.London).Format("2006-01-02 15:04")
	}
	return s
}

func (r *Report) laName(code string) any {
	if s := r.la(code); s != nil {
		return s.a.Name
	}
	return nil
}

// tables returns the sheets in workbook order.
func (r *Report) tables() []*table {
	return []*table{r.summary(), r.rejectionsTable(), r.pivot(), r.nhsTable(), r.crossTable(), r.expiringTable(), r.pendingTable()}
}

func (r *Report) summary() *table {
	t := &table{sheet: "Summary", file: "summary.csv", subject: "Summary: one row per LA", freezeCols: 2,
		cols: []column{
			{"LA", text}, {"Name", text}, {"Region", text}, {"Last received", datetime},
			{"Received kind", text}, {"Received message ID", text}, {"Received outcome", text}, {"Last applied", datetime},
			{"Applied kind", text}, {"Applied message ID", text}, {"Applied extract date", date}, {"Days since applied", number},
			{"Late", text}, {"Returns in period", number}, {"Rows read", number}, {"Rows applied", number},
			{"Rows rejected", number}, {"Rows warned", number}, {"Plans withdrawn", number}, {"Held returns", number},
			{"Visible CPP", number}, {"Visible LAC", number}, {"Visible UCPP", number}, {"Visible plans", number},
			{"Accesses", number}, {"Notifications", number}, {"Uncollected", number}, {"Undelivered", number},
		}}
	t.lateCol = t.col("Days since applied")
	var late, never int
	var sums [15]int
	t.rows = rowsOf(r.las, len(t.cols), func(row []any, sp **laSummary) {
		s := *sp
		row[0], row[1], row[2] = s.a.Code, s.a.Name, opt(s.a.Region)
		row[3], row[4], row[5], row[6] = opt(s.recvAt), opt(s.recvKind), opt(s.recvID), opt(s.recvOutcome)
		row[7], row[8], row[9], row[10] = opt(s.appliedAt), opt(s.appliedKind), opt(s.appliedID), opt(s.appliedExtract)
		if s.appliedAt.IsZero() {
			row[12] = "never applied"
		} else {
			days := r.Today.DaysSince(caldate.InLondon(s.appliedAt))
			row[11] = days
			if days > LateAfter {
				row[12] = "late"
			}
		}
		for i, n := range s.counts() {
			row[13+i] = n
		}
	})
	for _, s := range r.las {
		if s.appliedAt.IsZero() {
			never++
		} else if r.Today.DaysSince(caldate.InLondon(s.appliedAt)) > LateAfter {
			late++
		}
		for i, n := range s.counts() {
			sums[i] += n
		}
	}
	t.total = make([]any, len(t.cols))
	t.total[0], t.total[1] = "Total", fmt.Sprintf("%d LAs", len(r.las))
	t.total[12] = fmt.Sprintf("%d late, %d never applied", late, never)
	for i, n := range sums {
		t.total[13+i] = n
	}
	return t
}

// counts are the summary's count columns, from "Returns in period" on.
func (s *laSummary) counts() [15]int {
	return [15]int{s.received, s.read, s.applied, s.rejected, s.warns, s.withdrawn, s.held,
		s.visible[0], s.visible[1], s.visible[2], s.visible[0] + s.visible[1] + s.visible[2],
		s.accesses, s.notifications, s.uncollected, s.undelivered}
}

func (r *Report) rejectionsTable() *table {
	t := &table{sheet: "Rejections", file: "rejections.csv", lateCol: -1,
		subject: "Rejections: every rejected or warned row of the returns taken in the period",
		cols: []column{
			{"LA", text}, {"Name", text}, {"Taken", datetime}, {"Message ID", text},
			{"File", text}, {"Line", number}, {"local_id", text}, {"NHS number", text},
			{"Code", text}, {"Detail code", text}, {"Detail", text},
		}}
	t.rows = rowsOf(r.rejections, len(t.cols), func(row []any, x *rejection) {
		row[0], row[1], row[2], row[3], row[4] = x.la, r.laName(x.la), x.takenAt, x.msgID, x.file
		row[5], row[6], row[7] = x.row.Line, opt(x.row.LocalID), opt(x.row.NHSNumber)
		row[8], row[9], row[10] = string(x.row.Code), opt(string(x.row.Detail)), opt(x.row.Text)
	})
	return t
}

// rowCodes are the columns of the pivot.
var rowCodes = []codes.Code{codes.RowUnknown, codes.RowSensitive, codes.RowDOB, codes.RowNHSFormat,
	codes.RowSuperseded, codes.RowWarning, codes.RowRejected}

type pivotRow struct {
	la     string
	counts []int // per rowCodes, then the total
}

func (r *Report) pivot() *table {
	t := &table{sheet: "Rejections by LA and code", file: "rejections-by-code.csv", lateCol: -1,
		subject: "Rejections by LA and code: the rows of the Rejections sheet counted per LA and CPR code",
		cols: []column{
			{"LA", text}, {"Name", text},
		}}
	for _, c := range rowCodes {
		t.cols = append(t.cols, column{string(c), number})
	}
	t.cols = append(t.cols, column{"Total", number})
	var pr []pivotRow
	totals := make([]int, len(rowCodes)+1)
	for _, x := range r.rejections { // sorted by LA
		if len(pr) == 0 || pr[len(pr)-1].la != x.la {
			pr = append(pr, pivotRow{la: x.la, counts: make([]int, len(rowCodes)+1)})
		}
		p := &pr[len(pr)-1]
		for i, c := range rowCodes {
			if x.row.Code == c {
				p.counts[i]++
				totals[i]++
			}
		}
		p.counts[len(rowCodes)]++
		totals[len(rowCodes)]++
	}
	t.rows = rowsOf(pr, len(t.cols), func(row []any, p *pivotRow) {
		row[0], row[1] = p.la, r.laName(p.la)
		for i, n := range p.counts {
			row[2+i] = n
		}
	})
	t.total = make([]any, len(t.cols))
	t.total[0], t.total[1] = "Total", fmt.Sprintf("%d LAs", len(pr))
	for i, n := range totals {
		t.total[2+i] = n
	}
	return t
}

func (r *Report) nhsTable() *table {
	t := &table{sheet: "NHS numbers", file: "nhs-numbers.csv", lateCol: -1,
		subject: "NHS numbers: CPR01-CPR05 rows and inactive numbers still awaiting an LA correction, oldest first",
		cols: []column{
			{"LA", text}, {"Name", text}, {"First reported", datetime}, {"Last reported", datetime},
			{"Times reported", number}, {"Source", text}, {"Message ID", text}, {"File", text},
			{"Line", number}, {"local_id", text}, {"NHS number", text}, {"Plan type", text},
			{"Code", text}, {"Detail code", text}, {"Detail", text}, {"Current NHS number", text},
		}}
	t.rows = rowsOf(r.nhs, len(t.cols), func(row []any, x *nhsProblem) {
		row[0], row[1] = x.la, r.laName(x.la)
		if x.inactive != "" {
			row[5] = "inactive number"
			if !x.first.IsZero() {
				row[2], row[3], row[4] = x.first, x.last, x.times
			}
		} else {
			row[2], row[3], row[4], row[5] = x.first, x.last, x.times, "return row"
			row[6], row[7], row[8] = x.msgID, x.file, x.row.Line
		}
		row[9], row[10], row[11] = opt(x.row.LocalID), opt(x.row.NHSNumber), opt(x.planType)
		row[12], row[13], row[14], row[15] = string(x.row.Code), opt(string(x.row.Detail)), opt(x.row.Text), opt(x.current)
	})
	return t
}

func (r *Report) crossTable() *table {
	t := &table{sheet: "Cross-LA", file: "cross-la.csv", lateCol: -1,
		subject: "Cross-LA: people with visible plans from more than one LA, for safeguarding leads to check",
		cols: []column{
			{"NHS number", text}, {"Also held under", text}, {"LAs", number}, {"LA codes", text},
			{"LA names", text}, {"Plans", text}, {"Earliest start", date}, {"Latest start", date},
		}}
	t.rows = rowsOf(r.cross, len(t.cols), func(row []any, x *crossLA) {
		var codes, names, ps []string
		var first, last caldate.Date
		for _, p := range x.plans {
			if len(codes) == 0 || codes[len(codes)-1] != p.LA {
				codes = append(codes, p.LA)
				if s := r.la(p.LA); s != nil {
					names = append(names, s.a.Name)
				}
			}
			desc := p.LA + " " + string(p.Type)
			if p.NHS != x.nhs {
				desc += " under " + p.NHS
			}
			ps = append(ps, desc)
			if first.IsZero() || p.Start.Before(first) {
				first = p.Start
			}
			if p.Start.After(last) {
				last = p.Start
			}
		}
		row[0], row[1], row[2] = x.nhs, opt(strings.Join(x.aliases, ", ")), len(codes)
		row[3], row[4], row[5] = strings.Join(codes, ", "), strings.Join(names, ", "), strings.Join(ps, "; ")
		row[6], row[7] = opt(first), opt(last)
	})
	return t
}

func (r *Report) expiringTable() *table {
	t := &table{sheet: "Expiring", file: "expiring.csv", lateCol: -1,
		subject: fmt.Sprintf("Expiring: plans leaving visibility in the next %d days", ExpiringDays),
		cols: []column{
			{"Last visible day", date}, {"Days left", number}, {"LA", text}, {"Name", text},
			{"NHS number", text}, {"Plan type", text}, {"local_id", text}, {"Start", date},
			{"End", date}, {"Due", date}, {"Why", text},
		}}
	t.rows = rowsOf(r.expiring, len(t.cols), func(row []any, x *expiringPlan) {
		row[0], row[1], row[2], row[3] = x.until, x.until.DaysSince(r.Today), x.p.LA, r.laName(x.p.LA)
		row[4], row[5], row[6] = x.p.NHS, string(x.p.Type), opt(x.p.LocalID)
		row[7], row[8], row[9], row[10] = opt(x.p.Start), opt(x.p.End), opt(x.p.Due), x.why
	})
	return t
}

func (r *Report) pendingTable() *table {
	t := &table{sheet: "Undelivered and held", file: "undelivered-and-held.csv", lateCol: -1,
		subject: "Undelivered and held: outbox messages over 5 days old (uncollected), and held FULL returns",
		cols: []column{
			{"What", text}, {"LA", text}, {"Name", text}, {"Mailbox", text},
			{"File", text}, {"Message ID", text}, {"Since", datetime}, {"Age in days", number},
			{"Would withdraw", number}, {"Detail", text},
		}}
	t.rows = rowsOf(r.undelivered, len(t.cols), func(row []any, x *pending) {
		row[0], row[1], row[2], row[3], row[4], row[5] = x.what, x.la, r.laName(x.la), x.mailbox, x.file, opt(x.msgID)
		row[6], row[7] = x.since, int(r.Now.Sub(x.since)/(24*time.Hour))
		if x.what == "held" {
			row[8] = x.withdrawn
		}
		row[9] = x.detail
	})
	return t
}
