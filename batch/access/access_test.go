package access_test

// Tests of Service.Lookup against a real store (NoSync): the checks and
// their order, the settings table, the answer, the access history, what
// is owed to LAs, supersession and the audit. The HTTP and CLI channels
// have their own tests (httpapi, cmd/cpis).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/access"
	"cpis/batch/hubtest"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

// created is when every test store is made; now is the clock of a lookup
// unless a test sets another (London date 2026-11-22).
var (
	created = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	now     = time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)
)

// NHS numbers of testdata/demographics.csv.
const (
	child    = "9990276579" // Hartwell, born 2016-05-12
	noPlan   = "9993765570" // Ashdown, no plan held
	mother   = "9994238477" // Kettering, born 1987
	chainA   = "9990217742" // superseded by chainB
	chainB   = "9991265031" // superseded by chainC
	chainC   = "9992312327" // current
	orgCode  = "RXX01"
	orgName  = "Example Hospital Emergency Department"
	userName = "A Clinician"
	userRole = "Staff Nurse"
)

func date(s string) caldate.Date {
	d, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return d
}

func plan(nhs, la string, typ plans.Type, start, end, due, localID string) plans.Plan {
	p := plans.Plan{Key: plans.Key{NHS: nhs, LA: la, Type: typ}, Start: date(start), LocalID: localID}
	if end != "" {
		p.End = date(end)
	}
	if due != "" {
		p.Due = date(due)
	}
	return p
}

// The plans of the answer tests: two LAs for child, one UCPP for mother.
var (
	child841CPP  = plan(child, "841", plans.CPP, "2026-03-02", "", "", "C-10442")
	child201LAC  = plan(child, "201", plans.LAC, "2025-01-10", "2026-06-30", "", "L-77")
	child201CPP  = plan(child, "201", plans.CPP, "2024-05-01", "", "", "P-1")
	mother850UCP = plan(mother, "850", plans.UCPP, "2026-09-01", "", "2027-01-15", "U-5")
)

type hub struct {
	t     *testing.T
	db    *store.DB
	clock *hubtest.Clock
	svc   *access.Service
}

// newHub is a hub with LAs 201, 203, 841 and 850 (201 and 850 have an
// office phone, 203 and 841 do not), the fixture's demographics and ps,
// and a service whose clock reads now.
func newHub(t *testing.T, ps ...plans.Plan) *hub {
	t.Helper()
	fix := hubtest.New(t, hubtest.Options{LAs: []string{"201", "203", "841", "850"}, Created: created, Plans: ps})
	c := hubtest.NewClock(now)
	svc, err := access.New(fix.DB, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &hub{t: t, db: fix.DB, clock: c, svc: svc}
}

// req is a valid unscheduled request over HTTP.
func req(nhs string) access.Request {
	return access.Request{NHSNumber: nhs, OrgCode: orgCode, OrgName: orgName, Setting: "ED",
		UserName: userName, UserRole: userRole, RBAC: "B0264,B0107", Via: access.HTTP}
}

// lookup answers r at instant at and returns the answer as JSON values.
func (h *hub) lookup(at time.Time, r access.Request) map[string]any {
	h.t.Helper()
	h.clock.Set(at)
	ans, ref, err := h.svc.Lookup(h.t.Context(), r)
	if err != nil || ref != nil {
		h.t.Fatalf("lookup %+v: refusal %+v, error %v", r, ref, err)
	}
	return jsonValue(h.t, ans)
}

func jsonValue(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (h *hub) history(nhs string) []store.HistoryEntry {
	h.t.Helper()
	var out []store.HistoryEntry
	if err := h.db.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.History(nhs)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// owed returns every notification owed, by LA code (all days).
func (h *hub) owed() map[string][]store.Notification {
	h.t.Helper()
	out := map[string][]store.Notification{}
	if err := h.db.View(func(tx *store.Tx) error {
		days, err := tx.OwedDays()
		if err != nil {
			return err
		}
		las, err := tx.Authorities()
		if err != nil {
			return err
		}
		for _, d := range days {
			for _, a := range las {
				rows, err := tx.Owed(d, a.Code)
				if err != nil {
					return err
				}
				if len(rows) > 0 {
					out[a.Code] = append(out[a.Code], rows...)
				}
			}
		}
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// audits closes the service (writing queued audit records) and returns
// every lookup audit record.
func (h *hub) audits() []store.LookupAudit {
	h.t.Helper()
	if err := h.svc.Close(); err != nil {
		h.t.Fatal(err)
	}
	return readAudits(h.t, h.db)
}

func readAudits(t testing.TB, db *store.DB) []store.LookupAudit {
	t.Helper()
	var out []store.LookupAudit
	if err := db.View(func(tx *store.Tx) error {
		return tx.LookupAudits(time.Time{}, func(a store.LookupAudit) error {
			out = append(out, a)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// JSON forms of the answer's parts.
var (
	la201 = map[string]any{"code": "201", "name": "City of London", "emergency_phone": "020 7946 0100", "office_phone": "020 7946 0500"}
	la841 = map[string]any{"code": "841", "name": "Darlington", "emergency_phone": "0191 498 0123", "office_phone": nil}
	la850 = map[string]any{"code": "850", "name": "Hampshire", "emergency_phone": "0118 496 0104", "office_phone": "0118 496 0504"}
)

func planJSON(p plans.Plan, la map[string]any) map[string]any {
	opt := func(d caldate.Date) any {
		if d.IsZero() {
			return nil
		}
		return d.String()
	}
	return map[string]any{"plan_type": string(p.Type), "start_date": p.Start.String(), "end_date": opt(p.End),
		"due_date": opt(p.Due), "local_authority": la}
}

func entryJSON(at time.Time, org, user, setting string) map[string]any {
	return map[string]any{"accessed_at": at.UTC().Format(time.RFC3339), "org_code": org, "org_name": orgName,
		"setting": setting, "user_name": user, "user_role": userRole}
}

func answerJSON(nhs string, ps []any, hist []any) map[string]any {
	if ps == nil {
		ps = []any{}
	}
	if hist == nil {
		hist = []any{}
	}
	return map[string]any{"nhs_number": nhs, "alert": len(ps) > 0, "plans": ps, "access_history": hist}
}

func TestChecks(t *testing.T) {
	const (
		rbac403 = "viewing a Child Care Alert needs the RBAC codes B0264 (perform patient trace) and B0107 (view child protection plan)"
	)
	long := strings.Repeat("x", 101)
	tests := []struct {
		name string
		via  access.Via
		edit func(r *access.Request)
		want *access.Refusal // nil: answered
	}{
		{name: "valid", edit: func(r *access.Request) {}},
		{name: "valid over the CLI", via: access.CLI, edit: func(r *access.Request) {}},
		{name: "setting missing", edit: func(r *access.Request) { r.Setting = "" },
			want: &access.Refusal{Status: 400, Error: "the care setting is missing", Field: "X-Setting"}},
		{name: "setting unknown", edit: func(r *access.Request) { r.Setting = "XX" },
			want: &access.Refusal{Status: 400, Error: `care setting "XX" is not one of the CP-IS setting codes`, Field: "X-Setting"}},
		{name: "setting in lower case", edit: func(r *access.Request) { r.Setting = "ed" },
			want: &access.Refusal{Status: 400, Error: `care setting "ed" is not one of the CP-IS setting codes`, Field: "X-Setting"}},
		{name: "user missing", edit: func(r *access.Request) { r.UserName = "" },
			want: &access.Refusal{Status: 400, Error: "the user name is missing", Field: "X-User-Name"}},
		{name: "user blank", edit: func(r *access.Request) { r.UserName = "   " },
			want: &access.Refusal{Status: 400, Error: "the user name is missing", Field: "X-User-Name"}},
		{name: "user of 101 characters", edit: func(r *access.Request) { r.UserName = long },
			want: &access.Refusal{Status: 400, Error: "the user name is longer than 100 characters", Field: "X-User-Name"}},
		{name: "user of 100 characters", edit: func(r *access.Request) { r.UserName = long[1:] }},
		{name: "user of 100 non-ASCII characters", edit: func(r *access.Request) { r.UserName = strings.Repeat("é", 100) }},
		{name: "user =", edit: func(r *access.Request) { r.UserName = "=HYPERLINK(\"x\")" },
			want: &access.Refusal{Status: 400, Error: "the user name may not begin with =, +, - or @", Field: "X-User-Name"}},
		{name: "user +", edit: func(r *access.Request) { r.UserName = "+44 1" },
			want: &access.Refusal{Status: 400, Error: "the user name may not begin with =, +, - or @", Field: "X-User-Name"}},
		{name: "user -", edit: func(r *access.Request) { r.UserName = "-1" },
			want: &access.Refusal{Status: 400, Error: "the user name may not begin with =, +, - or @", Field: "X-User-Name"}},
		{name: "user @", edit: func(r *access.Request) { r.UserName = "@SUM(1)" },
			want: &access.Refusal{Status: 400, Error: "the user name may not begin with =, +, - or @", Field: "X-User-Name"}},
		{name: "user with = inside", edit: func(r *access.Request) { r.UserName = "A=B-C" }},
		{name: "user with a tab", edit: func(r *access.Request) { r.UserName = "A\tClinician" },
			want: &access.Refusal{Status: 400, Error: "the user name contains a control character", Field: "X-User-Name"}},
		{name: "user with a newline", edit: func(r *access.Request) { r.UserName = "A\nClinician" },
			want: &access.Refusal{Status: 400, Error: "the user name contains a control character", Field: "X-User-Name"}},
		{name: "user with a C1 control", edit: func(r *access.Request) { r.UserName = "A\u0085Clinician" },
			want: &access.Refusal{Status: 400, Error: "the user name contains a control character", Field: "X-User-Name"}},
		{name: "user not UTF-8", edit: func(r *access.Request) { r.UserName = "A\xffB" },
			want: &access.Refusal{Status: 400, Error: "the user name is not UTF-8 text", Field: "X-User-Name"}},
		{name: "role missing", edit: func(r *access.Request) { r.UserRole = "" },
			want: &access.Refusal{Status: 400, Error: "the user role is missing", Field: "X-User-Role"}},
		{name: "role @", edit: func(r *access.Request) { r.UserRole = "@admin" },
			want: &access.Refusal{Status: 400, Error: "the user role may not begin with =, +, - or @", Field: "X-User-Role"}},
		{name: "role with a DEL", edit: func(r *access.Request) { r.UserRole = "Nurse\x7f" },
			want: &access.Refusal{Status: 400, Error: "the user role contains a control character", Field: "X-User-Role"}},
		{name: "rbac missing", edit: func(r *access.Request) { r.RBAC = "" },
			want: &access.Refusal{Status: 400, Error: "the RBAC codes are missing", Field: "X-RBAC"}},
		{name: "rbac with an empty code", edit: func(r *access.Request) { r.RBAC = "B0264,,B0107" },
			want: &access.Refusal{Status: 400, Error: `RBAC code "" is not a code such as B0264`, Field: "X-RBAC"}},
		{name: "rbac not a code", edit: func(r *access.Request) { r.RBAC = "B0264;B0107" },
			want: &access.Refusal{Status: 400, Error: `RBAC code "B0264;B0107" is not a code such as B0264`, Field: "X-RBAC"}},
		{name: "rbac without B0107", edit: func(r *access.Request) { r.RBAC = "B0264" },
			want: &access.Refusal{Status: 403, Error: rbac403, Field: "X-RBAC"}},
		{name: "rbac without B0264", edit: func(r *access.Request) { r.RBAC = "B0107,B1234" },
			want: &access.Refusal{Status: 403, Error: rbac403, Field: "X-RBAC"}},
		{name: "rbac with more codes and spaces", edit: func(r *access.Request) { r.RBAC = " B8000 , B0107 ,B0264" }},
		{name: "nhs not 10 digits", edit: func(r *access.Request) { r.NHSNumber = "999027657" },
			want: &access.Refusal{Status: 400, Error: `NHS number is not 10 digits: "999027657"`, Field: "nhs_number"}},
		{name: "nhs with a letter", edit: func(r *access.Request) { r.NHSNumber = "999027657X" },
			want: &access.Refusal{Status: 400, Error: `NHS number is not 10 digits: "999027657X"`, Field: "nhs_number"}},
		{name: "nhs check digit", edit: func(r *access.Request) { r.NHSNumber = "9990276578" },
			want: &access.Refusal{Status: 400, Error: `NHS number fails the check digit: "9990276578"`, Field: "nhs_number"}},
		{name: "nhs one repeated digit", edit: func(r *access.Request) { r.NHSNumber = "4444444444" },
			want: &access.Refusal{Status: 400, Error: `NHS number fails the check digit: "4444444444"`, Field: "nhs_number"}},
		{name: "nhs missing", edit: func(r *access.Request) { r.NHSNumber = " " },
			want: &access.Refusal{Status: 400, Error: `NHS number is missing: " "`, Field: "nhs_number"}},
		{name: "nhs with spaces and hyphens", edit: func(r *access.Request) { r.NHSNumber = " 999 027-6579 " }},

		// The first failure in access.md's order answers.
		{name: "order: setting before user", edit: func(r *access.Request) { r.Setting, r.UserName = "XX", "" },
			want: &access.Refusal{Status: 400, Error: `care setting "XX" is not one of the CP-IS setting codes`, Field: "X-Setting"}},
		{name: "order: user before role", edit: func(r *access.Request) { r.UserName, r.UserRole = "=x", "" },
			want: &access.Refusal{Status: 400, Error: "the user name may not begin with =, +, - or @", Field: "X-User-Name"}},
		{name: "order: role before rbac", edit: func(r *access.Request) { r.UserRole, r.RBAC = "", "" },
			want: &access.Refusal{Status: 400, Error: "the user role is missing", Field: "X-User-Role"}},
		{name: "order: invalid rbac before lacking rbac", edit: func(r *access.Request) { r.RBAC = "B0264,bogus" },
			want: &access.Refusal{Status: 400, Error: `RBAC code "bogus" is not a code such as B0264`, Field: "X-RBAC"}},
		{name: "order: rbac before nhs", edit: func(r *access.Request) { r.RBAC, r.NHSNumber = "B0264", "1" },
			want: &access.Refusal{Status: 403, Error: rbac403, Field: "X-RBAC"}},

		// The CLI checks the organisation first and names flags.
		{name: "cli: org missing", via: access.CLI, edit: func(r *access.Request) { r.OrgCode = "" },
			want: &access.Refusal{Status: 400, Error: `organisation ODS code "" must be 3-10 letters or digits`, Field: "--org"}},
		{name: "cli: org not letters", via: access.CLI, edit: func(r *access.Request) { r.OrgCode, r.Setting = "RX-1", "" },
			want: &access.Refusal{Status: 400, Error: `organisation ODS code "RX-1" must be 3-10 letters or digits`, Field: "--org"}},
		{name: "cli: org name missing", via: access.CLI, edit: func(r *access.Request) { r.OrgName = "" },
			want: &access.Refusal{Status: 400, Error: "the organisation name is missing", Field: "--org-name"}},
		{name: "cli: org name @", via: access.CLI, edit: func(r *access.Request) { r.OrgName, r.Setting = "@x", "" },
			want: &access.Refusal{Status: 400, Error: "the organisation name may not begin with =, +, - or @", Field: "--org-name"}},
		{name: "cli: setting", via: access.CLI, edit: func(r *access.Request) { r.Setting = "" },
			want: &access.Refusal{Status: 400, Error: "the care setting is missing", Field: "--setting"}},
		{name: "cli: user", via: access.CLI, edit: func(r *access.Request) { r.UserName = "-x" },
			want: &access.Refusal{Status: 400, Error: "the user name may not begin with =, +, - or @", Field: "--user"}},
		{name: "cli: role", via: access.CLI, edit: func(r *access.Request) { r.UserRole = "" },
			want: &access.Refusal{Status: 400, Error: "the user role is missing", Field: "--role"}},
		{name: "cli: rbac invalid", via: access.CLI, edit: func(r *access.Request) { r.RBAC = "" },
			want: &access.Refusal{Status: 400, Error: "the RBAC codes are missing", Field: "--rbac"}},
		{name: "cli: rbac lacking", via: access.CLI, edit: func(r *access.Request) { r.RBAC = "B0107" },
			want: &access.Refusal{Status: 403, Error: rbac403, Field: "--rbac"}},
		{name: "cli: nhs", via: access.CLI, edit: func(r *access.Request) { r.NHSNumber = "123" },
			want: &access.Refusal{Status: 400, Error: `NHS number is not 10 digits: "123"`, Field: "nhs_number"}},
	}
	h := newHub(t, child841CPP)
	var wantAudit []string
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A second apart: the audit is in time order (refusals are
			// committed in groups, accesses at once).
			h.clock.Set(now.Add(time.Duration(i) * time.Second))
			r := req(child)
			if tt.via != "" {
				r.Via = tt.via
			}
			tt.edit(&r)
			ans, ref, err := h.svc.Lookup(t.Context(), r)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ref); diff != "" {
				t.Errorf("refusal (-want +got):\n%s", diff)
			}
			if tt.want != nil {
				if ans != nil {
					t.Errorf("a refusal came with an answer %+v", ans)
				}
				wantAudit = append(wantAudit, fmt.Sprintf("%s refused %d %s", r.Via, tt.want.Status, tt.want.Field))
				return
			}
			if ans == nil || !ans.Alert || ans.NHSNumber != child {
				t.Errorf("answer %+v, want an alert on %s", ans, child)
			}
			wantAudit = append(wantAudit, fmt.Sprintf("%s alert %d ", r.Via, http.StatusOK))
		})
	}
	// Every lookup and every refusal is audited, in order.
	var got []string
	for _, a := range h.audits() {
		got = append(got, fmt.Sprintf("%s %s %d %s", a.Via, a.Outcome, a.Status, a.Field))
	}
	if diff := cmp.Diff(wantAudit, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestSettings(t *testing.T) {
	// store/domain.md's table ("Care settings"), written out rather than taken from access.Settings.
	tests := []struct {
		setting     string
		unscheduled bool
	}{
		{"ED", true}, {"MIU", true}, {"WIC", true}, {"AMB", true}, {"OOH", true},
		{"PAED", true}, {"MAT", true}, {"111", true}, {"EDENT", true},
		{"GP", false}, {"CAMHS", false}, {"SARC", false}, {"TOP", false},
		{"0-19", false}, {"CPAED", false}, {"DENT", false},
	}
	if len(tests) != len(access.Settings) {
		t.Errorf("access.Settings has %d codes, store/domain.md %d", len(access.Settings), len(tests))
	}
	earlier := now.Add(-2 * time.Hour)
	for _, tt := range tests {
		t.Run(tt.setting, func(t *testing.T) {
			h := newHub(t, child841CPP)
			// An earlier unscheduled access by someone else: a silent read
			// shows it and adds nothing.
			first := req(child)
			first.UserName = "Earlier User"
			h.lookup(earlier, first)

			r := req(child)
			r.Setting = tt.setting
			got := h.lookup(now, r)

			hist := []any{entryJSON(earlier, orgCode, "Earlier User", "ED")}
			wantHist := []store.HistoryEntry{{AccessedAt: earlier, OrgCode: orgCode, OrgName: orgName, Setting: "ED", UserName: "Earlier User", UserRole: userRole}}
			wantOwed := []store.Notification{{AccessedAt: earlier, NHSNumber: child, LocalID: "C-10442", PlanType: "CPP",
				OrgCode: orgCode, OrgName: orgName, Setting: "ED", UserName: "Earlier User", UserRole: userRole}}
			wantAudit := store.LookupAudit{At: now, OrgCode: orgCode, OrgName: orgName, Setting: tt.setting, UserName: userName,
				UserRole: userRole, NHSNumber: child, Via: "http", Outcome: "alert", Status: 200, Plans: 1}
			if tt.unscheduled {
				hist = append([]any{entryJSON(now, orgCode, userName, tt.setting)}, hist...)
				wantHist = append([]store.HistoryEntry{{AccessedAt: now, OrgCode: orgCode, OrgName: orgName, Setting: tt.setting, UserName: userName, UserRole: userRole}}, wantHist...)
				wantOwed = append(wantOwed, store.Notification{AccessedAt: now, NHSNumber: child, LocalID: "C-10442", PlanType: "CPP",
					OrgCode: orgCode, OrgName: orgName, Setting: tt.setting, UserName: userName, UserRole: userRole})
				wantAudit.Notified = 1
			} else {
				wantAudit.Silent = true
			}
			if diff := cmp.Diff(answerJSON(child, []any{planJSON(child841CPP, la841)}, hist), got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantHist, h.history(child)); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string][]store.Notification{"841": wantOwed}, h.owed()); diff != "" {
				t.Errorf("owed (-want +got):\n%s", diff)
			}
			audits := h.audits()
			if len(audits) != 2 {
				t.Fatalf("%d audit records, want 2: %+v", len(audits), audits)
			}
			if diff := cmp.Diff(wantAudit, audits[1]); diff != "" {
				t.Errorf("audit of the lookup (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoAlert(t *testing.T) {
	tests := []struct {
		name    string
		nhs     string
		held    []plans.Plan
		setting string
	}{
		{name: "nothing held", nhs: noPlan, setting: "ED"},
		{name: "nothing held, silent", nhs: noPlan, setting: "GP"},
		{name: "ended over 365 days ago", nhs: child, setting: "ED",
			held: []plans.Plan{plan(child, "841", plans.CPP, "2024-01-01", "2025-11-21", "", "C-1")}},
		{name: "over 18", nhs: mother, setting: "ED",
			held: []plans.Plan{plan(mother, "841", plans.CPP, "2000-01-01", "", "", "C-1")}},
		{name: "UCPP 29 days after its due date", nhs: mother, setting: "MAT",
			held: []plans.Plan{plan(mother, "850", plans.UCPP, "2026-05-01", "", "2026-10-24", "U-1")}},
		{name: "another person's plan", nhs: noPlan, setting: "ED", held: []plans.Plan{child841CPP}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t, tt.held...)
			r := req(tt.nhs)
			r.Setting = tt.setting
			h.clock.Set(now)
			ans, ref, err := h.svc.Lookup(t.Context(), r)
			if err != nil || ref != nil {
				t.Fatalf("refusal %+v, error %v", ref, err)
			}
			b, err := json.Marshal(ans)
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"nhs_number":"` + tt.nhs + `","alert":false,"plans":[],"access_history":[]}`; string(b) != want {
				t.Errorf("answer %s, want %s", b, want)
			}
			if got := h.history(tt.nhs); len(got) != 0 {
				t.Errorf("history %+v, want none", got)
			}
			if got := h.owed(); len(got) != 0 {
				t.Errorf("owed %+v, want nothing", got)
			}
			want := []store.LookupAudit{{At: now, OrgCode: orgCode, OrgName: orgName, Setting: tt.setting, UserName: userName,
				UserRole: userRole, NHSNumber: tt.nhs, Via: "http", Outcome: "no-alert", Status: 200}}
			if diff := cmp.Diff(want, h.audits()); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	// Put in an order unlike the answer's.
	h := newHub(t, child841CPP, child201LAC, mother850UCP, child201CPP,
		plan(child, "203", plans.CPP, "2020-01-01", "2025-11-01", "", "gone")) // not visible
	got := h.lookup(now, req(" 999-027-6579"))
	want := answerJSON(child, []any{planJSON(child201CPP, la201), planJSON(child201LAC, la201), planJSON(child841CPP, la841)},
		[]any{entryJSON(now, orgCode, userName, "ED")})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	// UCPP: the due date is shown; the end is null while open.
	got = h.lookup(now, req(mother))
	want = answerJSON(mother, []any{planJSON(mother850UCP, la850)}, []any{entryJSON(now, orgCode, userName, "ED")})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UCPP answer (-want +got):\n%s", diff)
	}
	if want := (map[string]any{"plan_type": "UCPP", "start_date": "2026-09-01", "end_date": nil, "due_date": "2027-01-15", "local_authority": la850}); !cmp.Equal(want, got["plans"].([]any)[0]) {
		t.Errorf("UCPP plan %v, want %v", got["plans"], want)
	}
	// Each LA is owed one row per plan of its own, with its local reference.
	wantOwed := map[string][]store.Notification{
		"201": {
			{AccessedAt: now, NHSNumber: child, LocalID: "P-1", PlanType: "CPP", OrgCode: orgCode, OrgName: orgName, Setting: "ED", UserName: userName, UserRole: userRole},
			{AccessedAt: now, NHSNumber: child, LocalID: "L-77", PlanType: "LAC", OrgCode: orgCode, OrgName: orgName, Setting: "ED", UserName: userName, UserRole: userRole},
		},
		"841": {{AccessedAt: now, NHSNumber: child, LocalID: "C-10442", PlanType: "CPP", OrgCode: orgCode, OrgName: orgName, Setting: "ED", UserName: userName, UserRole: userRole}},
		"850": {{AccessedAt: now, NHSNumber: mother, LocalID: "U-5", PlanType: "UCPP", OrgCode: orgCode, OrgName: orgName, Setting: "ED", UserName: userName, UserRole: userRole}},
	}
	if diff := cmp.Diff(wantOwed, h.owed()); diff != "" {
		t.Errorf("owed (-want +got):\n%s", diff)
	}
}

func TestAnswerCarriesNothingElse(t *testing.T) {
	h := newHub(t, child841CPP, child201LAC)
	h.clock.Set(now)
	ans, ref, err := h.svc.Lookup(t.Context(), req(child))
	if err != nil || ref != nil {
		t.Fatalf("refusal %+v, error %v", ref, err)
	}
	b, err := json.Marshal(ans)
	if err != nil {
		t.Fatal(err)
	}
	// No local reference, name, date of birth or region leaks into it.
	for _, s := range []string{"C-10442", "L-77", "Hartwell", "Maisie", "2016-05-12", "North East", "E06000005", "LA841HC001"} {
		if strings.Contains(string(b), s) {
			t.Errorf("the answer carries %q: %s", s, b)
		}
	}
	// Key sets, at every level.
	keys := func(v any) []string {
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		return sortStrings(out)
	}
	m := jsonValue(t, ans)
	for _, c := range []struct {
		what string
		v    any
		want []string
	}{
		{"answer", m, []string{"access_history", "alert", "nhs_number", "plans"}},
		{"plan", m["plans"].([]any)[0], []string{"due_date", "end_date", "local_authority", "plan_type", "start_date"}},
		{"local authority", m["plans"].([]any)[0].(map[string]any)["local_authority"], []string{"code", "emergency_phone", "name", "office_phone"}},
		{"history entry", m["access_history"].([]any)[0], []string{"accessed_at", "org_code", "org_name", "setting", "user_name", "user_role"}},
	} {
		if diff := cmp.Diff(c.want, keys(c.v)); diff != "" {
			t.Errorf("%s keys (-want +got):\n%s", c.what, diff)
		}
	}
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func TestHistoryKeepsTwentyFive(t *testing.T) {
	h := newHub(t, child841CPP)
	start := now.Add(-time.Hour)
	var got map[string]any
	for i := 1; i <= 30; i++ {
		r := req(child)
		r.UserName = fmt.Sprintf("User %02d", i)
		got = h.lookup(start.Add(time.Duration(i)*time.Minute), r)
	}
	var want []any
	var wantStore []store.HistoryEntry
	for i := 30; i > 5; i-- {
		at := start.Add(time.Duration(i) * time.Minute)
		want = append(want, entryJSON(at, orgCode, fmt.Sprintf("User %02d", i), "ED"))
		wantStore = append(wantStore, store.HistoryEntry{AccessedAt: at, OrgCode: orgCode, OrgName: orgName, Setting: "ED", UserName: fmt.Sprintf("User %02d", i), UserRole: userRole})
	}
	if diff := cmp.Diff(answerJSON(child, []any{planJSON(child841CPP, la841)}, want), got); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantStore, h.history(child)); diff != "" {
		t.Errorf("history kept (-want +got):\n%s", diff)
	}
	// Every access is owed, beyond the 25 kept.
	if got := len(h.owed()["841"]); got != 30 {
		t.Errorf("%d notifications owed, want 30", got)
	}
}

func TestHistorySameUser(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	type step struct {
		after     time.Duration // since t0
		org, user string
		adds      bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "again within the hour", steps: []step{{0, "RXX01", "A", true}, {time.Hour, "RXX01", "A", false}}},
		{name: "again just before 24 hours", steps: []step{{0, "RXX01", "A", true}, {24*time.Hour - time.Second, "RXX01", "A", false}}},
		{name: "again at 24 hours", steps: []step{{0, "RXX01", "A", true}, {24 * time.Hour, "RXX01", "A", true}}},
		{name: "again after 30 hours", steps: []step{{0, "RXX01", "A", true}, {30 * time.Hour, "RXX01", "A", true}}},
		{name: "another user of the same org", steps: []step{{0, "RXX01", "A", true}, {time.Minute, "RXX01", "B", true}}},
		{name: "the same user name at another org", steps: []step{{0, "RXX01", "A", true}, {time.Minute, "RYY02", "A", true}}},
		{name: "counted from the user's newest entry", steps: []step{
			{0, "RXX01", "A", true}, {time.Hour, "RXX01", "B", true}, {25 * time.Hour, "RXX01", "A", true},
			{48 * time.Hour, "RXX01", "A", false}, {49*time.Hour + time.Second, "RXX01", "A", true},
		}},
		{name: "others in between", steps: []step{
			{0, "RXX01", "A", true}, {time.Hour, "RXX01", "B", true}, {2 * time.Hour, "RXX01", "A", false},
			{3 * time.Hour, "RXX01", "B", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t, child841CPP)
			var hist []any
			var owed []store.Notification
			for i, s := range tt.steps {
				at := t0.Add(s.after)
				r := req(child)
				r.OrgCode, r.UserName = s.org, s.user
				got := h.lookup(at, r)
				if s.adds {
					hist = append([]any{entryJSON(at, s.org, s.user, "ED")}, hist...)
				}
				if diff := cmp.Diff(answerJSON(child, []any{planJSON(child841CPP, la841)}, hist), got); diff != "" {
					t.Errorf("step %d: answer (-want +got):\n%s", i, diff)
				}
				owed = append(owed, store.Notification{AccessedAt: at, NHSNumber: child, LocalID: "C-10442", PlanType: "CPP",
					OrgCode: s.org, OrgName: orgName, Setting: "ED", UserName: s.user, UserRole: userRole})
			}
			// Repeats are owed too: every access.
			if diff := cmp.Diff(map[string][]store.Notification{"841": owed}, h.owed()); diff != "" {
				t.Errorf("owed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHistoryWholeSeconds(t *testing.T) {
	h := newHub(t, child841CPP)
	at := time.Date(2026, 11, 22, 10, 15, 30, 999_999_999, time.FixedZone("X", 3600))
	got := h.lookup(at, req(child))
	hist := got["access_history"].([]any)
	if len(hist) != 1 || hist[0].(map[string]any)["accessed_at"] != "2026-11-22T09:15:30Z" {
		t.Errorf("access_history %v, want one entry at 2026-11-22T09:15:30Z", hist)
	}
	if o := h.owed()["841"]; len(o) != 1 || !o[0].AccessedAt.Equal(time.Date(2026, 11, 22, 9, 15, 30, 0, time.UTC)) {
		t.Errorf("owed %+v, want one at 09:15:30Z", o)
	}
}

func TestSupersession(t *testing.T) {
	// The reference: chainA -> chainB -> chainC (current). Plans were
	// stored while each number was current.
	a841 := plan(chainA, "841", plans.CPP, "2026-02-01", "", "", "A-1")
	b201 := plan(chainB, "201", plans.LAC, "2026-04-01", "", "", "B-1")
	c841 := plan(chainC, "841", plans.CPP, "2026-10-01", "", "", "C-1")
	h := newHub(t, a841, b201, c841)

	got := h.lookup(now, req(chainC))
	want := answerJSON(chainC, []any{planJSON(b201, la201), planJSON(a841, la841), planJSON(c841, la841)},
		[]any{entryJSON(now, orgCode, userName, "ED")})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lookup of the current number (-want +got):\n%s", diff)
	}
	row := func(nhs, local, typ string) store.Notification {
		return store.Notification{AccessedAt: now, NHSNumber: nhs, LocalID: local, PlanType: typ, OrgCode: orgCode,
			OrgName: orgName, Setting: "ED", UserName: userName, UserRole: userRole}
	}
	wantOwed := map[string][]store.Notification{
		"201": {row(chainB, "B-1", "LAC")},
		"841": {row(chainA, "A-1", "CPP"), row(chainC, "C-1", "CPP")},
	}
	if diff := cmp.Diff(wantOwed, h.owed()); diff != "" {
		t.Errorf("owed: rows carry each plan's own number (-want +got):\n%s", diff)
	}
	// The history is kept under the number looked up.
	for nhs, n := range map[string]int{chainA: 0, chainB: 0, chainC: 1} {
		if got := len(h.history(nhs)); got != n {
			t.Errorf("history of %s: %d entries, want %d", nhs, got, n)
		}
	}

	// A superseded number leads to those before it, never to those after.
	silent := req(chainB)
	silent.Setting = "GP"
	got = h.lookup(now, silent)
	if diff := cmp.Diff(answerJSON(chainB, []any{planJSON(b201, la201), planJSON(a841, la841)}, nil), got); diff != "" {
		t.Errorf("lookup of B (-want +got):\n%s", diff)
	}
	silent.NHSNumber = chainA
	got = h.lookup(now, silent)
	if diff := cmp.Diff(answerJSON(chainA, []any{planJSON(a841, la841)}, nil), got); diff != "" {
		t.Errorf("lookup of A (-want +got):\n%s", diff)
	}
}

func TestWithdrawnAfterAccess(t *testing.T) {
	h := newHub(t, child841CPP)
	h.lookup(now, req(child))
	if err := h.db.Update(func(tx *store.Tx) error {
		_, err := tx.DeletePlan(child841CPP.Key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []store.Notification{{AccessedAt: now, NHSNumber: child, LocalID: "C-10442", PlanType: "CPP", OrgCode: orgCode,
		OrgName: orgName, Setting: "ED", UserName: userName, UserRole: userRole}}
	if diff := cmp.Diff(map[string][]store.Notification{"841": want}, h.owed()); diff != "" {
		t.Errorf("owed after the plan was withdrawn (-want +got):\n%s", diff)
	}
	// The next lookup finds no alert and owes nothing more.
	got := h.lookup(now.Add(time.Minute), req(child))
	if diff := cmp.Diff(answerJSON(child, nil, nil), got); diff != "" {
		t.Errorf("lookup after the withdrawal (-want +got):\n%s", diff)
	}
	if got := len(h.owed()["841"]); got != 1 {
		t.Errorf("%d rows owed, want 1", got)
	}
}

func TestAudit(t *testing.T) {
	h := newHub(t, child841CPP)
	at := func(min int) time.Time { return now.Add(time.Duration(min) * time.Minute) }

	h.clock.Set(at(0))
	h.svc.Refuse(access.Request{NHSNumber: child, Setting: "ED", UserName: userName, Via: access.HTTP},
		&access.Refusal{Status: 401, Error: "no token"})
	h.clock.Set(at(1))
	bad := req("123")
	h.svc.Lookup(t.Context(), bad)
	h.clock.Set(at(2))
	lacking := req(child)
	lacking.RBAC = "B0264"
	h.svc.Lookup(t.Context(), lacking)
	h.lookup(at(3), req(noPlan))
	silent := req(child)
	silent.Setting = "CAMHS"
	h.lookup(at(4), silent)
	h.lookup(at(5), req(child))

	base := store.LookupAudit{OrgCode: orgCode, OrgName: orgName, Setting: "ED", UserName: userName, UserRole: userRole, Via: "http"}
	with := func(f func(a *store.LookupAudit)) store.LookupAudit {
		a := base
		f(&a)
		return a
	}
	want := []store.LookupAudit{
		{At: at(0), Setting: "ED", UserName: userName, NHSNumber: child, Via: "http", Outcome: "refused", Status: 401},
		with(func(a *store.LookupAudit) {
			a.At, a.NHSNumber, a.Outcome, a.Status, a.Field = at(1), "123", "refused", 400, "nhs_number"
		}),
		with(func(a *store.LookupAudit) {
			a.At, a.NHSNumber, a.Outcome, a.Status, a.Field = at(2), child, "refused", 403, "X-RBAC"
		}),
		with(func(a *store.LookupAudit) { a.At, a.NHSNumber, a.Outcome, a.Status = at(3), noPlan, "no-alert", 200 }),
		with(func(a *store.LookupAudit) {
			a.At, a.NHSNumber, a.Setting, a.Outcome, a.Status, a.Silent, a.Plans = at(4), child, "CAMHS", "alert", 200, true, 1
		}),
		with(func(a *store.LookupAudit) {
			a.At, a.NHSNumber, a.Outcome, a.Status, a.Plans, a.Notified = at(5), child, "alert", 200, 1, 1
		}),
	}
	if diff := cmp.Diff(want, h.audits()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// TestAuditOfSilentReadsIsGrouped: the audit records of a silent read and
// of a "no alert" answer are queued as one group that the queue's own timer
// writes, at most 100 ms late (access.md); an unscheduled access is written
// in its own commit, at once. The group and its writing are observed, not
// timed: a wall-clock bound flakes on a busy machine.
func TestAuditOfSilentReadsIsGrouped(t *testing.T) {
	silent := req(child)
	silent.Setting = "GP"

	t.Run("delay", func(t *testing.T) {
		h := newHub(t)
		if d := access.AuditDelay(h.svc); d <= 0 || d > 100*time.Millisecond {
			t.Errorf("the audit queue commits up to %v late, want more than 0 and at most 100 ms", d)
		}
	})

	t.Run("one group", func(t *testing.T) {
		h := newHub(t, child841CPP)
		access.HoldAudit(h.svc)
		h.lookup(now, silent)
		h.lookup(now, req(noPlan))
		if n, armed := access.AuditQueued(h.svc); n != 2 || !armed {
			t.Errorf("after a silent read and a no-alert answer: %d records queued (timer armed: %v), want 2 in one armed group", n, armed)
		}
		if n := len(readAudits(t, h.db)); n != 0 {
			t.Errorf("%d audit records written before the group's timer fired, want 0", n)
		}
		if !access.FireAudit(h.svc) {
			t.Fatal("no timer armed for the group")
		}
		if n := len(readAudits(t, h.db)); n != 2 {
			t.Errorf("%d audit records written when the group's timer fired, want 2", n)
		}
		if n, armed := access.AuditQueued(h.svc); n != 0 || armed {
			t.Errorf("after the group was written: %d records queued (timer armed: %v), want none", n, armed)
		}
		// An unscheduled access is audited in its own commit, at once.
		h.lookup(now, req(child))
		if n := len(readAudits(t, h.db)); n != 3 {
			t.Errorf("%d audit records right after an unscheduled access, want 3", n)
		}
		if n, armed := access.AuditQueued(h.svc); n != 0 || armed {
			t.Errorf("after an unscheduled access: %d records queued (timer armed: %v), want none", n, armed)
		}
	})

	t.Run("timer writes", func(t *testing.T) {
		// The real timer writes the group on its own: no Close, no other
		// lookup.
		h := newHub(t, child841CPP)
		h.lookup(now, silent)
		h.lookup(now, req(noPlan))
		access.WaitAudit(h.svc)
		if n := len(readAudits(t, h.db)); n != 2 {
			t.Errorf("%d audit records written once the queue's timer fired, want 2", n)
		}
	})
}

func TestConcurrentLookups(t *testing.T) {
	h := newHub(t, child841CPP, child201LAC)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		for _, setting := range []string{"ED", "GP"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := req(child)
				r.Setting, r.UserName = setting, fmt.Sprintf("User %02d", i)
				ans, ref, err := h.svc.Lookup(t.Context(), r)
				switch {
				case err != nil:
					errs <- err
				case ref != nil:
					errs <- fmt.Errorf("refused: %+v", ref)
				case len(ans.Plans) != 2:
					errs <- fmt.Errorf("answer with %d plans", len(ans.Plans))
				case setting == "ED" && (len(ans.AccessHistory) == 0 || ans.AccessHistory[0].UserName != r.UserName):
					// The access being made is in its own answer.
					errs <- fmt.Errorf("%s: history %+v lacks the access made", r.UserName, ans.AccessHistory)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(h.history(child)); got != store.HistoryLimit {
		t.Errorf("history of %d entries, want %d", got, store.HistoryLimit)
	}
	owed := h.owed()
	if len(owed["841"]) != n || len(owed["201"]) != n {
		t.Errorf("owed %d rows to 841 and %d to 201, want %d each", len(owed["841"]), len(owed["201"]), n)
	}
	silent, notified := 0, 0
	for _, a := range h.audits() {
		if a.Silent {
			silent++
		}
		notified += a.Notified
	}
	if silent != n || notified != 2*n {
		t.Errorf("audit: %d silent reads and %d notifications, want %d and %d", silent, notified, n, 2*n)
	}
}
