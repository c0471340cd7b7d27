package console_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"cpis/batch/accounts"
	"cpis/batch/console"
	"cpis/batch/hubtest"
	"cpis/batch/jobs"
	"cpis/batch/overview"
	"cpis/batch/overview/overviewtest"
	"cpis/store"
)

const opsEmail = "ops@example.org"

// newOpsFixture serves the console over the morning-after hub
// (overviewtest.Morning) at its clock, with jobs as the job lock, and
// returns it with a logged-in operations user's browser and CSRF token.
func newOpsFixture(t *testing.T, lock *jobs.Lock) (*fixture, *browser, string) {
	t.Helper()
	f := &fixture{clock: hubtest.NewClock(overviewtest.Now), secrets: map[string]string{}, last: map[string]time.Time{}}
	f.hub = overviewtest.Morning(t)
	f.acc = accounts.New(f.hub.DB, accounts.Options{Now: f.clock.Now})
	con, err := console.New(console.Options{DataDir: f.hub.Dir, DB: f.hub.DB, Accounts: f.acc, Now: f.clock.Now, Jobs: lock})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(console.Wrap(con, http.NotFoundHandler()))
	t.Cleanup(f.srv.Close)
	f.enrol(t, opsEmail, accounts.RoleOps, "")
	b := f.browser(t)
	return f, b, b.login(opsEmail)
}

// hiddenRE matches the headings responsive tables repeat in each cell
// for small screens.
var hiddenRE = regexp.MustCompile(`<span class="nhsuk-table-responsive__heading" aria-hidden="true">[^<]*</span>`)

// texts returns the text of each element with one of ids in p (tags
// removed, spaces collapsed; "" when absent). A table row's text runs to
// its </tr>.
func texts(p page, ids ...string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		re := regexp.MustCompile(`(?s)<(\w+)[^>]*\sid="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</(\w+)>`)
		m := re.FindStringSubmatch(p.Body)
		if m == nil {
			out[id] = ""
			continue
		}
		inner := m[2]
		if m[1] == "tr" || m[1] == "a" || m[1] == "p" {
			end := "</" + m[1] + ">"
			start := strings.Index(p.Body, m[0])
			rest := p.Body[start:]
			inner = rest[strings.Index(rest, ">")+1 : strings.Index(rest, end)]
		}
		inner = hiddenRE.ReplaceAllString(inner, "")
		s := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(inner, " ")
		out[id] = strings.Join(strings.Fields(html.UnescapeString(s)), " ")
	}
	return out
}

func TestOpsPages(t *testing.T) {
	f, b, _ := newOpsFixture(t, nil)
	f.enrol(t, "officer@example.org", accounts.RoleLA, "841")
	if _, err := f.acc.Add("new@example.org", accounts.RoleLA, "202"); err != nil {
		t.Fatal(err)
	}
	// A set-up link two days old has expired.
	now := f.clock.Now()
	f.clock.Set(now.Add(-48 * time.Hour))
	if _, err := f.acc.Add("old@example.org", accounts.RoleLA, "841"); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(now)
	resp := overviewtest.CamdenResponse(t, f.hub)
	held := overviewtest.HeldID
	tests := []struct {
		path string
		want map[string]string
	}{
		{path: "/ops/", want: map[string]string{
			"page-heading":             "Last night",
			"glance-held-count":        "1",
			"glance-others-count":      "1",
			"glance-undelivered-count": "1",
			"glance-quiet-count":       "2",
			"glance-latest":            "Latest: 22 Nov 2026.",
			"job-pull":                 "pull Failed pull: 1 of 1 remote mailboxes failed 2, 1 failed 22 Nov 2026 02:20, 1s, failed pulled 3",
			"job-ingest":               "ingest OK 1 22 Nov 2026 02:15, 3s, ok held 1, returns 1",
			"job-expire":               "expire OK 1 22 Nov 2026 03:00, 1s, ok purged 0",
			"job-notify":               "notify Skipped 1, 1 skipped 22 Nov 2026 03:10, 0s, skipped",
			"job-report":               "report OK 1 22 Nov 2026 03:30, 4s, ok",
			"job-push":                 "push OK 1 22 Nov 2026 02:30, 1s, ok pushed 1",
			"la-return-" + held:        "841 Darlington CPIS_841_FULL_20261120.csv " + held + " Held CPF04 F009 read 3, applied 3, rejected 0, warnings 1, withdrawn 22",
			"returns-silent":           "2 LAs sent no return last night. LAs with no return for 7 days .",
			"nav-home":                 "Last night",
		}},
		{path: "/ops/held", want: map[string]string{
			"held-" + held:                    "841 CPIS_841_FULL_20261120.csv " + held + " 22 Nov 2026 02:15 22 plans Release or discard CPIS_841_FULL_20261120.csv",
			"other-" + overviewtest.DeltaFile: "841 CPIS_841_DELTA_20261121.csv not taken yet waiting behind held return (" + held + ") 2026-11-21",
			"others-none":                     "",
			"review-" + held:                  "Release or discard CPIS_841_FULL_20261120.csv",
		}},
		{path: "/ops/held/" + held, want: map[string]string{
			"held-la":        "841 Darlington",
			"held-file":      "CPIS_841_FULL_20261120.csv",
			"held-id":        held,
			"held-extract":   "2026-11-20",
			"held-taken":     "22 Nov 2026 02:15",
			"held-withdrawn": "22 visible plans",
			"held-behind":    "CPIS_841_DELTA_20261121.csv",
			"confirm":        "Confirm",
		}},
		{path: "/ops/undelivered", want: map[string]string{
			"undelivered-" + resp: "202 Camden LA202HC001 " + resp + " " + strings.TrimSuffix(strings.TrimPrefix(resp, "CPIS_202_RESPONSE_20261113_"), ".csv") + " 13 Nov 2026 02:16",
			"undelivered-none":    "",
		}},
		{path: "/ops/quiet", want: map[string]string{
			"quiet-201": "201 City of London never sent one none none",
			"quiet-202": "202 Camden 9 13 Nov 2026 02:15: CPIS_202_FULL_20261112.csv 13 Nov 2026 02:15: CPIS_202_FULL_20261112.csv",
			"quiet-841": "",
		}},
		{path: "/ops/reports", want: map[string]string{
			"report-20261122":   "22 Nov 2026 22 Nov 2026 03:30 14 bytes Download the report of 22 Nov 2026 (report-20261122.xlsx)",
			"report-20261121":   "21 Nov 2026 21 Nov 2026 03:30 14 bytes Download the report of 21 Nov 2026 (report-20261121.xlsx)",
			"download-20261122": "Download the report of 22 Nov 2026 (report-20261122.xlsx)",
		}},
		{path: "/ops/users", want: map[string]string{
			"user-ops@example.org":     "ops@example.org operations yes 22 Nov 2026 09:00 22 Nov 2026 09:00",
			"user-new@example.org":     "new@example.org LA 202 Camden Not yet link valid until 23 Nov 2026 09:00 22 Nov 2026 09:00 never",
			"user-old@example.org":     "old@example.org LA 841 Darlington Link expired 20 Nov 2026 09:00 never",
			"user-officer@example.org": "officer@example.org LA 841 Darlington yes 22 Nov 2026 09:00 22 Nov 2026 09:00",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p := b.get(tt.path)
			if p.Status != http.StatusOK {
				t.Fatalf("GET %s: status %d:\n%s", tt.path, p.Status, p.Body)
			}
			ids := make([]string, 0, len(tt.want))
			for id := range tt.want {
				ids = append(ids, id)
			}
			if diff := cmp.Diff(tt.want, texts(p, ids...)); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

// opsPaths are every operations page and form.
var opsPaths = []struct{ method, path string }{
	{"GET", "/ops/"},
	{"GET", "/ops/held"},
	{"GET", "/ops/held/" + overviewtest.HeldID},
	{"POST", "/ops/held/" + overviewtest.HeldID},
	{"GET", "/ops/undelivered"},
	{"GET", "/ops/quiet"},
	{"GET", "/ops/reports"},
	{"GET", "/ops/reports/" + overviewtest.Report22},
	{"GET", "/ops/users"},
}

// TestOpsRefusals: an LA user gets 403 on every operations page and
// form, and changes nothing; without a session, the login.
func TestOpsRefusals(t *testing.T) {
	f, _, _ := newOpsFixture(t, nil)
	la, csrf := f.officer(t, "officer@example.org", "841")
	anon := f.browser(t)
	for _, p := range opsPaths {
		form := url.Values{"csrf": {csrf}, "action": {"release"}, "reason": {"agreed with the LA"}}
		var got, gotAnon page
		if p.method == "GET" {
			got, gotAnon = la.get(p.path), anon.get(p.path)
		} else {
			got, gotAnon = la.post(p.path, form), anon.post(p.path, form)
		}
		if got.Status != http.StatusForbidden {
			t.Errorf("%s %s as an LA user: status %d, want 403", p.method, p.path, got.Status)
		}
		if gotAnon.Status != http.StatusSeeOther || !strings.HasPrefix(gotAnon.Location, "/login") {
			t.Errorf("%s %s signed out: status %d to %q, want 303 to /login", p.method, p.path, gotAnon.Status, gotAnon.Location)
		}
	}
	if got := heldIDs(t, f); !cmp.Equal(got, []string{overviewtest.HeldID}) {
		t.Errorf("held after the refusals: %v", got)
	}
	if got := returnAudits(t, f); len(got) != 0 {
		t.Errorf("audited: %+v", got)
	}
}

// TestOpsNotFound: a return that is not held and a name that is not a
// nightly report's are 404.
func TestOpsNotFound(t *testing.T) {
	f, b, csrf := newOpsFixture(t, nil)
	for _, path := range []string{
		"/ops/held/20261121013000123456_3F9A0C", // the DELTA, not taken
		"/ops/held/20261113010000000001_000001", // Camden's, applied
		"/ops/held/nothing",
		"/ops/reports/report-20261120.xlsx",
		"/ops/reports/notes.txt",
		"/ops/reports/..%2Fcpis.db",
		"/ops/reports/report-2026112.xlsx",
		"/ops/nothing",
	} {
		if p := b.get(path); p.Status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, p.Status)
		}
	}
	p := b.post("/ops/held/"+overviewtest.CamdenID, url.Values{"csrf": {csrf}, "action": {"release"}, "reason": {"x"}})
	if p.Status != http.StatusNotFound {
		t.Errorf("release of an applied return: status %d, want 404", p.Status)
	}
	if got := returnAudits(t, f); len(got) != 0 {
		t.Errorf("audited: %+v", got)
	}
}

// TestOpsReportDownload: the workbook as it is, as an attachment, and the
// download audited.
func TestOpsReportDownload(t *testing.T) {
	f, b, _ := newOpsFixture(t, nil)
	p := b.get("/ops/reports/" + overviewtest.Report22)
	if p.Status != http.StatusOK || p.Body != "workbook of 22" {
		t.Fatalf("download: status %d, body %q", p.Status, p.Body)
	}
	want := http.Header{
		"Content-Type":        {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		"Content-Disposition": {`attachment; filename="report-20261122.xlsx"; filename*=UTF-8''report-20261122.xlsx`},
		"Cache-Control":       {"no-store"},
	}
	for k, v := range want {
		if !cmp.Equal(p.Header[k], v) {
			t.Errorf("%s: %q, want %q", k, p.Header[k], v)
		}
	}
	got := webAudits(t, f, "report.")
	wantAudit := []store.WebEvent{{At: f.clock.Now(), User: opsEmail, Remote: "127.0.0.1", Action: "report.downloaded", Detail: "file=report-20261122.xlsx"}}
	if diff := cmp.Diff(wantAudit, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// heldIDs returns the message IDs of the held returns.
func heldIDs(t *testing.T, f *fixture) []string {
	t.Helper()
	held, _, err := overview.Held(f.hub.Dir, f.hub.DB)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range held {
		ids = append(ids, u.MessageID)
	}
	return ids
}

// returnAudits returns the web audit records of held-return actions.
func returnAudits(t *testing.T, f *fixture) []store.WebEvent {
	t.Helper()
	return webAudits(t, f, "return.")
}

// webAudits returns the web audit records whose action begins with prefix.
func webAudits(t *testing.T, f *fixture, prefix string) []store.WebEvent {
	t.Helper()
	var out []store.WebEvent
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		return tx.WebAuditEvents(time.Time{}, func(e store.WebEvent) error {
			if strings.HasPrefix(e.Action, prefix) {
				out = append(out, e)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpsHeldDecide: releasing or discarding a held return needs the
// action and a reason (else the error summary, and nothing is done or
// audited), goes through ingest.Release or ingest.Discard under the job
// lock, and is audited with its reason before and its outcome after.
func TestOpsHeldDecide(t *testing.T) {
	defer console.SetLockWait(200 * time.Millisecond)()
	held := overviewtest.HeldID
	what := "la=841 message=" + held + " file=" + overviewtest.HeldFile
	tests := []struct {
		name string
		// form is what is posted; csrf "" means the session's token, "-"
		// none.
		form url.Values
		// busy holds the job lock as this holder while the form is posted.
		busy string
		// status is the answer; 303 means done, to the held returns page.
		status int
		// errors are the error summary's entries, as "#field message".
		errors []string
		// audits are the actions and details audited ("RESPONSE" stands
		// for the new response's name).
		audits [][2]string
		// outcome is the return's code and detail after, "" when still held.
		outcome string
		notice  string
	}{
		{
			name:   "release with a reason",
			form:   url.Values{"action": {"release"}, "reason": {"  Agreed with Darlington's data team (J. Smith): 22 plans closed.\n"}},
			status: http.StatusSeeOther,
			audits: [][2]string{
				{"return.release", what + ` reason="Agreed with Darlington's data team (J. Smith): 22 plans closed."`},
				{"return.released", what + " outcome=CPF02 read=3 applied=3 rejected=0 warnings=1 withdrawn=22 response=RESPONSE"},
			},
			outcome: "CPF02",
			notice:  "The return " + held + " was released: it was applied as the store is now, and the LA has a new response.",
		},
		{
			name:   "discard with a reason",
			form:   url.Values{"action": {"discard"}, "reason": {"Sent by mistake: the LA sends a corrected FULL return."}},
			status: http.StatusSeeOther,
			audits: [][2]string{
				{"return.discard", what + ` reason="Sent by mistake: the LA sends a corrected FULL return."`},
				{"return.discarded", what + " outcome=CPF04/F012 read=0 applied=0 rejected=0 warnings=0 withdrawn=0 response=RESPONSE"},
			},
			outcome: "CPF04 F012",
			notice:  "The return " + held + " was discarded: it will never be applied, and the LA has a new response (CPF04 F012).",
		},
		{
			name:   "release without a reason",
			form:   url.Values{"action": {"release"}, "reason": {""}},
			status: http.StatusBadRequest,
			errors: []string{"#reason Enter why the return is released or discarded"},
		},
		{
			name:   "discard with a blank reason",
			form:   url.Values{"action": {"discard"}, "reason": {" \n\t "}},
			status: http.StatusBadRequest,
			errors: []string{"#reason Enter why the return is released or discarded"},
		},
		{
			name:   "no action, no reason",
			form:   url.Values{},
			status: http.StatusBadRequest,
			errors: []string{"#action-release Select whether to release or discard the return", "#reason Enter why the return is released or discarded"},
		},
		{
			name:   "an action that is neither",
			form:   url.Values{"action": {"apply"}, "reason": {"why not"}},
			status: http.StatusBadRequest,
			errors: []string{"#action-release Select whether to release or discard the return"},
		},
		{
			name:   "a reason too long",
			form:   url.Values{"action": {"release"}, "reason": {strings.Repeat("x", 501)}},
			status: http.StatusBadRequest,
			errors: []string{"#reason The reason must be 500 characters or fewer"},
		},
		{
			name:   "no CSRF token",
			form:   url.Values{"csrf": {"-"}, "action": {"release"}, "reason": {"agreed"}},
			status: http.StatusForbidden,
		},
		{
			name:   "a wrong CSRF token",
			form:   url.Values{"csrf": {"not-the-token"}, "action": {"release"}, "reason": {"agreed"}},
			status: http.StatusForbidden,
		},
		{
			name:   "a job running",
			form:   url.Values{"action": {"release"}, "reason": {"agreed"}},
			busy:   "ingest job",
			status: http.StatusConflict,
			errors: []string{"Nothing was done: the ingest job is running. Try again when it has finished."},
			audits: [][2]string{
				{"return.release", what + ` reason="agreed"`},
				{"return.release.busy", what + ` running="ingest job"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lock := &jobs.Lock{}
			f, b, csrf := newOpsFixture(t, lock)
			before := outboxNames(t, f)
			form := url.Values{}
			for k, v := range tt.form {
				form[k] = v
			}
			switch form.Get("csrf") {
			case "":
				form.Set("csrf", csrf)
			case "-":
				form.Del("csrf")
			}
			if tt.busy != "" {
				release, err := lock.Acquire(context.Background(), tt.busy, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
			}
			p := b.post("/ops/held/"+held, form)
			if p.Status != tt.status {
				t.Fatalf("status %d, want %d:\n%s", p.Status, tt.status, p.Body)
			}
			if tt.status == http.StatusSeeOther {
				done := map[string]string{"release": "released", "discard": "discarded"}[form.Get("action")]
				if want := "/ops/held?done=" + done + "&id=" + held; p.Location != want {
					t.Errorf("to %q, want %q", p.Location, want)
				}
				if got := text(b.get(p.Location), "notice-text"); got != tt.notice {
					t.Errorf("notice %q, want %q", got, tt.notice)
				}
			}
			if diff := cmp.Diff(tt.errors, errorSummary(p), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("error summary (-want +got):\n%s", diff)
			}
			if len(tt.errors) > 0 && tt.status == http.StatusOK {
				// The form comes back with what was typed.
				if r := form.Get("reason"); len(r) < 100 && !strings.Contains(p.Body, ">"+html.EscapeString(strings.TrimSpace(r))+"</textarea>") {
					t.Errorf("the reason typed is not in the form again")
				}
			}

			added := newNames(before, outboxNames(t, f))
			var wantAudits []store.WebEvent
			for _, a := range tt.audits {
				detail := a[1]
				if strings.Contains(detail, "RESPONSE") {
					if len(added) != 1 {
						t.Fatalf("new responses %v, want one", added)
					}
					detail = strings.ReplaceAll(detail, "RESPONSE", added[0])
				}
				wantAudits = append(wantAudits, store.WebEvent{At: f.clock.Now(), User: opsEmail, Remote: "127.0.0.1", Action: a[0], Detail: detail})
			}
			if diff := cmp.Diff(wantAudits, returnAudits(t, f), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
			if tt.outcome == "" {
				if got := heldIDs(t, f); !cmp.Equal(got, []string{held}) {
					t.Errorf("held returns after: %v, want still %s", got, held)
				}
				if len(added) != 0 {
					t.Errorf("responses written: %v", added)
				}
				return
			}
			if got := heldIDs(t, f); len(got) != 0 {
				t.Errorf("held returns after: %v, want none", got)
			}
			if got := outcomeOf(t, f, held); got != tt.outcome {
				t.Errorf("outcome %q, want %q", got, tt.outcome)
			}
			if p := b.get("/ops/held/" + held); p.Status != http.StatusNotFound {
				t.Errorf("the return's page after: status %d, want 404", p.Status)
			}
			if p := b.post("/ops/held/"+held, form); p.Status != http.StatusNotFound {
				t.Errorf("the form posted again: status %d, want 404", p.Status)
			}
		})
	}
}

var summaryRE = regexp.MustCompile(`(?s)<li>(?:<a href="([^"]*)">)?([^<]*)`)

// errorSummary returns the entries of p's error summary as "#field
// message" (or the message alone).
func errorSummary(p page) []string {
	i := strings.Index(p.Body, `id="error-summary"`)
	if i < 0 {
		return nil
	}
	body := p.Body[i:]
	body = body[:strings.Index(body, "</ul>")]
	var out []string
	for _, m := range summaryRE.FindAllStringSubmatch(body, -1) {
		e := html.UnescapeString(m[2])
		if m[1] != "" {
			e = m[1] + " " + e
		}
		out = append(out, e)
	}
	return out
}

// outboxNames returns the names in Darlington's outbox.
func outboxNames(t *testing.T, f *fixture) map[string]bool {
	t.Helper()
	files, err := f.hub.Mailbox("841").Outbox()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range files {
		out[f.Name] = true
	}
	return out
}

func newNames(before, after map[string]bool) []string {
	var out []string
	for n := range after {
		if !before[n] {
			out = append(out, n)
		}
	}
	return out
}

// outcomeOf returns the code and detail of Darlington's message id.
func outcomeOf(t *testing.T, f *fixture, id string) string {
	t.Helper()
	var got string
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		m, ok, err := tx.MessageByID("841", id)
		if err != nil || !ok || m.Outcome == nil {
			return fmt.Errorf("message %s: %v, %v", id, ok, err)
		}
		got = strings.TrimSpace(string(m.Outcome.Code) + " " + string(m.Outcome.Detail))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestOpsHomeCommandRun: a job run by a command (recorded with what ran
// it) counts on Last night like a scheduled one, and says what ran it.
func TestOpsHomeCommandRun(t *testing.T) {
	f, b, _ := newOpsFixture(t, nil)
	if err := f.hub.DB.Update(func(tx *store.Tx) error {
		return tx.AddJobRun(store.JobRun{Job: "notify", Start: time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC), Duration: 2 * time.Second,
			Outcome: "ok", Counts: map[string]int{"files": 3}, By: "cpis nightly (through the daemon)"})
	}); err != nil {
		t.Fatal(err)
	}
	p := b.get("/ops/")
	want := map[string]string{"job-notify": "notify Skipped 2, 1 skipped 22 Nov 2026 04:00, 2s, ok, by cpis nightly (through the daemon) files 3"}
	if diff := cmp.Diff(want, texts(p, "job-notify")); diff != "" {
		t.Errorf("GET /ops/ (-want +got):\n%s", diff)
	}
}
