package ingest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/datadir"
	"cpis/batch/ingest"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/plans"
)

// excelHub is a data dir with the authorities and the shared demographics
// reference of the acceptance cases, and no plans.
type excelHub struct {
	t    *testing.T
	data string
	db   *store.DB
}

func newExcelHub(t *testing.T) *excelHub {
	t.Helper()
	data := t.TempDir()
	open := func(path string) datadir.Source {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return datadir.Source{Name: filepath.Base(path), R: bytes.NewReader(b)}
	}
	pds := open(filepath.Join("..", "..", "testdata", "ingest", "demographics.csv"))
	if err := datadir.Init(data, datadir.InitOptions{Authorities: open(filepath.Join("..", "..", "testdata", "authorities.csv")),
		Demographics: &pds, Now: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &excelHub{t: t, data: data, db: db}
}

// send puts a return into Darlington's inbox with a control file whose
// DTSId is id.
func (h *excelHub) send(name, id string, content []byte) {
	h.t.Helper()
	inbox := filepath.Join(h.data, "mailboxes", "LA841HC001", "inbox")
	ctl := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: "LA841HC001", To: mesh.HubMailbox,
		Subject: "return", LocalID: name, WorkflowID: mesh.WorkflowUpload, DTSID: id}
	if err := os.WriteFile(filepath.Join(inbox, name), content, 0o640); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inbox, mesh.ControlName(name)), ctl.Marshal(), 0o640); err != nil {
		h.t.Fatal(err)
	}
}

// run ingests at 02:30 on 22 November 2026 and returns the responses
// written, by the message ID they answer.
func (h *excelHub) run() map[string]string {
	h.t.Helper()
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	rep, err := ingest.Run(context.Background(), ingest.Config{DataDir: h.data, DB: h.db, LAs: []string{"841"},
		Now: func() time.Time { return now }, RealNow: func() time.Time { return now.Add(time.Hour) }})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(rep.Failed) > 0 {
		h.t.Fatal(rep.Failed[0])
	}
	out := map[string]string{}
	for _, r := range rep.Results {
		b, err := os.ReadFile(r.Response)
		if err != nil {
			h.t.Fatal(err)
		}
		out[r.MessageID] = string(b)
	}
	return out
}

// TestExcelReturns sends what Excel writes when an LA saves a return the
// wrong way, or empties rows: each gets its exact response.
func TestExcelReturns(t *testing.T) {
	const header = "nhs_number,plan_type,start_date,end_date,due_date,local_id\r\n"
	const hint = `export it from Excel as ""CSV UTF-8 (comma delimited)""`
	utf16 := func(s string) []byte {
		b := []byte{0xFF, 0xFE}
		for i := 0; i < len(s); i++ {
			b = append(b, s[i], 0)
		}
		return b
	}
	h := newExcelHub(t)
	h.send("CPIS_841_DELTA_20261121_emptied.csv", "20261121013000000001_0000E1", []byte(header+
		"9990000018,CPP,2026-03-02,,,C-1\r\n"+
		",,,,,\r\n"+
		",,,,,\r\n"+
		"9990000026,LAC,2026-03-02,,,C-2\r\n"+
		",,,,,\r\n"))
	h.send("CPIS_841_DELTA_20261121_unicode.csv", "20261121013000000001_0000E2", utf16(header+"9990000018,CPP,2026-03-02,,,C-1\r\n"))
	h.send("CPIS_841_DELTA_20261121_latin1.csv", "20261121013000000001_0000E3", []byte(header+"9990000018,CPP,2026-03-02,,,C-Ren\xe9e\r\n"))
	h.send("CPIS_841_DELTA_20261121_semicolon.csv", "20261121013000000001_0000E4", []byte(strings.ReplaceAll(header, ",", ";")+"9990000018;CPP;2026-03-02;;;C-1\r\n"))
	got := h.run()

	const respHeader = "message_id,line,local_id,nhs_number,code,detail_code,detail\r\n"
	want := map[string]string{
		"20261121013000000001_0000E1": respHeader + "20261121013000000001_0000E1,0,,,CPF02,,read=2 applied=2 rejected=0 warnings=0 withdrawn=0 Every row was applied.\r\n",
		"20261121013000000001_0000E2": respHeader + `20261121013000000001_0000E2,0,,,CPF01,F001,"read=0 applied=0 rejected=0 warnings=0 withdrawn=0 CPIS_841_DELTA_20261121_unicode.csv: line 1: the file is UTF-16 text (it starts with a UTF-16 byte order mark), not UTF-8: ` + hint + `: nothing was applied."` + "\r\n",
		"20261121013000000001_0000E3": respHeader + `20261121013000000001_0000E3,0,,,CPF01,F001,"read=0 applied=0 rejected=0 warnings=0 withdrawn=0 CPIS_841_DELTA_20261121_latin1.csv: line 2: the file is not valid UTF-8 text (byte 0xE9): it looks like Latin-1 or Windows-1252 text; ` + hint + `: nothing was applied."` + "\r\n",
		"20261121013000000001_0000E4": respHeader + `20261121013000000001_0000E4,0,,,CPF01,F001,"read=0 applied=0 rejected=0 warnings=0 withdrawn=0 CPIS_841_DELTA_20261121_semicolon.csv: line 1: the header is separated by semicolons, not commas: ` + hint + `: nothing was applied."` + "\r\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}

	// Only the two real rows were stored.
	var keys []string
	if err := h.db.View(func(tx *store.Tx) error {
		return tx.PlansOfLA("841", func(p plans.Plan) error { keys = append(keys, p.Key.String()+" "+p.LocalID); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"9990000018/841/CPP C-1", "9990000026/841/LAC C-2"}, keys); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}
}
