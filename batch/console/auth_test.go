package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/accounts"
	"cpis/batch/console"
	"cpis/store"
)

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	p := f.browser(t).get("/login")
	want := map[string]string{
		"Content-Security-Policy": console.CSP,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"Content-Type":            "text/html; charset=utf-8",
	}
	got := map[string]string{}
	for k := range want {
		got[k] = p.Header.Get(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if strings.Contains(console.CSP, "http") || strings.Contains(console.CSP, "*") || strings.Contains(console.CSP, "unsafe") {
		t.Errorf("the CSP allows another origin or inline code: %s", console.CSP)
	}
}

// TestNoOtherOrigin: nothing a page or asset loads comes from elsewhere.
func TestNoOtherOrigin(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for _, path := range []string{"/login", "/assets/nhsuk/nhsuk-frontend.min.css", "/assets/nhsuk/nhsuk-frontend.min.js", "/assets/app.js", "/assets/app.css"} {
		p := b.get(path)
		if p.Status != http.StatusOK {
			t.Errorf("GET %s: status %d", path, p.Status)
			continue
		}
		// url(...) in CSS, src= and href= in pages: only local paths.
		for _, m := range regexp.MustCompile(`(?:url\(|src="|href=")([^)"]*)`).FindAllStringSubmatch(p.Body, -1) {
			if strings.Contains(m[1], "//") {
				t.Errorf("%s refers to another origin: %s", path, m[1])
			}
		}
		if strings.Contains(p.Body, "assets.nhs.uk") {
			t.Errorf("%s still loads from assets.nhs.uk", path)
		}
	}
	for _, path := range []string{"/assets/", "/assets/nhsuk/", "/assets/refresh.sh", "/assets/nhsuk/../refresh.sh"} {
		if p := b.get(path); p.Status == http.StatusOK {
			t.Errorf("GET %s: status %d, want a refusal", path, p.Status)
		}
	}
	if p := b.get("/assets/nhsuk/LICENSE"); !strings.Contains(p.Body, "MIT License") {
		t.Errorf("the NHS.UK frontend's licence is not served: %q", p.Body)
	}
}

func TestAPIUnchanged(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for _, path := range []string{"/", "/v1/alerts/9990000018", "/lax", "/loginx"} {
		if p := b.get(path); p.Body != `{"api":true}` {
			t.Errorf("GET %s went to the console: %d %q", path, p.Status, p.Body)
		}
	}
	if p := b.get("/la"); p.Status/100 != 3 || p.Location != "/la/" {
		t.Errorf("GET /la: %d %q, want a redirect to /la/", p.Status, p.Location)
	}
}

func TestNotLoggedInGoesToLogin(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for path, want := range map[string]string{
		"/la/":             "/login?next=%2Fla%2F",
		"/la/returns":      "/login?next=%2Fla%2Freturns",
		"/la/files/x.csv":  "/login?next=%2Fla%2Ffiles%2Fx.csv",
		"/ops/":            "/login?next=%2Fops%2F",
		"/logout":          "/login",
		"/la/no-such-page": "/login",
	} {
		p := b.get(path)
		if p.Status == http.StatusNotFound && path == "/la/no-such-page" {
			continue // an unknown page is not found, logged in or not
		}
		if p.Status != http.StatusSeeOther || p.Location != want {
			t.Errorf("GET %s: %d to %q, want 303 to %q", path, p.Status, p.Location, want)
		}
	}
	if p := b.post("/la/collect", url.Values{"file": {"x"}}); p.Status != http.StatusSeeOther || p.Location != "/login" {
		t.Errorf("POST /la/collect: %d to %q, want 303 to /login", p.Status, p.Location)
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	f.enrol(t, "officer@example.org", accounts.RoleLA, "841")
	f.enrol(t, "ops@example.org", accounts.RoleOps, "")

	t.Run("LA officer lands on /la/ with a strict session cookie", func(t *testing.T) {
		b := f.browser(t)
		p := b.get("/login")
		resp := b.post("/login", url.Values{"csrf": {b.csrf(p)}, "email": {"Officer@Example.org"}, "password": {password}, "code": {f.code(t, "officer@example.org")}})
		if resp.Status != http.StatusSeeOther || resp.Location != "/la/" {
			t.Fatalf("login: %d to %q, want 303 to /la/:\n%s", resp.Status, resp.Location, resp.Body)
		}
		c := sessionCookie(t, resp)
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", c)
		}
		home := b.get("/la/")
		if got := text(home, "page-heading"); got != "Newcastle upon Tyne" && home.Status != http.StatusOK {
			t.Errorf("LA home: %d %q", home.Status, got)
		}
		if got := text(home, "account-user"); got != "officer@example.org (LA 841)" {
			t.Errorf("account: %q", got)
		}
	})
	t.Run("ops lands on /ops/ and next= is kept", func(t *testing.T) {
		b := f.browser(t)
		p := b.get("/login?next=%2Fops%2Fx")
		if !strings.Contains(p.Body, `name="next" value="/ops/x"`) {
			t.Fatalf("next not in the form")
		}
		resp := b.post("/login", url.Values{"csrf": {b.csrf(p)}, "email": {"ops@example.org"}, "password": {password}, "code": {f.code(t, "ops@example.org")}, "next": {"/ops/x"}})
		if resp.Status != http.StatusSeeOther || resp.Location != "/ops/x" {
			t.Fatalf("login: %d to %q, want 303 to /ops/x", resp.Status, resp.Location)
		}
	})
	t.Run("next= to another site is ignored", func(t *testing.T) {
		b := f.browser(t)
		p := b.get("/login")
		resp := b.post("/login", url.Values{"csrf": {b.csrf(p)}, "email": {"ops@example.org"}, "password": {password}, "code": {f.code(t, "ops@example.org")}, "next": {"//evil.example/la/"}})
		if resp.Location != "/ops/" {
			t.Fatalf("login: to %q, want /ops/", resp.Location)
		}
	})
	t.Run("wrong password: error summary, no session", func(t *testing.T) {
		b := f.browser(t)
		p := b.get("/login")
		resp := b.post("/login", url.Values{"csrf": {b.csrf(p)}, "email": {"officer@example.org"}, "password": {"wrong password here"}, "code": {f.code(t, "officer@example.org")}})
		if resp.Status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.Status)
		}
		if !strings.Contains(resp.Body, `<a href="#email">The email address, password or code is not right</a>`) {
			t.Errorf("no error summary:\n%s", resp.Body)
		}
		if strings.Contains(resp.Header.Get("Set-Cookie"), "cpis_session=") {
			t.Errorf("a failed login set a session cookie")
		}
		if !strings.HasPrefix(text(resp, "page-heading"), "Sign in") || !strings.Contains(resp.Body, "<title>Error: Sign in") {
			t.Errorf("the page title does not say there is an error")
		}
	})
	t.Run("empty fields", func(t *testing.T) {
		b := f.browser(t)
		p := b.get("/login")
		resp := b.post("/login", url.Values{"csrf": {b.csrf(p)}})
		for _, want := range []string{`href="#email">Enter your email address`, `href="#password">Enter your password`, `href="#code">Enter the 6-digit code`} {
			if !strings.Contains(resp.Body, want) {
				t.Errorf("no %q in the error summary", want)
			}
		}
	})
	t.Run("throttled", func(t *testing.T) {
		f.enrol(t, "guessed@example.org", accounts.RoleLA, "841")
		b := f.browser(t)
		var resp page
		for range accounts.MaxFailures + 1 {
			p := b.get("/login")
			resp = b.post("/login", url.Values{"csrf": {b.csrf(p)}, "email": {"guessed@example.org"}, "password": {"not the password"}, "code": {"000000"}})
		}
		if resp.Status != http.StatusTooManyRequests || !strings.Contains(resp.Body, `<a href="#email">Too many failed attempts`) {
			t.Errorf("status %d; want 429 Too many failed attempts", resp.Status)
		}
	})
}

func sessionCookie(t *testing.T, p page) *http.Cookie {
	t.Helper()
	return namedCookie(t, p, "cpis_session")
}

func namedCookie(t *testing.T, p page, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no session cookie set: %v", p.Header["Set-Cookie"])
	return nil
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	f.enrol(t, "officer@example.org", accounts.RoleLA, "841")
	b := f.browser(t)
	p := b.get("/login")
	login := url.Values{"email": {"officer@example.org"}, "password": {password}, "code": {f.code(t, "officer@example.org")}}
	for name, token := range map[string]string{"none": "", "wrong": "x" + b.csrf(p)} {
		form := url.Values{}
		for k, v := range login {
			form[k] = v
		}
		if token != "" {
			form.Set("csrf", token)
		}
		if resp := b.post("/login", form); resp.Status != http.StatusForbidden {
			t.Errorf("login with %s token: status %d, want 403", name, resp.Status)
		}
	}
	// Another browser's pre-session token is not this one's.
	other := f.browser(t)
	login.Set("csrf", other.csrf(other.get("/login")))
	if resp := b.post("/login", login); resp.Status != http.StatusForbidden {
		t.Errorf("login with another browser's token: status %d, want 403", resp.Status)
	}

	token := b.login("officer@example.org")
	for _, tc := range []struct {
		name string
		do   func() page
	}{
		{"collect without token", func() page { return b.post("/la/collect", url.Values{"file": {"x.csv"}}) }},
		{"collect with a wrong token", func() page { return b.post("/la/collect", url.Values{"file": {"x.csv"}, "csrf": {token + "x"}}) }},
		{"logout without token", func() page { return b.post("/logout", nil) }},
		{"check without token", func() page { return b.upload("/la/check", "", "CPIS_841_FULL_20261124.csv", []byte("x")) }},
		{"send without token", func() page { return b.upload("/la/send", "", "CPIS_841_FULL_20261124.csv", []byte("x")) }},
		{"send with the token after the file", func() page { return uploadTokenLast(b, "/la/send", token) }},
		{"send with another session's token", func() page {
			f.enrol(t, "other@example.org", accounts.RoleLA, "841")
			o := f.browser(t)
			return b.upload("/la/send", o.login("other@example.org"), "CPIS_841_FULL_20261124.csv", []byte("x"))
		}},
	} {
		if p := tc.do(); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "The form could not be accepted") {
			t.Errorf("%s: status %d, want 403 with the form's explanation", tc.name, p.Status)
		}
	}
	if files, err := f.hub.Mailbox("841").InboxFiles(); err != nil || len(files) != 0 {
		t.Errorf("a refused send left files in the inbox: %v %v", files, err)
	}
	// Still logged in: the refusals changed nothing.
	if p := b.get("/la/"); p.Status != http.StatusOK {
		t.Errorf("after the refusals: /la/ status %d", p.Status)
	}
}

// uploadTokenLast sends a multipart form whose csrf field comes after the
// file: refused, since the token must be checked before the file is read.
func uploadTokenLast(b *browser, path, token string) page {
	body := "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"CPIS_841_FULL_20261124.csv\"\r\n\r\nx\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + token + "\r\n--B--\r\n"
	req, _ := http.NewRequest(http.MethodPost, b.f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
	return b.do(req)
}

func TestIdleTimeout(t *testing.T) {
	f := newFixture(t)
	b, _ := f.officer(t, "officer@example.org", "841")
	f.clock.Set(f.clock.Now().Add(29 * time.Minute))
	if p := b.get("/la/returns"); p.Status != http.StatusOK {
		t.Fatalf("after 29 minutes: status %d", p.Status)
	}
	f.clock.Set(f.clock.Now().Add(31 * time.Minute))
	p := b.get("/la/returns")
	if p.Status != http.StatusSeeOther || p.Location != "/login?next=%2Fla%2Freturns&expired=1" {
		t.Fatalf("after 31 idle minutes: %d to %q, want 303 to the login page", p.Status, p.Location)
	}
	login := b.get(p.Location)
	if !strings.Contains(login.Body, "You were signed out because") {
		t.Errorf("the login page does not say why")
	}
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	la, _ := f.officer(t, "officer@example.org", "841")
	f.enrol(t, "ops@example.org", accounts.RoleOps, "")
	ops := f.browser(t)
	ops.login("ops@example.org")
	for _, tc := range []struct {
		b    *browser
		path string
	}{{la, "/ops/"}, {ops, "/la/"}, {ops, "/la/returns"}, {ops, "/la/check"}} {
		if p := tc.b.get(tc.path); p.Status != http.StatusForbidden {
			t.Errorf("GET %s as the other role: status %d, want 403", tc.path, p.Status)
		}
	}
	if p := ops.get("/ops/"); p.Status != http.StatusOK {
		t.Errorf("ops home: status %d", p.Status)
	}
}

func TestSetup(t *testing.T) {
	f := newFixture(t)
	token := f.addUser(t, "new@example.org", accounts.RoleLA, "841")
	b := f.browser(t)
	p := b.get("/setup/" + token)
	if p.Status != http.StatusOK {
		t.Fatalf("set-up page: status %d", p.Status)
	}
	if got := text(p, "setup-secret"); got != f.secrets["new@example.org"] {
		t.Errorf("key shown %q, want %q", got, f.secrets["new@example.org"])
	}
	if !strings.Contains(p.Body, `src="data:image/png;base64,`) {
		t.Errorf("no QR code image")
	}
	csrf := b.csrf(p)

	// Mismatched passwords, then a weak one, then a wrong code: the page again.
	for _, tc := range []struct {
		form  url.Values
		field string
		want  string
	}{
		{url.Values{"password": {password}, "confirm": {password + "x"}, "code": {"123456"}}, "confirm", "The passwords do not match"},
		{url.Values{"password": {"short"}, "confirm": {"short"}, "code": {f.code(t, "new@example.org")}}, "password", "Choose a longer password: at least 12 characters"},
		{url.Values{"password": {"Password123456"}, "confirm": {"Password123456"}, "code": {f.code(t, "new@example.org")}}, "password",
			"Choose a password that is not a common one: this one is among the most used, and is tried first by anyone guessing"},
		{url.Values{"password": {"abababababab"}, "confirm": {"abababababab"}, "code": {f.code(t, "new@example.org")}}, "password",
			"Choose a password with more different characters: at least 6 (repeated characters are easy to guess)"},
		{url.Values{"password": {password}, "confirm": {password}, "code": {"000000"}}, "code", "The code is not right"},
	} {
		tc.form.Set("csrf", csrf)
		resp := b.post("/setup/"+token, tc.form)
		if !strings.Contains(resp.Body, `href="#`+tc.field+`">`+tc.want) || !strings.Contains(resp.Body, `id="`+tc.field+`-error"`) {
			t.Errorf("%s: no error %q on the page (status %d)", tc.field, tc.want, resp.Status)
		}
	}
	resp := b.post("/setup/"+token, url.Values{"csrf": {csrf}, "password": {password}, "confirm": {password}, "code": {f.code(t, "new@example.org")}})
	if resp.Status != http.StatusSeeOther || resp.Location != "/la/" {
		t.Fatalf("set-up: %d to %q:\n%s", resp.Status, resp.Location, resp.Body)
	}
	// Signed in by the set-up: the code it used would be refused at /login.
	if c := sessionCookie(t, resp); c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("set-up's session cookie: %+v", c)
	}
	if p := b.get(resp.Location); p.Status != http.StatusOK || !strings.HasPrefix(text(p, "account-user"), "new@example.org") {
		t.Errorf("home after set-up: status %d, signed in as %q", p.Status, text(p, "account-user"))
	}
	// The link works once.
	if p := b.get("/setup/" + token); p.Status != http.StatusNotFound || !strings.Contains(text(p, "error-message"), "This set-up link is not valid") {
		t.Errorf("used link: status %d, %q", p.Status, text(p, "error-message"))
	}
}

// TestSetupOpsHome: an operations user lands on /ops/ after set-up.
func TestSetupOpsHome(t *testing.T) {
	f := newFixture(t)
	token := f.addUser(t, "ops@example.org", accounts.RoleOps, "")
	b := f.browser(t)
	p := b.get("/setup/" + token)
	resp := b.post("/setup/"+token, url.Values{"csrf": {b.csrf(p)}, "password": {password}, "confirm": {password}, "code": {f.code(t, "ops@example.org")}})
	if resp.Status != http.StatusSeeOther || resp.Location != "/ops/" {
		t.Fatalf("set-up: %d to %q", resp.Status, resp.Location)
	}
	if p := b.get("/ops/"); p.Status != http.StatusOK {
		t.Errorf("ops home after set-up: status %d", p.Status)
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	b, token := f.officer(t, "officer@example.org", "841")
	if p := b.get("/logout"); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="sign-out-confirm"`) {
		t.Fatalf("sign-out page: %d", p.Status)
	}
	p := b.post("/logout", url.Values{"csrf": {token}})
	if p.Status != http.StatusSeeOther || p.Location != "/login" {
		t.Fatalf("logout: %d to %q", p.Status, p.Location)
	}
	if p := b.get("/la/"); p.Status != http.StatusSeeOther {
		t.Errorf("after logout /la/: status %d, want a redirect to /login", p.Status)
	}
	var actions []string
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		return tx.WebAuditEvents(time.Time{}, func(e store.WebEvent) error { actions = append(actions, e.Action); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if len(actions) == 0 || actions[len(actions)-1] != "logout" {
		t.Errorf("audit %v: want a logout last", actions)
	}
}

// TestSecureCookiesUnderTLS: over TLS the cookies are Secure and HSTS is
// sent.
func TestSecureCookiesUnderTLS(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewTLSServer(f.srv.Config.Handler)
	t.Cleanup(srv.Close)
	f.enrol(t, "officer@example.org", accounts.RoleLA, "841")
	b := f.browser(t)
	b.c.Transport = srv.Client().Transport
	f.srv = srv
	p := b.get("/login")
	if p.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("no HSTS over TLS")
	}
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s is not Secure over TLS", c.Name)
		}
	}
	resp := b.post("/login", url.Values{"csrf": {b.csrf(p)}, "email": {"officer@example.org"}, "password": {password}, "code": {f.code(t, "officer@example.org")}})
	// The __Host- prefix: Secure, Path=/ and no Domain, or browsers refuse it.
	if c := namedCookie(t, resp, "__Host-cpis_session"); !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("session cookie over TLS: %+v", c)
	}
	if p := b.get("/la/"); p.Status != http.StatusOK {
		t.Errorf("/la/ with the __Host- cookie: status %d", p.Status)
	}
}

// TestNoInlineCode: no page has an inline script or style, which the CSP
// would block.
func TestNoInlineCode(t *testing.T) {
	f := newFixture(t)
	b, token := f.officer(t, "officer@example.org", "841")
	pages := []page{b.upload("/la/check", token, badName, []byte(badReturn)), b.upload("/la/send", token, "x.csv", nil)}
	for _, path := range []string{"/la/", "/la/check", "/la/send", "/la/returns", "/la/collect", "/logout", "/la/nothing"} {
		pages = append(pages, b.get(path))
	}
	anon := f.browser(t)
	pages = append(pages, anon.get("/login"), anon.get("/setup/"+f.addUser(t, "new@example.org", accounts.RoleLA, "841")), anon.get("/setup/nope"))
	for i, p := range pages {
		for _, bad := range []string{` style="`, `<style`, ` onclick=`, ` onload=`, `javascript:`} {
			if strings.Contains(p.Body, bad) {
				t.Errorf("page %d has %q", i, bad)
			}
		}
		for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(p.Body, -1) {
			if m != `<script type="module" src="/assets/app.js">` {
				t.Errorf("page %d has a script %s", i, m)
			}
		}
	}
}

func TestSetupThrottled(t *testing.T) {
	f := newFixture(t)
	token := f.addUser(t, "new@example.org", accounts.RoleLA, "841")
	b := f.browser(t)
	csrf := b.csrf(b.get("/setup/" + token))
	var resp page
	for range accounts.MaxFailures + 1 {
		resp = b.post("/setup/"+token, url.Values{"csrf": {csrf}, "password": {password}, "confirm": {password}, "code": {"000000"}})
	}
	if resp.Status != http.StatusTooManyRequests || !strings.Contains(resp.Body, `<a href="#code">Too many wrong codes`) {
		t.Errorf("status %d, want 429 and the reason", resp.Status)
	}
}

// TestRefusalsAudited: an LA user's 403 on operations' pages, 404s on
// another LA's files and returns, and forms without their CSRF token are
// audited with the person, the address and the path, at most once a
// minute per person (or address) and kind.
func TestRefusalsAudited(t *testing.T) {
	f := newFixture(t)
	b, _ := f.officer(t, "officer@example.org", "841")
	anon := f.browser(t)
	for _, tc := range []struct {
		name    string
		do      func() page
		advance time.Duration
		status  int
	}{
		{"ops page", func() page { return b.get("/ops/held") }, 0, http.StatusForbidden},
		{"ops page again within the minute", func() page { return b.get("/ops/users") }, 30 * time.Second, http.StatusForbidden},
		{"another LA's file", func() page { return b.get("/la/files/CPIS_202_RESP_20261124.csv") }, 0, http.StatusNotFound},
		{"another LA's return", func() page { return b.get("/la/returns/20261124091500123_ABCDEF") }, 0, http.StatusNotFound},
		{"ops page a minute later", func() page { return b.get("/ops/") }, time.Minute, http.StatusForbidden},
		{"form without its token", func() page { return b.post("/la/collect", url.Values{"name": {"x.csv"}}) }, 0, http.StatusForbidden},
		{"login without its token", func() page { return anon.post("/login", url.Values{"email": {"a@example.org"}}) }, 0, http.StatusForbidden},
		{"set-up without its token", func() page { return anon.post("/setup/sometoken", url.Values{"code": {"123456"}}) }, 0, http.StatusForbidden},
	} {
		f.clock.Set(f.clock.Now().Add(tc.advance))
		if p := tc.do(); p.Status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, p.Status, tc.status)
		}
	}
	var got []string
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		return tx.WebAuditEvents(time.Time{}, func(e store.WebEvent) error {
			switch e.Action {
			case "page.forbidden", "page.not_found", "csrf.refused":
				got = append(got, strings.Join([]string{e.User, e.Remote, e.Action, e.Detail}, " "))
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"officer@example.org 127.0.0.1 page.forbidden /ops/held",
		"officer@example.org 127.0.0.1 page.not_found /la/files/CPIS_202_RESP_20261124.csv",
		"officer@example.org 127.0.0.1 page.forbidden /ops/",
		"officer@example.org 127.0.0.1 csrf.refused /la/collect",
		" 127.0.0.1 csrf.refused /login",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("refusals audited (-want +got):\n%s", diff)
	}
}
