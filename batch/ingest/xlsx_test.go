package ingest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
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
// the files renamed .xlsx, and every response line that of the CSV case's
// golden responses (message IDs aside; workbookWording lists the one
// sentence that differs). Cases about CSV text or structure (F001, F005)
// or a size in bytes (sizeLimit) have no workbook equivalent and are left
// out; XML and gzipped returns of a case are sent as they are.
func TestIngestXLSX(t *testing.T) {
	conv := &workbooks{done: map[string][]byte{}}
	ran := 0
	for _, c := range cases() {
		x, renamed, ok := asXLSX(c, conv)
		if !ok {
			continue
		}
		ran++
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runAnswers(t, x, renamed)
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
func runAnswers(t *testing.T, c hubCase, renamed map[string]string) {
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

	// Every response line is the CSV case's golden one, word for word,
	// once message IDs are set aside and the files renamed.
	var got []string
	for _, r := range h.resps {
		got = append(got, responseLines(string(r.content), nil)...)
	}
	goldens, err := filepath.Glob(filepath.Join(h.caseDir, "response*.golden.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, g := range goldens {
		csvText := workbookWording.Replace(string(hubtest.ReadFile(t, g)))
		want = append(want, responseLines(csvText, renamed)...)
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response lines against the CSV case's goldens (-csv +xlsx):\n%s", diff)
	}
}

// workbookWording is where a workbook's response says another thing than
// the CSV file's: a CSV sentence, and its workbook equivalent.
var workbookWording = strings.NewReplacer(
	"the file is empty: a CSV return starts with a header row", "the first worksheet is empty: a return starts with a header row",
)

var messageID = regexp.MustCompile(`[0-9]{20}_[0-9A-F]{6}`)

// responseLines returns the lines of a response after its header, message
// IDs replaced by "ID" and the files of renamed by their new names.
func responseLines(content string, renamed map[string]string) []string {
	var out []string
	for i, line := range strings.Split(strings.TrimSuffix(content, "\r\n"), "\r\n") {
		if i == 0 {
			continue
		}
		line = messageID.ReplaceAllString(line, "ID")
		for from, to := range renamed {
			line = strings.ReplaceAll(line, from, to)
		}
		out = append(out, line)
	}
	return out
}

// asXLSX returns c with its CSV returns sent as workbooks, or false when
// c is about something a workbook cannot hold.
func asXLSX(c hubCase, conv *workbooks) (hubCase, map[string]string, bool) {
	if c.sizeLimit != 0 {
		return c, nil, false
	}
	for _, a := range c.want {
		if a.detail == codes.F001 || a.detail == codes.F005 {
			return c, nil, false
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
		return c, nil, false
	}
	c.steps = steps
	c.want = append([]answer(nil), c.want...)
	for i, a := range c.want {
		if x, ok := renamed[a.file]; ok {
			c.want[i].file = x
		}
	}
	return c, renamed, true
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
