package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"mime/multipart"
	"net/http"
)

// Cookie names.
const (
	sessionCookie = "cpis_session"
	// preCookie holds the random value the login and set-up forms' CSRF
	// token is derived from, before there is a session.
	preCookie = "cpis_pre"
)

// maxFormBytes bounds a form without a file (login, set-up, collect).
const maxFormBytes = 64 << 10

// validSessionCSRF reports whether token is the session's CSRF token.
func (s *Server) validSessionCSRF(sess Session, token string) bool {
	return token != "" && sess.CSRF != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) == 1
}

// preToken returns the pre-session CSRF token of the login and set-up
// forms, setting the pre-session cookie when the browser has none. The
// token is an HMAC of the cookie's random value under a key of this
// process (a restart makes open login forms stale: they are shown again).
func (s *Server) preToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) >= 32 {
		v = c.Value
	} else {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			panic(err) // crypto/rand does not fail on supported systems
		}
		v = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: preCookie, Value: v, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	}
	return s.preMAC(v)
}

func (s *Server) preMAC(v string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("cpis console pre-session\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validPreCSRF reports whether the form's token matches the browser's
// pre-session cookie.
func (s *Server) validPreCSRF(r *http.Request, token string) bool {
	c, err := r.Cookie(preCookie)
	if err != nil || c.Value == "" || token == "" {
		return false
	}
	return hmac.Equal([]byte(token), []byte(s.preMAC(c.Value)))
}

// firstPartToken reads the first part of a multipart form, which must be
// the "csrf" field, and returns its value and the reader of the rest; ""
// when the first part is anything else.
func firstPartToken(r *http.Request) (string, *multipart.Reader) {
	mr, err := r.MultipartReader()
	if err != nil {
		return "", nil
	}
	p, err := mr.NextPart()
	if err != nil || p.FormName() != "csrf" || p.FileName() != "" {
		return "", nil
	}
	b, err := io.ReadAll(io.LimitReader(p, 256))
	if err != nil {
		return "", nil
	}
	return string(b), mr
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
