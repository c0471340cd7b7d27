package console_test

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"cpis/batch/hubtest"
	"cpis/batch/ingest"
	"cpis/mesh"
	"cpis/store"
)

// badReturn is a FULL return of Darlington (841) with two good rows, a
// malformed NHS number (line 4) and a plan type that is not one (line 5).
const badReturn = "nhs_number,plan_type,start_date,end_date,due_date,local_id,family_name,given_name,date_of_birth\r\n" +
	"9990000018,CPP,2026-03-02,,,C-1,Ashby,Ava,2015-03-10\r\n" +
	"9990000026,LAC,2026-03-02,,,C-2,,,\r\n" +
	"999000002,CPP,2026-03-02,,,C-3,,,\r\n" +
	"9990000034,CP,2026-03-02,,,C-5,,,\r\n"

const badName = "CPIS_841_FULL_20261124.csv"

// webActions returns the actions of the web audit, oldest first.
func (f *fixture) webActions(t *testing.T) []store.WebEvent {
	t.Helper()
	var out []store.WebEvent
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		return tx.WebAuditEvents(time.Time{}, func(e store.WebEvent) error { out = append(out, e); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) lastAction(t *testing.T) store.WebEvent {
	t.Helper()
	evs := f.webActions(t)
	if len(evs) == 0 {
		t.Fatal("no web audit event")
	}
	return evs[len(evs)-1]
}

// messages returns the messages the store holds of la.
func (f *fixture) messages(t *testing.T, la string) []*store.Message {
	t.Helper()
	var out []*store.Message
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		return tx.Messages(la, func(m *store.Message) error { out = append(out, m); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// rowIDs returns the row ids of the result table, in order.
func rowIDs(p page) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<tr class="nhsuk-table__row" id="(row-\d+)">`).FindAllStringSubmatch(p.Body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestLAHome(t *testing.T) {
	f := newFixture(t)
	b, _ := f.officer(t, "officer@example.org", "841")
	p := b.get("/la/")
	if p.Status != http.StatusOK {
		t.Fatalf("status %d", p.Status)
	}
	got := []string{text(p, "page-heading"), text(p, "home-waiting"), text(p, "home-to-collect")}
	if diff := cmp.Diff([]string{"Darlington", "0", "0"}, got); diff != "" {
		t.Errorf("home (-want +got):\n%s", diff)
	}
	if !strings.Contains(p.Body, `id="nav-home" href="/la/" aria-current="page"`) {
		t.Errorf("the navigation does not mark Home current")
	}
	if p := b.get("/la/no-such-page"); p.Status != http.StatusNotFound {
		t.Errorf("unknown LA page: status %d, want 404", p.Status)
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t)
	b, token := f.officer(t, "officer@example.org", "841")
	if p := b.get("/la/check"); p.Status != http.StatusOK || !strings.Contains(p.Body, `<input class="nhsuk-file-upload__input" id="file" name="file" type="file"`) {
		t.Fatalf("check form: status %d", p.Status)
	}
	mailboxBefore := hubtest.FileSums(t, filepath.Join(f.hub.Dir, "mailboxes"))

	p := b.upload("/la/check", token, badName, []byte(badReturn))
	if p.Status != http.StatusOK {
		t.Fatalf("check: status %d:\n%s", p.Status, p.Body)
	}
	// The same decision as the ingest's own dry run.
	want, err := ingest.Check(context.Background(), ingest.Config{DataDir: f.hub.Dir, DB: f.hub.DB, Now: f.clock.Now}, "841", badName, strings.NewReader(badReturn))
	if err != nil {
		t.Fatal(err)
	}
	if want.Code != "CPF03" || len(want.Rows) < 2 {
		t.Fatalf("the fixture's return: %s with %d rows, want CPF03 with rows", want.Code, len(want.Rows))
	}
	got := map[string]string{"code": text(p, "result-code"), "text": text(p, "result-text"), "read": text(p, "result-read"), "rejected": text(p, "result-rejected")}
	wantPage := map[string]string{"code": string(want.Code), "text": strings.TrimPrefix(want.Text, want.Counts.String()+" "), "read": "4", "rejected": "2"}
	if diff := cmp.Diff(wantPage, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	var wantRows []string
	for _, r := range want.Rows {
		wantRows = append(wantRows, "row-"+strconv.Itoa(r.Line))
		if !strings.Contains(p.Body, string(r.Detail)) || !strings.Contains(p.Body, html.EscapeString(r.Text)) {
			t.Errorf("row %d: detail %s %q not on the page", r.Line, r.Detail, r.Text)
		}
	}
	if diff := cmp.Diff(wantRows, rowIDs(p)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	// Every rejected row says what to fix.
	for _, m := range regexp.MustCompile(`(?s)<tr class="nhsuk-table__row" id="row-\d+">(.*?)</tr>`).FindAllStringSubmatch(p.Body, -1) {
		cells := regexp.MustCompile(`(?s)<td class="nhsuk-table__cell[^"]*">(.*?)</td>`).FindAllStringSubmatch(m[1], -1)
		if len(cells) != 4 || strings.TrimSpace(cells[3][1]) == "" {
			t.Errorf("a row without what to fix: %s", m[1])
		}
	}
	// Nothing kept: no message, nothing in the mailboxes.
	if msgs := f.messages(t, "841"); len(msgs) != 0 {
		t.Errorf("the check left %d messages in the store", len(msgs))
	}
	if diff := cmp.Diff(mailboxBefore, hubtest.FileSums(t, filepath.Join(f.hub.Dir, "mailboxes"))); diff != "" {
		t.Errorf("the check changed the mailboxes:\n%s", diff)
	}
	if e := f.lastAction(t); e.Action != "la.check" || e.User != "officer@example.org" || !strings.Contains(e.Detail, "file="+badName+" outcome=CPF03") {
		t.Errorf("audit: %+v", e)
	}
}

func TestCheckRefusals(t *testing.T) {
	f := newFixture(t, 1000)
	b, token := f.officer(t, "officer@example.org", "841")
	for _, tc := range []struct {
		name, file, data string
		status           int
		want             string
	}{
		{"no file chosen", "", "", http.StatusBadRequest, "Select a return to check"},
		{"a control file", "CPIS_841_FULL_20261124.ctl", "x", http.StatusBadRequest, "The file name &#34;CPIS_841_FULL_20261124.ctl&#34; cannot be used"},
		{"a hidden file", ".CPIS_841_FULL_20261124.csv", "x", http.StatusBadRequest, "The file name &#34;.CPIS_841_FULL_20261124.csv&#34; cannot be used"},
		{"far over the size limit", badName, strings.Repeat("x", 2<<20), http.StatusRequestEntityTooLarge, "The file is larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.upload("/la/check", token, tc.file, []byte(tc.data))
			if p.Status != tc.status || !strings.Contains(p.Body, `<a href="#file">`+tc.want) {
				t.Errorf("status %d, want %d and %q in the error summary:\n%s", p.Status, tc.status, tc.want, p.Body)
			}
			if !strings.Contains(p.Body, `id="file-error"`) {
				t.Errorf("the field does not show its error")
			}
		})
	}
	// Just over the limit: the ingest's own F006.
	p := b.upload("/la/check", token, badName, []byte(strings.Repeat("x", 1001)))
	if got := text(p, "result-code"); got != "CPF01 (F006)" {
		t.Errorf("just over the limit: %q, want the ingest's CPF01 (F006)", got)
	}
	if got := text(p, "result-fix"); got == "" {
		t.Errorf("no fix for F006")
	}
}

// TestCheckFileRefused: a file the ingest would refuse as a whole is not
// offered for sending; one it would take is.
func TestCheckFileRefused(t *testing.T) {
	f := newFixture(t, 1000)
	b, token := f.officer(t, "officer@example.org", "841")
	for _, tc := range []struct {
		name, file, data string
		want             string // the result's code
		refused          bool
	}{
		{"rows rejected", badName, badReturn, "CPF03", false},
		{"not text", badName, "nhs_number\x00\xff\r\n", "CPF01 (F001)", true},
		{"not a return's name", "returns.csv", badReturn, "CPF01 (F002)", true},
		{"another LA's", "CPIS_202_FULL_20261124.csv", badReturn, "CPF04 (F003)", true},
		{"over the size limit", badName, strings.Repeat("x", 1001), "CPF01 (F006)", true},
		{"dated after today", "CPIS_841_FULL_20991231.csv", badReturn, "CPF04 (F008)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.upload("/la/check", token, tc.file, []byte(tc.data))
			if p.Status != http.StatusOK {
				t.Fatalf("status %d:\n%s", p.Status, p.Body)
			}
			if got := text(p, "result-code"); got != tc.want {
				t.Errorf("result %q, want %q", got, tc.want)
			}
			offered := strings.Contains(p.Body, `id="result-send"`)
			said := strings.Contains(p.Body, `<p id="result-refused">Tonight's ingest would refuse this file: nothing in it would be applied.`)
			if offered == tc.refused || said != tc.refused {
				t.Errorf("send offered %v, refusal said %v; want the refusal said %v and the send offered %v", offered, said, tc.refused, !tc.refused)
			}
		})
	}
}

func TestSend(t *testing.T) {
	f := newFixture(t)
	b, token := f.officer(t, "officer@example.org", "841")
	if p := b.get("/la/send"); p.Status != http.StatusOK {
		t.Fatalf("send form: status %d", p.Status)
	}
	p := b.upload("/la/send", token, badName, []byte(badReturn))
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/la/returns?sent=") {
		t.Fatalf("send: %d to %q:\n%s", p.Status, p.Location, p.Body)
	}
	id := strings.TrimPrefix(p.Location, "/la/returns?sent=")
	if !mesh.ValidMessageID(id) {
		t.Fatalf("message ID %q", id)
	}
	// In the inbox as a MESH upload puts it: the file and its control file.
	mb := f.hub.Mailbox("841")
	data, err := os.ReadFile(filepath.Join(mb.InboxDir(), badName))
	if err != nil || string(data) != badReturn {
		t.Fatalf("inbox file: %v %q", err, data)
	}
	ctlFile, err := os.Open(filepath.Join(mb.InboxDir(), mesh.ControlName(badName)))
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := mesh.ParseControl(ctlFile)
	ctlFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ctl.DTSID != id || ctl.From != mb.ID() || ctl.To != mesh.HubMailbox || ctl.WorkflowID != mesh.WorkflowUpload || ctl.LocalID != badName {
		t.Errorf("control file %+v", ctl)
	}
	if e := f.lastAction(t); e.Action != "la.send" || e.Detail != "la=841 file="+badName+" message_id="+id {
		t.Errorf("audit: %+v", e)
	}
	// The Returns page shows it waiting, with its message ID.
	r := b.get(p.Location)
	if got := text(r, "notice-text"); !strings.Contains(got, id) {
		t.Errorf("notice %q does not name the message ID", got)
	}
	if !strings.Contains(r.Body, `id="return-`+id+`"`) || !strings.Contains(r.Body, "Waiting for tonight&#39;s ingest") {
		t.Errorf("the return is not listed as waiting:\n%s", r.Body)
	}

	// Refusals.
	for _, tc := range []struct {
		name, file string
		status     int
		want       string
	}{
		{"the same name again", badName, http.StatusConflict, "A file called " + badName + " is already waiting in your inbox"},
		{"the same name in another format", "CPIS_841_FULL_20261124.xlsx", http.StatusConflict,
			"A return of the same name, " + badName + ", is already waiting in your inbox for tonight&#39;s ingest: " +
				"CPIS_841_FULL_20261124.xlsx would share its control file CPIS_841_FULL_20261124.ctl"},
		{"another LA's name", "CPIS_202_FULL_20261124.csv", http.StatusBadRequest, "The file is named for LA 202, but you send for LA 841"},
		{"not a return's name", "returns.csv", http.StatusBadRequest, "The file name is not a return&#39;s"},
		{"no file", "", http.StatusBadRequest, "Select a return to send"},
	} {
		p := b.upload("/la/send", token, tc.file, []byte(badReturn))
		if p.Status != tc.status || !strings.Contains(p.Body, `<a href="#file">`+tc.want) {
			t.Errorf("%s: status %d, want %d and %q", tc.name, p.Status, tc.status, tc.want)
		}
	}
	if files, _ := mb.InboxFiles(); len(files) != 1 {
		t.Errorf("inbox after the refusals: %v", files)
	}
	if files, _ := f.hub.Mailbox("202").InboxFiles(); len(files) != 0 {
		t.Errorf("202's inbox: %v", files)
	}
}

func TestSendOverSizeLimit(t *testing.T) {
	f := newFixture(t, 100)
	b, token := f.officer(t, "officer@example.org", "841")
	p := b.upload("/la/send", token, badName, []byte(badReturn))
	const want = `<a href="#file">The file is larger than 100 bytes, the largest return the hub takes, as sent or once decompressed (compressing it does not help). ` +
		`A return is a few thousand rows: check you exported the right data. If your return really is this large, ask the hub&#39;s operations team</a>`
	if p.Status != http.StatusRequestEntityTooLarge || !strings.Contains(p.Body, want) {
		t.Errorf("status %d, want %d and %q:\n%s", p.Status, http.StatusRequestEntityTooLarge, want, p.Body)
	}
	entries, err := os.ReadDir(f.hub.Mailbox("841").InboxDir())
	if err != nil || len(entries) != 0 {
		t.Errorf("the inbox after a refused send: %v %v", entries, err)
	}
}

// TestReturnsAndCollect: a return sent on the web is ingested; its
// response is on the Returns and Collect pages, downloaded, collected as
// over MESH; another LA's officer sees none of it.
func TestReturnsAndCollect(t *testing.T) {
	f := newFixture(t)
	b, token := f.officer(t, "officer@example.org", "841")
	other, otherToken := f.officer(t, "camden@example.org", "202")
	p := b.upload("/la/send", token, badName, []byte(badReturn))
	id := strings.TrimPrefix(p.Location, "/la/returns?sent=")

	if _, err := ingest.Run(context.Background(), ingest.Config{DataDir: f.hub.Dir, DB: f.hub.DB, Now: f.clock.Now}); err != nil {
		t.Fatal(err)
	}
	msgs := f.messages(t, "841")
	if len(msgs) != 1 || len(msgs[0].Responses) != 1 {
		t.Fatalf("after the ingest: %d messages", len(msgs))
	}
	resp := msgs[0].Responses[0].File

	r := b.get("/la/returns")
	row := regexp.MustCompile(`(?s)<tr class="nhsuk-table__row" id="return-` + id + `">(.*?)</tr>`).FindStringSubmatch(r.Body)
	if row == nil {
		t.Fatalf("no row of %s:\n%s", id, r.Body)
	}
	for _, want := range []string{badName, "Applied", "CPF03", "read 4, applied 2, rejected 2", `href="/la/files/` + resp + `"`} {
		if !strings.Contains(row[1], want) {
			t.Errorf("the return's row lacks %q:\n%s", want, row[1])
		}
	}

	// The return's own page: its outcome and rows, as the response has them.
	rp := b.get("/la/returns/" + id)
	if rp.Status != http.StatusOK || text(rp, "return-code") != "CPF03" || !strings.Contains(rp.Body, `id="return-download">`+resp) {
		t.Errorf("the return's page: %d %q", rp.Status, text(rp, "return-code"))
	}
	var wantRows []string
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		return tx.Outcomes(msgs[0].Key, func(r store.RowOutcome) error { wantRows = append(wantRows, "row-"+strconv.Itoa(r.Line)); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantRows, rowIDs(rp)); len(wantRows) == 0 || diff != "" {
		t.Errorf("the return's rows (-store +page):\n%s", diff)
	}
	for _, path := range []string{"/la/returns/" + id, "/la/returns/20261124013000000001_FFFFFF", "/la/returns/x"} {
		if p := other.get(path); p.Status != http.StatusNotFound {
			t.Errorf("202 asking for %s: %d, want 404", path, p.Status)
		}
	}

	// Another LA sees nothing of it.
	if strings.Contains(other.get("/la/returns").Body, id) || strings.Contains(other.get("/la/collect").Body, resp) {
		t.Errorf("202's pages show 841's return")
	}
	for _, p := range []page{
		other.get("/la/files/" + resp),
		other.post("/la/collect", url.Values{"csrf": {otherToken}, "file": {resp}}),
	} {
		if p.Status != http.StatusNotFound {
			t.Errorf("202 asking for 841's file: status %d, want 404", p.Status)
		}
	}
	for _, name := range []string{"../../841/outbox/" + resp, "..%2F..%2F" + resp, "no-such.csv", mesh.ControlName(resp)} {
		if p := b.get("/la/files/" + name); p.Status != http.StatusNotFound && p.Status/100 != 3 {
			t.Errorf("GET /la/files/%s: status %d, want 404", name, p.Status)
		}
	}

	// Download.
	c := b.get("/la/collect")
	if !strings.Contains(c.Body, `id="download-0">`+resp+`</a>`) {
		t.Fatalf("the response is not on the Collect page:\n%s", c.Body)
	}
	d := b.get("/la/files/" + resp)
	want, err := os.ReadFile(filepath.Join(f.hub.Mailbox("841").OutboxDir(), resp))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != http.StatusOK || d.Body != string(want) || !strings.HasPrefix(d.Header.Get("Content-Disposition"), `attachment; filename="`+resp+`"`) {
		t.Errorf("download: %d %q %q", d.Status, d.Header.Get("Content-Disposition"), d.Body)
	}
	if e := f.lastAction(t); e.Action != "la.download" {
		t.Errorf("audit: %+v", e)
	}

	// Collect.
	if p := b.post("/la/collect", url.Values{"file": {resp}}); p.Status != http.StatusForbidden {
		t.Errorf("collect without a token: %d", p.Status)
	}
	cp := b.post("/la/collect", url.Values{"csrf": {token}, "file": {resp}})
	if cp.Status != http.StatusSeeOther {
		t.Fatalf("collect: %d", cp.Status)
	}
	if got := text(b.get(cp.Location), "notice-text"); !strings.HasPrefix(got, resp+" is marked collected") {
		t.Errorf("notice %q", got)
	}
	if _, err := os.Stat(filepath.Join(f.hub.Mailbox("841").OutboxDir(), resp)); !os.IsNotExist(err) {
		t.Errorf("the collected response is still in the outbox: %v", err)
	}
	var cols []store.Collection
	var acked bool
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		_, acked, err = tx.MeshAck(f.hub.Mailbox("841").ID(), msgs[0].Responses[0].MessageID)
		if err != nil {
			return err
		}
		return tx.Collections("841", func(c store.Collection) error { cols = append(cols, c); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if len(cols) != 1 || cols[0].Name != resp || cols[0].By != store.CollectedByWeb || !acked {
		t.Errorf("collections %+v, acknowledged %v: want the response's, by web, acknowledged", cols, acked)
	}
	if e := f.lastAction(t); e.Action != "la.collect" || !strings.Contains(e.Detail, resp) {
		t.Errorf("audit: %+v", e)
	}
	// Collected: not offered any more, and the Returns page says so.
	if p := b.get("/la/files/" + resp); p.Status != http.StatusNotFound {
		t.Errorf("download after collection: %d", p.Status)
	}
	if p := b.post("/la/collect", url.Values{"csrf": {token}, "file": {resp}}); p.Status != http.StatusNotFound {
		t.Errorf("collect again: %d", p.Status)
	}
	if !strings.Contains(b.get("/la/returns").Body, "Collected") {
		t.Errorf("the Returns page does not say the response was collected")
	}
	actions := []string{}
	for _, e := range f.webActions(t) {
		if strings.HasPrefix(e.Action, "la.") {
			actions = append(actions, e.Action)
		}
	}
	if !slices.Equal(actions, []string{"la.send", "la.download", "la.collect"}) {
		t.Errorf("LA actions audited: %v", actions)
	}
}

// xlsxOf is the CSV text c as a workbook: its first sheet, one cell per
// field, every cell text.
func xlsxOf(t *testing.T, c string) []byte {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	for i, line := range strings.Split(strings.TrimSpace(c), "\r\n") {
		var cells []any
		for _, v := range strings.Split(line, ",") {
			cells = append(cells, v)
		}
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.SetSheetRow("Sheet1", cell, &cells); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestXLSX: a workbook is checked and sent like its CSV.
func TestXLSX(t *testing.T) {
	f := newFixture(t)
	b, token := f.officer(t, "officer@example.org", "841")
	const name = "CPIS_841_FULL_20261124.xlsx"
	csvPage := b.upload("/la/check", token, badName, []byte(badReturn))
	p := b.upload("/la/check", token, name, xlsxOf(t, badReturn))
	if p.Status != http.StatusOK {
		t.Fatalf("check: %d:\n%s", p.Status, p.Body)
	}
	for _, id := range []string{"result-code", "result-text", "result-read", "result-rejected", "result-warnings"} {
		if got, want := text(p, id), text(csvPage, id); got != want || got == "" {
			t.Errorf("%s: %q, the CSV's %q", id, got, want)
		}
	}
	if diff := cmp.Diff(rowIDs(csvPage), rowIDs(p)); diff != "" {
		t.Errorf("rows (-csv +xlsx):\n%s", diff)
	}
	s := b.upload("/la/send", token, name, xlsxOf(t, badReturn))
	if s.Status != http.StatusSeeOther {
		t.Fatalf("send: %d:\n%s", s.Status, s.Body)
	}
	if _, err := os.Stat(filepath.Join(f.hub.Mailbox("841").InboxDir(), name)); err != nil {
		t.Errorf("the workbook is not in the inbox: %v", err)
	}
}

// TestReturnsStatuses: held, waiting and interrupted returns say so.
func TestReturnsStatuses(t *testing.T) {
	f := newFixture(t)
	b, _ := f.officer(t, "officer@example.org", "841")
	for _, m := range []*store.Message{
		{LA: "841", MailboxID: f.hub.Mailbox("841").ID(), MessageID: "20261123013000000001_0000A1", File: "CPIS_841_FULL_20261122.csv", TakenAt: t0.Add(-48 * time.Hour), State: store.Held,
			Outcome: &store.Outcome{Code: "CPF04", Detail: "F009", Text: "read=9 applied=0 rejected=0 warnings=0 withdrawn=0 held", Counts: store.Counts{Read: 9}}},
		{LA: "841", MailboxID: f.hub.Mailbox("841").ID(), MessageID: "20261124013000000001_0000A2", File: "CPIS_841_DELTA_20261123.csv", TakenAt: t0.Add(-24 * time.Hour), State: store.Waiting},
		{LA: "202", MailboxID: f.hub.Mailbox("202").ID(), MessageID: "20261124013000000001_0000B1", File: "CPIS_202_DELTA_20261123.csv", TakenAt: t0.Add(-24 * time.Hour), State: store.Held},
	} {
		if err := f.hub.DB.Update(func(tx *store.Tx) error { return tx.NewMessage(m) }); err != nil {
			t.Fatal(err)
		}
	}
	p := b.get("/la/returns")
	var got []string
	for _, m := range regexp.MustCompile(`(?s)<tr class="nhsuk-table__row" id="return-([^"]+)">.*?<strong class="nhsuk-tag [^"]*">([^<]*)</strong>`).FindAllStringSubmatch(p.Body, -1) {
		got = append(got, m[1]+" "+html.UnescapeString(m[2]))
	}
	want := []string{"20261124013000000001_0000A2 Waiting for demographics", "20261123013000000001_0000A1 Held: operations must release it"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses, newest first (-want +got):\n%s", diff)
	}
	if !strings.Contains(p.Body, "<strong>CPF04 F009</strong> held") {
		t.Errorf("the held return's outcome is not shown without its counts")
	}
}
