package returns_test

// Fuzz targets for the return readers and the file-name parser (issue 6).
//
//	go test -run='^$' -fuzz=FuzzReadCSV   -fuzztime=60s -fuzzminimizetime=5s ./batch/returns
//	go test -run='^$' -fuzz=FuzzReadXML   -fuzztime=60s -fuzzminimizetime=5s ./batch/returns
//	go test -run='^$' -fuzz=FuzzParseName -fuzztime=60s -fuzzminimizetime=5s ./batch/returns
//
// -fuzzminimizetime=5s because the corpus holds inputs of up to 100 KB and
// minimising each new interesting input grown from them would otherwise
// take the default minute, the whole run. Plain go test replays the corpus
// committed under testdata/fuzz/<FuzzName>/: the seeds (hostile inputs),
// written from the lists in gen_fuzz_corpus.go by
//
//	go generate ./batch/returns
//
// and every crasher a fuzzer found, kept under the name the fuzzer gave it.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"cpis/batch/returns"
	"cpis/mesh"
	"cpis/store/codes"
	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

// fuzzInputLimit bounds what a fuzz input may feed a reader: the readers
// see it through mesh.LimitReader, as ingest gives them the decompressed
// file through its size limit.
const fuzzInputLimit = 1 << 20

// fuzzHang is how long one input may take before the target reports a hang.
const fuzzHang = 20 * time.Second

// fuzzAllocBudget bounds the bytes one input may make the reader and Check
// allocate in all: a fixed part (the guard's 64 KiB buffer, encoding/csv and
// encoding/xml state, a 1 MiB record or token at most) plus a generous
// linear part. Quadratic behaviour, or a buffer that grows with the input
// past the 1 MiB bounds, breaks it.
func fuzzAllocBudget(n int) uint64 { return 24<<20 + 64*uint64(n) }

const (
	fuzzFullCSV  = "CPIS_841_FULL_20261121.csv"
	fuzzDeltaCSV = "CPIS_841_DELTA_20261121.csv"
	fuzzFullXML  = "CPIS_841_FULL_20261121.xml"
	fuzzDeltaXML = "CPIS_841_DELTA_20261121.xml"
)

func FuzzReadCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, delta bool) {
		name := fuzzFullCSV
		if delta {
			name = fuzzDeltaCSV
		}
		fuzzReturn(t, name, data)
	})
}

func FuzzReadXML(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, delta bool) {
		name := fuzzFullXML
		if delta {
			name = fuzzDeltaXML
		}
		fuzzReturn(t, name, data)
	})
}

func FuzzParseName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		n, err := returns.ParseName(name)
		if err != nil {
			var ce *codes.Error
			if !errors.As(err, &ce) || ce.Detail != codes.F002 {
				t.Fatalf("ParseName(%q) error %v (%T), want a *codes.Error F002", name, err, err)
			}
			if n != (returns.Name{}) {
				t.Fatalf("ParseName(%q) failed but returned %+v", name, n)
			}
			return
		}
		if len(n.LA) != 3 || strings.Trim(n.LA, "0123456789") != "" {
			t.Fatalf("ParseName(%q).LA = %q, want 3 digits", name, n.LA)
		}
		if n.Kind != returns.Full && n.Kind != returns.Delta {
			t.Fatalf("ParseName(%q).Kind = %q", name, n.Kind)
		}
		if n.Format != returns.CSV && n.Format != returns.XML && (n.Format != returns.XLSX || n.Gzip) {
			t.Fatalf("ParseName(%q).Format = %q", name, n.Format)
		}
		if n.Extract.IsZero() {
			t.Fatalf("ParseName(%q).Extract is zero", name)
		}
		if len(n.Free) > 50 {
			t.Fatalf("ParseName(%q).Free = %q, over 50 characters", name, n.Free)
		}
		// The canonical spelling of what was read reads back the same.
		canon := "CPIS_" + n.LA + "_" + string(n.Kind) + "_" + n.Extract.Compact()
		if n.Free != "" {
			canon += "_" + n.Free
		}
		canon += "." + string(n.Format)
		if n.Gzip {
			canon += ".gz"
		}
		again, err := returns.ParseName(canon)
		if err != nil || again != n {
			t.Fatalf("ParseName(%q) = %+v, but its canonical name %q reads as %+v, %v", name, n, canon, again, err)
		}
		// "CPIS, the kind and <ext> are case-insensitive": ASCII case only,
		// a name with other characters is F002.
		if !equalFoldASCII(name, canon) {
			t.Fatalf("ParseName(%q) accepted a name that is not %q in any ASCII case", name, canon)
		}
	})
}

// equalFoldASCII reports whether a and b are equal up to the case of ASCII
// letters.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// fuzzReturn reads data as the return called name, through a 1 MiB limit,
// runs Check on every row, and checks the reader's contract: it ends (no
// hang), never panics, fails only with the documented errors, reports a
// failure again on every later call, numbers rows in order, and stays
// within fuzzAllocBudget.
func fuzzReturn(t *testing.T, name string, data []byte) {
	t.Helper()
	n, err := returns.ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		rows  int
		err   error
		alloc uint64
		fault string
	}
	done := make(chan outcome, 1)
	go func() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out := readAndCheck(data, n)
		runtime.ReadMemStats(&after)
		out2 := outcome{rows: out.rows, err: out.err, fault: out.fault, alloc: after.TotalAlloc - before.TotalAlloc}
		done <- out2
	}()
	var out outcome
	select {
	case out = <-done:
	case <-time.After(fuzzHang):
		t.Fatalf("%s: reading %d bytes did not end within %v", name, len(data), fuzzHang)
	}
	if out.fault != "" {
		t.Fatalf("%s: %s", name, out.fault)
	}
	if out.alloc > fuzzAllocBudget(len(data)) {
		t.Fatalf("%s: reading %d bytes (%d rows) allocated %d bytes, over the budget of %d", name, len(data), out.rows, out.alloc, fuzzAllocBudget(len(data)))
	}
}

type readOutcome struct {
	rows  int
	err   error
	fault string // a broken property, "" when none
}

func readAndCheck(data []byte, n returns.Name) readOutcome {
	var out readOutcome
	faultf := func(format string, args ...any) readOutcome {
		out.fault = fmt.Sprintf(format, args...)
		return out
	}
	r, err := returns.NewReader(mesh.LimitReader(bytes.NewReader(data), fuzzInputLimit), n)
	if err != nil {
		if msg := badFailure(err, n); msg != "" {
			return faultf("NewReader: %s", msg)
		}
		if r != nil {
			return faultf("NewReader failed (%v) but returned a reader", err)
		}
		out.err = err
		return out
	}
	lastLine := 0
	for {
		row, err := r.Next()
		if err != nil {
			if err != io.EOF {
				if msg := badFailure(err, n); msg != "" {
					return faultf("Next after %d rows: %s", out.rows, msg)
				}
			}
			for range 2 {
				if _, again := r.Next(); again != err {
					return faultf("Next after the failure %v returned %v, want the same failure", err, again)
				}
			}
			out.err = err
			break
		}
		out.rows++
		if out.rows > len(data) {
			return faultf("%d rows from %d bytes", out.rows, len(data))
		}
		switch n.Format {
		case returns.CSV:
			if row.Line <= lastLine {
				return faultf("row %d has line %d after line %d", out.rows, row.Line, lastLine)
			}
		case returns.XML:
			if row.Line != out.rows {
				return faultf("Plan %d has line %d", out.rows, row.Line)
			}
		}
		lastLine = row.Line
		if msg := checkRow(row, n); msg != "" {
			return faultf("row %d (%+v): %s", out.rows, row, msg)
		}
	}
	return out
}

// badFailure says what is wrong with a reader's failure, "" when it is one
// the contract allows: a *codes.Error with a file detail the format can
// give, or the size limit of the caller's reader.
func badFailure(err error, n returns.Name) string {
	if errors.Is(err, mesh.ErrTooLarge) {
		return ""
	}
	var ce *codes.Error
	if !errors.As(err, &ce) {
		return fmt.Sprintf("error %v (%T) is neither a *codes.Error nor the size limit", err, err)
	}
	switch ce.Detail {
	case codes.F001, codes.F004, codes.F005:
	case codes.F002:
		if n.Format != returns.XML {
			return fmt.Sprintf("CSV failure %v has detail F002", ce)
		}
	default:
		return fmt.Sprintf("failure %v has detail %s, not a reading failure", ce, ce.Detail)
	}
	if ce.Line < 0 {
		return fmt.Sprintf("failure %v has line %d", ce, ce.Line)
	}
	if !utf8.ValidString(ce.Text) {
		return fmt.Sprintf("failure text %q is not UTF-8", ce.Text)
	}
	return ""
}

// checkRow runs Check on a row and checks what it says against the row.
func checkRow(row returns.Row, n returns.Name) string {
	c := returns.Check(row, n)
	if c.Row != row {
		return "Check changed the row"
	}
	if c.Key.LA != n.LA || c.Plan.Key != c.Key {
		return fmt.Sprintf("Check key %+v, plan key %+v, want LA %s", c.Key, c.Plan.Key, n.LA)
	}
	if c.Action == returns.Delete && n.Kind != returns.Delta {
		return "a DELETE in a FULL return"
	}
	if c.Reject != nil {
		switch c.Reject.Detail {
		case codes.R001, codes.R002, codes.R003, codes.R004, codes.R005, codes.R006, codes.R007,
			codes.R008, codes.R010, codes.R011, codes.R012, codes.R013:
		default:
			return fmt.Sprintf("rejection %s from Check", c.Reject.Detail)
		}
		if !utf8.ValidString(c.Reject.Text) || c.Reject.Text == "" {
			return fmt.Sprintf("rejection text %q", c.Reject.Text)
		}
		if len(c.Warnings) > 0 {
			return "a rejected row with warnings"
		}
		return ""
	}
	if nhs, p := nhsnumber.Normalize(row.NHSNumber); p != nhsnumber.OK || nhs != c.NHS {
		return fmt.Sprintf("accepted with NHS %q, Normalize gives %q, %q", c.NHS, nhs, p)
	}
	if _, ok := plans.ParseType(row.PlanType); !ok || c.Key.Type == "" {
		return fmt.Sprintf("accepted with plan type %q", row.PlanType)
	}
	// Plan type and action are "any case": ASCII case, nothing else.
	if !equalFoldASCII(strings.TrimSpace(row.PlanType), string(c.Key.Type)) {
		return fmt.Sprintf("plan type %q accepted as %s", row.PlanType, c.Key.Type)
	}
	if a := strings.TrimSpace(row.Action); a != "" && !equalFoldASCII(a, string(c.Action)) {
		return fmt.Sprintf("action %q accepted as %s", row.Action, c.Action)
	}
	for _, w := range c.Warnings {
		if w.Detail != codes.W002 {
			return fmt.Sprintf("warning %s from Check", w.Detail)
		}
	}
	if c.Action == returns.Delete {
		return ""
	}
	p := c.Plan
	switch {
	case p.Start.IsZero():
		return "accepted without a start date"
	case p.Start.After(n.Extract):
		return fmt.Sprintf("accepted with start %s after the extract date", p.Start)
	case !p.End.IsZero() && (p.End.Before(p.Start) || p.End.After(n.Extract)):
		return fmt.Sprintf("accepted with end %s (start %s)", p.End, p.Start)
	case p.Type == plans.UCPP && p.Due.IsZero():
		return "a UCPP accepted without a due date"
	case p.Type != plans.UCPP && !p.Due.IsZero():
		return "a due date kept on a non-UCPP plan"
	case utf8.RuneCountInString(strings.TrimSpace(row.LocalID)) == 0:
		return "accepted without a local_id"
	}
	return ""
}

// TestHostileReturnsLarge runs inputs too big for a committed corpus file
// through the same checks as the fuzz targets: they must end with the
// limit or a structure failure, within the memory budget.
func TestHostileReturnsLarge(t *testing.T) {
	quote := "nhs_number,plan_type,start_date,local_id\n\"" + strings.Repeat("x", 2<<20)
	line := "nhs_number,plan_type,start_date,local_id\n" + strings.Repeat("9", 2<<20) + ",CPP,2026-01-01,C-1\n"
	cols := "nhs_number,plan_type,start_date,local_id" + strings.Repeat(",x", 200_000) + "\n"
	deep := `<CPISReturn xmlns="urn:cpis:return:1" la="841" kind="FULL" extractDate="2026-11-21"><Plan><NHSNumber>` +
		strings.Repeat("<a>", 300_000)
	for _, tc := range []struct{ name, file, data string }{
		{"2 MiB quoted field", fuzzFullCSV, quote},
		{"2 MiB line", fuzzFullCSV, line},
		{"200,000 columns", fuzzFullCSV, cols},
		{"300,000 nested elements", fuzzFullXML, deep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fuzzReturn(t, tc.file, []byte(tc.data))
		})
	}
}
