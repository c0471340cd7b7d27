package main

// The web console in a real browser (batch/console/browsertest: headless
// Chromium), against a real `cpis serve --http` on the bundled sample: an
// LA officer sets up an account from the link `cpis users add` prints,
// signs in with a TOTP code, checks a return with bad rows and reads the row
// outcomes, sends it, and after `cpis ingest` finds the response and
// downloads it; an operations user releases a return the safety rule held.
// Every page visited gets a screenshot and axe-core's WCAG 2.x A and AA
// rules (CPIS_SCREENSHOTS=DIR keeps the screenshots, in DIR/TestBrowserConsole).
//
// The daemon runs on the real clock (no --now): authenticator codes are
// checked against it, and a fixed clock would make every code after the
// first a replay.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pquerna/otp/totp"

	"cpis/batch/console/browsertest"
	"cpis/batch/sample"
	"cpis/store/caldate"
)

// webHub is a data directory of the sample served by cpis serve --http on
// the real clock.
type webHub struct {
	t     *testing.T
	bin   string
	data  string
	files string
	base  string // http://127.0.0.1:port
	serve *proc
	today caldate.Date
}

var webListening = regexp.MustCompile(`msg="HTTP [^"]*listening" addr=(127\.0\.0\.1:\d+)`)

// startWebHub makes the sample data directory, gives its inboxes the
// returns before, then starts the daemon with the HTTP listener only.
func startWebHub(t *testing.T, before ...sample.File) *webHub {
	t.Helper()
	dir := t.TempDir()
	h := &webHub{t: t, bin: cpisBinary(t), data: filepath.Join(dir, "d"), files: filepath.Join(dir, "files"),
		today: caldate.InLondon(time.Now())}
	if err := os.Mkdir(h.files, 0o755); err != nil {
		t.Fatal(err)
	}
	h.cpis("init", "--sample")
	for _, f := range before {
		h.cpis("mailbox", "send", "--la", f.LA, h.file(f))
	}
	cmd := exec.Command(h.bin, "--data", h.data, "serve", "--http", "127.0.0.1:0", "--no-sftp", "--no-scheduler")
	cmd.Env = append(os.Environ(), "CPIS_DATA=")
	h.serve = startProc(t, cmd)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := webListening.FindStringSubmatch(h.serve.log.String()); m != nil {
			h.base = "http://" + m[1]
			break
		}
		if done, err := h.serve.exited(); done {
			t.Fatalf("serve exited (%v):\n%s", err, h.serve.log.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen:\n%s", h.serve.log.String())
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", h.serve.log.String())
		}
	})
	return h
}

// cpis runs a command on the hub (through the daemon's control socket when
// it runs), which must succeed; it returns stdout.
func (h *webHub) cpis(args ...string) string {
	h.t.Helper()
	cmd := exec.Command(h.bin, append([]string{"--data", h.data}, args...)...)
	cmd.Env = append(os.Environ(), "CPIS_DATA=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("cpis %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// file writes f where a person would keep it and returns its path.
func (h *webHub) file(f sample.File) string {
	h.t.Helper()
	path := filepath.Join(h.files, f.Name)
	if err := os.WriteFile(path, f.Data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	return path
}

var webSetupLink = regexp.MustCompile(`/setup/[A-Za-z0-9_-]+`)

// addUser runs cpis users add with args and returns the path of the
// set-up link it printed.
func (h *webHub) addUser(args ...string) string {
	h.t.Helper()
	out := h.cpis(append([]string{"users", "add"}, args...)...)
	link := webSetupLink.FindString(out)
	if link == "" {
		h.t.Fatalf("cpis users add %s printed no set-up link:\n%s", strings.Join(args, " "), out)
	}
	return link
}

// person is someone at a browser.
type person struct {
	*browsertest.Page
	email, password, secret string
}

// setUp opens the set-up link, reads the authenticator key as text (as
// someone typing it into an app would), chooses the password and enrols
// with the code of now, which signs them in; then they sign out, to sign
// in as they will every other day.
func (h *webHub) setUp(p *person, link string) {
	h.t.Helper()
	if got := p.Open(h.base + link); got != http.StatusOK {
		h.t.Fatalf("set-up link: status %d", got)
	}
	p.Check("setup")
	if got := p.Text("#setup-email"); got != p.email {
		h.t.Errorf("set-up page for %q, want %q", got, p.email)
	}
	p.secret = strings.Join(strings.Fields(p.Text("#setup-secret")), "")
	code, err := totp.GenerateCode(p.secret, time.Now())
	if err != nil {
		h.t.Fatalf("the key shown %q: %v", p.secret, err)
	}
	p.Fill("password", p.password)
	p.Fill("confirm", p.password)
	p.Fill("code", code)
	if got := p.Click("setup-submit"); got != http.StatusOK {
		h.t.Fatalf("set up: status %d", got)
	}
	p.Check("setup-done")
	if got := p.Text("#account-user"); !strings.HasPrefix(got, p.email) {
		h.t.Fatalf("signed in by set-up as %q, want %s", got, p.email)
	}
	if got := p.Click("sign-out"); got != http.StatusOK {
		h.t.Fatalf("sign out: status %d", got)
	}
}

// signIn signs in with the code of the next 30-second step: the one of now
// was spent on enrolment (a code is accepted once), and the hub accepts a
// step either side of its clock.
func (h *webHub) signIn(p *person) {
	h.t.Helper()
	if got := p.Open(h.base + "/login"); got != http.StatusOK {
		h.t.Fatalf("sign-in page: status %d", got)
	}
	p.Check("login")
	code, err := totp.GenerateCode(p.secret, time.Now().Add(30*time.Second))
	if err != nil {
		h.t.Fatal(err)
	}
	p.Fill("email", p.email)
	p.Fill("password", p.password)
	p.Fill("code", code)
	if got := p.Click("sign-in"); got != http.StatusOK {
		h.t.Fatalf("sign in: status %d", got)
	}
	if got := p.Text("#account-user"); !strings.HasPrefix(got, p.email) {
		h.t.Fatalf("signed in as %q, want %s", got, p.email)
	}
}

// rowOutcome is one rejected or warned row: its line, code and detail code,
// and the sentence naming the value at fault.
type rowOutcome struct{ Line, Code, Detail string }

// responseRows reads a response CSV (batch/returns/returns.md): its
// summary's code and detail, and its row outcomes.
func responseRows(t *testing.T, b []byte) (summary []string, rows []rowOutcome) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("response %q: %v", b, err)
	}
	for _, r := range recs[2:] {
		rows = append(rows, rowOutcome{Line: r[1], Code: strings.TrimSpace(r[4] + " " + r[5]), Detail: r[6]})
	}
	return recs[1][4:], rows
}

// TestBrowserConsole is the whole story in a real browser.
func TestBrowserConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("a real browser against the real binary (-short)")
	}
	start := time.Now()
	b := browsertest.Start(t)
	today := caldate.InLondon(time.Now())
	files := map[string]sample.File{}
	for _, f := range sample.Returns(today) {
		files[f.Name] = f
	}
	pick := func(name string) sample.File {
		f, ok := files[name]
		if !ok {
			t.Fatalf("no sample return %s", name)
		}
		return f
	}
	// Camden's return has 12 rejected and 3 warned rows of every kind;
	// Birmingham's full return, then a truncated one the safety rule holds,
	// wait in its inbox for tonight's ingest (sample.Returns says why).
	camden := pick("CPIS_202_FULL_" + today.AddDays(-1).Compact() + "_weekly.csv")
	bham := pick("CPIS_330_FULL_" + today.AddDays(-2).Compact() + ".csv")
	bhamRerun := pick("CPIS_330_FULL_" + today.AddDays(-1).Compact() + "_rerun-2.csv")
	h := startWebHub(t, bham, bhamRerun)
	t.Logf("hub served at %s after %v", h.base, time.Since(start).Round(time.Millisecond))

	officer := &person{Page: b.NewPage(t), email: "data.officer@camden.example.org", password: "correct horse battery staple"}
	officerLink := h.addUser("--la", "202", officer.email)
	h.setUp(officer, officerLink)
	h.signIn(officer)
	officer.Check("la-home")

	// Check the return: the page shows what tonight's ingest would decide.
	if got := officer.Click("nav-check"); got != http.StatusOK {
		t.Fatalf("check page: status %d", got)
	}
	officer.Check("la-check")
	officer.Upload("file", h.file(camden))
	if got := officer.Click("check-submit"); got != http.StatusOK {
		t.Fatalf("check: status %d", got)
	}
	officer.Check("la-check-result")
	counts := map[string]string{}
	for _, id := range []string{"code", "read", "applied", "rejected", "warnings", "withdrawn"} {
		counts[id] = officer.Text("#result-" + id)
	}
	wantCounts := map[string]string{"code": "CPF03", "read": "28", "applied": "16", "rejected": "12", "warnings": "3", "withdrawn": "0"}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("checked counts (-want +got):\n%s", diff)
	}
	var checked []rowOutcome
	for _, r := range officer.Rows("#result-rows") {
		if len(r) != 4 || r[3] == "" {
			t.Errorf("checked row %q: want line, code, detail and what to fix", r)
			continue
		}
		checked = append(checked, rowOutcome{Line: r[0], Code: r[1], Detail: r[2]})
	}
	if len(checked) != 15 {
		t.Errorf("%d rows rejected or warned on the page, want 12 rejected and 3 warned:\n%v", len(checked), checked)
	}

	// Send it.
	if got := officer.Click("result-send"); got != http.StatusOK {
		t.Fatalf("send page: status %d", got)
	}
	officer.Check("la-send")
	officer.Upload("file", h.file(camden))
	if got := officer.Click("send-submit"); got != http.StatusOK {
		t.Fatalf("send: status %d", got)
	}
	officer.Check("la-sent")
	msgID := regexp.MustCompile(`\d{20}_[0-9A-F]{6}`).FindString(officer.Text("#notice-text"))
	if msgID == "" {
		t.Fatalf("sent: no message ID in %q", officer.Text("#notice-text"))
	}
	if got := officer.Click("nav-returns"); got != http.StatusOK {
		t.Fatalf("returns page: status %d", got)
	}
	officer.Check("la-returns-waiting")
	if got := officer.Text("#return-" + msgID); !strings.Contains(got, camden.Name) {
		t.Errorf("returns page row of %s: %q", msgID, got)
	}

	// Tonight's ingest: Camden's return is answered, Birmingham's truncated
	// return is held.
	ingest := time.Now()
	h.cpis("ingest")
	t.Logf("ingest took %v", time.Since(ingest).Round(time.Millisecond))

	if got := officer.Open(h.base + "/la/returns"); got != http.StatusOK {
		t.Fatalf("returns page: status %d", got)
	}
	officer.Check("la-returns-answered")
	officer.Narrow() // the responsive table, as on a phone
	officer.Check("la-returns-answered-narrow")
	officer.Wide()
	row := officer.Text("#return-" + msgID)
	if !strings.Contains(row, "CPF03") || !strings.Contains(row, "read 28, applied 16, rejected 12, warnings 3, withdrawn 0") {
		t.Errorf("returns page row of %s after ingest: %q", msgID, row)
	}
	name, resp := officer.Download("#return-" + msgID + " a[download]")
	if !strings.HasPrefix(name, "CPIS_202_RESPONSE_") {
		t.Errorf("downloaded %q, want Camden's response", name)
	}
	summary, sent := responseRows(t, resp)
	if summary[0] != "CPF03" || !strings.HasPrefix(summary[2], "read=28 applied=16 rejected=12 warnings=3 withdrawn=0") {
		t.Errorf("response summary %q", summary)
	}
	// The check ran the ingest's own code: the page showed the rows the
	// response now lists.
	if diff := cmp.Diff(sent, checked); diff != "" {
		t.Errorf("rows checked on the page (+) and answered by the ingest (-):\n%s", diff)
	}

	// Collect it: marked collected, it leaves the outbox (as over SFTP or
	// MESH), and the collect page no longer offers it.
	if got := officer.Click("nav-collect"); got != http.StatusOK {
		t.Fatalf("collect page: status %d", got)
	}
	officer.Check("la-collect")
	offered := officer.Texts("#collect-table tbody tr td:first-child a")
	i := slices.Index(offered, name)
	if i < 0 {
		t.Fatalf("collect page offers %q, not the response %s", offered, name)
	}
	if got := officer.Click(fmt.Sprintf("collect-%d", i)); got != http.StatusOK {
		t.Fatalf("mark collected: status %d", got)
	}
	officer.Check("la-collected")
	officer.Narrow() // the notice names the file: a long name must wrap
	officer.Check("la-collected-narrow")
	officer.Wide()
	if got := officer.Texts("#collect-table tbody tr td:first-child a"); slices.Contains(got, name) {
		t.Errorf("collect page still offers %s after it was collected: %q", name, got)
	}
	if out := h.cpis("mailbox", "list", "--la", "202"); strings.Contains(out, name) {
		t.Errorf("cpis mailbox list still has %s after it was collected:\n%s", name, out)
	}
	// An LA officer is no operator.
	if got := officer.Open(h.base + "/ops/held"); got == http.StatusOK {
		t.Errorf("an LA officer opened /ops/held: status %d", got)
	}

	// Operations release the held return, in a browser that runs no
	// script: the pages work without.
	ops := &person{Page: b.NewPage(t), email: "operations@nhs.example", password: "another long pass phrase"}
	ops.DisableScript()
	opsLink := h.addUser("--ops", ops.email)
	h.setUp(ops, opsLink)
	h.signIn(ops)
	ops.Check("ops-home")
	heldID := h.heldReturn()
	h.releaseHeld(ops, heldID)
	if got := h.heldReturnIDs(); len(got) != 0 {
		t.Errorf("still held after release: %v", got)
	}
	// The morning's other pages; the night's report to download.
	h.cpis("report")
	for _, page := range []string{"undelivered", "quiet", "users", "reports"} {
		if got := ops.Click("nav-" + page); got != http.StatusOK {
			t.Fatalf("%s page: status %d", page, got)
		}
		ops.Check("ops-" + page)
		if page == "users" {
			if got := strings.Join(ops.Texts("#users-table tbody tr"), "\n"); !strings.Contains(got, officer.email) || !strings.Contains(got, ops.email) {
				t.Errorf("users page lists %q, want both accounts", got)
			}
		}
	}
	report := "#download-" + today.Compact()
	if name, b := ops.Download(report); name != "report-"+today.Compact()+".xlsx" || !bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		t.Errorf("report download %q, %d bytes, starting %q: want the night's workbook", name, len(b), b[:min(4, len(b))])
	}

	// The web audit names who did what; neither it nor the daemon's log
	// holds a password, an authenticator key or a set-up link.
	audit := h.cpis("audit", "--web", "--json")
	var did []string
	for _, line := range strings.Split(strings.TrimSpace(audit), "\n") {
		var e struct{ User, Action, Detail string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit --web --json: %v: %q", err, line)
		}
		did = append(did, e.User+" "+e.Action)
		if e.Action == "return.release" && !strings.Contains(e.Detail, "truncated upload test") {
			t.Errorf("release audited without its reason: %q", e.Detail)
		}
	}
	for _, want := range []string{
		officer.email + " user.added", officer.email + " login", officer.email + " la.check", officer.email + " la.send",
		officer.email + " la.download", officer.email + " la.collect",
		ops.email + " user.added", ops.email + " login", ops.email + " return.release", ops.email + " report.downloaded",
	} {
		if !slices.Contains(did, want) {
			t.Errorf("web audit has no %q:\n%s", want, audit)
		}
	}
	for _, secret := range []string{officer.password, ops.password, officer.secret, ops.secret,
		strings.TrimPrefix(officerLink, "/setup/"), strings.TrimPrefix(opsLink, "/setup/")} {
		if strings.Contains(audit, secret) || strings.Contains(h.serve.log.String(), secret) {
			t.Errorf("the web audit or the daemon's log holds a secret (%d characters)", len(secret))
		}
	}
	t.Logf("whole story in %v; screenshots in %s", time.Since(start).Round(time.Millisecond), b.ScreenshotDir())
}

// heldReturnIDs lists the message IDs of the returns held by the safety
// rule (cpis returns list --json).
func (h *webHub) heldReturnIDs() []string {
	h.t.Helper()
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(h.cpis("returns", "list", "--json")), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			h.t.Fatalf("returns list --json: %v: %q", err, line)
		}
		if r["state"] == "held" {
			id, _ := r["message_id"].(string)
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// heldReturn is the one return held.
func (h *webHub) heldReturn() string {
	h.t.Helper()
	ids := h.heldReturnIDs()
	if len(ids) != 1 {
		h.t.Fatalf("held returns %v, want Birmingham's one", ids)
	}
	return ids[0]
}

// releaseHeld releases the held return id from the operations pages, with
// a reason.
func (h *webHub) releaseHeld(ops *person, id string) {
	h.t.Helper()
	if got := ops.Click("glance-held"); got != http.StatusOK {
		h.t.Fatalf("held returns page: status %d", got)
	}
	ops.Check("ops-held")
	if got := ops.Text("#held-" + id); !strings.Contains(got, "CPIS_330_FULL_") {
		h.t.Errorf("held returns page row of %s: %q", id, got)
	}
	if got := ops.Click("review-" + id); got != http.StatusOK {
		h.t.Fatalf("review page: status %d", got)
	}
	ops.Check("ops-held-review")
	if got := ops.Text("#held-withdrawn"); got != "25 visible plans" {
		h.t.Errorf("held return would withdraw %q, want 25 visible plans", got)
	}
	// Without a reason the form is refused, saying why.
	ops.Choose("action-release")
	if got := ops.Click("confirm"); got >= 500 {
		h.t.Errorf("release without a reason: status %d", got)
	}
	ops.Check("ops-held-no-reason")
	if got := ops.Attr("#error-summary a", "href"); got != "#reason" {
		h.t.Errorf("error summary links to %q, want the reason field: %q", got, ops.Text("#error-summary"))
	}
	if got := ops.Title(); !strings.HasPrefix(got, "Error: ") {
		h.t.Errorf("title %q does not start with Error: ", got)
	}
	ops.Choose("action-release")
	ops.Fill("reason", "Birmingham's data team confirmed the rerun was a truncated upload test; release agreed on the phone")
	if got := ops.Click("confirm"); got != http.StatusOK {
		h.t.Fatalf("release: status %d", got)
	}
	ops.Check("ops-released")
	if got := ops.Text("#notice-text"); !strings.Contains(got, id) {
		h.t.Errorf("release notice %q does not name %s", got, id)
	}
}
