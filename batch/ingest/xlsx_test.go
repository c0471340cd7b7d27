package ingest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/xuri/excelize/v2"

	"cpis/batch/hubtest"
	"cpis/store/codes"
)

// TestIngestXLSX runs the acceptance cases of TestIngest again with every
// CSV return sent as an Excel workbook instead: each record in the
// worksheet row of its CSV line, every cell as text. The answers must be
// those of the CSV case (file codes, detail codes, and row codes by line),
// the files renamed .xlsx. Cases about CSV text or structure (F001, F005)
// or a size in bytes (sizeLimit) have no workbook equivalent and are left
// out; XML and gzipped returns of a case are sent as they are.
func TestIngestXLSX(t *testing.T) {
	conv := &workbooks{done: map[string][]byte{}}
	ran := 0
	for _, c := range cases() {
		x, ok := asXLSX(c, conv)
		if !ok {
			continue
		}
		ran++
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runAnswers(t, x)
		})
	}
	if ran < 40 {
		t.Errorf("%d acceptance cases ran as workbooks, want at least 40", ran)
	}
}

// runAnswers runs a case's steps and checks its answers (not its goldens,
// which name the CSV files and their derived message IDs). Within a step
// the answers are compared in any order, since derived message IDs, and
// so the order of the report, depend on the content.
func runAnswers(t *testing.T, c hubCase) {
	h := newHub(t, c, false)
	for i, s := range c.steps {
		h.do(context.Background(), i+1, s)
	}
	if !strings.Contains(h.out.String(), ".xlsx (") {
		t.Errorf("no workbook was sent:\n%s", h.out.String())
	}
	sorted := cmpopts.SortSlices(func(a, b answer) bool {
		return fmt.Sprint(a.file, a.code, a.detail, a.rows) < fmt.Sprint(b.file, b.code, b.detail, b.rows)
	})
	if diff := cmp.Diff(c.want, h.answers, cmp.AllowUnexported(answer{}), sorted); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

// asXLSX returns c with its CSV returns sent as workbooks, or false when
// c is about something a workbook cannot hold.
func asXLSX(c hubCase, conv *workbooks) (hubCase, bool) {
	if c.sizeLimit != 0 {
		return c, false
	}
	for _, a := range c.want {
		if a.detail == codes.F001 || a.detail == codes.F005 {
			return c, false
		}
	}
	renamed := map[string]string{}
	var steps []step
	for _, s := range c.steps {
		s.send = append([]input(nil), s.send...)
		for i, in := range s.send {
			name := in.inboxName()
			if in.gzip || !strings.HasSuffix(strings.ToLower(name), ".csv") {
				continue
			}
			x := strings.TrimSuffix(name, name[len(name)-4:]) + ".xlsx"
			renamed[name] = x
			orig := in
			in.name, in.data = x, func(t *testing.T, path string) []byte {
				var b []byte
				if orig.data != nil {
					b = orig.data(t, path)
				} else {
					b = hubtest.ReadFile(t, path)
				}
				return conv.of(t, b)
			}
			s.send[i] = in
		}
		steps = append(steps, s)
	}
	if len(renamed) == 0 {
		return c, false
	}
	c.steps = steps
	c.want = append([]answer(nil), c.want...)
	for i, a := range c.want {
		if x, ok := renamed[a.file]; ok {
			c.want[i].file = x
		}
	}
	return c, true
}

// workbooks converts CSV returns to workbooks, once per content, so that
// the same CSV content makes the same workbook bytes (repeats by content).
type workbooks struct {
	mu   sync.Mutex
	done map[string][]byte
}

func (w *workbooks) of(t *testing.T, csvData []byte) []byte {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if b, ok := w.done[string(csvData)]; ok {
		return b
	}
	b := csvToXLSX(t, csvData)
	w.done[string(csvData)] = b
	return b
}

// csvToXLSX writes a CSV return as a workbook: each record in the row of
// the line where it starts, every field as a text cell.
func csvToXLSX(t *testing.T, data []byte) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	cr.FieldsPerRecord = -1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("CSV return to workbook: %v", err)
		}
		line, _ := cr.FieldPos(0)
		cells := make([]any, len(rec))
		for i, v := range rec {
			cells[i] = v
		}
		if err := f.SetSheetRow(sheet, fmt.Sprintf("A%d", line), &cells); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
