package returns_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/returns"
	"cpis/store/codes"
)

// rawOptions are the parts of a hand-made workbook besides its worksheet.
type rawOptions struct {
	shared   []string // shared strings items, as XML inside <si>
	date1904 bool
	macros   bool   // a vbaProject.bin part
	chart    bool   // the first sheet is a chart sheet
	extra    string // more XML after <sheetData> in the worksheet
	noClose  bool   // the worksheet XML stops after sheetData's content
	override map[string][]byte
}

// The cell styles of every hand-made workbook (cellXfs, by index).
const (
	sGeneral   = 0 // General
	sDate      = 1 // built-in 14, m/d/yyyy
	sCustomDMY = 2 // dd/mm/yyyy
	sDecimal   = 3 // 0.00
	sTime      = 4 // built-in 20, h:mm
	sLongDate  = 5 // [$-809]d mmmm yyyy;@
	sQuoted    = 6 // "day "0 (a number, with the text "day")
)

const rawStyles = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="3"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/><numFmt numFmtId="165" formatCode="[$-809]d mmmm yyyy;@"/><numFmt numFmtId="166" formatCode="&quot;day &quot;0"/></numFmts>
<cellXfs count="7"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="2"/><xf numFmtId="20"/><xf numFmtId="165"/><xf numFmtId="166"/></cellXfs>
</styleSheet>`

// rawWorkbook writes a workbook by hand, part by part, around the content
// of the first worksheet's sheetData.
func rawWorkbook(t testing.TB, sheetData string, o rawOptions) []byte {
	t.Helper()
	const main = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	const rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
	wbType := "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
	if o.macros {
		wbType = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
	}
	pr := ""
	if o.date1904 {
		pr = `<workbookPr date1904="1"/>`
	}
	first := `<Relationship Id="rId1" Type="` + rel + `worksheet" Target="worksheets/sheet1.xml"/>`
	if o.chart {
		first = `<Relationship Id="rId1" Type="` + rel + `chartsheet" Target="chartsheets/sheet1.xml"/>`
	}
	sheet := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n<worksheet " + main + "><sheetData>" + sheetData
	if !o.noClose {
		sheet += "</sheetData>" + o.extra + "</worksheet>"
	}
	parts := []struct{ name, content string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="` + wbType + `"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="` + rel + `officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook ` + main + `>` + pr +
			`<sheets><sheet name="Return" sheetId="1" r:id="rId1"/><sheet name="Notes" sheetId="2" r:id="rId4"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` + first +
			`<Relationship Id="rId2" Type="` + rel + `styles" Target="styles.xml"/>` +
			`<Relationship Id="rId3" Type="` + rel + `sharedStrings" Target="/xl/sharedStrings.xml"/>` +
			`<Relationship Id="rId4" Type="` + rel + `worksheet" Target="worksheets/sheet2.xml"/></Relationships>`},
		{"xl/styles.xml", rawStyles},
		{"xl/sharedStrings.xml", `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
			"<si>" + strings.Join(o.shared, "</si><si>") + "</si></sst>"},
		{"xl/worksheets/sheet1.xml", sheet},
		{"xl/worksheets/sheet2.xml", `<worksheet ` + main + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>not read</t></is></c></row></sheetData></worksheet>`},
		{"xl/chartsheets/sheet1.xml", `<chartsheet ` + main + `/>`},
	}
	if o.macros {
		parts = append(parts, struct{ name, content string }{"xl/vbaProject.bin", "macros"})
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		content := []byte(p.content)
		if b, ok := o.override[p.name]; ok {
			content = b
		}
		w, err := zw.Create(p.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// is is an inline string cell.
func is(ref, text string) string {
	return `<c r="` + ref + `" t="inlineStr"><is><t xml:space="preserve">` + text + `</t></is></c>`
}

// num is a number cell of a style.
func num(ref, v string, style int) string {
	return fmt.Sprintf(`<c r="%s" s="%d"><v>%s</v></c>`, ref, style, v)
}

// textRow is a row of inline strings from column A on; "" leaves a cell out.
func textRow(n int, cells ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<row r="%d">`, n)
	for i, c := range cells {
		if c != "" {
			b.WriteString(is(fmt.Sprintf("%c%d", 'A'+i, n), c))
		}
	}
	return b.String() + "</row>"
}

// row is a row of ready-made cells.
func row(n int, cells ...string) string {
	return fmt.Sprintf(`<row r="%d">%s</row>`, n, strings.Join(cells, ""))
}

const xlsxHeader = "nhs_number,plan_type,start_date,end_date,due_date,local_id"

func header() string { return textRow(1, strings.Split(xlsxHeader, ",")...) }

// readXLSX reads a workbook as the return file, within limit bytes.
func readXLSX(t *testing.T, file string, data []byte, limit int64) excelOutcome {
	t.Helper()
	n, err := returns.ParseName(file)
	if err != nil {
		t.Fatal(err)
	}
	var out excelOutcome
	rd, err := returns.NewXLSXReader(bytes.NewReader(data), int64(len(data)), n, limit)
	for err == nil {
		var r returns.Row
		if r, err = rd.Next(); err == nil {
			out.Rows = append(out.Rows, r)
		}
	}
	if err != io.EOF && !errors.As(err, &out.Err) {
		t.Fatalf("read: %v (%T), want a *codes.Error", err, err)
	}
	return out
}

const (
	deltaXLSX = "CPIS_841_DELTA_20261121.xlsx"
	fullXLSX  = "CPIS_841_FULL_20261121.xlsx"
)

// TestXLSXReader reads hand-made workbooks: each gives its exact rows, then
// its failure (nil at a clean end).
func TestXLSXReader(t *testing.T) {
	r := func(line int, nhs, typ, start, local string) returns.Row {
		return returns.Row{Line: line, NHSNumber: nhs, PlanType: typ, StartDate: start, LocalID: local}
	}
	cases := []struct {
		name  string
		file  string // "" means deltaXLSX
		sheet string
		o     rawOptions
		want  excelOutcome
	}{
		{name: "rows of text, line is the worksheet row",
			sheet: header() + textRow(2, "9990000018", "CPP", "2026-03-02", "", "", "C-1") + textRow(3, " 999 000 0026 ", "lac", "2/3/2026", "", "", "C 2"),
			want:  excelOutcome{Rows: []returns.Row{r(2, "9990000018", "CPP", "2026-03-02", "C-1"), r(3, " 999 000 0026 ", "lac", "2/3/2026", "C 2")}}},
		{name: "header below empty rows; empty and white-space rows skipped and not counted",
			sheet: `<row r="2"/>` + row(3, `<c r="B3" s="1"/>`) + textRow(4, strings.Split(xlsxHeader, ",")...) +
				textRow(5, "9990000018", "CPP", "2026-03-02", "", "", "C-1") + textRow(6, "  ", "", "\t") + `<row r="7"><c r="A7"><v></v></c></row>` +
				textRow(9, "9990000026", "LAC", "2026-03-02", "", "", "C-2"),
			want: excelOutcome{Rows: []returns.Row{r(5, "9990000018", "CPP", "2026-03-02", "C-1"), r(9, "9990000026", "LAC", "2026-03-02", "C-2")}}},
		{name: "header in any order and case, a column left out, cells without references",
			sheet: textRow(1, "Local_ID", " PLAN_TYPE ", "nhs_number", "start_date") +
				`<row><c t="inlineStr"><is><t>C-1</t></is></c><c t="inlineStr"><is><t>CPP</t></is></c><c><v>9990000018</v></c></row>`,
			want: excelOutcome{Rows: []returns.Row{r(2, "9990000018", "CPP", "", "C-1")}}},
		{name: "numbers in nhs_number and local_id are their digits",
			sheet: header() +
				row(2, num("A2", "9990000018", sGeneral), is("B2", "CPP"), is("C2", "2026-03-02"), num("F2", "12345", sGeneral)) +
				row(3, num("A3", "9.990000026E9", sGeneral), is("B3", "CPP"), is("C3", "2026-03-02"), num("F3", "42.0", sDecimal)) +
				row(4, num("A4", "9990000034", sDecimal), is("B4", "CPP"), is("C4", "2026-03-02"), num("F4", "1.5", sQuoted)) +
				row(5, num("A5", "1E+21", sGeneral), is("B5", "CPP"), is("C5", "2026-03-02"), num("F5", "-7", sGeneral)),
			want: excelOutcome{Rows: []returns.Row{r(2, "9990000018", "CPP", "2026-03-02", "12345"), r(3, "9990000026", "CPP", "2026-03-02", "42"),
				r(4, "9990000034", "CPP", "2026-03-02", "1.5"), r(5, "1000000000000000000000", "CPP", "2026-03-02", "-7")}}},
		{name: "Excel dates in every date format; numbers that are not dates stay numbers",
			sheet: textRow(1, "nhs_number", "plan_type", "start_date", "end_date", "due_date", "local_id", "date_of_birth") +
				row(2, is("A2", "9990000018"), is("B2", "CPP"), num("C2", "46083", sDate), num("D2", "46347.75", sCustomDMY), num("E2", "46357", sLongDate), is("F2", "C-1"), num("G2", "42073", sDate)) +
				row(3, is("A3", "9990000026"), is("B3", "CPP"), num("C3", "46083", sGeneral), num("D3", "46083", sTime), num("E3", "46083", sDecimal), is("F3", "C-2"), num("G3", "46083", sQuoted)),
			want: excelOutcome{Rows: []returns.Row{
				{Line: 2, NHSNumber: "9990000018", PlanType: "CPP", StartDate: "2026-03-02", EndDate: "2026-11-21", DueDate: "2026-12-01", LocalID: "C-1", DateOfBirth: "2015-03-10"},
				{Line: 3, NHSNumber: "9990000026", PlanType: "CPP", StartDate: "46083", EndDate: "46083", DueDate: "46083", LocalID: "C-2", DateOfBirth: "46083",
					Cells: cellsOf(returns.CellNumber, map[int]string{2: "C3", 3: "D3", 4: "E3", 8: "G3"})},
			}}},
		{name: "the 1900 leap year bug: day 60 is 29 February 1900, which never was",
			sheet: header() +
				row(2, is("A2", "9990000018"), is("B2", "CPP"), num("C2", "59", sDate), num("D2", "60", sDate), num("E2", "61", sDate), is("F2", "C-1")) +
				row(3, is("A3", "9990000026"), is("B3", "CPP"), num("C3", "1", sDate), num("D3", "0", sDate), num("E3", "2958466", sDate), is("F3", "C-2")),
			want: excelOutcome{Rows: []returns.Row{
				{Line: 2, NHSNumber: "9990000018", PlanType: "CPP", StartDate: "1900-02-28", EndDate: "1900-02-29", DueDate: "1900-03-01", LocalID: "C-1"},
				{Line: 3, NHSNumber: "9990000026", PlanType: "CPP", StartDate: "1900-01-01", EndDate: "0", DueDate: "2958466", LocalID: "C-2"},
			}}},
		{name: "the 1904 date system",
			sheet: header() + row(2, is("A2", "9990000018"), is("B2", "CPP"), num("C2", "44621", sDate), num("D2", "0", sDate), is("F2", "C-1")),
			o:     rawOptions{date1904: true},
			want:  excelOutcome{Rows: []returns.Row{{Line: 2, NHSNumber: "9990000018", PlanType: "CPP", StartDate: "2026-03-02", EndDate: "1904-01-01", LocalID: "C-1"}}}},
		{name: "shared strings, rich text and phonetic guides; booleans as shown; error values as shown, the cell named",
			sheet: header() + row(2, `<c r="A2" t="s"><v>0</v></c>`, `<c r="B2" t="s"><v>1</v></c>`, `<c r="C2" t="s"><v>2</v></c>`,
				`<c r="D2" t="b"><v>1</v></c>`, `<c r="E2" t="e"><v>#N/A</v></c>`, `<c r="F2" t="s"><v>3</v></c>`),
			o: rawOptions{shared: []string{"<t>9990000018</t>", "<r><t>C</t></r><r><rPr><b/></rPr><t>PP</t></r>", "<t>2026-03-02</t><rPh sb=\"0\" eb=\"1\"><t>x</t></rPh>", "<t xml:space=\"preserve\"> C&amp;1 </t>"}},
			want: excelOutcome{Rows: []returns.Row{{Line: 2, NHSNumber: "9990000018", PlanType: "CPP", StartDate: "2026-03-02", EndDate: "TRUE", DueDate: "#N/A", LocalID: " C&1 ",
				Cells: cellsOf(returns.CellError, map[int]string{4: "E2"})}}}},
		{name: "Excel errors, typed or a formula's cached value, are named in any column",
			sheet: header() + row(4, `<c r="A4" t="e"><f>VLOOKUP(G4,Z:Z,1,FALSE)</f><v>#N/A</v></c>`, `<c r="B4" t="e"><v>#VALUE!</v></c>`, `<c r="C4" t="e" s="1"><f>#REF!+1</f><v>#REF!</v></c>`, num("F4", "12", sGeneral)),
			want: excelOutcome{Rows: []returns.Row{{Line: 4, NHSNumber: "#N/A", PlanType: "#VALUE!", StartDate: "#REF!", LocalID: "12",
				Cells: cellsOf(returns.CellError, map[int]string{0: "A4", 1: "B4", 2: "C4"})}}}},
		{name: "formulas: the cached value is read; without one the cell is named",
			sheet: header() +
				row(2, `<c r="A2" t="str"><f>"999"&amp;"0000018"</f><v>9990000018</v></c>`, is("B2", "CPP"), `<c r="C2" s="1"><f>DATE(2026,3,2)</f><v>46083</v></c>`,
					`<c r="D2" t="str"><f>IF(1,"","x")</f><v></v></c>`, is("F2", "C-1")) +
				row(3, is("A3", "9990000026"), is("B3", "CPP"), `<c r="C3" s="1"><f>TODAY()</f></c>`, `<c r="D3"><f>C3+1</f><v></v></c>`, `<c r="F3"><f t="shared" ref="F3:F4" si="0">ROW()</f></c>`) +
				row(4, `<c r="A4"><f>A3</f></c>`, is("B4", "CPP"), `<c r="F4"><f t="shared" si="0"/></c>`),
			want: excelOutcome{Rows: []returns.Row{
				r(2, "9990000018", "CPP", "2026-03-02", "C-1"),
				{Line: 3, NHSNumber: "9990000026", PlanType: "CPP", Cells: noValue(map[int]string{2: "C3", 3: "D3", 5: "F3"})},
				{Line: 4, PlanType: "CPP", Cells: noValue(map[int]string{0: "A4", 5: "F4"})},
			}}},
		{name: "a row of formulas without values is not empty",
			sheet: header() + row(2, `<c r="D2"><f>C2+1</f></c>`),
			want:  excelOutcome{Rows: []returns.Row{{Line: 2, Cells: noValue(map[int]string{3: "D2"})}}}},
		{name: "other sheets are not read",
			sheet: header(),
			want:  excelOutcome{}},

		// Failures.
		{name: "empty worksheet", sheet: `<row r="1"/><row r="2"><c r="A2"/></row>`,
			want: excelOutcome{Err: &codes.Error{Detail: codes.F004, Text: "the first worksheet is empty: a return starts with a header row"}}},
		{name: "unknown column", sheet: textRow(3, "nhs_number", "plan_type", "colour"),
			want: excelOutcome{Err: &codes.Error{Detail: codes.F004, Line: 3, Text: `unknown column "colour" in the header (the columns are nhs_number, plan_type, start_date, end_date, due_date, local_id, family_name, given_name, date_of_birth, action)`}}},
		{name: "repeated column", sheet: textRow(1, "nhs_number", "plan_type", "NHS_Number"),
			want: excelOutcome{Err: &codes.Error{Detail: codes.F004, Line: 1, Text: "column nhs_number appears twice in the header"}}},
		{name: "a header cell with no name", sheet: textRow(1, "nhs_number", "", "plan_type"),
			want: excelOutcome{Err: &codes.Error{Detail: codes.F004, Line: 1, Text: "column 2 of the header has no name"}}},
		{name: "FULL without local_id", file: fullXLSX, sheet: textRow(1, "nhs_number", "plan_type", "start_date"),
			want: excelOutcome{Err: &codes.Error{Detail: codes.F004, Line: 1, Text: "the header has no local_id column (a FULL return needs nhs_number, plan_type, start_date, local_id)"}}},
		{name: "a header formula without a value", sheet: row(1, is("A1", "nhs_number"), `<c r="B1" t="str"><f>"plan_type"</f></c>`),
			want: excelOutcome{Err: &codes.Error{Detail: codes.F004, Line: 1, Text: "header cell B1 is a formula without a saved value"}}},
		{name: "a value beyond the header", sheet: header() + textRow(2, "9990000018", "CPP", "2026-03-02", "", "", "C-1", "stray"),
			want: excelOutcome{Err: &codes.Error{Detail: codes.F005, Line: 2, Text: "cell G2 is not empty but its column has no name in the header"}}},
		{name: "rows out of order", sheet: header() + textRow(3, "9990000018", "CPP") + textRow(2, "9990000026", "CPP"),
			want: excelOutcome{Rows: []returns.Row{{Line: 3, NHSNumber: "9990000018", PlanType: "CPP"}},
				Err: &codes.Error{Detail: codes.F001, Text: "the workbook's part xl/worksheets/sheet1.xml is not readable: row 2 comes after row 3"}}},
		{name: "a cell named for another row", sheet: header() + row(2, is("A3", "x")),
			want: excelOutcome{Err: &codes.Error{Detail: codes.F001, Text: `the workbook's part xl/worksheets/sheet1.xml is not readable: row 2 has a cell named "A3"`}}},
		{name: "a worksheet cut short fails the file: its rows never just end",
			sheet: header() + textRow(2, "9990000018", "CPP") + `<row r="3"><c r="A3" t="inlineStr"><is><t>99900`, o: rawOptions{noClose: true},
			want: excelOutcome{Rows: []returns.Row{{Line: 2, NHSNumber: "9990000018", PlanType: "CPP"}},
				Err: &codes.Error{Detail: codes.F001, Text: "the workbook's part xl/worksheets/sheet1.xml is not readable: XML syntax error on line 2: unexpected EOF"}}},
		{name: "a shared string the workbook does not have", sheet: header() + row(2, `<c r="A2" t="s"><v>7</v></c>`), o: rawOptions{shared: []string{"<t>x</t>"}},
			want: excelOutcome{Err: &codes.Error{Detail: codes.F001, Text: `the workbook's part xl/worksheets/sheet1.xml is not readable: cell A2 names shared string "7", which the workbook does not have`}}},
		{name: "a cell over 1 MiB", sheet: header() + textRow(2, strings.Repeat("9", 1<<20+1)),
			want: excelOutcome{Err: &codes.Error{Detail: codes.F005, Line: 2, Text: "cell A2 holds a text over 1 MiB"}}},
		{name: "a shared string over 1 MiB", sheet: header(), o: rawOptions{shared: []string{"<t>" + strings.Repeat("9", 1<<20+1) + "</t>"}},
			want: excelOutcome{Err: &codes.Error{Detail: codes.F005, Text: "the workbook's part xl/sharedStrings.xml holds a text over 1 MiB"}}},
		{name: "an element over 1 MiB", sheet: header() + `<row r="2" ` + strings.Repeat(" ", 1<<20+128<<10) + `/>`,
			want: excelOutcome{Err: &codes.Error{Detail: codes.F005, Text: "the workbook's part xl/worksheets/sheet1.xml holds a text or element over 1 MiB"}}},
		{name: "the first sheet is a chart", sheet: header(), o: rawOptions{chart: true},
			want: excelOutcome{Err: &codes.Error{Detail: codes.F004, Text: `the first sheet "Return" is not a worksheet (a chart?): the return must be the first sheet of the workbook`}}},
		{name: "macros", sheet: header(), o: rawOptions{macros: true},
			want: excelOutcome{Err: &codes.Error{Detail: codes.F002, Text: `the workbook holds macros (xl/vbaProject.bin): save it from Excel as an "Excel Workbook (.xlsx)" without a password`}}},
		{name: "a macro-enabled workbook without its macros", sheet: header(),
			o:    rawOptions{override: map[string][]byte{"[Content_Types].xml": []byte(`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/XL/workbook.xml" ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/></Types>`)}},
			want: excelOutcome{Err: &codes.Error{Detail: codes.F002, Text: `the workbook is macro-enabled: save it from Excel as an "Excel Workbook (.xlsx)" without a password`}}},
		{name: "a worksheet that is not UTF-8", sheet: header() + textRow(2, "Ren\xe9e"),
			want: excelOutcome{Err: &codes.Error{Detail: codes.F001, Text: "the workbook's part xl/worksheets/sheet1.xml is not readable: XML line 2: the file is not valid UTF-8 text (byte 0xE9)"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := c.file
			if file == "" {
				file = deltaXLSX
			}
			got := readXLSX(t, file, rawWorkbook(t, c.sheet, c.o), 1<<30)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// noValue makes Row.Cells of formulas without a value from cells by
// column index.
func noValue(cells map[int]string) [10]returns.Cell {
	return cellsOf(returns.CellNoValue, cells)
}

// cellsOf makes Row.Cells of one kind from cells by column index.
func cellsOf(kind returns.CellKind, cells map[int]string) (out [10]returns.Cell) {
	for i, c := range cells {
		out[i] = returns.Cell{Ref: c, Kind: kind}
	}
	return out
}

// TestXLSXPackage reads files that are not readable workbooks, or are
// too large once unpacked.
func TestXLSXPackage(t *testing.T) {
	good := rawWorkbook(t, header()+textRow(2, "9990000018", "CPP", "2026-03-02", "", "", "C-1"), rawOptions{})
	bomb := rawWorkbook(t, header()+textRow(2, "9990000018", "CPP", "2026-03-02", "", "", "C-1")+strings.Repeat("<row/>", 400_000), rawOptions{})
	cases := []struct {
		name  string
		data  []byte
		limit int64
		want  *codes.Error
	}{
		{"garbage", []byte("nhs_number,plan_type\r\n"), 1 << 20,
			&codes.Error{Detail: codes.F001, Text: `the file is not an Excel workbook (.xlsx): save it from Excel as an "Excel Workbook (.xlsx)" without a password`}},
		{"empty", nil, 1 << 20,
			&codes.Error{Detail: codes.F001, Text: `the file is not an Excel workbook (.xlsx): save it from Excel as an "Excel Workbook (.xlsx)" without a password`}},
		{"encrypted", append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 4096)...), 1 << 20,
			&codes.Error{Detail: codes.F001, Text: `the workbook is encrypted (saved with a password), or is an old Excel 97-2003 .xls file: save it from Excel as an "Excel Workbook (.xlsx)" without a password`}},
		{"cut short", good[:len(good)/2], 1 << 20,
			&codes.Error{Detail: codes.F001, Text: "the file is not a readable Excel workbook (.xlsx): zip: not a valid zip file"}},
		{"a zip without a workbook", zipOf(t, map[string]string{"hello.txt": "hello"}), 1 << 20,
			&codes.Error{Detail: codes.F001, Text: "the file is not a readable Excel workbook: it has no part _rels/.rels"}},
		{"over the limit as stored", good, int64(len(good)) - 1,
			&codes.Error{Detail: codes.F006, Text: fmt.Sprintf("the workbook is %d bytes, over the size limit of %d bytes", len(good), len(good)-1)}},
		{"a zip bomb: one part unpacks over the limit", bomb, 1 << 20,
			&codes.Error{Detail: codes.F006, Text: "the workbook's part xl/worksheets/sheet1.xml unpacks to 2401009 bytes, over the size limit of 1048576 bytes"}},
		{"parts over the limit together", good, unpacked(t, good) - 1,
			&codes.Error{Detail: codes.F006, Text: fmt.Sprintf("the workbook's parts unpack to more than the size limit of %d bytes together", unpacked(t, good)-1)}},
		{"a part longer than its header says, within the limit", lyingZip(t, good), 1 << 20,
			&codes.Error{Detail: codes.F001, Text: "the workbook's part xl/worksheets/sheet1.xml is damaged: zip: not a valid zip file"}},
		{"a zip bomb whose header under-states its part", lyingZip(t, rawWorkbook(t, header()+strings.Repeat("<row/>", 400_000), rawOptions{})), 1 << 20,
			&codes.Error{Detail: codes.F006, Text: "the workbook's part xl/worksheets/sheet1.xml unpacks to more than the size limit of 1048576 bytes"}},
		{"a part longer than its header says, within the limit, but the parts over it together", lyingZip(t, good), read(t, good) - 1,
			&codes.Error{Detail: codes.F006, Text: fmt.Sprintf("the workbook's parts unpack to more than the size limit of %d bytes together", read(t, good)-1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := readXLSX(t, deltaXLSX, c.data, c.limit)
			if diff := cmp.Diff(excelOutcome{Err: c.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if len(bomb) > 64<<10 {
		t.Errorf("the zip bomb is %d bytes stored: it should be small", len(bomb))
	}
}

// unpacked returns the sum of the declared sizes of a zip's parts, after
// checking that the zip is smaller and each part too.
func unpacked(t *testing.T, b []byte) int64 {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var sum, largest uint64
	for _, f := range zr.File {
		sum += f.UncompressedSize64
		largest = max(largest, f.UncompressedSize64)
	}
	if largest >= sum-1 || int64(sum-1) < int64(len(b)) {
		t.Fatalf("the workbook (%d bytes, parts %d, largest %d) cannot test the sum of parts", len(b), sum, largest)
	}
	return int64(sum)
}

// read returns the sum of the sizes of the parts a reader of the
// workbook unpacks (all but the second worksheet and the chart sheet).
func read(t *testing.T, b []byte) int64 {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, f := range zr.File {
		if f.Name != "xl/worksheets/sheet2.xml" && f.Name != "xl/chartsheets/sheet1.xml" {
			sum += int64(f.UncompressedSize64)
		}
	}
	return sum
}

func zipOf(t *testing.T, parts map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range parts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// lyingZip copies a workbook, its worksheet's headers declaring a tenth of
// its real size.
func lyingZip(t *testing.T, good []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.OpenRaw()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(rc)
		h := f.FileHeader
		if f.Name == "xl/worksheets/sheet1.xml" {
			h.UncompressedSize64 /= 10
			h.Flags &^= 0x8 // sizes in the local header, not a data descriptor
		}
		w, err := zw.CreateRaw(&h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestXLSXNoValueChecks: a cell holding a formula without a cached value,
// or an Excel error, fails its column's own check (so the first rejection
// in check order still wins), naming the cell; a DELETE row, whose other
// cells are ignored, is rejected too. A number not formatted as a date
// that is not a date either is named.
func TestXLSXNoValueChecks(t *testing.T) {
	full, err := returns.ParseName(fullXLSX)
	if err != nil {
		t.Fatal(err)
	}
	delta, err := returns.ParseName(deltaXLSX)
	if err != nil {
		t.Fatal(err)
	}
	const how = " is a formula without a saved value: open the workbook in Excel, let it calculate (or correct the formula) and save it again, or paste the values only"
	const errHow = ": open the workbook in Excel, let it calculate (or correct the formula) and save it again, or paste the values only"
	numHow := func(n string) string {
		return " is the number " + n + ", not formatted as a date: format the cell as a date in Excel, or type the date as YYYY-MM-DD"
	}
	base := returns.Row{Line: 7, NHSNumber: "9990000018", PlanType: "UCPP", StartDate: "2026-03-02", DueDate: "2026-12-01", LocalID: "C-1"}
	nv := func(ref string) returns.Cell { return returns.Cell{Ref: ref, Kind: returns.CellNoValue} }
	xe := func(ref string) returns.Cell { return returns.Cell{Ref: ref, Kind: returns.CellError} }
	nb := func(ref string) returns.Cell { return returns.Cell{Ref: ref, Kind: returns.CellNumber} }
	type cells = map[int]returns.Cell
	cases := []struct {
		name   string
		n      returns.Name
		change func(*returns.Row) // nil: none
		cells  cells              // by column index
		want   *codes.Problem     // nil: accepted
	}{
		{"nhs_number", full, func(r *returns.Row) { r.NHSNumber = "" }, cells{0: nv("A7")}, &codes.Problem{Detail: codes.R001, Text: "nhs_number in cell A7" + how}},
		{"plan_type", full, func(r *returns.Row) { r.PlanType = "" }, cells{1: nv("B7")}, &codes.Problem{Detail: codes.R004, Text: "plan_type in cell B7" + how}},
		{"start_date", full, func(r *returns.Row) { r.StartDate = "" }, cells{2: nv("C7")}, &codes.Problem{Detail: codes.R005, Text: "start_date in cell C7" + how}},
		{"end_date", full, nil, cells{3: nv("D7")}, &codes.Problem{Detail: codes.R006, Text: "end_date in cell D7" + how}},
		{"due_date", full, func(r *returns.Row) { r.DueDate = "" }, cells{4: nv("E7")}, &codes.Problem{Detail: codes.R008, Text: "due_date in cell E7" + how}},
		{"local_id", full, func(r *returns.Row) { r.LocalID = "" }, cells{5: nv("F7")}, &codes.Problem{Detail: codes.R010, Text: "local_id in cell F7" + how}},
		{"family_name", full, nil, cells{6: nv("G7")}, &codes.Problem{Detail: codes.R013, Text: "family_name in cell G7" + how}},
		{"given_name", full, nil, cells{7: nv("H7")}, &codes.Problem{Detail: codes.R013, Text: "given_name in cell H7" + how}},
		{"date_of_birth", full, nil, cells{8: nv("I7")}, &codes.Problem{Detail: codes.R012, Text: "date_of_birth in cell I7" + how}},
		{"action", delta, nil, cells{9: nv("J7")}, &codes.Problem{Detail: codes.R011, Text: "action in cell J7" + how}},
		{"an earlier check still wins", full, func(r *returns.Row) { r.NHSNumber = "12" }, cells{8: nv("I7")},
			&codes.Problem{Detail: codes.R002, Text: `NHS number "12" is not 10 digits (it has 2)`}},
		{"the first cell in check order wins", full, nil, cells{8: nv("I7"), 3: nv("D7")},
			&codes.Problem{Detail: codes.R006, Text: "end_date in cell D7" + how}},
		{"DELETE: local_id", delta, func(r *returns.Row) { r.Action = "DELETE" }, cells{5: nv("F7")}, &codes.Problem{Detail: codes.R010, Text: "local_id in cell F7" + how}},
		{"DELETE: an ignored cell still rejects", delta, func(r *returns.Row) { r.Action = "DELETE" }, cells{6: nv("G7")},
			&codes.Problem{Detail: codes.R013, Text: "family_name in cell G7" + how}},
		{"an Excel error in nhs_number", full, func(r *returns.Row) { r.NHSNumber = "#N/A" }, cells{0: xe("B4")},
			&codes.Problem{Detail: codes.R001, Text: "nhs_number in cell B4 holds the Excel error #N/A" + errHow}},
		{"an Excel error in start_date", full, func(r *returns.Row) { r.StartDate = " #VALUE! " }, cells{2: xe("C7")},
			&codes.Problem{Detail: codes.R005, Text: "start_date in cell C7 holds the Excel error #VALUE!" + errHow}},
		{"an Excel error that is not one is quoted", full, func(r *returns.Row) { r.LocalID = "#<b>x" }, cells{5: xe("F7")},
			&codes.Problem{Detail: codes.R010, Text: `local_id in cell F7 holds the Excel error "#<b>x"` + errHow}},
		{"DELETE: an Excel error in an ignored cell still rejects", delta, func(r *returns.Row) { r.Action = "DELETE"; r.DateOfBirth = "#REF!" }, cells{8: xe("I7")},
			&codes.Problem{Detail: codes.R012, Text: "date_of_birth in cell I7 holds the Excel error #REF!" + errHow}},
		{"a number that is not a date in start_date", full, func(r *returns.Row) { r.StartDate = "45959" }, cells{2: nb("D7")},
			&codes.Problem{Detail: codes.R005, Text: "start_date in cell D7" + numHow("45959")}},
		{"a number that is not a date in end_date", full, func(r *returns.Row) { r.EndDate = "46000.5" }, cells{3: nb("E7")},
			&codes.Problem{Detail: codes.R006, Text: "end_date in cell E7" + numHow("46000.5")}},
		{"a number that is not a date in due_date", full, func(r *returns.Row) { r.DueDate = "1" }, cells{4: nb("F7")},
			&codes.Problem{Detail: codes.R008, Text: "due_date in cell F7" + numHow("1")}},
		{"a number that is not a date in date_of_birth", full, func(r *returns.Row) { r.DateOfBirth = "42073" }, cells{8: nb("J7")},
			&codes.Problem{Detail: codes.R012, Text: "date_of_birth in cell J7" + numHow("42073")}},
		{"a number not a date in a CSV row is not named", full, func(r *returns.Row) { r.StartDate = "45959" }, nil,
			&codes.Problem{Detail: codes.R005, Text: `start_date "45959" is not a date (use YYYY-MM-DD or D/M/YYYY)`}},
		{"DELETE without formulas", delta, func(r *returns.Row) { r.Action = "DELETE"; r.StartDate = "=x" }, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := base
			if c.change != nil {
				c.change(&r)
			}
			for i, cell := range c.cells {
				r.Cells[i] = cell
			}
			got := returns.Check(r, c.n)
			if diff := cmp.Diff(c.want, got.Reject); diff != "" {
				t.Errorf("rejection (-want +got):\n%s", diff)
			}
		})
	}
}

// TestXLSXBounds: the rows a workbook can hold, from its worksheets'
// declared sizes, and the shared strings a reader holds.
func TestXLSXBounds(t *testing.T) {
	sheet := header() + textRow(2, "9990000018", "CPP")
	wb := rawWorkbook(t, sheet, rawOptions{shared: []string{"<t>x</t>"}})
	zr, err := zip.NewReader(bytes.NewReader(wb), int64(len(wb)))
	if err != nil {
		t.Fatal(err)
	}
	var sheets, shared int64
	for _, f := range zr.File {
		switch {
		case strings.HasPrefix(f.Name, "xl/worksheets/"):
			sheets += int64(f.UncompressedSize64 / 25)
		case f.Name == "xl/sharedStrings.xml":
			shared = int64(f.UncompressedSize64)
		}
	}
	rows, held := returns.XLSXBounds(bytes.NewReader(wb), int64(len(wb)))
	if rows != sheets+1 || held != shared || rows < 3 || held == 0 {
		t.Errorf("XLSXBounds = %d rows, %d held; want %d, %d", rows, held, sheets+1, shared)
	}
	if rows, held := returns.XLSXBounds(strings.NewReader("not a zip"), 9); rows != -1 || held != -1 {
		t.Errorf("XLSXBounds of a non-zip = %d, %d; want -1, -1", rows, held)
	}
}

// FuzzReadXLSX reads arbitrary bytes as a workbook: never a panic, only
// *codes.Error failures, rows in worksheet order.
func FuzzReadXLSX(f *testing.F) {
	f.Add(rawWorkbook(f, header()+textRow(2, "9990000018", "CPP", "2026-03-02", "", "", "C-1"), rawOptions{}))
	f.Add(rawWorkbook(f, header()+row(2, `<c r="A2" t="s"><v>0</v></c>`, num("C2", "46083", sDate), `<c r="D2"><f>1</f></c>`), rawOptions{shared: []string{"<t>x</t>"}}))
	f.Add([]byte("PK\x03\x04"))
	n, err := returns.ParseName(deltaXLSX)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := returns.NewXLSXReader(bytes.NewReader(data), int64(len(data)), n, 1<<20)
		last := 0
		for err == nil {
			var r returns.Row
			if r, err = rd.Next(); err == nil {
				if r.Line <= last {
					t.Fatalf("row %d after row %d", r.Line, last)
				}
				last = r.Line
			}
		}
		var ce *codes.Error
		if err != io.EOF && !errors.As(err, &ce) {
			t.Fatalf("error %v (%T), want a *codes.Error", err, err)
		}
	})
}
