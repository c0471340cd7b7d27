package main

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"cpis/mesh"
)

// An Excel workbook is a return like a CSV file: cpis mailbox send drops it
// into the inbox with its control file, and cpis ingest applies it.
func TestCLIMailboxSendXLSX(t *testing.T) {
	h := initCLIHub(t)
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	for cell, v := range map[string]any{
		"A1": "nhs_number", "B1": "plan_type", "C1": "start_date", "D1": "local_id", "E1": "family_name", "F1": "date_of_birth",
		"A2": int64(9990276579), "B2": "CPP", "C2": time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), "D2": "C-1", "E2": "Hartwell", "F2": "12/5/2016",
	} {
		if err := f.SetCellValue(sheet, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	var wb bytes.Buffer
	if err := f.Write(&wb); err != nil {
		t.Fatal(err)
	}
	const name = "CPIS_841_FULL_20261120.xlsx"
	id := h.send("841", name, wb.String())
	want := []map[string]any{{"la": "841", "message_id": id, "file": name, "code": "CPF02", "detail_code": "",
		"read": 1.0, "applied": 1.0, "rejected": 0.0, "warnings": 0.0, "withdrawn": 0.0}}
	if diff := cmp.Diff(want, h.ingestJSON()); diff != "" {
		t.Errorf("ingest (-want +got):\n%s", diff)
	}
	if out := h.ok("plans", "export", "--la", "841"); !bytes.Contains([]byte(out), []byte("9990276579,841,CPP,2026-03-02")) {
		t.Errorf("plans export after the workbook was applied:\n%s", out)
	}
}

// An LA uploads an Excel workbook return over SFTP, with its control file
// as a MESH client writes it, and the daemon's ingest applies it.
func TestCLISFTPXLSXReturn(t *testing.T) {
	h := initCLIHub(t)
	pub, priv, _ := cliKeyPair(t, "officer@841")
	h.ok("keys", "add", "--la", "841", h.file("id_ed25519.pub", pub))
	addr, _ := inProcessDaemon(t, h.data)
	_, c, err := sftpLogin(t, addr, "LA841HC001", priv)
	if err != nil {
		t.Fatal(err)
	}

	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	rows := [][]any{{"nhs_number", "plan_type", "start_date", "local_id"}, {int64(9990276579), "CPP", "2/3/2026", "C-1"}}
	for i, r := range rows {
		if err := f.SetSheetRow(sheet, fmt.Sprintf("A%d", i+1), &r); err != nil {
			t.Fatal(err)
		}
	}
	var wb bytes.Buffer
	if err := f.Write(&wb); err != nil {
		t.Fatal(err)
	}
	const name, id = "CPIS_841_FULL_20261120.xlsx", "20261122013000000000_0A0B0C"
	put := func(path string, b []byte) {
		t.Helper()
		w, err := c.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	put("/inbox/"+name, wb.Bytes())
	ctl := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: "LA841HC001", To: mesh.HubMailbox,
		Subject: "FULL return 2026-11-20", LocalID: name, DTSID: id, WorkflowID: mesh.WorkflowUpload}
	put("/inbox/CPIS_841_FULL_20261120.ctl", ctl.Marshal())

	want := []map[string]any{{"la": "841", "message_id": id, "file": name, "code": "CPF02", "detail_code": "",
		"read": 1.0, "applied": 1.0, "rejected": 0.0, "warnings": 0.0, "withdrawn": 0.0}}
	if diff := cmp.Diff(want, h.ingestJSON()); diff != "" {
		t.Errorf("ingest (-want +got):\n%s", diff)
	}
}
