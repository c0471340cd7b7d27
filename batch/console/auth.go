package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// session returns the request's live session. Without one (no cookie, an
// unknown token, logged out, idle too long) the cookie is cleared, the
// browser is sent to /login (with next= the page asked for, for a GET) and
// ok is false.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (sess Session, ok bool) {
	c, err := r.Cookie(sessionCookieName(r))
	if err == nil && c.Value != "" {
		sess, err = s.opts.Accounts.Session(c.Value)
		if err == nil {
			sess.Token = c.Value // Session gives the token back only at Login
			return sess, true
		}
		if !errors.Is(err, ErrNoSession) {
			s.log.Error("console: session", "err", err)
			s.errorPage(w, r, nil, http.StatusInternalServerError, "")
			return Session{}, false
		}
		s.clearSession(w, r)
	}
	target := "/login"
	if r.Method == http.MethodGet && safeNext(r.URL.RequestURI()) {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if c != nil && c.Value != "" {
		if strings.Contains(target, "?") {
			target += "&expired=1"
		} else {
			target += "?expired=1"
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return Session{}, false
}

// tlsSessionCookie is the session cookie's name over TLS: with the
// __Host- prefix a browser takes it only when Secure, for Path=/ and
// without a Domain, so that no other host (a sibling subdomain) and no
// plain-HTTP page can set or shadow it.
const tlsSessionCookie = "__Host-" + sessionCookie

// sessionCookieName is the session cookie's name for r: __Host- prefixed
// over TLS (a browser refuses the prefix on a cookie without Secure, which
// plain HTTP cannot set).
func sessionCookieName(r *http.Request) string {
	if r.TLS != nil {
		return tlsSessionCookie
	}
	return sessionCookie
}

func (s *Server) setSession(w http.ResponseWriter, r *http.Request, sess Session) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookieName(r), Value: sess.Token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func (s *Server) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookieName(r), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// safeNext reports whether next is a page of this console to return to
// after logging in (never another site: "//host" and "/\host" are refused).
func safeNext(next string) bool { return cleanNext(next) }

// home is where a user lands after logging in.
func home(u User) string {
	if u.Role == RoleOps {
		return "/ops/"
	}
	return "/la/"
}

// loginData is the login page's own data.
type loginData struct {
	Email   string
	Next    string
	Expired bool
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	// Someone logged in already goes straight to their pages.
	if c, err := r.Cookie(sessionCookieName(r)); err == nil && c.Value != "" {
		if sess, err := s.opts.Accounts.Session(c.Value); err == nil {
			http.Redirect(w, r, home(sess.User), http.StatusSeeOther)
			return
		}
	}
	q := r.URL.Query()
	d := loginData{Expired: q.Get("expired") != ""}
	if safeNext(q.Get("next")) {
		d.Next = q.Get("next")
	}
	v := view{Title: "Sign in", CSRF: s.preToken(w, r), Data: d}
	s.render(w, r, http.StatusOK, "login", v)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !s.validPreCSRF(r, r.PostFormValue("csrf")) {
		s.refused(r, "", "csrf.refused", "/login")
		s.errorPage(w, r, nil, http.StatusForbidden, csrfMessage)
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	code := strings.ReplaceAll(strings.TrimSpace(r.PostFormValue("code")), " ", "")
	d := loginData{Email: email}
	if next := r.PostFormValue("next"); safeNext(next) {
		d.Next = next
	}
	var errs []FieldError
	if email == "" {
		errs = append(errs, FieldError{"email", "Enter your email address"})
	}
	if password == "" {
		errs = append(errs, FieldError{"password", "Enter your password"})
	}
	if code == "" {
		errs = append(errs, FieldError{"code", "Enter the 6-digit code from your authenticator app"})
	}
	status := http.StatusOK
	if len(errs) == 0 {
		sess, err := s.opts.Accounts.Login(email, password, code, clientAddr(r))
		switch {
		case err == nil:
			s.setSession(w, r, sess)
			target := home(sess.User)
			if d.Next != "" && strings.HasPrefix(d.Next, target) {
				target = d.Next
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		case errors.Is(err, ErrThrottled):
			status = http.StatusTooManyRequests
			errs = append(errs, FieldError{"email", "Too many failed attempts. Wait 15 minutes, then try again"})
		case errors.Is(err, ErrBadLogin):
			status = http.StatusUnauthorized
			errs = append(errs, FieldError{"email", "The email address, password or code is not right"})
		default:
			s.log.Error("console: login", "err", err)
			s.errorPage(w, r, nil, http.StatusInternalServerError, "")
			return
		}
	}
	s.render(w, r, status, "login", view{Title: "Sign in", CSRF: s.preToken(w, r), Errors: errs, Data: d})
}

// setupData is the set-up page's own data.
type setupData struct {
	Token string
	Info  SetupInfo
}

func (s *Server) setupForm(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	info, err := s.opts.Accounts.Setup(token, clientAddr(r))
	if err != nil {
		s.setupFailed(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "setup", view{Title: "Set up your account", CSRF: s.preToken(w, r), Data: setupData{Token: token, Info: info}})
}

func (s *Server) setupFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrSetupInvalid) {
		s.errorPage(w, r, nil, http.StatusNotFound, "This set-up link is not valid: it was used already, it has expired (links last 24 hours) or it was copied wrongly. Ask the hub's operations team for a new one.")
		return
	}
	s.log.Error("console: setup", "err", err)
	s.errorPage(w, r, nil, http.StatusInternalServerError, "")
}

func (s *Server) setup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !s.validPreCSRF(r, r.PostFormValue("csrf")) {
		s.refused(r, "", "csrf.refused", "/setup/…") // never the token
		s.errorPage(w, r, nil, http.StatusForbidden, csrfMessage)
		return
	}
	token := r.PathValue("token")
	info, err := s.opts.Accounts.Setup(token, clientAddr(r))
	if err != nil {
		s.setupFailed(w, r, err)
		return
	}
	password, confirm := r.PostFormValue("password"), r.PostFormValue("confirm")
	code := strings.ReplaceAll(strings.TrimSpace(r.PostFormValue("code")), " ", "")
	var errs []FieldError
	switch {
	case password == "":
		errs = append(errs, FieldError{"password", "Enter a password"})
	case password != confirm:
		errs = append(errs, FieldError{"confirm", "The passwords do not match"})
	}
	if code == "" {
		errs = append(errs, FieldError{"code", "Enter the 6-digit code your authenticator app shows"})
	}
	status := http.StatusOK
	if len(errs) == 0 {
		sess, err := s.opts.Accounts.CompleteSetup(token, password, code, clientAddr(r))
		switch {
		case err == nil:
			// Signed in: the code just used would be refused at /login
			// (a code is accepted once), and the app may show it a while.
			s.setSession(w, r, sess)
			http.Redirect(w, r, home(sess.User), http.StatusSeeOther)
			return
		case errors.Is(err, ErrWeakPassword):
			msg := "Choose another password: at least 12 characters, not a common one and not your email address"
			var we *WeakPasswordError
			if errors.As(err, &we) {
				msg = we.Reason
			}
			errs = append(errs, FieldError{"password", msg})
		case errors.Is(err, ErrBadCode):
			errs = append(errs, FieldError{"code", "The code is not right: check your authenticator app's clock and enter the code it shows now"})
		case errors.Is(err, ErrThrottled):
			status = http.StatusTooManyRequests
			errs = append(errs, FieldError{"code", "Too many wrong codes. Wait 15 minutes, then try again"})
		default:
			s.setupFailed(w, r, err)
			return
		}
	}
	s.render(w, r, status, "setup", view{Title: "Set up your account", CSRF: s.preToken(w, r), Errors: errs, Data: setupData{Token: token, Info: info}})
}

func (s *Server) logoutForm(c *Ctx) error {
	return c.Render("logout", "Sign out", "", nil)
}

func (s *Server) logout(c *Ctx) error {
	if err := s.opts.Accounts.Logout(c.Session.Token, clientAddr(c.R)); err != nil {
		return err
	}
	s.clearSession(c.W, c.R)
	return c.Redirect("/login")
}
