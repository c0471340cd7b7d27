package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
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
