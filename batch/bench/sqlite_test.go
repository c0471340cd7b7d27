package bench_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/bench"
	"cpis/batch/generate"
	"cpis/batch/returns"
	"cpis/mesh/testenv"
)

// TestVsSQLite runs a small night with the sqlite3 comparison: both
// sqlite3 stages follow the hub's, the database holds every demographics
// record and one plan per (nhs_number, plan_type) of the FULL returns as
// sent, and the ratios can be computed (they are printed, not checked).
func TestVsSQLite(t *testing.T) {
	sqlite3 := testenv.LookPath(t, testenv.SQLite3, "sqlite3")
	dir := t.TempDir()
	stages, err := bench.Run(context.Background(), bench.Options{Dir: dir, Plans: 2000, Authorities: 6, Seed: 3, Start: start, SQLite: sqlite3})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	rows := map[string]int{}
	for _, s := range stages {
		names = append(names, s.Name)
		rows[s.Name] = s.Rows
		if s.Wall <= 0 || s.Bytes <= 0 && s.Name != "generate" {
			t.Errorf("stage %s: wall %s, %d bytes", s.Name, s.Wall, s.Bytes)
		}
	}
	want := "generate|init + demographics import|night 1: ingest FULL|night 1: expire|night 1: notify|night 1: report|night 2: ingest DELTA (1%)|" +
		bench.StageSQLiteDemographics + "|" + bench.StageSQLiteFull
	if got := strings.Join(names, "|"); got != want {
		t.Errorf("stages %q, want %q", got, want)
	}
	if _, _, ok := bench.Compare(stages, bench.StageIngestFull, bench.StageSQLiteFull); !ok {
		t.Error("no ratio of the ingest to sqlite3's import")
	}

	// The keys sqlite3 was given: the cells as sent, not normalised.
	keys := map[string]bool{}
	full, err := filepath.Glob(filepath.Join(dir, "generated", generate.ReturnsDir, "*", "CPIS_*_FULL_*"))
	if err != nil || len(full) != 6 {
		t.Fatalf("FULL returns %q: %v", full, err)
	}
	for _, path := range full {
		name, err := returns.ParseName(filepath.Base(path))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := returns.NewReader(f, name)
		if err != nil {
			t.Fatal(err)
		}
		for {
			r, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			keys[r.NHSNumber+"|"+r.PlanType] = true
		}
		f.Close()
	}
	out, err := exec.Command(sqlite3, filepath.Join(dir, bench.SQLiteDatabase),
		"SELECT count(*) FROM demographics; SELECT count(*) FROM plans; SELECT count(DISTINCT la) FROM plans;").CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v: %s", err, out)
	}
	got := strings.Fields(string(out))
	wantCounts := []string{strconv.Itoa(rows[bench.StageInit]), strconv.Itoa(len(keys)), "6"}
	if diff := cmp.Diff(wantCounts, got); diff != "" {
		t.Errorf("demographics, plans, LAs in the database (-want +got):\n%s", diff)
	}
	if rows[bench.StageSQLiteFull] != rows[bench.StageIngestFull] || rows[bench.StageSQLiteDemographics] != rows[bench.StageInit] {
		t.Errorf("rows: %v", rows)
	}
}
