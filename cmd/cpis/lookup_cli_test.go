package main

// Tests of health lookups as users drive them: cpis lookup, orgs, serve
// (HTTP on a real loopback listener), audit, notify and the inactive-number
// files of pds import. Plans come from returns sent and ingested through
// the CLI; every command runs through run with --data and --now. The hubs
// hold four LAs of testdata/authorities.csv (201 and 850 have an office
// phone, 203 and 841 do not) to keep the outboxes small.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
)

const (
	lkChild  = "9990276579" // Hartwell, born 2016-05-12
	lkSister = "9993765570" // Ashdown, born 2016-03-05
	lkMother = "9994238477" // Kettering, born 1987
	lkChainA = "9990217742" // superseded by lkChainB in the fixture
	lkChainB = "9991265031" // superseded by lkChainC
	lkChainC = "9992312327" // current
	lkSens   = "9997278852" // sensitive in the fixture
	lkGone   = "9990000018" // not in the fixture

	// lkNow is the instant of the lookups whose answer is the golden
	// testdata/access/alert-9990276579.golden.json (shared with httpapi).
	lkNow = "2026-11-22T10:15:30Z"

	lkOrgName = "Example Hospital Emergency Department"
)

var lkLAs = []string{"201", "203", "841", "850"}

// lkAuthorities is testdata/authorities.csv cut down to lkLAs.
func lkAuthorities(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(cliAuthorities)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for i := 0; sc.Scan(); i++ {
		for _, c := range lkLAs {
			if i == 0 || strings.HasPrefix(sc.Text(), c+",") {
				out.WriteString(sc.Text() + "\n")
				break
			}
		}
	}
	return out.String()
}

// lkBefore is the fixture's demographics with lkChainA and lkChainB
// current, lkSens not sensitive and lkGone known: plans are held under
// them while this is the reference.
func lkBefore(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(cliDemographics)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for old, new := range map[string]string{
		lkChainA + ",Elsworth,Aled,2016-11-14," + lkChainB + ",N,": lkChainA + ",Elsworth,Aled,2016-11-14,,N,",
		lkChainB + ",Elsworth,Aled,2016-11-14," + lkChainC + ",N,": lkChainB + ",Elsworth,Aled,2016-11-14,,N,",
		lkSens + ",Gashi,Perrin,2017-08-20,,Y,":                    lkSens + ",Gashi,Perrin,2017-08-20,,N,",
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("%s no longer has the line %q", cliDemographics, old)
		}
		s = strings.Replace(s, old, new, 1)
	}
	return s + lkGone + ",Nobody,Known,2015-01-01,,N,\n"
}

// lkHub makes a hub at now with the four LAs and the reference in ref (a
// path), then sends and ingests returns (LA code to CSV rows after the
// header) dated the day before now, each of which must apply whole.
func lkHub(t *testing.T, now, ref string, returns map[string][]string) *cliHub {
	t.Helper()
	h := newCLIHub(t)
	h.okAt(now, "init", "--authorities", h.file("authorities.csv", lkAuthorities(t)), "--pds", ref)
	if len(returns) == 0 {
		return h
	}
	day, err := time.Parse(time.RFC3339, now)
	if err != nil {
		t.Fatal(err)
	}
	extract := day.AddDate(0, 0, -1).Format("20060102")
	var codes []string
	for la := range returns {
		codes = append(codes, la)
	}
	sort.Strings(codes)
	for _, la := range codes {
		name := fmt.Sprintf("CPIS_%s_FULL_%s.csv", la, extract)
		out := h.okAt(now, "mailbox", "send", "--la", la,
			h.file(name, crlf(append([]string{"nhs_number,plan_type,start_date,end_date,due_date,local_id"}, returns[la]...)...)))
		if !sentPattern.MatchString(out) {
			t.Fatalf("mailbox send printed %q", out)
		}
	}
	for _, o := range cliJSONLines(t, h.okAt(now, "ingest", "--json")) {
		if o["code"] != "CPF02" {
			t.Fatalf("ingest: %v", o)
		}
	}
	return h
}

// lkPlans are the returns of the golden answer: CPP and an ended LAC with
// 201, CPP with 841; a sister with 841; a UCPP with 850.
var lkPlans = map[string][]string{
	"201": {lkChild + ",CPP,2024-05-01,,,P-1", lkChild + ",LAC,2025-01-10,2026-06-30,,L-77"},
	"841": {lkChild + ",CPP,2026-03-02,,,C-10442", lkSister + ",CPP,2026-01-05,,,C-10443"},
	"850": {lkMother + ",UCPP,2026-09-01,,2027-01-15,U-5"},
}

// lkLookup returns the arguments of a valid lookup of nhs.
func lkLookup(nhs, setting, user string) []string {
	return []string{"lookup", nhs, "--org", "RXX01", "--org-name", lkOrgName, "--setting", setting,
		"--user", user, "--role", "Staff Nurse", "--rbac", "B0264,B0107"}
}

// lkAnswer runs a lookup that must answer and returns its JSON.
func (h *cliHub) lkAnswer(now string, args ...string) map[string]any {
	h.t.Helper()
	out := h.okAt(now, args...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		h.t.Fatalf("lookup printed %q: %v", out, err)
	}
	return m
}

// lkOutbox returns the content of a file in LA la's outbox ("" if none).
func (h *cliHub) lkOutbox(la, name string) string {
	b, err := os.ReadFile(filepath.Join(h.data, "mailboxes", mesh.MailboxID(la), "outbox", name))
	if err != nil {
		return ""
	}
	return string(b)
}

// lkOutboxes lists the access and inactive-number files of every outbox.
func (h *cliHub) lkOutboxes() []string {
	var out []string
	for _, la := range lkLAs {
		for _, name := range h.outbox(la) {
			if !strings.Contains(name, "_RESPONSE_") {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func lkEntry(at, setting, user string) map[string]any {
	return map[string]any{"accessed_at": at, "org_code": "RXX01", "org_name": lkOrgName, "setting": setting,
		"user_name": user, "user_role": "Staff Nurse"}
}

const lkAccessHeader = "accessed_at,nhs_number,local_id,plan_type,org_code,org_name,setting,user_name,user_role\r\n"

func TestLookupCLIAnswer(t *testing.T) {
	h := lkHub(t, cliNow, cliDemographics, lkPlans)
	r := h.runAt(lkNow, lkLookup(lkChild, "ED", "A Clinician")...)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	// The same bytes as the HTTP answer (httpapi's test).
	golden(t, "access", "alert-9990276579.golden.json", []byte(r.stdout))

	// UCPP: the due date shown; LA 850's office phone.
	got := h.lkAnswer(lkNow, lkLookup(" 999 423-8477 ", "MAT", "A Midwife")...)
	want := map[string]any{"nhs_number": lkMother, "alert": true,
		"plans": []any{map[string]any{"plan_type": "UCPP", "start_date": "2026-09-01", "end_date": nil, "due_date": "2027-01-15",
			"local_authority": map[string]any{"code": "850", "name": "Hampshire", "emergency_phone": "0118 496 0104", "office_phone": "0118 496 0504"}}},
		"access_history": []any{lkEntry(lkNow, "MAT", "A Midwife")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UCPP answer (-want +got):\n%s", diff)
	}

	// No alert: that exact body, and nothing recorded but the audit.
	r = h.runAt(lkNow, lkLookup("9990049319", "ED", "A Clinician")...)
	if want := "{\n  \"nhs_number\": \"9990049319\",\n  \"alert\": false,\n  \"plans\": [],\n  \"access_history\": []\n}\n"; r.code != 0 || r.stdout != want {
		t.Errorf("no alert: exit %d, stdout %q, want %q", r.code, r.stdout, want)
	}
	h.okAt("2026-11-23T02:30:00Z", "notify")
	for _, la := range lkLAs {
		content := h.lkOutbox(la, "CPIS_"+la+"_ACCESS_20261122.csv")
		if strings.Contains(content, "9990049319") {
			t.Errorf("LA %s was told of a no-alert lookup:\n%s", la, content)
		}
	}
}

func TestLookupCLIRefusals(t *testing.T) {
	h := lkHub(t, cliNow, cliDemographics, lkPlans)
	const rbac403 = "viewing a Child Care Alert needs the RBAC codes B0264 (perform patient trace) and B0107 (view child protection plan)"
	tests := []struct {
		name  string
		edit  map[string]string // flag to value; "" removes the flag
		nhs   string
		error string
		field string
	}{
		{name: "org missing", edit: map[string]string{"--org": ""}, error: `organisation ODS code "" must be 3-10 letters or digits`, field: "--org"},
		{name: "org invalid", edit: map[string]string{"--org": "R X"}, error: `organisation ODS code "R X" must be 3-10 letters or digits`, field: "--org"},
		{name: "org name missing", edit: map[string]string{"--org-name": ""}, error: "the organisation name is missing", field: "--org-name"},
		{name: "setting missing", edit: map[string]string{"--setting": ""}, error: "the care setting is missing", field: "--setting"},
		{name: "setting unknown", edit: map[string]string{"--setting": "A&E"}, error: `care setting "A&E" is not one of the CP-IS setting codes`, field: "--setting"},
		{name: "user missing", edit: map[string]string{"--user": ""}, error: "the user name is missing", field: "--user"},
		{name: "user =", edit: map[string]string{"--user": "=1+1"}, error: "the user name may not begin with =, +, - or @", field: "--user"},
		{name: "user +", edit: map[string]string{"--user": "+1"}, error: "the user name may not begin with =, +, - or @", field: "--user"},
		{name: "user -", edit: map[string]string{"--user": "-1"}, error: "the user name may not begin with =, +, - or @", field: "--user"},
		{name: "user @", edit: map[string]string{"--user": "@x"}, error: "the user name may not begin with =, +, - or @", field: "--user"},
		{name: "user with a control character", edit: map[string]string{"--user": "A\x1bClinician"}, error: "the user name contains a control character", field: "--user"},
		{name: "role missing", edit: map[string]string{"--role": ""}, error: "the user role is missing", field: "--role"},
		{name: "role with a newline", edit: map[string]string{"--role": "Staff\nNurse"}, error: "the user role contains a control character", field: "--role"},
		{name: "rbac missing", edit: map[string]string{"--rbac": ""}, error: "the RBAC codes are missing", field: "--rbac"},
		{name: "rbac invalid", edit: map[string]string{"--rbac": "B0264,x"}, error: `RBAC code "x" is not a code such as B0264`, field: "--rbac"},
		{name: "rbac lacking B0107", edit: map[string]string{"--rbac": "B0264"}, error: rbac403, field: "--rbac"},
		{name: "rbac lacking B0264", edit: map[string]string{"--rbac": "B0107"}, error: rbac403, field: "--rbac"},
		{name: "nhs invalid", nhs: "9990276578", error: `NHS number fails the check digit: "9990276578"`, field: "nhs_number"},
		{name: "nhs short", nhs: "12345", error: `NHS number is not 10 digits: "12345"`, field: "nhs_number"},
		{name: "order: setting before rbac", edit: map[string]string{"--setting": "", "--rbac": "B0264"}, error: "the care setting is missing", field: "--setting"},
		{name: "order: rbac before nhs", edit: map[string]string{"--rbac": "B0264"}, nhs: "1", error: rbac403, field: "--rbac"},
	}
	var wantAudit []string
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nhs := tt.nhs
			if nhs == "" {
				nhs = lkChild
			}
			base := lkLookup(nhs, "ED", "A Clinician")
			args := append([]string(nil), base[:2]...)
			for i := 2; i < len(base); i += 2 {
				v, edited := tt.edit[base[i]]
				if !edited {
					v = base[i+1]
				} else if v == "" {
					continue
				}
				args = append(args, base[i], v)
			}
			at := fmt.Sprintf("2026-11-22T11:%02d:00Z", i)
			r := h.runAt(at, args...)
			var want strings.Builder
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			_ = enc.Encode(map[string]string{"error": tt.error, "field": tt.field})
			if r.code != exitFailure || r.stdout != want.String() || r.stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, stdout %q", r.code, r.stdout, r.stderr, want.String())
			}
			wantAudit = append(wantAudit, at+" cli refused "+tt.field)
		})
	}
	// Every refusal is audited; none left history or a notification.
	var got []string
	for _, a := range cliJSONLines(t, h.okAt("2026-11-22T12:00:00Z", "audit", "--json")) {
		got = append(got, fmt.Sprintf("%s %s %s %s", a["at"], a["via"], a["outcome"], a["field"]))
	}
	if diff := cmp.Diff(wantAudit, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	h.okAt("2026-11-23T02:30:00Z", "notify")
	if got := h.lkOutbox("841", "CPIS_841_ACCESS_20261122.csv"); got != lkAccessHeader {
		t.Errorf("access file after refusals only: %q", got)
	}
}

func TestLookupCLIUsage(t *testing.T) {
	h := lkHub(t, cliNow, cliDemographics, nil)
	usage := func(msg string) string { return "cpis: " + msg + "\nRun 'cpis --help' for usage.\n" }
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{name: "no NHS number", args: []string{"lookup", "--org", "RXX01"}, stderr: usage("accepts 1 arg(s), received 0")},
		{name: "two NHS numbers", args: []string{"lookup", lkChild, lkSister}, stderr: usage("accepts 1 arg(s), received 2")},
		{name: "unknown flag", args: append(lkLookup(lkChild, "ED", "A"), "--bogus"), stderr: usage("unknown flag: --bogus")},
		{name: "flag without value", args: append(lkLookup(lkChild, "ED", "A"), "--setting"), stderr: usage("flag needs an argument: --setting")},
		{name: "orgs add without name", args: []string{"orgs", "add", "RXX01"}, stderr: usage("--name: the organisation name is missing")},
		{name: "orgs add bad ODS", args: []string{"orgs", "add", "R-1", "--name", "X"}, stderr: usage(`ODS code "R-1" must be 3-10 letters or digits`)},
		{name: "orgs revoke without ODS", args: []string{"orgs", "revoke"}, stderr: usage("accepts 1 arg(s), received 0")},
		{name: "audit bad since", args: []string{"audit", "--since", "yesterday"}, stderr: usage(`--since "yesterday" is neither YYYY-MM-DD nor an RFC 3339 time`)},
		{name: "notify bad day", args: []string{"notify", "--day", "22/11/2026"}},
		{name: "serve with an argument", args: []string{"serve", "now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(tt.args...)
			if r.code != exitUsage || r.stdout != "" {
				t.Errorf("exit %d, stdout %q; want exit 2 and nothing", r.code, r.stdout)
			}
			if tt.stderr != "" && r.stderr != tt.stderr {
				t.Errorf("stderr %q, want %q", r.stderr, tt.stderr)
			}
		})
	}
}

func TestLookupCLISettings(t *testing.T) {
	h := lkHub(t, cliNow, cliDemographics, lkPlans)
	settings := []struct {
		code        string
		unscheduled bool
	}{
		{"ED", true}, {"GP", false}, {"MIU", true}, {"CAMHS", false}, {"WIC", true}, {"SARC", false},
		{"AMB", true}, {"TOP", false}, {"OOH", true}, {"0-19", false}, {"PAED", true}, {"CPAED", false},
		{"MAT", true}, {"DENT", false}, {"111", true}, {"EDENT", true},
	}
	var hist []any
	var rows841, rows201 []string
	for i, s := range settings {
		at := time.Date(2026, 11, 22, 12, i, 0, 0, time.UTC).Format(time.RFC3339)
		user := "User " + s.code
		got := h.lkAnswer(at, lkLookup(lkChild, s.code, user)...)
		if s.unscheduled {
			hist = append([]any{lkEntry(at, s.code, user)}, hist...)
			line := func(local, typ string) string {
				return fmt.Sprintf("%s,%s,%s,%s,RXX01,%s,%s,%s,Staff Nurse\r\n", strings.Replace(at, "Z", "+00:00", 1), lkChild, local, typ, lkOrgName, s.code, user)
			}
			rows841 = append(rows841, line("C-10442", "CPP"))
			rows201 = append(rows201, line("P-1", "CPP"), line("L-77", "LAC"))
		}
		// A silent read shows the history and adds nothing to it.
		if diff := cmp.Diff(hist, got["access_history"]); diff != "" {
			t.Errorf("%s: access_history (-want +got):\n%s", s.code, diff)
		}
	}
	h.okAt("2026-11-23T02:30:00Z", "notify")
	if diff := cmp.Diff(lkAccessHeader+strings.Join(rows841, ""), h.lkOutbox("841", "CPIS_841_ACCESS_20261122.csv")); diff != "" {
		t.Errorf("841's access file (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(lkAccessHeader+strings.Join(rows201, ""), h.lkOutbox("201", "CPIS_201_ACCESS_20261122.csv")); diff != "" {
		t.Errorf("201's access file (-want +got):\n%s", diff)
	}
	// The audit has them all, the scheduled ones as silent.
	var got []string
	for _, a := range cliJSONLines(t, h.okAt("2026-11-23T02:30:00Z", "audit", "--json", "--nhs", lkChild)) {
		got = append(got, fmt.Sprintf("%s %v %v", a["setting"], a["silent"], a["notified"]))
	}
	var want []string
	for _, s := range settings {
		if s.unscheduled {
			want = append(want, s.code+" <nil> 3")
		} else {
			want = append(want, s.code+" true <nil>")
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestLookupCLIHistory(t *testing.T) {
	h := lkHub(t, cliNow, cliDemographics, lkPlans)
	steps := []struct {
		at, user string
		adds     bool
	}{
		{"2026-11-22T08:00:00Z", "A", true},
		{"2026-11-22T09:00:00Z", "A", false},
		{"2026-11-22T10:00:00Z", "B", true},
		{"2026-11-23T07:59:59Z", "A", false},
		{"2026-11-23T08:00:00Z", "A", true},
	}
	var hist []any
	for i, s := range steps {
		if s.adds {
			hist = append([]any{lkEntry(s.at, "ED", s.user)}, hist...)
		}
		got := h.lkAnswer(s.at, lkLookup(lkChild, "ED", s.user)...)
		if diff := cmp.Diff(hist, got["access_history"]); diff != "" {
			t.Errorf("step %d: access_history (-want +got):\n%s", i, diff)
		}
	}
	// 25 at most, newest first.
	for i := range 30 {
		at := time.Date(2026, 11, 23, 9, i, 0, 0, time.UTC).Format(time.RFC3339)
		user := fmt.Sprintf("User %02d", i)
		hist = append([]any{lkEntry(at, "ED", user)}, hist...)
		h.okAt(at, lkLookup(lkChild, "ED", user)...)
	}
	got := h.lkAnswer("2026-11-23T10:00:00Z", lkLookup(lkChild, "GP", "Reader")...)
	if diff := cmp.Diff(hist[:25], got["access_history"]); diff != "" {
		t.Errorf("access_history (-want +got):\n%s", diff)
	}
	// Every access is owed, repeats included.
	h.okAt("2026-11-24T02:30:00Z", "notify")
	n22 := strings.Count(h.lkOutbox("841", "CPIS_841_ACCESS_20261122.csv"), "\r\n") - 1
	n23 := strings.Count(h.lkOutbox("841", "CPIS_841_ACCESS_20261123.csv"), "\r\n") - 1
	if n22 != 3 || n23 != 32 {
		t.Errorf("841 was told of %d accesses on the 22nd and %d on the 23rd, want 3 and 32", n22, n23)
	}
}

func TestNotifyCLI(t *testing.T) {
	h := lkHub(t, cliNow, cliDemographics, lkPlans)
	for _, a := range []struct{ at, nhs, setting, user string }{
		{"2026-11-22T00:00:00Z", lkChild, "ED", "First, Of Day"},
		{"2026-11-22T14:00:00Z", lkSister, "MIU", "B User"},
		{"2026-11-22T14:00:00Z", lkChild, "MIU", "B User"},
		{"2026-11-22T14:00:00Z", lkChild, "MIU", "A User"},
		{"2026-11-22T15:00:00Z", lkChild, "GP", "Silent"},
		{"2026-11-22T16:00:00Z", lkMother, "MAT", "A Midwife"},
		{"2026-11-22T23:59:59Z", lkChild, "OOH", "Last \"Of\" Day"},
		{"2026-11-23T00:00:00Z", lkChild, "111", "Next Day"},
	} {
		h.okAt(a.at, lkLookup(a.nhs, a.setting, a.user)...)
	}
	// 841 withdraws the child's plan after the accesses: still reported.
	h.send("841", "CPIS_841_DELTA_20261123.csv", crlf("nhs_number,plan_type,action", lkChild+",CPP,DELETE"))
	if o := cliJSONLines(t, h.okAt("2026-11-23T01:00:00Z", "ingest", "--json")); len(o) != 1 || o[0]["withdrawn"] != 1.0 {
		t.Fatalf("ingest of the DELETE: %v", o)
	}

	// The day is not over until midnight London time.
	for _, tt := range []struct{ now, day string }{
		{"2026-11-22T23:00:00Z", "2026-11-22"},
		{"2026-11-23T02:30:00Z", "2026-11-23"},
		{"2026-11-23T02:30:00Z", "2026-11-30"},
	} {
		r := h.runAt(tt.now, "notify", "--day", tt.day)
		today := strings.Split(tt.now, "T")[0]
		want := "cpis: notify " + tt.day + ": the day is not over yet (today is " + today + " in London)\n"
		if r.code != exitFailure || r.stderr != want {
			t.Errorf("notify --day %s at %s: exit %d, stderr %q; want exit 1, %q", tt.day, tt.now, r.code, r.stderr, want)
		}
	}
	if got := h.lkOutboxes(); len(got) != 0 {
		t.Fatalf("files written for a day not over: %v", got)
	}

	out := h.okAt("2026-11-23T02:30:00Z", "notify", "--day", "2026-11-22")
	if want := "Notify: 4 access file(s) written for 1 day(s), 14 access row(s).\n"; out != want {
		t.Errorf("notify printed %q, want %q", out, want)
	}
	for _, la := range []string{"201", "841", "850"} {
		name := "CPIS_" + la + "_ACCESS_20261122.csv"
		golden(t, "notify", "cli-"+name, []byte(h.lkOutbox(la, name)))
	}
	if got := h.lkOutbox("203", "CPIS_203_ACCESS_20261122.csv"); got != lkAccessHeader {
		t.Errorf("203's file is %q, want the header only", got)
	}
	for _, la := range lkLAs {
		ctl, err := mesh.ParseControl(strings.NewReader(h.lkOutbox(la, "CPIS_"+la+"_ACCESS_20261122.ctl")))
		if err != nil {
			t.Fatalf("LA %s: %v", la, err)
		}
		if ctl.WorkflowID != "CPIS_ACCESS_NOTIFICATION" || ctl.To != mesh.MailboxID(la) || ctl.LocalID != "CPIS_"+la+"_ACCESS_20261122.csv" || !mesh.ValidMessageID(ctl.DTSID) {
			t.Errorf("LA %s control file: %+v", la, ctl)
		}
	}

	// Exactly once: the same day again writes nothing and exits 0.
	before := h.lkOutboxes()
	for _, args := range [][]string{{"notify", "--day", "2026-11-22"}, {"notify"}} {
		if out := h.okAt("2026-11-23T03:00:00Z", args...); out != "Notify: 0 access file(s) written for 0 day(s), 0 access row(s).\n" {
			t.Errorf("cpis %v again printed %q", args, out)
		}
	}
	if diff := cmp.Diff(before, h.lkOutboxes()); diff != "" {
		t.Errorf("outboxes after running again (-want +got):\n%s", diff)
	}

	// A missed night is filled in: two days later, both the 23rd and 24th.
	h.okAt("2026-11-24T12:00:00Z", lkLookup(lkMother, "ED", "A User")...)
	out = h.okAt("2026-11-25T02:30:00Z", "notify", "--json")
	var got []string
	for _, o := range cliJSONLines(t, out) {
		got = append(got, fmt.Sprintf("%s %s %v", o["day"], o["file"], o["rows"]))
	}
	want := []string{
		"2026-11-23 CPIS_201_ACCESS_20261123.csv 2", "2026-11-23 CPIS_203_ACCESS_20261123.csv 0",
		"2026-11-23 CPIS_841_ACCESS_20261123.csv 1", "2026-11-23 CPIS_850_ACCESS_20261123.csv 0",
		"2026-11-24 CPIS_201_ACCESS_20261124.csv 0", "2026-11-24 CPIS_203_ACCESS_20261124.csv 0",
		"2026-11-24 CPIS_841_ACCESS_20261124.csv 0", "2026-11-24 CPIS_850_ACCESS_20261124.csv 1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notify two days later (-want +got):\n%s", diff)
	}
}

func TestNotifyCLIDayBoundaries(t *testing.T) {
	// A hub made in summer; the plan is visible all year.
	h := lkHub(t, "2026-07-01T09:00:00Z", cliDemographics, map[string][]string{"841": {lkChild + ",CPP,2026-03-02,,,C-10442"}})
	accesses := []struct{ at, user string }{
		{"2026-07-01T22:59:59Z", "Summer Last"},
		{"2026-07-01T23:30:00Z", "Summer Next"}, // 00:30 BST on the 2nd
		{"2026-10-24T22:59:59Z", "Autumn Before"},
		{"2026-10-24T23:00:00Z", "Autumn Midnight"},
		{"2026-10-25T00:59:59Z", "Autumn BST"},
		{"2026-10-25T01:00:00Z", "Autumn GMT"},
		{"2026-12-01T23:30:00Z", "Winter"},
		{"2026-12-01T23:59:59Z", "Winter Last"},
		{"2026-12-02T00:00:00Z", "Winter Next"},
	}
	for _, a := range accesses {
		h.okAt(a.at, lkLookup(lkChild, "ED", a.user)...)
	}
	row := func(at, user string) string {
		return at + "," + lkChild + ",C-10442,CPP,RXX01," + lkOrgName + ",ED," + user + ",Staff Nurse\r\n"
	}
	want := map[string]string{
		"20260701": row("2026-07-01T23:59:59+01:00", "Summer Last"),
		"20260702": row("2026-07-02T00:30:00+01:00", "Summer Next"),
		"20261024": row("2026-10-24T23:59:59+01:00", "Autumn Before"),
		"20261025": row("2026-10-25T00:00:00+01:00", "Autumn Midnight") + row("2026-10-25T01:59:59+01:00", "Autumn BST") + row("2026-10-25T01:00:00+00:00", "Autumn GMT"),
		"20261201": row("2026-12-01T23:30:00+00:00", "Winter") + row("2026-12-01T23:59:59+00:00", "Winter Last"),
		"20261202": row("2026-12-02T00:00:00+00:00", "Winter Next"),
	}
	for day := range want {
		d := day[:4] + "-" + day[4:6] + "-" + day[6:]
		h.okAt("2026-12-10T02:30:00Z", "notify", "--day", d)
	}
	for day, rows := range want {
		name := "CPIS_841_ACCESS_" + day + ".csv"
		if diff := cmp.Diff(lkAccessHeader+rows, h.lkOutbox("841", name)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

var lkInactivePattern = regexp.MustCompile(`^Inactive NHS numbers: (\d+) row\(s\) for LA (\d{3}) in (CPIS_(\d{3})_INACTIVE_(\d{8})_(\d{20}_[0-9A-F]{6})\.csv)\.$`)

func TestInactiveCLI(t *testing.T) {
	// Made with the reference of before the merges; the plans sent then.
	before := filepath.Join(t.TempDir(), "pds-before.csv")
	if err := os.WriteFile(before, []byte(lkBefore(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	h := lkHub(t, cliNow, before, map[string][]string{
		"201": {lkChainB + ",LAC,2026-04-01,,,B-1"},
		"841": {lkChainA + ",CPP,2026-02-01,,,A-1", lkChainC + ",LAC,2026-10-01,,,C-1", lkSens + ",CPP,2026-01-05,,,S-1"},
		"850": {lkGone + ",CPP,2026-01-05,,,G-1"},
	})

	// The fixture's reference: A and B superseded (current C), lkSens
	// sensitive, lkGone unknown.
	const at = "2026-11-22T09:00:00Z"
	out := h.okAt(at, "pds", "import", cliDemographics)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || lines[0] != "Imported 120 demographic records from "+cliDemographics+"." {
		t.Fatalf("pds import printed %q", out)
	}
	got := map[string]string{}
	for _, line := range lines[1:] {
		m := lkInactivePattern.FindStringSubmatch(line)
		if m == nil || m[2] != m[4] || m[5] != "20261122" {
			t.Errorf("pds import printed %q", line)
			continue
		}
		got[m[2]] = m[1] + " " + h.lkOutbox(m[2], m[3])
		ctl, err := mesh.ParseControl(strings.NewReader(h.lkOutbox(m[2], strings.TrimSuffix(m[3], ".csv")+".ctl")))
		if err != nil || ctl.WorkflowID != "CPIS_INACTIVE_NHS_NUMBER" || ctl.DTSID != m[6] || ctl.To != mesh.MailboxID(m[2]) {
			t.Errorf("control file of %s: %+v, %v", m[3], ctl, err)
		}
	}
	const header = "nhs_number,local_id,plan_type,reason,current_nhs_number\r\n"
	want := map[string]string{
		"201": "1 " + header + lkChainB + ",B-1,LAC,SUPERSEDED," + lkChainC + "\r\n",
		"841": "2 " + header + lkChainA + ",A-1,CPP,SUPERSEDED," + lkChainC + "\r\n" + lkSens + ",S-1,CPP,SENSITIVE,\r\n",
		"850": "1 " + header + lkGone + ",G-1,CPP,UNKNOWN,\r\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inactive files (-want +got):\n%s", diff)
	}

	// Sent once: the same reference again sends nothing new.
	files := h.lkOutboxes()
	if out := h.okAt("2026-11-22T09:30:00Z", "pds", "import", cliDemographics); out != "Imported 120 demographic records from "+cliDemographics+".\n" {
		t.Errorf("second import printed %q", out)
	}
	if diff := cmp.Diff(files, h.lkOutboxes()); diff != "" {
		t.Errorf("outboxes after the second import (-want +got):\n%s", diff)
	}

	// The plans stay visible. A lookup of the current number shows those
	// held under the numbers that lead to it.
	la := func(code string) map[string]any {
		if code == "201" {
			return map[string]any{"code": "201", "name": "City of London", "emergency_phone": "020 7946 0100", "office_phone": "020 7946 0500"}
		}
		return map[string]any{"code": "841", "name": "Darlington", "emergency_phone": "0191 498 0123", "office_phone": nil}
	}
	p := func(typ, start, code string) map[string]any {
		return map[string]any{"plan_type": typ, "start_date": start, "end_date": nil, "due_date": nil, "local_authority": la(code)}
	}
	const look = "2026-11-22T10:00:00Z"
	ans := h.lkAnswer(look, lkLookup(lkChainC, "ED", "A Clinician")...)
	wantAns := map[string]any{"nhs_number": lkChainC, "alert": true,
		"plans":          []any{p("LAC", "2026-04-01", "201"), p("CPP", "2026-02-01", "841"), p("LAC", "2026-10-01", "841")},
		"access_history": []any{lkEntry(look, "ED", "A Clinician")}}
	if diff := cmp.Diff(wantAns, ans); diff != "" {
		t.Errorf("lookup of C (-want +got):\n%s", diff)
	}
	// History is kept under the number looked up: A's is empty.
	ans = h.lkAnswer(look, lkLookup(lkChainA, "GP", "A Clinician")...)
	if diff := cmp.Diff(map[string]any{"nhs_number": lkChainA, "alert": true, "plans": []any{p("CPP", "2026-02-01", "841")}, "access_history": []any{}}, ans); diff != "" {
		t.Errorf("lookup of A (-want +got):\n%s", diff)
	}
	for _, nhs := range []string{lkSens, lkGone} {
		if ans := h.lkAnswer(look, lkLookup(nhs, "GP", "A Clinician")...); ans["alert"] != true {
			t.Errorf("lookup of %s: %v, want the alert still", nhs, ans)
		}
	}
	// Notification rows carry each plan's own number.
	h.okAt("2026-11-23T02:30:00Z", "notify", "--day", "2026-11-22")
	row := func(nhs, local, typ string) string {
		return "2026-11-22T10:00:00+00:00," + nhs + "," + local + "," + typ + ",RXX01," + lkOrgName + ",ED,A Clinician,Staff Nurse\r\n"
	}
	for code, want := range map[string]string{
		"201": lkAccessHeader + row(lkChainB, "B-1", "LAC"),
		"841": lkAccessHeader + row(lkChainA, "A-1", "CPP") + row(lkChainC, "C-1", "LAC"),
		"850": lkAccessHeader,
	} {
		if diff := cmp.Diff(want, h.lkOutbox(code, "CPIS_"+code+"_ACCESS_20261122.csv")); diff != "" {
			t.Errorf("LA %s access file (-want +got):\n%s", code, diff)
		}
	}
}

func TestAuditCLI(t *testing.T) {
	h := lkHub(t, "2026-11-10T09:00:00Z", cliDemographics, lkPlans)
	h.okAt("2026-11-12T09:00:00Z", lkLookup(lkChild, "ED", "Old Lookup")...) // over 7 days before the audit
	h.okAt("2026-11-22T09:00:00Z", lkLookup(lkChild, "ED", "A Clinician")...)
	h.okAt("2026-11-22T09:01:00Z", lkLookup(lkChild, "GP", "A GP")...)
	h.okAt("2026-11-22T09:02:00Z", lkLookup(lkSister, "ED", "A Clinician")...)
	h.okAt("2026-11-22T09:03:00Z", lkLookup("9990049319", "ED", "A Clinician")...)
	refused := lkLookup(lkChild, "ED", "A Clinician")
	refused[len(refused)-1] = "B0264"
	h.runAt("2026-11-22T09:04:00Z", refused...)
	other := lkLookup(lkChild, "WIC", "Other Org User")
	other[3] = "RYY02"
	h.okAt("2026-11-22T09:05:00Z", other...)

	// The whole table, the last 7 days by default.
	golden(t, "access", "audit-table.golden.txt", []byte(h.okAt("2026-11-22T10:00:00Z", "audit")))

	tests := []struct {
		name string
		args []string
		want []string // "at outcome user"
	}{
		{name: "all since", args: []string{"--since", "2026-11-01"}, want: []string{
			"2026-11-12T09:00:00Z alert Old Lookup", "2026-11-22T09:00:00Z alert A Clinician", "2026-11-22T09:01:00Z alert A GP",
			"2026-11-22T09:02:00Z alert A Clinician", "2026-11-22T09:03:00Z no-alert A Clinician", "2026-11-22T09:04:00Z refused A Clinician",
			"2026-11-22T09:05:00Z alert Other Org User"}},
		{name: "since a time", args: []string{"--since", "2026-11-22T09:03:00Z"}, want: []string{
			"2026-11-22T09:03:00Z no-alert A Clinician", "2026-11-22T09:04:00Z refused A Clinician", "2026-11-22T09:05:00Z alert Other Org User"}},
		{name: "since a London date", args: []string{"--since", "2026-11-22"}, want: []string{
			"2026-11-22T09:00:00Z alert A Clinician", "2026-11-22T09:01:00Z alert A GP", "2026-11-22T09:02:00Z alert A Clinician",
			"2026-11-22T09:03:00Z no-alert A Clinician", "2026-11-22T09:04:00Z refused A Clinician", "2026-11-22T09:05:00Z alert Other Org User"}},
		{name: "one org", args: []string{"--org", "RYY02"}, want: []string{"2026-11-22T09:05:00Z alert Other Org User"}},
		{name: "one person", args: []string{"--nhs", lkSister}, want: []string{"2026-11-22T09:02:00Z alert A Clinician"}},
		{name: "org and person", args: []string{"--org", "RXX01", "--nhs", lkChild, "--since", "2026-11-01"}, want: []string{
			"2026-11-12T09:00:00Z alert Old Lookup", "2026-11-22T09:00:00Z alert A Clinician", "2026-11-22T09:01:00Z alert A GP",
			"2026-11-22T09:04:00Z refused A Clinician"}},
		{name: "nobody", args: []string{"--nhs", lkMother}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range cliJSONLines(t, h.okAt("2026-11-22T10:00:00Z", append([]string{"audit", "--json"}, tt.args...)...)) {
				got = append(got, fmt.Sprintf("%s %s %s", a["at"], a["outcome"], a["user_name"]))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// One record whole.
	recs := cliJSONLines(t, h.okAt("2026-11-22T10:00:00Z", "audit", "--json", "--since", "2026-11-22T09:01:00Z", "--nhs", lkChild, "--org", "RXX01"))
	want := map[string]any{"at": "2026-11-22T09:01:00Z", "org_code": "RXX01", "org_name": lkOrgName, "setting": "GP", "user_name": "A GP",
		"user_role": "Staff Nurse", "nhs_number": lkChild, "via": "cli", "outcome": "alert", "silent": true, "status": 200.0, "plans": 3.0}
	if len(recs) == 0 {
		t.Fatal("no audit record")
	}
	if diff := cmp.Diff(want, recs[0]); diff != "" {
		t.Errorf("audit record (-want +got):\n%s", diff)
	}
}

var lkServing = regexp.MustCompile(`msg="HTTP lookup API listening" addr=(127\.0\.0\.1:\d+) tls=false\n`)

// lkServe runs cpis serve (the HTTP API only) on 127.0.0.1:0 at now, calls fn with its base
// URL, then stops it and checks it exited 0.
func (h *cliHub) lkServe(now string, fn func(url string)) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--data", h.data, "--now", now, "serve", "--http", "127.0.0.1:0", "--no-sftp", "--no-scheduler"}, &stdout, &stderr)
	}()
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; {
		if m := lkServing.FindStringSubmatch(stderr.String()); m != nil {
			url = "http://" + m[1]
			break
		}
		select {
		case code := <-done:
			cancel()
			h.t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			h.t.Fatalf("serve did not start: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK || stdout.String() != "" {
				h.t.Errorf("serve exited %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
			}
		case <-time.After(10 * time.Second):
			h.t.Errorf("serve did not stop")
		}
	}()
	fn(url)
}

// lkGet requests an alert and returns the status and body.
func lkGet(t *testing.T, url, nhs, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/v1/alerts/"+nhs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Setting", "ED")
	req.Header.Set("X-User-Name", "A Clinician")
	req.Header.Set("X-User-Role", "Staff Nurse")
	req.Header.Set("X-RBAC", "B0264,B0107")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

var lkToken = regexp.MustCompile(`^(cpis_[A-Za-z0-9_-]{43})\n$`)

// lkOrgsAdd runs cpis orgs add and returns the token printed.
func (h *cliHub) lkOrgsAdd(ods, name string) string {
	h.t.Helper()
	r := h.run("orgs", "add", ods, "--name", name)
	m := lkToken.FindStringSubmatch(r.stdout)
	if r.code != exitOK || m == nil {
		h.t.Fatalf("orgs add: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if want := "Organisation " + ods + " registered. Keep the token above: it is not shown again.\n"; r.stderr != want {
		h.t.Errorf("orgs add stderr %q, want %q", r.stderr, want)
	}
	return m[1]
}

const lk401 = "{\n  \"error\": \"an API token is required: Authorization: Bearer <token> (missing, unknown or revoked)\"\n}\n"

func TestServeCLIAndOrgs(t *testing.T) {
	h := lkHub(t, cliNow, cliDemographics, lkPlans)
	first := h.lkOrgsAdd("RXX01", lkOrgName)
	// The store keeps only the token's hash.
	db, err := os.ReadFile(filepath.Join(h.data, "cpis.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte(first)) {
		t.Errorf("the store holds the token itself")
	}

	h.lkServe(lkNow, func(url string) {
		status, body := lkGet(t, url, lkChild, first)
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		// Byte for byte the CLI's answer and httpapi's.
		golden(t, "access", "alert-9990276579.golden.json", []byte(body))
		for _, token := range []string{"", "cpis_unknown"} {
			if status, body := lkGet(t, url, lkChild, token); status != 401 || body != lk401 {
				t.Errorf("token %q: status %d, body %q; want 401 %q", token, status, body, lk401)
			}
		}
	})

	// A second add replaces the token.
	second := h.lkOrgsAdd("RXX01", lkOrgName)
	if second == first {
		t.Fatal("the second add printed the same token")
	}
	h.lkServe(lkNow, func(url string) {
		if status, body := lkGet(t, url, lkChild, first); status != 401 || body != lk401 {
			t.Errorf("replaced token: status %d, body %q", status, body)
		}
		if status, body := lkGet(t, url, lkChild, second); status != 200 {
			t.Errorf("new token: status %d, body %q", status, body)
		}
	})

	// Revoke ends it.
	if out := h.ok("orgs", "revoke", "RXX01"); out != "Revoked the API token of RXX01.\n" {
		t.Errorf("orgs revoke printed %q", out)
	}
	if r := h.run("orgs", "revoke", "RZZ99"); r.code != exitFailure || r.stderr != "cpis: organisation \"RZZ99\" is not registered\n" {
		t.Errorf("revoke of an unknown org: exit %d, stderr %q", r.code, r.stderr)
	}
	h.lkServe(lkNow, func(url string) {
		if status, body := lkGet(t, url, lkChild, second); status != 401 || body != lk401 {
			t.Errorf("revoked token: status %d, body %q", status, body)
		}
	})
	if out := h.ok("orgs", "list"); !regexp.MustCompile(`^ODS +NAME +ADDED \(UTC\) +STATUS\nRXX01 +` + lkOrgName + ` +2026-11-22 02:30:00 +revoked 2026-11-22 02:30:00\n$`).MatchString(out) {
		t.Errorf("orgs list printed %q", out)
	}

	// The HTTP accesses are in the audit, with their refusals.
	var got []string
	for _, a := range cliJSONLines(t, h.okAt("2026-11-22T11:00:00Z", "audit", "--json")) {
		got = append(got, fmt.Sprintf("%v %v %v %v", a["via"], a["org_code"], a["outcome"], a["status"]))
	}
	want := []string{"http <nil> refused 401", "http <nil> refused 401", "http <nil> refused 401", "http <nil> refused 401",
		"http RXX01 alert 200", "http RXX01 alert 200"}
	// All at one instant, refusals committed in groups: compare as sets.
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestServeCLIListens(t *testing.T) {
	h := lkHub(t, cliNow, cliDemographics, nil)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{name: "plain HTTP on all interfaces", args: []string{"serve", "--no-sftp", "--no-scheduler", "--http", "0.0.0.0:0"},
			stderr: "cpis: http address \"0.0.0.0:0\": plain HTTP is allowed only on a loopback address: give --tls-cert and --tls-key, or --insecure-http\n"},
		{name: "certificate without key", args: []string{"serve", "--no-sftp", "--no-scheduler", "--http", "127.0.0.1:0", "--tls-cert", "hub.crt"},
			stderr: "cpis: give both --tls-cert and --tls-key\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(tt.args...)
			if r.code != exitFailure || r.stderr != tt.stderr || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, %q", r.code, r.stdout, r.stderr, tt.stderr)
			}
		})
	}
}
