package report_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/hubtest"
	"cpis/batch/inactive"
	"cpis/batch/ingest"
	"cpis/batch/report"
	"cpis/mesh/testenv"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

var reportTestdata = hubtest.Testdata("report")

// The clock of the test hub: made on 1 October 2026; returns taken on
// 1, 19, 20 and 22 November; the report made at 02:30 on 22 November 2026
// (London is on GMT, so today is 2026-11-22 and the default period starts
// on 2026-11-15).
var (
	created  = time.Date(2026, 10, 1, 2, 30, 0, 0, time.UTC)
	takenT0  = time.Date(2026, 11, 1, 2, 30, 0, 0, time.UTC)
	takenT1  = time.Date(2026, 11, 19, 2, 30, 0, 0, time.UTC)
	takenT2  = time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)
	reportAt = time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
)

// hub is a data directory made from testdata's authorities and
// demographics.
type hub struct {
	t   testing.TB
	dir string
	db  *store.DB
	fix *hubtest.Hub
	seq int
}

func newHub(t testing.TB) *hub {
	t.Helper()
	fix := hubtest.New(t, hubtest.Options{Created: created})
	return &hub{t: t, dir: fix.Dir, db: fix.DB, fix: fix}
}

// send puts a return of testdata/report/returns into its LA's inbox with a
// control file whose message ID is fixed by at and the order of sending.
func (h *hub) send(file string, at time.Time) {
	h.t.Helper()
	h.seq++
	id := fmt.Sprintf("%s000000_%06X", at.UTC().Format("20060102150405"), h.seq)
	h.fix.Send(h.t, filepath.Join(reportTestdata, "returns", file), id)
}

func (h *hub) ingest(at time.Time) {
	h.t.Helper()
	rep, err := ingest.Run(h.t.Context(), ingest.Config{DataDir: h.dir, DB: h.db, Now: func() time.Time { return at }})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range rep.Failed {
		h.t.Fatalf("ingest at %s: %v", at, f)
	}
}

func (h *hub) update(fn func(tx *store.Tx) error) {
	h.t.Helper()
	if err := h.db.Update(fn); err != nil {
		h.t.Fatal(err)
	}
}

func date(s string) caldate.Date {
	d, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return d
}

// reportHub is the hub every report test reads (testdata/report/README.md
// says who is who):
//
//   - 204 Hackney: a FULL applied on 1 November, nothing since: late; its
//     response has waited in the outbox for 6 days: undelivered.
//   - 202 Camden and 203 Greenwich: plans held under numbers the
//     demographics reference does not know (202, local_id "+CAM-UNK") or
//     knows as superseded (203), reported as inactive on 1 November; 202
//     deletes a second such plan in a DELTA today, so that one is put
//     right. 203 never had a return applied.
//   - 208 Lambeth: a FULL of 22 plans on 19 November, then a FULL of 2
//     on 20 November, held (it would withdraw 20).
//   - 841 Darlington: a FULL today with rejected rows (local_id
//     =HYPERLINK("x") among them), a warning, plans expiring within 30
//     days, and a person with a plan at 202 and another (under a number
//     superseded into theirs) at 203.
//   - Lookups and notifications for 841 and 202 this week.
func reportHub(t testing.TB) *hub {
	h := newHub(t)

	h.send("CPIS_204_FULL_20261031.csv", takenT0)
	h.ingest(takenT0)
	h.update(func(tx *store.Tx) error {
		for _, p := range []plans.Plan{
			{Key: plans.Key{NHS: "9991265031", LA: "203", Type: plans.LAC}, Start: date("2026-01-05"), LocalID: "G-ALIAS"},
			{Key: plans.Key{NHS: "9990000018", LA: "202", Type: plans.CPP}, Start: date("2026-02-01"), LocalID: "+CAM-UNK"},
			{Key: plans.Key{NHS: "9990000026", LA: "202", Type: plans.LAC}, Start: date("2026-02-01"), LocalID: "CAM-GONE"},
		} {
			if err := tx.PutPlan(p); err != nil {
				return err
			}
		}
		return nil
	})
	if _, err := inactive.Run(h.dir, h.db, takenT0); err != nil {
		t.Fatal(err)
	}

	h.send("CPIS_208_FULL_20261118.csv", takenT1)
	h.ingest(takenT1)
	h.send("CPIS_208_FULL_20261119.csv", takenT2)
	h.ingest(takenT2)

	h.send("CPIS_841_FULL_20261121.csv", reportAt)
	h.send("CPIS_202_DELTA_20261121.csv", reportAt)
	h.ingest(reportAt)

	h.update(func(tx *store.Tx) error {
		seen := reportAt.Add(-2 * time.Hour)
		for _, a := range []store.LookupAudit{
			{At: time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC), OrgCode: "RXX", NHSNumber: "9990276579", Via: "http", Outcome: "alert", Status: 200, Plans: 1, Notified: 1},
			{At: time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC), OrgCode: "RXX", NHSNumber: "9994812866", Via: "http", Outcome: "alert", Silent: true, Status: 200, Plans: 1},
			{At: seen, OrgCode: "RXX", NHSNumber: "9990276579", Via: "http", Outcome: "alert", Status: 200, Plans: 2, Notified: 2},
			{At: seen, OrgCode: "RXX", NHSNumber: "9993765570", Via: "http", Outcome: "no-alert", Status: 200},
			{At: seen, OrgCode: "RXX", Via: "http", Outcome: "refused", Status: 400, Field: "X-Setting"},
		} {
			if err := tx.AddLookupAudit(a); err != nil {
				return err
			}
		}
		for _, la := range []string{"841", "202"} {
			if err := tx.Owe(la, store.Notification{AccessedAt: seen, NHSNumber: "9990276579", OrgCode: "RXX", Setting: "1"}); err != nil {
				return err
			}
		}
		return tx.PutDayFile(date("2026-11-21"), "841", store.DayFile{MessageID: "20261122000100000000_00000A",
			File: "CPIS_841_ACCESS_20261121.csv", Rows: 3, DecidedAt: reportAt.Add(-150 * time.Minute), WrittenAt: reportAt.Add(-150 * time.Minute)})
	})

	// Outbox ages: every message an hour old, except 204's response (6
	// days: undelivered) and 203's inactive-number file (4 days: only
	// uncollected).
	mailboxes := filepath.Join(h.dir, "mailboxes")
	outs, err := filepath.Glob(filepath.Join(mailboxes, "*", "outbox", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range outs {
		at := reportAt.Add(-time.Hour)
		switch {
		case strings.Contains(p, "CPIS_204_RESPONSE_"):
			at = reportAt.Add(-6 * 24 * time.Hour)
		case strings.Contains(p, "CPIS_203_INACTIVE_"):
			at = reportAt.Add(-4 * 24 * time.Hour)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// messageIDs matches message IDs; the hub makes the 6 hex digits at random.
var messageIDs = regexp.MustCompile(`([0-9]{20})_[0-9A-F]{6}`)

// normalise makes output comparable across runs: the data dir and the
// random part of message IDs.
func normalise(b []byte, dir string) []byte {
	b = bytes.ReplaceAll(b, []byte(dir), []byte("<data>"))
	return messageIDs.ReplaceAll(b, []byte("${1}_XXXXXX"))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	hubtest.Golden(t, filepath.Join(reportTestdata, name), got)
}

func collect(t *testing.T, h *hub, since caldate.Date) *report.Report {
	t.Helper()
	r, err := report.Collect(report.Config{DataDir: h.dir, DB: h.db, Now: reportAt, Since: since})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// dump is the workbook as dump_xlsx.py prints it.
type dump struct {
	Sheets []struct {
		Name string  `json:"name"`
		Rows [][]any `json:"rows"`
	} `json:"sheets"`
}

func TestWorkbook(t *testing.T) {
	py := testenv.OpenpyxlPython(t, "the workbook is checked with an independent reader")
	h := reportHub(t)
	path := filepath.Join(t.TempDir(), "report.xlsx")
	var buf bytes.Buffer
	if err := collect(t, h, caldate.Date{}).WriteXLSX(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	assertNoFormulas(t, buf.Bytes())

	cmd := exec.Command(py, filepath.Join(reportTestdata, "dump_xlsx.py"), path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dump_xlsx.py: %v\n%s", err, stderr.Bytes())
	}
	got := normalise(out, h.dir)
	golden(t, "workbook.golden.json", got)

	// The local_id =HYPERLINK("x") comes back as text wherever it is shown.
	var d dump
	if err := json.Unmarshal(got, &d); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, s := range d.Sheets {
		for _, row := range s.Rows {
			for _, c := range row {
				cell, ok := c.([]any)
				if !ok || cell[0] != `=HYPERLINK("x")` {
					continue
				}
				found = append(found, s.Name)
				if cell[1] != "s" {
					t.Errorf("%s: =HYPERLINK(\"x\") read as data type %v, want text (s)", s.Name, cell[1])
				}
				if len(cell) < 3 || cell[2] != "@" {
					t.Errorf("%s: =HYPERLINK(\"x\") has number format %v, want text (@)", s.Name, cell[2:])
				}
			}
		}
	}
	if diff := cmp.Diff([]string{"Rejections", "NHS numbers"}, found); diff != "" {
		t.Errorf("sheets showing =HYPERLINK(\"x\") (-want +got):\n%s", diff)
	}
}

// assertNoFormulas reads the worksheets' XML itself: no cell may carry a
// formula (<f>), whatever a reader makes of it.
func assertNoFormulas(t *testing.T, xlsx []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(xlsx), int64(len(xlsx)))
	if err != nil {
		t.Fatal(err)
	}
	sheets := 0
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "xl/worksheets/") || !strings.HasSuffix(f.Name, ".xml") {
			continue
		}
		sheets++
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("<f>")) || bytes.Contains(b, []byte("<f ")) {
			t.Errorf("%s holds a formula", f.Name)
		}
	}
	if sheets != 7 {
		t.Errorf("%d worksheets, want 7", sheets)
	}
}

func TestCSV(t *testing.T) {
	h := reportHub(t)
	r := collect(t, h, caldate.Date{})
	dir := filepath.Join(t.TempDir(), "csv")
	if err := r.WriteCSV(dir); err != nil {
		t.Fatal(err)
	}
	names := r.CSVFiles()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var written []string
	for _, e := range entries {
		written = append(written, e.Name())
	}
	if diff := cmp.Diff(sortedCopy(names), written); diff != "" {
		t.Errorf("files in %s (-want +got):\n%s", dir, diff)
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("csv", name), normalise(b, h.dir))
	}

	// The guard, read back as a CSV reader sees it.
	values := map[string]bool{}
	for _, name := range names {
		for _, rec := range readCSV(t, filepath.Join(dir, name)) {
			for _, v := range rec {
				values[v] = true
			}
		}
	}
	for _, want := range []string{`'=HYPERLINK("x")`, "'@C-3", "'-EXP", "'+U-5", "'+CAM-UNK", "'\tTAB"} {
		if !values[want] {
			t.Errorf("no value %q in the CSV files", want)
		}
	}
	for v := range values {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			t.Errorf("value %q is not guarded", v)
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

// summaryRow returns the Summary row of la as column -> value.
func summaryRow(t *testing.T, r *report.Report, la string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	if err := r.WriteCSV(dir); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, filepath.Join(dir, "summary.csv"))
	for _, rec := range recs[1:] {
		if rec[0] == la {
			row := map[string]string{}
			for i, v := range rec {
				row[recs[0][i]] = v
			}
			return row
		}
	}
	t.Fatalf("no summary row for LA %s", la)
	return nil
}

func TestPeriod(t *testing.T) {
	h := reportHub(t)
	for _, c := range []struct {
		since          string
		received, read string
	}{
		{"", "0", "0"},           // 204's return of 1 November is before the default period
		{"2026-11-01", "1", "2"}, // and in one from 1 November
		{"2026-11-02", "0", "0"},
	} {
		var since caldate.Date
		if c.since != "" {
			since = date(c.since)
		}
		row := summaryRow(t, collect(t, h, since), "204")
		got := [2]string{row["Returns in period"], row["Rows read"]}
		if want := [2]string{c.received, c.read}; got != want {
			t.Errorf("since %q: 204 received, read = %v, want %v", c.since, got, want)
		}
		if row["Late"] != "late" || row["Days since applied"] != "21" {
			t.Errorf("since %q: 204 late %q, days %q; want late, 21", c.since, row["Late"], row["Days since applied"])
		}
	}
	_, err := report.Collect(report.Config{DataDir: h.dir, DB: h.db, Now: reportAt, Since: date("2026-11-23")})
	if !errors.Is(err, report.ErrSinceAfterToday) {
		t.Errorf("since tomorrow: error %v, want ErrSinceAfterToday", err)
	}
}

func TestNightly(t *testing.T) {
	h := reportHub(t)
	want := filepath.Join(h.dir, "reports", "report-20261122.xlsx")
	for range 2 { // the second run replaces the first file
		path, err := report.Nightly(h.dir, h.db, reportAt)
		if err != nil {
			t.Fatal(err)
		}
		if path != want {
			t.Errorf("Nightly wrote %s, want %s", path, want)
		}
	}
	entries, err := os.ReadDir(filepath.Join(h.dir, "reports"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "report-20261122.xlsx" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("reports folder holds %v, want only report-20261122.xlsx (no temp file)", names)
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	assertNoFormulas(t, b)

	// Late evening in summer: the file is named by the London date.
	summer := time.Date(2026, 7, 1, 23, 30, 0, 0, time.UTC)
	path, err := report.Nightly(h.dir, h.db, summer)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "report-20260702.xlsx" {
		t.Errorf("report made at %s named %s, want report-20260702.xlsx", summer, filepath.Base(path))
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	h := newHub(t)
	r, err := report.Collect(report.Config{DataDir: h.dir, DB: h.db, Now: reportAt})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteXLSX(failingWriter{}); err == nil {
		t.Error("WriteXLSX to a failing writer: no error")
	}
}
