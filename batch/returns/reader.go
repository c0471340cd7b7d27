package returns

import (
	"errors"
	"fmt"
	"io"

	"cpis/store/codes"
)

// Row is one row of a return: each cell's text exactly as sent (CSV: the
// field; XML: the element's text, entities decoded; XLSX: the cell's text,
// or its value as the hub reads it: xlsx.go), "" when the column or element
// is absent.
type Row struct {
	Line        int // CSV: physical line where the record starts (the header is 1); XML: Plan ordinal from 1; XLSX: worksheet row number
	NHSNumber   string
	PlanType    string
	StartDate   string
	EndDate     string
	DueDate     string
	LocalID     string
	FamilyName  string
	GivenName   string
	DateOfBirth string
	Action      string
	// Cells names, per column in the order of returns.md's column table
	// (nhs_number first, then plan_type, start_date, end_date, due_date,
	// local_id, family_name, given_name, date_of_birth, action), the cell
	// of an XLSX row whose value a rejection must explain (such as "D7"),
	// and what it holds; zero for every other cell, and in CSV and XML.
	// Check rejects a row with a cell of kind CellNoValue or CellError at
	// that column's check, and names a CellNumber cell when its number is
	// not a date.
	Cells [numColumns]Cell
}

// Cell is a worksheet cell a rejection must name.
type Cell struct {
	Ref  string // such as "D7"
	Kind CellKind
}

// CellKind is what a worksheet cell holds, when the checks must say so.
type CellKind uint8

// The kinds of Cell.
const (
	CellPlain   CellKind = iota // nothing to explain: the zero Cell
	CellNoValue                 // a formula without a cached value: its text is ""
	CellError                   // an Excel error value (#N/A, #VALUE!, ...): its text is the error
	CellNumber                  // in a date column, a number not formatted as a date: its text is its digits
)

// Reader streams the rows of one return.
type Reader interface {
	// Next returns the next row, io.EOF after the last one, or the file's
	// failure: a *codes.Error, or an error of the underlying reader
	// (wrapped). A failure is final: every later call returns it again.
	Next() (Row, error)
}

// NewReader returns a Reader of the decompressed return r, in the format n
// names: CSV or XML (a workbook is read with NewXLSXReader). It reads the header (CSV) or the root element (XML) before it
// returns, so header and root failures come from NewReader. Memory stays
// bounded whatever r holds: a CSV record or an XML token over 1 MiB fails.
func NewReader(r io.Reader, n Name) (Reader, error) {
	switch n.Format {
	case CSV:
		cr, err := newCSVReader(newGuard(r, true), n)
		if err != nil {
			return nil, err
		}
		return cr, nil
	case XML:
		xr, err := newXMLReader(newGuard(r, false), n)
		if err != nil {
			return nil, err
		}
		return xr, nil
	case XLSX:
		return nil, fmt.Errorf("new return reader: a workbook needs random access: read it with NewXLSXReader")
	}
	return nil, fmt.Errorf("new return reader: unknown format %q", n.Format)
}

// column is a column of a return, in the order of returns.md.
type column int

const (
	colNHSNumber column = iota
	colPlanType
	colStartDate
	colEndDate
	colDueDate
	colLocalID
	colFamilyName
	colGivenName
	colDateOfBirth
	colAction
	numColumns
)

// columnNames are the CSV header names and XML element names.
var columnNames = [numColumns]struct{ csv, xml string }{
	colNHSNumber:   {"nhs_number", "NHSNumber"},
	colPlanType:    {"plan_type", "PlanType"},
	colStartDate:   {"start_date", "StartDate"},
	colEndDate:     {"end_date", "EndDate"},
	colDueDate:     {"due_date", "DueDate"},
	colLocalID:     {"local_id", "LocalId"},
	colFamilyName:  {"family_name", "FamilyName"},
	colGivenName:   {"given_name", "GivenName"},
	colDateOfBirth: {"date_of_birth", "DateOfBirth"},
	colAction:      {"action", "Action"},
}

// cell returns the field of r that holds column c.
func (r *Row) cell(c column) *string {
	switch c {
	case colNHSNumber:
		return &r.NHSNumber
	case colPlanType:
		return &r.PlanType
	case colStartDate:
		return &r.StartDate
	case colEndDate:
		return &r.EndDate
	case colDueDate:
		return &r.DueDate
	case colLocalID:
		return &r.LocalID
	case colFamilyName:
		return &r.FamilyName
	case colGivenName:
		return &r.GivenName
	case colDateOfBirth:
		return &r.DateOfBirth
	case colAction:
		return &r.Action
	}
	panic(fmt.Sprintf("returns: no column %d", c))
}

// settle decides which failure a reader reports. A header or structure
// problem ranks after invalid text (F001) and after a failure of the
// caller's reader (its size limit: F006), which may lie further on, so the
// rest of the input is read to look for them first.
func settle(g *guard, err error) error {
	var ce *codes.Error
	if !errors.As(err, &ce) || ce.Detail == codes.F001 {
		return err
	}
	if worse := g.drain(); worse != nil {
		return worse
	}
	return err
}
