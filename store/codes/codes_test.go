package codes_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/store/codes"
)

// TestFix holds codes.Fix to the "what the LA should do" column of the
// code tables in batch/returns/returns.md: every detail code has a text,
// and it is the documented one.
func TestFix(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "batch", "returns", "returns.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[codes.Detail]string{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, " | ")
		// | code | detail | meaning | what the LA should do |
		if len(cells) != 4 || !strings.HasPrefix(cells[0], "| `CP") {
			continue
		}
		d := codes.Detail(strings.Trim(cells[1], "`"))
		if d == "" {
			continue // CPF02, CPF03, CPF05: no detail code
		}
		// Without backquotes, and a pipe escaped in a table as \| read as |.
		documented[d] = strings.NewReplacer("`", "", `\|`, "|").Replace(strings.TrimSuffix(cells[3], " |"))
	}
	got := map[codes.Detail]string{}
	for _, d := range append(append([]codes.Detail{}, codes.FileDetails...), codes.RowDetails...) {
		got[d] = codes.Fix(d)
		if got[d] == "" {
			t.Errorf("Fix(%s) is empty", d)
		}
	}
	if diff := cmp.Diff(documented, got); diff != "" {
		t.Errorf("Fix against returns.md (-doc +Fix):\n%s", diff)
	}
	if f := codes.Fix("X999"); f != "" {
		t.Errorf("Fix(X999) = %q, want empty", f)
	}
}

// TestFixPlain: what to fix speaks to an officer at a web page, naming
// what a good file name looks like, without the hub's own terms.
func TestFixPlain(t *testing.T) {
	cases := []struct {
		d       codes.Detail
		has     []string
		hasNone []string
	}{
		{codes.F002, []string{"CPIS_<LA>_<FULL|DELTA>_<YYYYMMDD>.csv", ".xml", ".xlsx", "CPIS_841_FULL_20261121.csv", "without macros"}, []string{"root", "attribute", "control file"}},
	}
	for _, c := range cases {
		fix := codes.Fix(c.d)
		for _, s := range c.has {
			if !strings.Contains(fix, s) {
				t.Errorf("Fix(%s) = %q, without %q", c.d, fix, s)
			}
		}
		for _, s := range c.hasNone {
			if strings.Contains(fix, s) {
				t.Errorf("Fix(%s) = %q, with %q", c.d, fix, s)
			}
		}
	}
}

// TestFixFor: a row rejected for a workbook cell whose value is unknown
// gets the workbook's fix, whatever its column's detail code; any other
// outcome its detail code's.
func TestFixFor(t *testing.T) {
	const workbook = "open the workbook in Excel, let it calculate (or correct the formula) and save it again, or paste the values only"
	cases := []struct {
		d    codes.Detail
		text string
		want string
	}{
		{codes.R005, "start_date in cell C7 is a formula without a saved value: " + workbook, workbook},
		{codes.R001, "nhs_number in cell B4 holds the Excel error #N/A: " + workbook, workbook},
		{codes.R013, "family_name in cell G7 is a formula without a saved value: " + workbook, workbook},
		{codes.R005, `start_date "x" is not a date (use YYYY-MM-DD or D/M/YYYY)`, "give a start date as YYYY-MM-DD or D/M/YYYY"},
		{codes.R005, "start_date in cell D7 is the number 45959, not formatted as a date: format the cell as a date in Excel, or type the date as YYYY-MM-DD",
			"give a start date as YYYY-MM-DD or D/M/YYYY"},
		{codes.R005, workbook, "give a start date as YYYY-MM-DD or D/M/YYYY"},
		{codes.F001, "the workbook's part x is damaged: " + workbook, codes.Fix(codes.F001)},
		{codes.P005, "family_name differs: " + workbook, codes.Fix(codes.P005)},
		{"", "", ""},
	}
	for _, c := range cases {
		if got := codes.FixFor(c.d, c.text); got != c.want {
			t.Errorf("FixFor(%s, %q) = %q, want %q", c.d, c.text, got, c.want)
		}
	}
	if codes.WorkbookFix != workbook {
		t.Errorf("WorkbookFix = %q, want %q", codes.WorkbookFix, workbook)
	}
}

// TestDetailLists checks that the lists name each code once, files and
// rows apart, and that RowCode knows every row detail.
func TestDetailLists(t *testing.T) {
	seen := map[codes.Detail]bool{}
	for _, d := range codes.FileDetails {
		if seen[d] || d[0] != 'F' {
			t.Errorf("file detail %s repeated or not an F code", d)
		}
		seen[d] = true
	}
	for _, d := range codes.RowDetails {
		if seen[d] || d[0] == 'F' {
			t.Errorf("row detail %s repeated or an F code", d)
		}
		seen[d] = true
		if c := codes.RowCode(d); c == codes.RowRejected && d[0] != 'R' {
			t.Errorf("RowCode(%s) = %s", d, c)
		}
	}
	if len(seen) != 34 {
		t.Errorf("%d detail codes, want 34", len(seen))
	}
}
