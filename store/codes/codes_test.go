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
		documented[d] = strings.ReplaceAll(strings.TrimSuffix(cells[3], " |"), "`", "")
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
