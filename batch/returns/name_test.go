package returns_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/returns"
	"cpis/store/caldate"
	"cpis/store/codes"
)

func TestParseName(t *testing.T) {
	nov21 := caldate.Of(2026, time.November, 21)
	free50 := strings.Repeat("a", 50)
	cases := []struct {
		name string
		want returns.Name
		err  string // the F002 text; "" when valid
	}{
		{name: "CPIS_841_FULL_20261121.csv",
			want: returns.Name{LA: "841", Kind: returns.Full, Extract: nov21, Format: returns.CSV}},
		{name: "cpis_841_delta_20261121.XML",
			want: returns.Name{LA: "841", Kind: returns.Delta, Extract: nov21, Format: returns.XML}},
		{name: "CPIS_841_Full_20261121_Run-2.CsV.Gz",
			want: returns.Name{LA: "841", Kind: returns.Full, Extract: nov21, Free: "Run-2", Format: returns.CSV, Gzip: true}},
		{name: "CPIS_201_DELTA_20240229_" + free50 + ".xml.gz",
			want: returns.Name{LA: "201", Kind: returns.Delta, Extract: caldate.Of(2024, time.February, 29), Free: free50, Format: returns.XML, Gzip: true}},
		{name: "CPIS_841_FULL_20261121_" + free50 + "b.csv",
			err: `file name "CPIS_841_FULL_20261121_` + free50 + `b.csv": free text "` + free50 + `b" must be 1 to 50 letters, digits or hyphens`},
		{name: "CPIS_841_FULL_20261121_.csv",
			err: `file name "CPIS_841_FULL_20261121_.csv": free text "" must be 1 to 50 letters, digits or hyphens`},
		{name: "CPIS_841_FULL_20261121_a_b.csv",
			err: `file name "CPIS_841_FULL_20261121_a_b.csv": free text "a_b" must be 1 to 50 letters, digits or hyphens`},
		{name: "CPIS_841_FULL_20261121_a.b.csv",
			err: `file name "CPIS_841_FULL_20261121_a.b.csv": free text "a.b" must be 1 to 50 letters, digits or hyphens`},
		{name: "CPIS_841_FULL_20261121.xlsx",
			want: returns.Name{LA: "841", Kind: returns.Full, Extract: caldate.Of(2026, time.November, 21), Format: returns.XLSX}},
		{name: "cpis_841_delta_20261121_From-Excel.XLSX",
			want: returns.Name{LA: "841", Kind: returns.Delta, Extract: caldate.Of(2026, time.November, 21), Free: "From-Excel", Format: returns.XLSX}},
		{name: "CPIS_841_FULL_20261121.xlsx.gz",
			err: `file name "CPIS_841_FULL_20261121.xlsx.gz": an Excel workbook (.xlsx) is compressed already: send it without .gz`},
		{name: "CPIS_841_FULL_20261121.xlsm",
			err: `file name "CPIS_841_FULL_20261121.xlsm": a workbook with macros (.xlsm) is not a return: save it from Excel as an Excel Workbook (.xlsx)`},
		{name: "CPIS_841_FULL_20261121.xls",
			err: `file name "CPIS_841_FULL_20261121.xls": extension must be .csv, .xml (optionally .gz) or .xlsx`},
		{name: "CPIS_841_FULL_20261121.gz",
			err: `file name "CPIS_841_FULL_20261121.gz": extension must be .csv, .xml (optionally .gz) or .xlsx`},
		{name: "CPIS_841_FULL_20261121.csv.zip",
			err: `file name "CPIS_841_FULL_20261121.csv.zip": extension must be .csv, .xml (optionally .gz) or .xlsx`},
		{name: "CPIS_841_FULL_20261121",
			err: `file name "CPIS_841_FULL_20261121": extension must be .csv, .xml (optionally .gz) or .xlsx`},
		{name: "CPIS_841_FULL_20260230.csv",
			err: `file name "CPIS_841_FULL_20260230.csv": extract date "20260230" is not a real date in the form YYYYMMDD`},
		{name: "CPIS_841_FULL_2026112.csv",
			err: `file name "CPIS_841_FULL_2026112.csv": extract date "2026112" is not a real date in the form YYYYMMDD`},
		{name: "CPIS_84_FULL_20261121.csv",
			err: `file name "CPIS_84_FULL_20261121.csv": LA code "84" must be 3 digits`},
		{name: "CPIS_84A_FULL_20261121.csv",
			err: `file name "CPIS_84A_FULL_20261121.csv": LA code "84A" must be 3 digits`},
		{name: "CPIS_841_PARTIAL_20261121.csv",
			err: `file name "CPIS_841_PARTIAL_20261121.csv": kind "PARTIAL" must be FULL or DELTA`},
		{name: "CPX_841_FULL_20261121.csv",
			err: `file name "CPX_841_FULL_20261121.csv": must be CPIS_<LA>_<FULL or DELTA>_<YYYYMMDD>[_<free text>].csv, .xml or .xlsx`},
		{name: "CPIS_841_FULL.csv",
			err: `file name "CPIS_841_FULL.csv": must be CPIS_<LA>_<FULL or DELTA>_<YYYYMMDD>[_<free text>].csv, .xml or .xlsx`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := returns.ParseName(c.name)
			if c.err == "" {
				if err != nil {
					t.Fatalf("ParseName: %v", err)
				}
				if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(caldate.Date{})); diff != "" {
					t.Errorf("ParseName (-want +got):\n%s", diff)
				}
				return
			}
			var ce *codes.Error
			if !errors.As(err, &ce) {
				t.Fatalf("ParseName = %+v, %v; want a *codes.Error", got, err)
			}
			want := &codes.Error{Detail: codes.F002, Text: c.err}
			if diff := cmp.Diff(want, ce); diff != "" {
				t.Errorf("ParseName error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestControlFileName(t *testing.T) {
	cases := map[string]string{
		"CPIS_841_FULL_20261121.csv.gz":   "CPIS_841_FULL_20261121.ctl",
		"CPIS_841_FULL_20261121.CSV.GZ":   "CPIS_841_FULL_20261121.ctl",
		"CPIS_841_FULL_20261121.csv":      "CPIS_841_FULL_20261121.ctl",
		"CPIS_841_DELTA_20261121_x.Xml":   "CPIS_841_DELTA_20261121_x.ctl",
		"CPIS_841_DELTA_20261121.xml.gz":  "CPIS_841_DELTA_20261121.ctl",
		"CPIS_841_FULL_20261121.xlsx":     "CPIS_841_FULL_20261121.ctl",
		"CPIS_841_FULL_20261121.tar.gz":   "CPIS_841_FULL_20261121.tar.ctl",
		"CPIS_841_FULL_20261121":          "CPIS_841_FULL_20261121.ctl",
		"CPIS_841_FULL_20261121.json.dat": "CPIS_841_FULL_20261121.json.ctl",
	}
	for in, want := range cases {
		if got := returns.ControlFileName(in); got != want {
			t.Errorf("ControlFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
