package meshstore_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"cpis/batch/jobs"
	"cpis/mesh"
)

// An LA sends its return as an Excel workbook through the MESH API
// (batch/returns/returns.md, "XLSX"): chunked like any other file, it is
// ingested from the first worksheet, and the response names the row at
// fault by its worksheet row.
func TestMeshAPIXLSXReturn(t *testing.T) {
	h := newMeshHub(t)
	ts := h.serve(t)
	c := h.client(t, ts.URL, la841, pw841)
	if status := c.handshake(); status != http.StatusOK {
		t.Fatalf("handshake: %d", status)
	}

	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	rows := [][]any{
		{"nhs_number", "plan_type", "start_date", "local_id"},
		{int64(9990000018), "CPP", "2026-03-02", "C-1"},
		{},
		{"9990000026", "CP", "2/3/2026", "C-2"},
	}
	for i, r := range rows {
		if err := f.SetSheetRow(sheet, "A"+string(rune('1'+i)), &r); err != nil {
			t.Fatal(err)
		}
	}
	var wb bytes.Buffer
	if err := f.Write(&wb); err != nil {
		t.Fatal(err)
	}

	const name = "CPIS_841_DELTA_20261121_From-Excel.xlsx"
	status, id := c.send(mesh.HubMailbox, mesh.WorkflowUpload, name, wb.Bytes(), 1000)
	if status != http.StatusAccepted || !mesh.ValidMessageID(id) {
		t.Fatalf("send: %d %s", status, id)
	}
	res, err := jobs.Ingest(t.Context(), jobs.Env{DataDir: h.Dir, DB: h.DB, Now: h.clock.Now}, jobs.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0].MessageID != id || res.Results[0].Code != "CPF03" {
		t.Fatalf("ingest: %+v, want message %s partly applied (CPF03)", res.Results, id)
	}
	ids := c.list()
	if len(ids) != 1 {
		t.Fatalf("MESH inbox %v: want the one response", ids)
	}
	_, body := c.retrieve(ids[0])
	want := "message_id,line,local_id,nhs_number,code,detail_code,detail\r\n" +
		id + ",0,,,CPF03,,read=2 applied=1 rejected=1 warnings=0 withdrawn=0 1 row was applied and 1 rejected: correct the rejected rows and send them again.\r\n" +
		id + `,4,C-2,9990000026,CPR07,R004,"plan_type ""CP"" is not CPP, LAC or UCPP"` + "\r\n"
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}
