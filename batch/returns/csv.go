package returns

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"cpis/store/codes"
)

// csvReader reads a CSV return one record at a time.
type csvReader struct {
	g     *guard
	cr    *csv.Reader
	index [numColumns]int // field of each column in a record; -1 when absent
	width int             // fields in the header
	err   error           // final failure, io.EOF included
}

var _ Reader = (*csvReader)(nil)

func newCSVReader(g *guard, n Name) (*csvReader, error) {
	cr := csv.NewReader(g)
	cr.ReuseRecord = true // the strings of a record are fresh; only the slice is reused
	c := &csvReader{g: g, cr: cr}
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &codes.Error{Detail: codes.F004, Text: "the file is empty: a CSV return starts with a header row"}
	}
	if err != nil {
		return nil, c.failure(header, err)
	}
	line, _ := cr.FieldPos(0)
	if sep := otherSeparator(header); sep != "" {
		return nil, &codes.Error{Detail: codes.F001, Line: line, Text: fmt.Sprintf("the header is separated by %s, not commas: %s", sep, exportHint)}
	}
	if err := c.readHeader(header, line, n.Kind); err != nil {
		return nil, settle(g, err)
	}
	// Records of the wrong width are checked in Next, where a line of
	// only commas and white space is skipped whatever its width.
	cr.FieldsPerRecord = -1
	return c, nil
}

// otherSeparator names the separator of a header that is one field made of
// column names separated by semicolons or tabs (as Excel writes for some
// locales, or "Text (Tab delimited)"), or returns "".
func otherSeparator(header []string) string {
	if len(header) != 1 {
		return ""
	}
	for _, sep := range []struct{ sep, name string }{{";", "semicolons"}, {"\t", "tabs"}} {
		for _, name := range strings.Split(header[0], sep.sep) {
			if _, ok := csvColumn(strings.TrimSpace(name)); ok && strings.Contains(header[0], sep.sep) {
				return sep.name
			}
		}
	}
	return ""
}

// readHeader maps the header's names onto the columns (returns.md, CSV).
func (c *csvReader) readHeader(header []string, line int, kind Kind) error {
	bad := func(format string, args ...any) error {
		return &codes.Error{Detail: codes.F004, Line: line, Text: fmt.Sprintf(format, args...)}
	}
	for i := range c.index {
		c.index[i] = -1
	}
	c.width = len(header)
	for i, name := range header {
		name = strings.TrimSpace(name)
		col, ok := csvColumn(name)
		switch {
		case name == "":
			return bad("column %d of the header has no name", i+1)
		case !ok:
			return bad("unknown column %q in the header (the columns are %s)", name, allCSVColumns())
		case c.index[col] >= 0:
			return bad("column %s appears twice in the header", columnNames[col].csv)
		}
		c.index[col] = i
	}
	required := []column{colNHSNumber, colPlanType}
	if kind == Full {
		required = append(required, colStartDate, colLocalID)
	}
	var missing, names []string
	for _, col := range required {
		names = append(names, columnNames[col].csv)
		if c.index[col] < 0 {
			missing = append(missing, columnNames[col].csv)
		}
	}
	if len(missing) == 1 {
		return bad("the header has no %s column (a %s return needs %s)", missing[0], kind, strings.Join(names, ", "))
	}
	if len(missing) > 1 {
		return bad("the header has no %s columns (a %s return needs %s)", strings.Join(missing, ", "), kind, strings.Join(names, ", "))
	}
	return nil
}

// Next implements Reader.
func (c *csvReader) Next() (Row, error) {
	if c.err != nil {
		return Row{}, c.err
	}
	record, err := c.cr.Read()
	for err == nil && blank(record) {
		record, err = c.cr.Read()
	}
	if err != nil {
		c.err = c.failure(record, err)
		return Row{}, c.err
	}
	line, _ := c.cr.FieldPos(0)
	if len(record) != c.width {
		c.err = settle(c.g, &codes.Error{Detail: codes.F005, Line: line,
			Text: fmt.Sprintf("the record has %d fields but the header has %d", len(record), c.width)})
		return Row{}, c.err
	}
	row := Row{Line: line}
	for col, i := range c.index {
		if i >= 0 {
			*row.cell(column(col)) = record[i]
		}
	}
	return row, nil
}

// blank reports whether a record is only separators and white space: what
// Excel writes for a row whose cells were emptied. Such a line is skipped
// and not counted (returns.md).
func blank(record []string) bool {
	for _, f := range record {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// failure turns an error of encoding/csv into the file's failure.
func (c *csvReader) failure(record []string, err error) error {
	if err == io.EOF {
		return io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		e := &codes.Error{Detail: codes.F005, Line: pe.StartLine}
		switch {
		case errors.Is(pe.Err, csv.ErrFieldCount):
			e.Text = fmt.Sprintf("the record has %d fields but the header has %d", len(record), c.width)
		case errors.Is(pe.Err, csv.ErrBareQuote):
			e.Text = fmt.Sprintf(`a " inside a field that does not start with a quote (line %d, column %d): quote the whole field and double the inner quote`, pe.Line, pe.Column)
		case errors.Is(pe.Err, csv.ErrQuote):
			e.Text = fmt.Sprintf(`a quoted field is not closed properly (line %d, column %d): a quote inside it must be doubled`, pe.Line, pe.Column)
		default:
			e.Text = fmt.Sprintf("malformed CSV (line %d, column %d): %v", pe.Line, pe.Column, pe.Err)
		}
		err = settle(c.g, e)
		if err == e && errors.Is(pe.Err, csv.ErrQuote) && c.g.atEOF() && c.g.quoted {
			// settle read to the end, still inside quotes.
			e.Text = "a quoted field starting on this line is not closed before the end of the file"
		}
		return err
	}
	return settle(c.g, err)
}

func csvColumn(name string) (column, bool) {
	for col, n := range columnNames {
		if equalFoldASCII(name, n.csv) {
			return column(col), true
		}
	}
	return 0, false
}

func allCSVColumns() string {
	names := make([]string, len(columnNames))
	for i, n := range columnNames {
		names[i] = n.csv
	}
	return strings.Join(names, ", ")
}
