package returns_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"cpis/batch/returns"
	"cpis/mesh/testenv"
	"cpis/store/codes"
)

// Workbooks as other programs write them: excelize (the writer the hub's
// own reports use) and openpyxl (Python, what an LA's scripts might use).
// Each must read as the same rows.

// writtenRows are the rows both writers are given, as the reader must
// read them.
var writtenRows = []returns.Row{
	{Line: 2, NHSNumber: "9990000018", PlanType: "CPP", StartDate: "2026-03-02", LocalID: "C-1", FamilyName: "Ashby", DateOfBirth: "2015-03-10"},
	{Line: 4, NHSNumber: "9990000026", PlanType: "UCPP", StartDate: "2/3/2026", DueDate: "2026-12-01", LocalID: "12345"},
	{Line: 5, NHSNumber: "9990000034", PlanType: "LAC", LocalID: "C-3", Cells: noValue(map[int]string{2: "C5"})},
}

func TestXLSXFromExcelize(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	date, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	set := func(cell string, v any) {
		t.Helper()
		if err := f.SetCellValue(sheet, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range []string{"nhs_number", "plan_type", "start_date", "due_date", "local_id", "family_name", "date_of_birth"} {
		set(fmt.Sprintf("%c1", 'A'+i), h)
	}
	set("A2", int64(9990000018))
	set("B2", "CPP")
	set("C2", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) // excelize's own date style
	set("E2", "C-1")
	set("F2", "Ashby")
	set("G2", 42073.0) // a date serial, styled below
	if err := f.SetCellStyle(sheet, "G2", "G2", date); err != nil {
		t.Fatal(err)
	}
	set("A4", 9990000026.0)
	set("B4", "UCPP")
	set("C4", "2/3/2026")
	set("D4", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	set("E4", 12345)
	set("A5", "9990000034")
	set("B5", "LAC")
	if err := f.SetCellFormula(sheet, "C5", "DATE(2026,3,2)"); err != nil {
		t.Fatal(err)
	}
	set("E5", "C-3")
	if _, err := f.NewSheet("Notes"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellValue("Notes", "A1", "not part of the return"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	got := readXLSX(t, deltaXLSX, buf.Bytes(), 1<<30)
	if diff := cmp.Diff(excelOutcome{Rows: writtenRows}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// Saved with a password, the same workbook is encrypted: F001.
	buf.Reset()
	if err := f.Write(&buf, excelize.Options{Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	got = readXLSX(t, deltaXLSX, buf.Bytes(), 1<<30)
	want := &codes.Error{Detail: codes.F001, Text: `the workbook is encrypted (saved with a password), or is an old Excel 97-2003 .xls file: save it from Excel as an "Excel Workbook (.xlsx)" without a password`}
	if diff := cmp.Diff(excelOutcome{Err: want}, got); diff != "" {
		t.Errorf("encrypted (-want +got):\n%s", diff)
	}
}

// openpyxlScript writes the rows of writtenRows with openpyxl: numbers as
// numbers, dates as dates, a formula without a value (openpyxl never
// computes one), and an emptied row 3.
const openpyxlScript = `
import datetime, sys
from openpyxl import Workbook
wb = Workbook()
ws = wb.active
ws.title = "Return"
ws.append(["nhs_number", "plan_type", "start_date", "due_date", "local_id", "family_name", "date_of_birth"])
ws.append([9990000018, "CPP", datetime.date(2026, 3, 2), None, "C-1", "Ashby", datetime.datetime(2015, 3, 10, 0, 0)])
ws.append([])
ws.append([9990000026.0, "UCPP", "2/3/2026", datetime.date(2026, 12, 1), 12345])
ws.append(["9990000034", "LAC", "=DATE(2026,3,2)", None, "C-3"])
wb.create_sheet("Notes")["A1"] = "not part of the return"
wb.save(sys.argv[1])
`

func TestXLSXFromOpenpyxl(t *testing.T) {
	py := testenv.OpenpyxlPython(t, "workbooks written by another program are read in the test")
	path := filepath.Join(t.TempDir(), deltaXLSX)
	if out, err := exec.Command(py, "-c", openpyxlScript, path).CombinedOutput(); err != nil {
		t.Fatalf("openpyxl: %v: %s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := readXLSX(t, deltaXLSX, b, 1<<30)
	if diff := cmp.Diff(excelOutcome{Rows: writtenRows}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// BenchmarkXLSXReader reads the 10,000-row FULL return of
// BenchmarkCSVReader saved as a workbook by excelize: NHS numbers as
// numbers, dates as Excel dates, text as shared strings.
func BenchmarkXLSXReader(b *testing.B) {
	f := excelize.NewFile()
	defer f.Close()
	date, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		b.Fatal(err)
	}
	sw, err := f.NewStreamWriter(f.GetSheetName(0))
	if err != nil {
		b.Fatal(err)
	}
	head := []any{"nhs_number", "plan_type", "start_date", "end_date", "due_date", "local_id", "family_name", "given_name", "date_of_birth", "action"}
	if err := sw.SetRow("A1", head); err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		row := []any{int64(9990276579), "CPP", excelize.Cell{StyleID: date, Value: 46083}, nil, nil, fmt.Sprintf("C-%05d", i),
			"Smith, Jr", "Amy", excelize.Cell{StyleID: date, Value: 42095}, nil}
		if err := sw.SetRow(fmt.Sprintf("A%d", i+2), row); err != nil {
			b.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	n, err := returns.ParseName(fullXLSX)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := returns.NewXLSXReader(bytes.NewReader(data), int64(len(data)), n, 1<<30)
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			r, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if r.StartDate != "2026-03-02" || r.NHSNumber != "9990276579" {
				b.Fatalf("row %+v", r)
			}
			rows++
		}
		if rows != 10000 {
			b.Fatalf("read %d rows, want 10000", rows)
		}
	}
}
