package returns_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/returns"
	"cpis/store/codes"
)

// What LA officers send when they save a return from Excel (returns.md,
// CSV): emptied rows come back as lines of commas, and the wrong "Save as"
// choice gives UTF-16, a single-byte code page or another separator.

// excelOutcome is what a reader gives for one input: the rows, then the
// failure that ended it (nil at a clean end).
type excelOutcome struct {
	Rows []returns.Row
	Err  *codes.Error
}

func readExcelCSV(t *testing.T, in string) excelOutcome {
	t.Helper()
	n, err := returns.ParseName("CPIS_841_DELTA_20261121.csv")
	if err != nil {
		t.Fatal(err)
	}
	var out excelOutcome
	rd, err := returns.NewReader(strings.NewReader(in), n)
	for err == nil {
		var row returns.Row
		if row, err = rd.Next(); err == nil {
			out.Rows = append(out.Rows, row)
		}
	}
	if err != io.EOF && !errors.As(err, &out.Err) {
		t.Fatalf("read: %v (%T), want a *codes.Error", err, err)
	}
	return out
}

const exportHint = `export it from Excel as "CSV UTF-8 (comma delimited)"`

// utf16Text encodes s as UTF-16, little or big endian, with or without
// a byte order mark.
func utf16Text(s string, bigEndian, bom bool) string {
	units := utf16.Encode([]rune(s))
	if bom {
		units = append([]uint16{0xFEFF}, units...)
	}
	var b strings.Builder
	for _, u := range units {
		if bigEndian {
			b.WriteByte(byte(u >> 8))
			b.WriteByte(byte(u))
		} else {
			b.WriteByte(byte(u))
			b.WriteByte(byte(u >> 8))
		}
	}
	return b.String()
}

func TestExcelCSV(t *testing.T) {
	const header = "nhs_number,plan_type,start_date,local_id\n"
	row := func(line int, id string) returns.Row {
		return returns.Row{Line: line, NHSNumber: "9990276579", PlanType: "CPP", StartDate: "2026-03-02", LocalID: id}
	}
	f001 := func(line int, text string) *codes.Error {
		return &codes.Error{Detail: codes.F001, Line: line, Text: text}
	}
	cases := []struct {
		name string
		in   string
		want excelOutcome
	}{
		{
			name: "emptied rows are skipped and not counted",
			in:   header + "9990276579,CPP,2026-03-02,C-1\n,,,\n , ,\t,\n9990276579,CPP,2026-03-02,C-4\n,,,\n",
			want: excelOutcome{Rows: []returns.Row{row(2, "C-1"), row(5, "C-4")}},
		},
		{
			name: "emptied rows of any width, CRLF, and quoted empty cells",
			in:   header + ",,,,,,,,\r\n,\r\n\"\",\"\",\"\",\"\"\r\n9990276579,CPP,2026-03-02,C-5\r\n",
			want: excelOutcome{Rows: []returns.Row{row(5, "C-5")}},
		},
		{
			name: "a file of emptied rows only has no rows",
			in:   header + ",,,\n,,,\n",
			want: excelOutcome{},
		},
		{
			name: "a row with one cell filled is a row, and of the wrong width",
			in:   header + ",,,\n,CPP,\n",
			want: excelOutcome{Err: &codes.Error{Detail: codes.F005, Line: 3, Text: "the record has 3 fields but the header has 4"}},
		},
		{
			name: "UTF-16 little endian with its byte order mark",
			in:   utf16Text(header+"9990276579,CPP,2026-03-02,C-1\n", false, true),
			want: excelOutcome{Err: f001(1, "the file is UTF-16 text (it starts with a UTF-16 byte order mark), not UTF-8: "+exportHint)},
		},
		{
			name: "UTF-16 big endian with its byte order mark",
			in:   utf16Text(header, true, true),
			want: excelOutcome{Err: f001(1, "the file is UTF-16 text (it starts with a UTF-16 byte order mark), not UTF-8: "+exportHint)},
		},
		{
			name: "UTF-16 little endian without a byte order mark",
			in:   utf16Text(header, false, false),
			want: excelOutcome{Err: f001(1, "the file is UTF-16 text (a NUL byte beside each character), not UTF-8: "+exportHint)},
		},
		{
			name: "UTF-16 big endian without a byte order mark",
			in:   utf16Text(header, true, false),
			want: excelOutcome{Err: f001(1, "the file is UTF-16 text (a NUL byte beside each character), not UTF-8: "+exportHint)},
		},
		{
			name: "Latin-1: é is one byte",
			in:   header + "9990276579,CPP,2026-03-02,C-Ren\xe9e\n",
			want: excelOutcome{Err: f001(2, "the file is not valid UTF-8 text (byte 0xE9): it looks like Latin-1 or Windows-1252 text; "+exportHint)},
		},
		{
			name: "Windows-1252: a curly quote at the end of the file",
			in:   header + "9990276579,CPP,2026-03-02,C-1\x92",
			want: excelOutcome{Err: f001(2, "the file is not valid UTF-8 text (byte 0x92): it looks like Latin-1 or Windows-1252 text; "+exportHint)},
		},
		{
			name: "broken UTF-8 is not called Latin-1",
			in:   header + "9990276579,CPP,2026-03-02,C\xc0\xaf1\n",
			want: excelOutcome{Err: f001(2, "the file is not valid UTF-8 text (byte 0xC0)")},
		},
		{
			name: "separated by semicolons",
			in:   "nhs_number;plan_type;start_date;local_id\n9990276579;CPP;2026-03-02;C-1\n",
			want: excelOutcome{Err: f001(1, "the header is separated by semicolons, not commas: "+exportHint)},
		},
		{
			name: "separated by tabs, with a byte order mark",
			in:   "\uFEFFnhs_number\tplan_type\tstart_date\tlocal_id\r\n9990276579\tCPP\t2026-03-02\tC-1\r\n",
			want: excelOutcome{Err: f001(1, "the header is separated by tabs, not commas: "+exportHint)},
		},
		{
			name: "one unknown column with a semicolon is an unknown column",
			in:   "what;ever\n1\n",
			want: excelOutcome{Err: &codes.Error{Detail: codes.F004, Line: 1, Text: `unknown column "what;ever" in the header (the columns are nhs_number, plan_type, start_date, end_date, due_date, local_id, family_name, given_name, date_of_birth, action)`}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, readExcelCSV(t, c.in)); diff != "" {
				t.Errorf("read (-want +got):\n%s", diff)
			}
		})
	}
}
