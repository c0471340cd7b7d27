package report

import (
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"cpis/store/caldate"
)

// Layout of every sheet: the title in row 1, the header in row 2 (both
// frozen, the header with the filter buttons), the rows from row 3.
const (
	titleRow  = 1
	headerRow = 2
	firstRow  = 3
)

// widthSample is how many rows the column widths are measured on.
const widthSample = 1000

// styles are the cell styles of the workbook.
type styles struct {
	title, header, date, datetime, guarded int
	totalText, totalNumber                 int
	late, never                            int // conditional (dxf) styles
}

func newStyles(f *excelize.File) (*styles, error) {
	var s styles
	ymd, ymdhm := "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
	bold := &excelize.Font{Bold: true}
	for _, x := range []struct {
		dst   *int
		style *excelize.Style
		cond  bool
	}{
		{&s.title, &excelize.Style{Font: &excelize.Font{Bold: true, Size: 12}}, false},
		{&s.header, &excelize.Style{Font: bold, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
			Border: []excelize.Border{{Type: "bottom", Color: "8EA9DB", Style: 1}}}, false},
		{&s.date, &excelize.Style{CustomNumFmt: &ymd}, false},
		{&s.datetime, &excelize.Style{CustomNumFmt: &ymdhm}, false},
		// Text that a spreadsheet could take for a formula keeps the text
		// number format ("@"), so that editing the cell keeps it text too.
		{&s.guarded, &excelize.Style{NumFmt: 49}, false},
		{&s.totalText, &excelize.Style{Font: bold, Border: []excelize.Border{{Type: "top", Color: "000000", Style: 1}}}, false},
		{&s.totalNumber, &excelize.Style{Font: bold, Border: []excelize.Border{{Type: "top", Color: "000000", Style: 1}}}, false},
		{&s.late, &excelize.Style{Font: &excelize.Font{Color: "9C0006"}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFC7CE"}}}, true},
		{&s.never, &excelize.Style{Font: &excelize.Font{Color: "9C5700"}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFEB9C"}}}, true},
	} {
		var err error
		if x.cond {
			*x.dst, err = f.NewConditionalStyle(x.style)
		} else {
			*x.dst, err = f.NewStyle(x.style)
		}
		if err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// WriteXLSX writes the workbook to w, one stream-written sheet per table.
// It reads nothing from the store.
func (r *Report) WriteXLSX(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	st, err := newStyles(f)
	if err != nil {
		return fmt.Errorf("report styles: %w", err)
	}
	for i, t := range r.tables() {
		if i == 0 {
			err = f.SetSheetName(f.GetSheetName(0), t.sheet)
		} else {
			_, err = f.NewSheet(t.sheet)
		}
		if err == nil {
			err = r.writeSheet(f, st, t)
		}
		if err != nil {
			return fmt.Errorf("report sheet %s: %w", t.sheet, err)
		}
	}
	// No SetActiveSheet: the first sheet (the new file's Sheet1, renamed)
	// is already the active one, and SetActiveSheet would read every
	// streamed sheet back into memory.
	made := r.Now.UTC().Format(time.RFC3339)
	if err := f.SetDocProps(&excelize.DocProperties{Title: "CP-IS operations report", Creator: "cpis report",
		Created: made, Modified: made, Description: r.title(&table{subject: "workbook"})}); err != nil {
		return fmt.Errorf("report properties: %w", err)
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func (r *Report) writeSheet(f *excelize.File, st *styles, t *table) error {
	sw, err := f.NewStreamWriter(t.sheet)
	if err != nil {
		return err
	}
	for i, wd := range widths(t) {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return err
		}
	}
	topLeft := cellName(t.freezeCols+1, firstRow)
	pane := "bottomLeft"
	if t.freezeCols > 0 {
		pane = "bottomRight"
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, XSplit: t.freezeCols, YSplit: headerRow, TopLeftCell: topLeft,
		ActivePane: pane, Selection: []excelize.Selection{{SQRef: topLeft, ActiveCell: topLeft, Pane: pane}}}); err != nil {
		return err
	}
	if err := sw.SetRow(cellName(1, titleRow), []any{excelize.Cell{StyleID: st.title, Value: r.title(t)}},
		excelize.RowOpts{Height: 20}); err != nil {
		return err
	}
	header := make([]any, len(t.cols))
	for i, c := range t.cols {
		header[i] = excelize.Cell{StyleID: st.header, Value: c.name}
	}
	if err := sw.SetRow(cellName(1, headerRow), header); err != nil {
		return err
	}
	n := firstRow
	cells := make([]any, len(t.cols))
	for row := range t.rows {
		for i, v := range row {
			cells[i] = xlsxValue(st, v, 0)
		}
		if err := sw.SetRow(cellName(1, n), cells); err != nil {
			return err
		}
		n++
	}
	last := max(n-1, headerRow)
	lastCol, _ := excelize.ColumnNumberToName(len(t.cols))
	if err := f.AutoFilter(t.sheet, fmt.Sprintf("A%d:%s%d", headerRow, lastCol, last), nil); err != nil {
		return err
	}
	if t.total != nil {
		for i, v := range t.total {
			style := st.totalText
			if t.cols[i].kind == number {
				style = st.totalNumber
			}
			cells[i] = xlsxValue(st, v, style)
			if cells[i] == nil {
				cells[i] = excelize.Cell{StyleID: style}
			}
		}
		if err := sw.SetRow(cellName(1, n), cells); err != nil {
			return err
		}
	}
	if t.lateCol >= 0 && last >= firstRow {
		col, _ := excelize.ColumnNumberToName(t.lateCol + 1)
		ref := fmt.Sprintf("$%s%d", col, firstRow)
		if err := f.SetConditionalFormat(t.sheet, fmt.Sprintf("A%d:%s%d", firstRow, lastCol, last), []excelize.ConditionalFormatOptions{
			{Type: "formula", Criteria: fmt.Sprintf("%s>%d", ref, LateAfter), Format: &st.late},
			{Type: "formula", Criteria: fmt.Sprintf("ISBLANK(%s)", ref), Format: &st.never},
		}); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// xlsxValue is the stream-writer value of a cell. Strings are always
// written as strings (inline strings): the stream writer makes a formula
// only of a Cell with Formula set, which this package never writes.
func xlsxValue(st *styles, v any, style int) any {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		if style == 0 && risky(v, "=+-@") {
			style = st.guarded
		}
		return excelize.Cell{StyleID: style, Value: v}
	case int:
		return excelize.Cell{StyleID: style, Value: v}
	case caldate.Date:
		if style == 0 {
			style = st.date
		}
		return excelize.Cell{StyleID: style, Value: v.Time()}
	case time.Time:
		if style == 0 {
			style = st.datetime
		}
		// London wall-clock time, to the second: the stream writer writes
		// the time of day in the value's own zone.
		return excelize.Cell{StyleID: style, Value: v.In(caldate.London).Truncate(time.Second)}
	}
	panic(fmt.Sprintf("report: cell value of type %T", v))
}

// risky reports whether a text value begins with one of the characters
// that make a spreadsheet read it as a formula.
func risky(s, first string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(first); i++ {
		if s[0] == first[i] {
			return true
		}
	}
	return false
}

// widths measures the header and the first rows of each column, in
// characters, within 8 to 60.
func widths(t *table) []float64 {
	w := make([]int, len(t.cols))
	for i, c := range t.cols {
		w[i] = utf8.RuneCountInString(c.name) + 3 // room for the filter button
	}
	n := 0
	for row := range t.rows {
		for i, v := range row {
			w[i] = max(w[i], cellWidth(v))
		}
		if n++; n == widthSample {
			break
		}
	}
	for i, v := range t.total {
		w[i] = max(w[i], cellWidth(v))
	}
	out := make([]float64, len(w))
	for i, n := range w {
		out[i] = float64(min(max(n+1, 8), 60))
	}
	return out
}

func cellWidth(v any) int {
	switch v := v.(type) {
	case string:
		return utf8.RuneCountInString(v)
	case int:
		return len(strconv.Itoa(v))
	case caldate.Date:
		return 10
	case time.Time:
		return 16
	}
	return 0
}

func cellName(col, row int) string {
	name, _ := excelize.CoordinatesToCellName(col, row)
	return name
}
