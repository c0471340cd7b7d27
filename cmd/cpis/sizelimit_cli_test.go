package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The size limit is configurable (mesh/mailboxes.md, "Size limit"): a return over it is
// CPF01/F006, one within it is applied.
func TestCLISizeLimit(t *testing.T) {
	h := initCLIHub(t)
	body := crlf("nhs_number,plan_type,start_date,local_id", "9990276579,CPP,2026-03-02,C-1")
	id := h.send("841", "CPIS_841_DELTA_20261121.csv", body)
	got := cliJSONLines(t, h.ok("--size-limit", "20", "ingest", "--json"))
	want := []map[string]any{{"la": "841", "message_id": id, "file": "CPIS_841_DELTA_20261121.csv", "code": "CPF01", "detail_code": "F006",
		"read": 0.0, "applied": 0.0, "rejected": 0.0, "warnings": 0.0, "withdrawn": 0.0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("over --size-limit 20 (-want +got):\n%s", diff)
	}
	id = h.send("841", "CPIS_841_DELTA_20261122.csv", body)
	got = cliJSONLines(t, h.okAt("2026-11-23T02:30:00Z", "--size-limit", "100", "ingest", "--json"))
	if len(got) != 1 || got[0]["code"] != "CPF02" || got[0]["message_id"] != id {
		t.Errorf("within --size-limit 100: %v", got)
	}
}
