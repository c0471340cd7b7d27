package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	h := initCLIHub(t)
	h.send("841", "CPIS_841_FULL_20261121.csv", "nhs_number,plan_type,start_date,local_id\n"+
		"9990276579,CPP,2026-03-02,C-1\n9993765570,CPP,2026-03-02,C-2\n"+
		"9994812866,CP,2026-03-02,C-3\n9990000220,CPP,2026-03-02,\"=HYPERLINK(\"\"x\"\")\"\n")
	h.ok("ingest")

	out := filepath.Join(h.files, "ops", "week.xlsx")
	csvDir := filepath.Join(h.files, "ops", "csv")
	got := h.ok("report", "--out", out, "--csv", csvDir)
	want := "Report of the period 2026-11-15 00:00 to 2026-11-22 02:30 (London): 153 LAs, 0 late, 152 never applied; " +
		"rejected or warned rows 2, NHS numbers to fix 1, cross-LA people 0, plans expiring 0, undelivered messages 0, held returns 0.\n" +
		"Wrote the workbook " + out + ".\n" +
		"Wrote summary.csv, rejections.csv, rejections-by-code.csv, nhs-numbers.csv, cross-la.csv, expiring.csv, undelivered-and-held.csv into " + csvDir + ".\n"
	if got != want {
		t.Errorf("cpis report printed\n%s\nwant\n%s", got, want)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.HasPrefix(string(b), "PK") {
		t.Errorf("workbook %s: %v, not a zip file", out, err)
	}
	recs := readCSV(t, filepath.Join(csvDir, "rejections.csv"))
	if len(recs) != 3 || recs[1][6] != "C-3" || recs[2][6] != `'=HYPERLINK("x")` || recs[2][8] != "CPR01" {
		t.Errorf("rejections.csv = %q, want the 2 rejected rows of 841's return, local_id guarded", recs)
	}

	// Without --out or --csv: the nightly file of today.
	h.ok("report", "--since", "2026-11-01")
	if _, err := os.Stat(filepath.Join(h.data, "reports", "report-20261122.xlsx")); err != nil {
		t.Error(err)
	}
	// Only --csv: no workbook.
	h.ok("report", "--csv", filepath.Join(h.files, "only-csv"))
	if entries, _ := os.ReadDir(filepath.Join(h.data, "reports")); len(entries) != 1 {
		t.Errorf("reports folder holds %d files, want 1", len(entries))
	}
}

func TestReportCommandUsage(t *testing.T) {
	h := initCLIHub(t)
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"report", "--since", "22/11/2026"}, exitUsage, `--since "22/11/2026" is not a date YYYY-MM-DD`},
		{[]string{"report", "--since", "2026-11-23"}, exitUsage, "--since 2026-11-23 is after today (2026-11-22 in London)"},
		{[]string{"report", "--out", "report.csv"}, exitUsage, `--out "report.csv" must name an .xlsx file`},
		{[]string{"report", "extra"}, exitUsage, "unknown command"},
		{[]string{"--data", filepath.Join(h.files, "none"), "report"}, exitFailure, "run `cpis init` first"},
	} {
		r := h.run(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
			t.Errorf("cpis %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.stderr)
		}
	}
}
