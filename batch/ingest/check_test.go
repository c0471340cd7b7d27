package ingest_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/hubtest"
	"cpis/batch/ingest"
	"cpis/store"
	"cpis/store/codes"
)

// checkReturn is a FULL return with something of everything: accepted
// rows, warnings (P005, P006, W001, W002), rejections (R002, R003, R004,
// R005, R009, P001, P002, P004) and a plan withdrawn by absence.
const checkReturn = "nhs_number,plan_type,start_date,end_date,due_date,local_id,family_name,given_name,date_of_birth\r\n" +
	"9990000018,CPP,2026-03-02,,,C-1,Ashby,Ava,2015-03-10\r\n" +
	"9990000026,LAC,2026-03-02,,2026-12-01,C-2,,,\r\n" +
	"999000002,CPP,2026-03-02,,,C-3,,,\r\n" +
	"9990000027,CPP,2026-03-02,,,C-4,,,\r\n" +
	"9990000034,CP,2026-03-02,,,C-5,,,\r\n" +
	"9990000042,CPP,,,,C-6,,,\r\n" +
	"9990000050,CPP,2026-03-02,,,C-7,,,\r\n" +
	"9990000050,CPP,2026-04-02,,,C-8,,,\r\n" +
	"9990000220,CPP,2026-03-02,,,C-9,,,\r\n" +
	"9990000166,CPP,2026-03-02,,,C-10,,,\r\n" +
	"9990000123,CPP,2026-03-02,,,C-11,,,\r\n" +
	"9990000174,CPP,2026-03-02,,,C-12,,,\r\n" +
	"9990000190,CPP,2026-03-02,,,C-13,Pryce,Poppy,\r\n" +
	"9990000115,CPP,2020-03-02,,,C-14,,,\r\n" +
	"9990000069,CPP,2026-03-02,,,C-15,,,\r\n" +
	"9990000077,LAC,2026-03-02,,,C-16,,,\r\n" +
	"9990000182,CPP,2026-03-02,,,C-17,,,\r\n" +
	"9990000204,LAC,2026-03-02,,,C-18,,,\r\n" +
	"9990000212,CPP,2026-03-02,,,C-19,,,\r\n" +
	"9990000239,LAC,2026-03-02,,,C-20,,,\r\n"

// responseOutcome reads a response file as a CheckResult (File and
// WaitsBehind left empty).
func responseOutcome(t *testing.T, content string) ingest.CheckResult {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(content)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("response %q: %v", content, err)
	}
	sum := recs[1]
	res := ingest.CheckResult{Code: codes.Code(sum[4]), Detail: codes.Detail(sum[5]), Text: sum[6]}
	for _, r := range recs[2:] {
		line, err := strconv.Atoi(r[1])
		if err != nil {
			t.Fatal(err)
		}
		res.Rows = append(res.Rows, store.RowOutcome{Line: line, LocalID: r[2], NHSNumber: r[3], Code: codes.Code(r[4]), Detail: codes.Detail(r[5]), Text: r[6]})
	}
	return res
}

// TestCheckLikeIngest checks a return, then ingests it: Check gives the
// outcome and rows of the response the ingest writes, and leaves every
// file of the data dir (the store included) byte for byte as it was. The
// same return is checked as CSV and as an Excel workbook.
func TestCheckLikeIngest(t *testing.T) {
	for _, format := range []string{"csv", "xlsx"} {
		t.Run(format, func(t *testing.T) {
			data := []byte(checkReturn)
			if format == "xlsx" {
				data = csvToXLSX(t, data)
			}
			checkLikeIngest(t, "CPIS_841_FULL_20261121."+format, data)
		})
	}
}

func checkLikeIngest(t *testing.T, file string, data []byte) {
	h := newExcelHub(t)
	// Plans held before: 9990000085 is withdrawn by the checked return's
	// absence.
	h.send("CPIS_841_FULL_20261120.csv", "20261120013000000001_0000C1", []byte(
		"nhs_number,plan_type,start_date,local_id\r\n9990000085,CPP,2026-01-05,C-0\r\n9990000018,CPP,2026-01-05,C-1\r\n9990000026,LAC,2026-01-05,C-2\r\n"))
	h.run()
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	cfg := ingest.Config{DataDir: h.data, DB: h.db, Now: func() time.Time { return now }}

	before := hubtest.FileSums(t, h.data)
	got, err := ingest.Check(context.Background(), cfg, "841", file, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, hubtest.FileSums(t, h.data)); diff != "" {
		t.Fatalf("Check changed the data dir (-before +after):\n%s", diff)
	}
	if got.Code != codes.FilePartial || len(got.Rows) < 12 {
		t.Errorf("Check: %s %s with %d rows, want CPF03 with every row outcome", got.Code, got.Detail, len(got.Rows))
	}
	if !strings.HasPrefix(got.Text, got.Counts.String()+" ") || got.Counts.Withdrawn != 1 || got.Counts.Warnings < 4 {
		t.Errorf("counts %+v, summary %q: want the counts the summary begins with, a withdrawal and warnings", got.Counts, got.Text)
	}

	h.send(file, "20261121013000000001_0000C2", data)
	responses := h.run()
	want := responseOutcome(t, responses["20261121013000000001_0000C2"])
	want.File, want.Counts = file, got.Counts
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check against the ingest's response (-ingest +check):\n%s", diff)
	}

	// Now taken, the same file is a repeat.
	again, err := ingest.Check(context.Background(), cfg, "841", file, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if again.Code != codes.FileNotUsed || again.Detail != codes.F007 || again.Rows != nil {
		t.Errorf("checked again: %s %s %q, %d rows; want CPF04 F007 and no rows", again.Code, again.Detail, again.Text, len(again.Rows))
	}
}

// inspectAtEOF calls at when the reader it wraps reaches its end.
type inspectAtEOF struct {
	r  io.Reader
	at func()
}

func (i *inspectAtEOF) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if err == io.EOF && i.at != nil {
		i.at()
		i.at = nil
	}
	return n, err
}

// TestCheckTempOnDataDir: the check's temporary copy of the return is
// under the data dir (ingest.CheckTempDir), never in the system's
// temporary folder, and is gone when Check returns.
func TestCheckTempOnDataDir(t *testing.T) {
	h := newExcelHub(t)
	sysTmp := t.TempDir()
	t.Setenv("TMPDIR", sysTmp)
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	cfg := ingest.Config{DataDir: h.data, DB: h.db, Now: func() time.Time { return now }}
	var during []string
	body := &inspectAtEOF{r: strings.NewReader(checkReturn), at: func() {
		for _, dir := range []string{sysTmp, ingest.CheckTempDir(h.data)} {
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(h.data, p)
					if dir == sysTmp {
						rel = "system temp: " + filepath.Base(p)
					}
					during = append(during, filepath.ToSlash(rel))
				}
				return nil
			})
		}
	}}
	if _, err := ingest.Check(context.Background(), cfg, "841", "CPIS_841_FULL_20261121.csv", body); err != nil {
		t.Fatal(err)
	}
	if len(during) != 1 || !strings.HasPrefix(during[0], "tmp/check/check-") || !strings.HasSuffix(during[0], "/return") {
		t.Errorf("while reading, the copy is at %q, want one file under tmp/check/ of the data dir", during)
	}
	for _, dir := range []string{sysTmp, ingest.CheckTempDir(h.data)} {
		if des, err := os.ReadDir(dir); err != nil || len(des) != 0 {
			t.Errorf("after Check, %s holds %d entries (%v)", dir, len(des), err)
		}
	}
	// A copy left by a crash is removed at start.
	left := filepath.Join(ingest.CheckTempDir(h.data), "check-1", "return")
	if err := os.MkdirAll(filepath.Dir(left), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(left, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ingest.CleanCheckTemp(h.data); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ingest.CheckTempDir(h.data)); !os.IsNotExist(err) {
		t.Errorf("after CleanCheckTemp: %v, want the folder gone", err)
	}
}

// TestCheckFileOutcomes checks returns refused as a whole: each gets the
// summary row the ingest would write, and no rows.
func TestCheckFileOutcomes(t *testing.T) {
	h := newExcelHub(t)
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	cfg := ingest.Config{DataDir: h.data, DB: h.db, Now: func() time.Time { return now }, SizeLimit: 200}
	const zero = "read=0 applied=0 rejected=0 warnings=0 withdrawn=0 "
	cases := []struct {
		la, file, data string
		want           ingest.CheckResult
	}{
		{"841", "CPIS_841_FULL_20261121.txt", "x", ingest.CheckResult{Code: codes.FileCorrupt, Detail: codes.F002,
			Text: zero + `File name "CPIS_841_FULL_20261121.txt": extension must be .csv, .xml (optionally .gz) or .xlsx: nothing was applied.`}},
		{"841", "CPIS_841_FULL_20261121.csv", strings.Repeat("x", 201), ingest.CheckResult{Code: codes.FileCorrupt, Detail: codes.F006,
			Text: zero + "CPIS_841_FULL_20261121.csv is 201 bytes, over the size limit of 200 bytes: nothing was applied."}},
		{"841", "CPIS_202_FULL_20261121.csv", "nhs_number,plan_type,start_date,local_id\r\n", ingest.CheckResult{Code: codes.FileNotUsed, Detail: codes.F003,
			Text: zero + "CPIS_202_FULL_20261121.csv names LA 202 but arrived in the mailbox of LA 841 (LA841HC001): nothing was applied."}},
		{"841", "CPIS_841_FULL_20261123.csv", "nhs_number,plan_type,start_date,local_id\r\n", ingest.CheckResult{Code: codes.FileNotUsed, Detail: codes.F008,
			Text: zero + "The extract date 2026-11-23 in CPIS_841_FULL_20261123.csv is after today (2026-11-22): nothing was applied."}},
		{"841", "CPIS_841_DELTA_20261121.csv", "nhs_number;plan_type\r\n", ingest.CheckResult{Code: codes.FileCorrupt, Detail: codes.F001,
			Text: zero + `CPIS_841_DELTA_20261121.csv: line 1: the header is separated by semicolons, not commas: export it from Excel as "CSV UTF-8 (comma delimited)": nothing was applied.`}},
		{"841", "CPIS_841_DELTA_20261121.xlsx", "nhs_number,plan_type\r\n", ingest.CheckResult{Code: codes.FileCorrupt, Detail: codes.F001,
			Text: zero + `CPIS_841_DELTA_20261121.xlsx: the file is not an Excel workbook (.xlsx): save it from Excel as an "Excel Workbook (.xlsx)" without a password: nothing was applied.`}},
		{"841", "CPIS_841_DELTA_20261121.xlsm", "PK", ingest.CheckResult{Code: codes.FileCorrupt, Detail: codes.F002,
			Text: zero + `File name "CPIS_841_DELTA_20261121.xlsm": a workbook with macros (.xlsm) is not a return: save it from Excel as an Excel Workbook (.xlsx): nothing was applied.`}},
	}
	before := hubtest.FileSums(t, h.data)
	for _, c := range cases {
		got, err := ingest.Check(context.Background(), cfg, c.la, c.file, strings.NewReader(c.data))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		c.want.File = c.file
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.file, diff)
		}
	}
	if diff := cmp.Diff(before, hubtest.FileSums(t, h.data)); diff != "" {
		t.Errorf("Check changed the data dir (-before +after):\n%s", diff)
	}
	// A zip bomb: a small workbook whose worksheet unpacks to megabytes.
	bomb := bytes.NewReader(zipBomb(t, csvToXLSX(t, []byte("nhs_number,plan_type\r\n"))))
	cfg.SizeLimit = 1 << 20
	got, err := ingest.Check(context.Background(), cfg, "841", "CPIS_841_DELTA_20261121.xlsx", bomb)
	if err != nil {
		t.Fatal(err)
	}
	if got.Code != codes.FileCorrupt || got.Detail != codes.F006 || !strings.Contains(got.Text, "unpack") {
		t.Errorf("a zip bomb: %s %s %q, want CPF01 F006 naming what unpacks", got.Code, got.Detail, got.Text)
	}

	for _, bad := range []struct{ la, file string }{{"999", "CPIS_999_FULL_20261121.csv"}, {"841", "../CPIS_841_FULL_20261121.csv"}, {"841", ""}} {
		if _, err := ingest.Check(context.Background(), cfg, bad.la, bad.file, bytes.NewReader(nil)); err == nil {
			t.Errorf("Check(%q, %q): no error", bad.la, bad.file)
		}
	}
}

// zipBomb copies a workbook, its first worksheet replaced by one that
// unpacks to 4 MB of empty rows, a few kilobytes stored.
func zipBomb(t *testing.T, wb []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(wb), int64(len(wb)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == "xl/worksheets/sheet1.xml" {
			b = bytes.Replace(b, []byte("</sheetData>"), append(bytes.Repeat([]byte("<row/>"), 700_000), "</sheetData>"...), 1)
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 64<<10 {
		t.Fatalf("the zip bomb is %d bytes stored", buf.Len())
	}
	return buf.Bytes()
}
