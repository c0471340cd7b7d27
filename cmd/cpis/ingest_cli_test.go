package main

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sendIngestMix drops returns with different outcomes into four LAs'
// inboxes and returns their message IDs by LA.
func sendIngestMix(h *cliHub) map[string]string {
	return map[string]string{
		// Two rows applied, one with a bad check digit rejected: CPF03.
		"841": h.send("841", "CPIS_841_FULL_20261121.csv", crlf(
			"nhs_number,plan_type,start_date,end_date,local_id",
			"9990276579,CPP,2026-03-02,,C-1",
			"1234567890,CPP,2026-01-01,,C-2",
			"9993765570,LAC,2025-01-01,,C-3",
		)),
		// An upsert and a delete of a plan not held (W003): CPF02.
		"201": h.send("201", "CPIS_201_DELTA_20261121.csv", crlf(
			"nhs_number,plan_type,start_date,local_id,action",
			"9994812866,CPP,2026-10-01,L-1,UPSERT",
			"9995860155,CPP,,,DELETE",
		)),
		// Another LA's file in 202's mailbox: CPF04/F003.
		"202": h.send("202", "CPIS_841_DELTA_20261121.csv", crlf(
			"nhs_number,plan_type,start_date,local_id",
			"9996907449,CPP,2026-10-01,X-1",
		)),
		// A FULL return without local_id: CPF01/F004.
		"203": h.send("203", "CPIS_203_FULL_20261121.csv", crlf(
			"nhs_number,plan_type,start_date",
			"9997954734,CPP,2026-10-01",
		)),
	}
}

func TestCLIIngestJSON(t *testing.T) {
	h := initCLIHub(t)
	ids := sendIngestMix(h)
	line := func(la, file, code, detail string, read, applied, rejected, warnings, withdrawn float64) map[string]any {
		return map[string]any{"la": la, "message_id": ids[la], "file": file, "code": code, "detail_code": detail,
			"read": read, "applied": applied, "rejected": rejected, "warnings": warnings, "withdrawn": withdrawn}
	}
	// Ordered by LA code.
	want := []map[string]any{
		line("201", "CPIS_201_DELTA_20261121.csv", "CPF02", "", 2, 2, 0, 1, 0),
		line("202", "CPIS_841_DELTA_20261121.csv", "CPF04", "F003", 0, 0, 0, 0, 0),
		line("203", "CPIS_203_FULL_20261121.csv", "CPF01", "F004", 0, 0, 0, 0, 0),
		line("841", "CPIS_841_FULL_20261121.csv", "CPF03", "", 3, 2, 1, 0, 0),
	}
	got := h.ingestJSON()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ingest --json (-want +got):\n%s", diff)
	}
	wantKeys := []string{"applied", "code", "detail_code", "file", "la", "message_id", "read", "rejected", "warnings", "withdrawn"}
	for i, o := range got {
		if keys := slices.Sorted(maps.Keys(o)); !slices.Equal(keys, wantKeys) {
			t.Errorf("line %d has keys %v, want exactly %v", i+1, keys, wantKeys)
		}
	}
	// Every return taken got its response.
	for _, la := range []string{"201", "202", "203", "841"} {
		if n := len(h.outbox(la)); n != 1 {
			t.Errorf("LA %s outbox has %d responses, want 1", la, n)
		}
	}
	// Nothing is left to take.
	if out := h.ok("ingest", "--json"); out != "" {
		t.Errorf("second ingest --json printed %q, want nothing", out)
	}
}

func TestCLIIngestTable(t *testing.T) {
	h := initCLIHub(t)
	sendIngestMix(h)
	out := h.ok("ingest")
	golden(t, "cli", "ingest-table.golden.txt", []byte(out))

	var total []string
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "total") {
			total = strings.Fields(l)
		}
	}
	want := []string{"total", "4", "message(s)", "5", "4", "1", "1", "0"}
	if diff := cmp.Diff(want, total); diff != "" {
		t.Errorf("totals row (-want +got):\n%s", diff)
	}
	if out := h.ok("ingest"); out != "No returns were waiting.\n" {
		t.Errorf("second ingest printed %q", out)
	}
}

// sendExpiring sends 841 a FULL return with plans whose visibility ends on
// different days.
func sendExpiring(h *cliHub) {
	h.send("841", "CPIS_841_FULL_20261121.csv", crlf(
		"nhs_number,plan_type,start_date,end_date,due_date,local_id",
		"9990276579,CPP,2026-03-02,,,C-1",            // visible until 2035-05-12 (18th birthday + 365)
		"9993765570,LAC,2025-01-01,2026-06-01,,C-2",  // until 2027-06-01
		"9994238477,UCPP,2026-09-01,,2026-12-20,C-3", // until 2027-01-17
	))
}

func TestCLIExpire(t *testing.T) {
	h := initCLIHub(t)
	sendExpiring(h)
	h.ingestJSON()
	if out := h.ok("expire"); out != "Expire: 0 plan(s) no longer visible purged.\n" {
		t.Errorf("expire today printed %q", out)
	}
	// On 2027-03-01 the UCPP is gone; on 2028-01-01 the LAC too.
	// The first also moves the response, uncollected for over 30 days, to
	// the archive.
	archived := "Expire: 1 outbox message(s) uncollected for 30 days moved to the archive.\n"
	for _, step := range []struct {
		now      string
		purged   string
		archived string
		left     []string
	}{
		{"2027-03-01T12:00:00Z", "1", archived, []string{"9990276579", "9993765570"}},
		{"2027-03-01T12:00:00Z", "0", "", []string{"9990276579", "9993765570"}},
		{"2028-01-01T12:00:00Z", "1", "", []string{"9990276579"}},
		{"2028-01-01T12:00:00Z", "0", "", []string{"9990276579"}},
	} {
		out := h.okAt(step.now, "expire")
		if want := "Expire: " + step.purged + " plan(s) no longer visible purged.\n" + step.archived; out != want {
			t.Errorf("expire at %s printed %q, want %q", step.now, out, want)
		}
		var left []string
		for _, l := range strings.Split(strings.TrimSuffix(h.plansExport(), "\r\n"), "\r\n")[1:] {
			left = append(left, strings.Split(l, ",")[0])
		}
		if diff := cmp.Diff(step.left, left); diff != "" {
			t.Errorf("plans left after expire at %s (-want +got):\n%s", step.now, diff)
		}
	}
	out := h.okAt("2028-01-01T12:00:00Z", "expire", "--json")
	if got := cliJSONLines(t, out); len(got) != 1 || got[0]["plans_purged"] != 0.0 {
		t.Errorf("expire --json printed %q", out)
	}
}

func TestCLINightly(t *testing.T) {
	h := initCLIHub(t)
	sendExpiring(h)
	out := h.ok("nightly")
	ingestAt := strings.Index(out, "total  1 message(s)")
	expireAt := strings.Index(out, "Expire: 0 plan(s) no longer visible purged.\n")
	if ingestAt < 0 || expireAt < ingestAt || !strings.HasSuffix(out, "Expire: 0 plan(s) no longer visible purged.\nNotify: 0 access file(s) written for 0 day(s), 0 access row(s).\nReport: "+filepath.Join(h.data, "reports", "report-20261122.xlsx")+"\n") {
		t.Errorf("nightly printed\n%s\nwant the ingest table, then the expire line", out)
	}
	if n := len(h.outbox("841")); n != 1 {
		t.Errorf("841 outbox has %d responses, want 1", n)
	}
	// Two nights later, with none run between: nothing to take, and the
	// access files of both missed days (header only) for all 153 LAs.
	out = h.okAt("2026-11-24T02:30:00Z", "nightly")
	if want := "No returns were waiting.\nExpire: 0 plan(s) no longer visible purged.\nNotify: 306 access file(s) written for 2 day(s), 0 access row(s).\nReport: " + filepath.Join(h.data, "reports", "report-20261124.xlsx") + "\n"; out != want {
		t.Errorf("nightly two days later printed %q, want %q", out, want)
	}
	// --json: the ingest lines only.
	id := h.send("201", "CPIS_201_DELTA_20261121.csv", crlf("nhs_number,plan_type,start_date,local_id", "9994812866,CPP,2026-10-01,L-1"))
	want := []map[string]any{{"la": "201", "message_id": id, "file": "CPIS_201_DELTA_20261121.csv", "code": "CPF02", "detail_code": "",
		"read": 1.0, "applied": 1.0, "rejected": 0.0, "warnings": 0.0, "withdrawn": 0.0}}
	if diff := cmp.Diff(want, cliJSONLines(t, h.ok("nightly", "--json"))); diff != "" {
		t.Errorf("nightly --json (-want +got):\n%s", diff)
	}
}
