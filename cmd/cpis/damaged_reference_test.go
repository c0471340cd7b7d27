package main

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A reference record that does not decode is refused, never read as an
// unknown number: ingest fails the LA's run naming the bucket and key,
// applies nothing and answers nothing; plans export and expire refuse too.
func TestCLIDamagedDemographicsRecord(t *testing.T) {
	h := initCLIHub(t)
	h.send("841", "CPIS_841_FULL_20261121.csv", crlf(
		"nhs_number,plan_type,start_date,end_date,local_id",
		"9993765570,LAC,2025-01-01,,C-3",
		"9990276579,CPP,2026-03-02,,C-1",
	))
	storeBolt(t, h.data, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("demographics")).Put([]byte("9990276579"), []byte{0x01, 0x80})
	})
	const want = "store: demographics 9990276579 does not decode: not a record of this format: unknown flags 0x80"

	r := h.run("ingest")
	if r.code != exitFailure || !strings.Contains(r.stderr, want) {
		t.Errorf("ingest: exit %d, stderr %q; want exit %d naming %q", r.code, r.stderr, exitFailure, want)
	}
	if got := h.plansExport(); got != crlf(PlansHeader) {
		t.Errorf("plans after the refused return:\n%s", got)
	}
	if out := h.outbox("841"); len(out) != 0 {
		t.Errorf("the refused return was answered: %v", out)
	}
}
