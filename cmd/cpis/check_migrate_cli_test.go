package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
)

// `cpis check` passes on a store written by the cpis before the binary
// records (store/testdata/json-records.db, JSON plans, demographics and
// row outcomes): the first run migrates it, and neither finds a problem;
// `cpis plans export` reads the same plans afterwards.
func TestCheckMigratesJSONStore(t *testing.T) {
	data := t.TempDir()
	old, err := os.ReadFile(filepath.Join("..", "..", "store", "testdata", "json-records.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(data, store.FileName)
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	want := cliResult{code: exitOK, stdout: "cpis.db in " + data + ": no problems (2 authorities, 4 plans, 1 message, 3 row outcomes).\n"}
	for _, run := range []string{"first, migrating", "second"} {
		if diff := cmp.Diff(want, cliRun(t, "--data", data, "check"), cmp.AllowUnexported(cliResult{})); diff != "" {
			t.Errorf("%s check (-want +got):\n%s", run, diff)
		}
	}
	got := cliRun(t, "--data", data, "--now", "2026-11-23T12:00:00Z", "plans", "export")
	wantPlans := "nhs_number,la_code,plan_type,start_date,end_date,due_date,local_id,visible_until\r\n" +
		"9990000018,202,CPP,2020-01-01,2026-10-01,,Ä-ß,2027-03-01\r\n" +
		"9990275831,841,UCPP,2026-05-01,,2026-12-01,U-1,2026-12-29\r\n" +
		"9990276579,202,LAC,2025-01-01,2026-01-01,,\"L/1 \"\"quoted\"\"\",2027-01-01\r\n" +
		"9990276579,841,CPP,2026-03-02,,,C-1,2034-03-04\r\n"
	if diff := cmp.Diff(cliResult{code: exitOK, stdout: wantPlans}, got, cmp.AllowUnexported(cliResult{})); diff != "" {
		t.Errorf("plans export (-want +got):\n%s", diff)
	}
}
