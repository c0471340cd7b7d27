package console_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestCheckWorkbookFix: a workbook row rejected for a formula without a
// saved value says to let Excel calculate, not its column's own fix.
func TestCheckWorkbookFix(t *testing.T) {
	f := newFixture(t)
	b, token := f.officer(t, "officer@example.org", "841")
	wb := withFormula(t, [][]string{
		{"nhs_number", "plan_type", "start_date", "local_id"},
		{"9990000018", "CPP", "2026-03-02", "C-1"},
		{"9990000026", "LAC", "", "C-2"},
	}, "C3", "TODAY()")
	p := b.upload("/la/check", token, "CPIS_841_FULL_20261124.xlsx", wb)
	if p.Status != http.StatusOK {
		t.Fatalf("check: %d:\n%s", p.Status, p.Body)
	}
	m := regexp.MustCompile(`(?s)<tr class="nhsuk-table__row" id="row-3">(.*?)</tr>`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no row 3:\n%s", p.Body)
	}
	const want = "Open the workbook in Excel, let it calculate (or correct the formula) and save it again, or paste the values only"
	if !strings.Contains(m[1], "R005") || !strings.Contains(m[1], "start_date in cell C3 is a formula without a saved value") ||
		!strings.HasSuffix(strings.TrimSpace(m[1]), `<td class="nhsuk-table__cell">`+want+`</td>`) {
		t.Errorf("row 3 does not say what to fix in a workbook:\n%s", m[1])
	}
}

// withFormula returns a workbook of rows (from A1 on, "" leaving a cell
// out) with a formula in cell ref, saved without a value (excelize does
// not calculate).
func withFormula(t *testing.T, rows [][]string, ref, formula string) []byte {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	sheet := x.GetSheetName(0)
	for i, r := range rows {
		for j, v := range r {
			if v == "" {
				continue
			}
			cell, err := excelize.CoordinatesToCellName(j+1, i+1)
			if err != nil {
				t.Fatal(err)
			}
			if err := x.SetCellStr(sheet, cell, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := x.SetCellFormula(sheet, ref, formula); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
