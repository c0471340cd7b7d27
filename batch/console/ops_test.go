package console_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/accounts"
	"cpis/batch/console"
	"cpis/batch/hubtest"
	"cpis/batch/jobs"
	"cpis/batch/overview/overviewtest"
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
	resp := overviewtest.CamdenResponse(t, f.hub)
	held := overviewtest.HeldID
	tests := []struct {
		path string
		want map[string]string
	}{
		{path: "/ops/", want: map[string]string{
			"page-heading":             "Last night",
			"glance-held-count":        "1",
			"glance-undelivered-count": "1",
			"glance-quiet-count":       "2",
			"glance-latest":            "Latest: 22 Nov 2026.",
			"job-pull":                 "pull Failed pull: 1 of 1 remote mailboxes failed 2, 1 failed 22 Nov 2026 02:20, 1s, failed pulled 3",
			"job-ingest":               "ingest OK 1 22 Nov 2026 02:15, 3s, ok held 1 returns 1",
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
			"user-new@example.org":     "new@example.org LA 202 Camden Not yet 22 Nov 2026 09:00 never",
			"user-officer@example.org": "officer@example.org LA 841 Darlington yes 22 Nov 2026 09:00 never",
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
