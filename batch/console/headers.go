package console

import (
	"net/http"
	"strings"
	"sync"
)

// CSP is the Content-Security-Policy of every console response: nothing
// from another origin, no inline script or style, forms posted only to
// the hub, no framing. Images may be data: URLs (the set-up QR code).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every console response carries.
func securityHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// assetHeaders lets browsers keep the embedded assets for a day (they
// change only with the binary).
func assetHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		h.ServeHTTP(w, r)
	})
}

var version = sync.OnceValue(func() string {
	b, err := assetFS.ReadFile("assets/nhsuk/VERSION")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// nhsukVersion is the vendored NHS.UK frontend's version.
func nhsukVersion() string { return version() }
