package main

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCLIPlansExport(t *testing.T) {
	h := initCLIHub(t)
	// Rows out of order, so the export's order is its own.
	h.send("841", "CPIS_841_FULL_20261121.csv", crlf(
		"nhs_number,plan_type,start_date,end_date,due_date,local_id",
		"9999002021,CPP,2025-01-01,,,C-5",            // born 29 Feb 2008: 18 on 2026-03-01, visible until 2027-03-01
		"9994981293,CPP,2026-04-01,,,C-4",            // no date of birth: open, no bound
		"9990276579,LAC,2026-01-05,2026-06-30,,C-2",  // 365 days after the end: 2027-06-30
		"9990276579,CPP,2026-03-02,,,C-1",            // 18th birthday + 365: 2035-05-12
		"9994238477,UCPP,2026-09-01,,2026-12-20,C-3", // due + 28: 2027-01-17
		"9993765570,CPP,2025-02-01,2026-10-01,,C-6",  // 2027-10-01
	))
	h.send("201", "CPIS_201_FULL_20261121.csv", crlf(
		"nhs_number,plan_type,start_date,end_date,due_date,local_id",
		`9995860155,LAC,2026-02-02,,,"L-3, ""B"""`,             // quoted as sent; 2037-03-06
		"9994238477,UCPP,2026-05-01,2026-11-10,2026-11-30,L-2", // due + 28 before end + 365: 2026-12-28
		"9990276579,CPP,2025-11-01,2026-02-01,,L-1",            // 2027-02-01
	))
	for _, o := range h.ingestJSON() {
		if o["code"] != "CPF02" {
			t.Fatalf("ingest: %v", o)
		}
	}

	all := h.plansExport()
	golden(t, "cli", "plans-export.golden.csv", []byte(all))
	only841 := h.plansExport("--la", "841")
	golden(t, "cli", "plans-export-841.golden.csv", []byte(only841))

	for name, out := range map[string]string{"all": all, "--la 841": only841} {
		if !strings.HasPrefix(out, PlansHeader+"\r\n") {
			t.Errorf("%s: export does not begin with the header and CRLF: %q", name, out)
		}
		if strings.Count(out, "\n") != strings.Count(out, "\r\n") || !strings.HasSuffix(out, "\r\n") {
			t.Errorf("%s: export has line ends other than CRLF", name)
		}
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.IsSortedFunc(recs[1:], func(a, b []string) int { return slices.Compare(a[:3], b[:3]) }) {
			t.Errorf("%s: rows not sorted by nhs_number, la_code, plan_type:\n%s", name, out)
		}
	}
	var want841 []string
	for l := range strings.Lines(all) {
		if strings.Contains(l, ",841,") || strings.HasPrefix(l, "nhs_number,") {
			want841 = append(want841, l)
		}
	}
	if diff := cmp.Diff(strings.Join(want841, ""), only841); diff != "" {
		t.Errorf("--la 841 is not 841's rows of the whole export (-want +got):\n%s", diff)
	}
	if out := h.plansExport("--la", "202"); out != PlansHeader+"\r\n" {
		t.Errorf("export --la 202 printed %q, want the header only", out)
	}
}
