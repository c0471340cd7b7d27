package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// holdFull makes LA la hold one plan, then sends a FULL return that names
// another person only: it would withdraw every plan the LA holds (W = V),
// so it is held. It returns the held return's message ID.
func holdFull(t *testing.T, h *cliHub, la, kept, other string) string {
	t.Helper()
	h.send(la, "CPIS_"+la+"_FULL_20261120.csv", crlf("nhs_number,plan_type,start_date,local_id", kept+",CPP,2026-03-02,K-1"))
	return h.send(la, "CPIS_"+la+"_FULL_20261121.csv", crlf("nhs_number,plan_type,start_date,local_id", other+",CPP,2026-10-01,K-2"))
}

// responseSummary is the summary row of a response: code, detail code, and
// the counts that begin its detail.
func responseSummary(t *testing.T, path string) []string {
	t.Helper()
	recs := readCSV(t, path)
	if len(recs) < 2 || len(recs[1]) != 7 {
		t.Fatalf("%s: %q has no summary row", path, recs)
	}
	s := recs[1]
	f := strings.Fields(s[6])
	if len(f) < 5 {
		t.Fatalf("%s: summary detail %q has no counts", path, s[6])
	}
	counts := strings.Join(f[:5], " ")
	return []string{s[1], s[4], s[5], counts}
}

func TestCLIReturnsReleaseDiscard(t *testing.T) {
	h := initCLIHub(t)
	held841 := holdFull(t, h, "841", "9990276579", "9994812866")
	held201 := holdFull(t, h, "201", "9993765570", "9995860155")
	var held []string
	for _, o := range h.ingestJSON() {
		if o["detail_code"] == "F009" {
			held = append(held, o["la"].(string)+" "+o["message_id"].(string)+" "+o["file"].(string))
		}
	}
	if diff := cmp.Diff([]string{"201 " + held201 + " CPIS_201_FULL_20261121.csv", "841 " + held841 + " CPIS_841_FULL_20261121.csv"}, held); diff != "" {
		t.Fatalf("held returns (-want +got):\n%s", diff)
	}

	// returns list shows both, as an operator reads it.
	var rows [][]string
	for l := range strings.Lines(h.ok("returns", "list")) {
		rows = append(rows, strings.Fields(l))
	}
	wantRows := [][]string{
		{"MESSAGE", "ID", "LA", "STATE", "FILE", "EXTRACT", "TAKEN", "(UTC)", "WOULD", "WITHDRAW"},
		{held201, "201", "held", "CPIS_201_FULL_20261121.csv", "2026-11-21", "2026-11-22", "02:30", "1"},
		{held841, "841", "held", "CPIS_841_FULL_20261121.csv", "2026-11-21", "2026-11-22", "02:30", "1"},
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("returns list (-want +got):\n%s", diff)
	}
	wantJSON := []map[string]any{
		{"message_id": held201, "la": "201", "state": "held", "file": "CPIS_201_FULL_20261121.csv", "extract_date": "2026-11-21", "code": "CPF04", "detail_code": "F009", "withdrawn": 1.0},
		{"message_id": held841, "la": "841", "state": "held", "file": "CPIS_841_FULL_20261121.csv", "extract_date": "2026-11-21", "code": "CPF04", "detail_code": "F009", "withdrawn": 1.0},
	}
	if diff := cmp.Diff(wantJSON, cliJSONLines(t, h.ok("returns", "list", "--json"))); diff != "" {
		t.Errorf("returns list --json (-want +got):\n%s", diff)
	}
	if got := h.plansExport("--la", "841"); !strings.Contains(got, "9990276579,841,CPP") || strings.Contains(got, "9994812866") {
		t.Errorf("while held, 841's plans are\n%s", got)
	}

	// Release: applied as the store is now, the old plan withdrawn, a new
	// response in the outbox.
	before := h.outbox("841")
	out := h.ok("returns", "release", held841)
	m := regexp.MustCompile(`^Released (\S+) \(LA 841, CPIS_841_FULL_20261121.csv\): CPF02  read=1 applied=1 rejected=0 warnings=0 withdrawn=1\nResponse: (\S+)\n$`).FindStringSubmatch(out)
	if m == nil || m[1] != held841 {
		t.Fatalf("returns release printed %q", out)
	}
	after := h.outbox("841")
	added := slices.DeleteFunc(slices.Clone(after), func(n string) bool { return slices.Contains(before, n) })
	if len(added) != 1 || filepath.Join(h.data, "mailboxes", "LA841HC001", "outbox", added[0]) != m[2] {
		t.Fatalf("outbox before %v, after %v; release named %s", before, after, m[2])
	}
	if diff := cmp.Diff([]string{"0", "CPF02", "", "read=1 applied=1 rejected=0 warnings=0 withdrawn=1"}, responseSummary(t, m[2])); diff != "" {
		t.Errorf("release response summary (-want +got):\n%s", diff)
	}
	want841 := crlf(PlansHeader, "9994812866,841,CPP,2026-10-01,,,K-2,2037-12-06")
	if diff := cmp.Diff(want841, h.plansExport("--la", "841")); diff != "" {
		t.Errorf("841's plans after release (-want +got):\n%s", diff)
	}

	// Discard: the LA gets CPF04/F012 and keeps its plans.
	before = h.outbox("201")
	out = h.ok("returns", "discard", held201)
	m = regexp.MustCompile(`^Discarded (\S+) \(LA 201, CPIS_201_FULL_20261121.csv\): CPF04 F012 read=0 applied=0 rejected=0 warnings=0 withdrawn=0\nResponse: (\S+)\n$`).FindStringSubmatch(out)
	if m == nil || m[1] != held201 {
		t.Fatalf("returns discard printed %q", out)
	}
	if n := len(h.outbox("201")); n != len(before)+1 {
		t.Errorf("201 outbox went from %d to %d files, want one more", len(before), n)
	}
	if diff := cmp.Diff([]string{"0", "CPF04", "F012", "read=0 applied=0 rejected=0 warnings=0 withdrawn=0"}, responseSummary(t, m[2])); diff != "" {
		t.Errorf("discard response summary (-want +got):\n%s", diff)
	}
	if got := h.plansExport("--la", "201"); !strings.Contains(got, "9993765570,201,CPP") || strings.Contains(got, "9995860155") {
		t.Errorf("after discard, 201's plans are\n%s", got)
	}

	if out := h.ok("returns", "list"); out != "No held or waiting returns.\n" {
		t.Errorf("returns list after release and discard printed %q", out)
	}
	// Neither can be operated on again, nor can an unknown ID.
	for _, args := range [][]string{
		{"returns", "release", "20261122023000000000_ABCDEF"},
		{"returns", "release", held841},
		{"returns", "discard", held201},
		{"returns", "discard", held841},
	} {
		r := h.run(args...)
		want := "cpis: message " + args[2] + ": not a held return (see `cpis returns list`)\n"
		if r.code != exitFailure || r.stderr != want || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(args, " "), r.code, r.stdout, r.stderr, want)
		}
	}
}
