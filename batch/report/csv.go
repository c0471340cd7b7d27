package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"cpis/mesh"
	"cpis/store/caldate"
)

// CSVFiles lists the files WriteCSV writes, in sheet order.
func (r *Report) CSVFiles() []string {
	var out []string
	for _, t := range r.tables() {
		out = append(out, t.file)
	}
	return out
}

// WriteCSV writes the tables into dir (made when missing), one CSV file per
// sheet (CSVFiles), each atomically: UTF-8, CRLF, a header row, then the
// rows and the totals row, without the title row. Dates are YYYY-MM-DD,
// times RFC 3339 in London time. A text value beginning with =, +, -, @,
// TAB or CR is prefixed with a single quote, so that no spreadsheet opening
// the file runs it as a formula.
func (r *Report) WriteCSV(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("report csv: %w", err)
	}
	for _, t := range r.tables() {
		if err := mesh.WriteFileAtomic(dir, t.file, func(w io.Writer) error { return writeCSV(w, t) }, 0o640); err != nil {
			return fmt.Errorf("report csv: %w", err)
		}
	}
	return nil
}

func writeCSV(w io.Writer, t *table) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	rec := make([]string, len(t.cols))
	for i, c := range t.cols {
		rec[i] = c.name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	write := func(row []any) error {
		for i, v := range row {
			rec[i] = csvValue(v)
		}
		return cw.Write(rec)
	}
	for row := range t.rows {
		if err := write(row); err != nil {
			return err
		}
	}
	if t.total != nil {
		if err := write(t.total); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		if risky(v, "=+-@\t\r") {
			return "'" + v
		}
		return v
	case int:
		return strconv.Itoa(v)
	case caldate.Date:
		return v.String()
	case time.Time:
		return v.In(caldate.London).Truncate(time.Second).Format(time.RFC3339)
	}
	panic(fmt.Sprintf("report: cell value of type %T", v))
}
