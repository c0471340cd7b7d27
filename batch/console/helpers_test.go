package console_test

import (
	"bytes"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"cpis/batch/accounts"
	"cpis/batch/console"
	"cpis/batch/hubtest"
)

// t0 is the fixture's clock at the start: a Wednesday morning in London.
var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// password is every test user's password.
const password = "correct horse battery staple"

// fixture is a hub, its accounts and the console served over HTTP.
type fixture struct {
	hub   *hubtest.Hub
	clock *hubtest.Clock
	acc   *accounts.Service
	srv   *httptest.Server
	// secrets are the users' TOTP secrets, by email.
	secrets map[string]string
	// last is the last TOTP step each user used, so that codes are never
	// replayed.
	last map[string]time.Time
}

// newFixture makes a hub of LAs 841 (Darlington) and 202 (Camden), with
// mailboxes and the ingest tests' demographics, and serves the console
// (with sizeLimit, 0 for the default) in front of a stand-in of the
// lookup API.
func newFixture(t testing.TB, sizeLimit ...int64) *fixture {
	t.Helper()
	f := &fixture{clock: hubtest.NewClock(t0), secrets: map[string]string{}, last: map[string]time.Time{}}
	demo := hubtest.File{Name: "demographics.csv", Data: hubtest.ReadFile(t, hubtest.Testdata("ingest", "demographics.csv"))}
	f.hub = hubtest.New(t, hubtest.Options{LAs: []string{"841", "202"}, Created: t0.Add(-72 * time.Hour), Demographics: &demo})
	f.acc = accounts.New(f.hub.DB, accounts.Options{Now: f.clock.Now})
	opts := console.Options{DataDir: f.hub.Dir, DB: f.hub.DB, Accounts: f.acc, Now: f.clock.Now}
	if len(sizeLimit) > 0 {
		opts.SizeLimit = sizeLimit[0]
	}
	con, err := console.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"api":true}`)
	})
	f.srv = httptest.NewServer(console.Wrap(con, api))
	t.Cleanup(f.srv.Close)
	return f
}

// code returns a TOTP code for email's secret at the clock's now, one
// step later than the last code used when now has not moved on.
func (f *fixture) code(t testing.TB, email string) string {
	t.Helper()
	at := f.clock.Now()
	if last, ok := f.last[email]; ok && !at.After(last.Add(30*time.Second)) {
		f.clock.Set(last.Add(30 * time.Second))
		at = f.clock.Now()
	}
	f.last[email] = at
	c, err := totp.GenerateCodeCustom(f.secrets[email], at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addUser adds an account and returns its set-up token.
func (f *fixture) addUser(t testing.TB, email string, role accounts.Role, la string) string {
	t.Helper()
	token, err := f.acc.Add(email, role, la)
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.acc.Setup(token, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	f.secrets[email] = info.Secret
	return token
}

// enrol adds an account and completes its set-up.
func (f *fixture) enrol(t testing.TB, email string, role accounts.Role, la string) {
	t.Helper()
	token := f.addUser(t, email, role, la)
	if _, err := f.acc.CompleteSetup(token, password, f.code(t, email), "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
}

// browser is a client with its own cookies that does not follow
// redirects.
type browser struct {
	t testing.TB
	f *fixture
	c *http.Client
}

func (f *fixture) browser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a response read whole.
type page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(body), Location: resp.Header.Get("Location")}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.f.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// upload posts a multipart form: the csrf field first (unless csrf is
// ""), then the file field "file" called name.
func (b *browser) upload(path, csrf, name string, data []byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if csrf != "" {
		if err := mw.WriteField("csrf", csrf); err != nil {
			b.t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		b.t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.f.srv.URL+path, &buf)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form of p.
func (b *browser) csrf(p page) string {
	b.t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no csrf field in the page:\n%s", p.Body)
	}
	return html.UnescapeString(m[1])
}

// login signs email in through the login form and returns the CSRF token
// of its session (from its home page).
func (b *browser) login(email string) string {
	b.t.Helper()
	p := b.get("/login")
	resp := b.post("/login", url.Values{"csrf": {b.csrf(p)}, "email": {email}, "password": {password}, "code": {b.f.code(b.t, email)}})
	if resp.Status != http.StatusSeeOther {
		b.t.Fatalf("login %s: status %d, want 303:\n%s", email, resp.Status, resp.Body)
	}
	home := b.get(resp.Location)
	if home.Status != http.StatusOK {
		b.t.Fatalf("home %s after login: status %d", resp.Location, home.Status)
	}
	return b.csrf(home)
}

// officer enrols email as an officer of la, logs in and returns the browser with its
// CSRF token.
func (f *fixture) officer(t testing.TB, email, la string) (*browser, string) {
	t.Helper()
	f.enrol(t, email, accounts.RoleLA, la)
	b := f.browser(t)
	return b, b.login(email)
}

// text returns the text of the element with id in p ("" when absent):
// its inner HTML with tags removed and spaces collapsed.
func text(p page, id string) string {
	re := regexp.MustCompile(`(?s)id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</(dd|p|h1|h2|span|strong|td|li|code|div|a)>`)
	m := re.FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	s := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], "")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}
