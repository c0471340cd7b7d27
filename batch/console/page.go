package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"cpis/store"
	"cpis/store/caldate"
)

// pages are the parsed templates: each page file of templates/ joined with
// layout.html and partials.html, by page name (the file name without
// .html).
type pages struct {
	byName map[string]*template.Template
}

// funcs are the functions every template may call.
var funcs = template.FuncMap{
	// london formats an instant in London time, to the minute.
	"london": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(caldate.London).Format("2 Jan 2006 15:04")
	},
	// date formats a calendar date as the service manual's dates read.
	"date": func(d caldate.Date) string {
		if d.IsZero() {
			return ""
		}
		return d.Time().Format("2 Jan 2006")
	},
	// bytes formats a size for people.
	"bytes": func(n int64) string {
		switch {
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d bytes", n)
	},
	// pngData is a PNG as a data: URL (the set-up QR code; the CSP allows
	// data: images only).
	"pngData": func(b []byte) template.URL {
		return template.URL("data:image/png;base64," + base64Std(b))
	},
	// sentence is an outcome's text without the counts it begins with
	// (batch/returns/returns.md, "The response"): the page shows them apart.
	"sentence": func(o store.Outcome) string {
		return strings.TrimPrefix(o.Text, o.Counts.String()+" ")
	},
	// capital starts a text with a capital letter.
	"capital": capital,
	"field":   field,
	"navFor":  navFor,
	"homeOf":  homeOf,
}

func loadPages(fsys fs.FS) (*pages, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(fsys, n)
		if err != nil {
			return nil, err
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what layout.html is given: the page's own data is Data.
type view struct {
	// Title is the page's <title> and, by convention, its <h1>.
	Title string
	// Section is the navigation item to mark current ("check", "returns",
	// ...; "" for none).
	Section string
	// User is the logged-in user, nil on the login and set-up pages.
	User *User
	// CSRF is the token every form of the page carries (the session's, or
	// the pre-session token of the login and set-up forms).
	CSRF string
	// Errors fill the error summary at the top of the page.
	Errors []FieldError
	// Notice is a success banner's text ("" for none).
	Notice string
	// Data is the page's own data.
	Data any
	// Version is the vendored NHS.UK frontend's version.
	Version string
}

// FieldError is one entry of a page's error summary: the message, and the
// id of the field it is about ("" when it is about no one field). The
// summary links to #Field; the field shows the message too.
type FieldError struct {
	Field   string
	Message string
}

// ErrorFor returns the message about field, "" when there is none
// (templates: {{with $.ErrorFor "file"}}...{{end}}).
func (v view) ErrorFor(field string) string {
	for _, e := range v.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// render writes page name with status, buffered so that a template error
// becomes a 500 and not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := s.pages.byName[name]
	if !ok {
		s.log.Error("console: no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v.Version = nhsukVersion()
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Ctx is one request to a page behind the login: its writer and request,
// the session and user, and helpers that keep every page alike. Handlers
// registered with Server.handle receive one.
type Ctx struct {
	W       http.ResponseWriter
	R       *http.Request
	Session Session
	User    User
	// Multipart is the rest of a multipart/form-data POST after its first
	// part, the CSRF token, was checked (nil for other requests): read the
	// file parts from it as they stream in (see readUpload).
	Multipart *multipart.Reader
	s         *Server
}

// Render writes the page templates/<name>.html with status 200.
func (c *Ctx) Render(name, title, section string, data any) error {
	return c.RenderStatus(http.StatusOK, name, view{Title: title, Section: section, Data: data})
}

// RenderStatus writes the page templates/<name>.html with status and v
// (its User and CSRF filled in).
func (c *Ctx) RenderStatus(status int, name string, v view) error {
	u := c.User
	v.User = &u
	v.CSRF = c.Session.CSRF
	c.s.render(c.W, c.R, status, name, v)
	return nil
}

// Redirect sends the browser to path with 303 See Other (after a form).
func (c *Ctx) Redirect(path string) error {
	http.Redirect(c.W, c.R, path, http.StatusSeeOther)
	return nil
}

// Audit records action (and detail: never a password, token, secret or a
// record's content) for the user, from the request's address. The page
// fails when the audit cannot be written: no action goes unaudited.
func (c *Ctx) Audit(action, detail string) error {
	if err := c.s.opts.Accounts.Audit(c.User.Email, clientAddr(c.R), action, detail); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// Now returns the hub's clock.
func (c *Ctx) Now() time.Time { return c.s.opts.Now() }

// Errors a page handler returns to end with an error page.
var (
	// ErrNotFound ends with 404 Page not found: used for anything of
	// another LA, so that nobody learns it exists.
	ErrNotFound = &PageError{Status: http.StatusNotFound}
	// ErrForbidden ends with 403: the user may not use this page.
	ErrForbidden = &PageError{Status: http.StatusForbidden}
)

// PageError is an error that ends a request with an error page of Status,
// with Message under the heading ("" for the status's usual text).
type PageError struct {
	Status  int
	Message string
}

func (e *PageError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return http.StatusText(e.Status)
}

// handle registers a page behind the login. role "" lets any logged-in
// user in, else only users of that role (others get 403). Any request but
// GET and HEAD must carry the session's CSRF token in the form field
// "csrf" (its absence is 403) before h runs. A multipart/form-data form
// must have "csrf" as its first field (the hidden input first in the
// form): it is checked as it streams in, before any file is read, and h
// reads the rest from c.Multipart.
//
// An error h returns ends the request: a *PageError with its page, any
// other error with a 500 page (logged, not shown).
func (s *Server) handle(pattern string, role Role, h func(c *Ctx) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.session(w, r)
		if !ok {
			return
		}
		c := &Ctx{W: w, R: r, Session: sess, User: sess.User, s: s}
		if role != "" && sess.User.Role != role {
			s.refused(r, sess.User.Email, "page.forbidden", r.URL.Path)
			s.errorPage(w, r, c, http.StatusForbidden, "This page is not for your account.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			var token string
			if isMultipart(r) {
				// The file and the form around it; the ingest's own size
				// check (F006) sees a file a little over the limit.
				r.Body = http.MaxBytesReader(w, r.Body, s.opts.SizeLimit+1<<20)
				token, c.Multipart = firstPartToken(r)
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
				token = r.PostFormValue("csrf")
			}
			if !s.validSessionCSRF(sess, token) {
				s.refused(r, sess.User.Email, "csrf.refused", r.URL.Path)
				s.errorPage(w, r, c, http.StatusForbidden, csrfMessage)
				return
			}
		}
		if err := h(c); err != nil {
			var pe *PageError
			if errors.As(err, &pe) {
				switch pe.Status {
				case http.StatusNotFound:
					s.refused(r, sess.User.Email, "page.not_found", r.URL.Path)
				case http.StatusForbidden:
					s.refused(r, sess.User.Email, "page.forbidden", r.URL.Path)
				}
				s.errorPage(w, r, c, pe.Status, pe.Message)
				return
			}
			s.log.Error("console: page failed", "path", r.URL.Path, "user", sess.User.Email, "err", err)
			s.errorPage(w, r, c, http.StatusInternalServerError, "")
		}
	})
}

// refused audits a refused request (action page.forbidden, page.not_found
// or csrf.refused, with the path as detail) of email ("" before a
// session) from the request's address: at most once a minute per person
// (or address) and action, so that someone probing cannot flood the
// audit. A failure to write it is logged; the refusal stands either way.
func (s *Server) refused(r *http.Request, email, action, path string) {
	if _, err := s.opts.Accounts.AuditBounded(email, clientAddr(r), action, path); err != nil {
		s.log.Error("console: audit refusal", "action", action, "err", err)
	}
}

// csrfMessage is the 403 page's text for a form without its token.
const csrfMessage = "The form could not be accepted: it was out of date or not sent from this service. Go back, reload the page and try again."

// errorPage writes the error page of status; c is nil outside a session.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, c *Ctx, status int, message string) {
	heading := map[int]string{
		http.StatusNotFound:              "Page not found",
		http.StatusForbidden:             "You cannot do this",
		http.StatusRequestEntityTooLarge: "The file is too large",
		http.StatusTooManyRequests:       "Too many attempts",
		http.StatusMethodNotAllowed:      "Page not found",
	}[status]
	if heading == "" {
		heading = "Sorry, there is a problem with the service"
	}
	if message == "" {
		switch status {
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			message = "If you typed the web address, check it is correct. If you pasted the web address, check you copied the entire address."
		case http.StatusInternalServerError:
			message = "Try again later. Nothing you sent was lost: check the Returns page before sending again."
		}
	}
	v := view{Title: heading, Data: errorData{Status: status, Message: message}}
	if c != nil {
		u := c.User
		v.User, v.CSRF = &u, c.Session.CSRF
	}
	s.render(w, r, status, "error", v)
}

type errorData struct {
	Status  int
	Message string
}

// clientAddr is the request's remote address without its port (the
// address accounts throttle and audit by).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func isMultipart(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
}
