package console

import (
	"net/url"
	"path"
	"strings"
)

// cleanNext reports whether next, a login's next= page, is a page of this
// console: a path under /la/ or /ops/, with no host or scheme, no
// backslash or line break, and already clean (path.Clean, a trailing
// slash kept), its percent-escapes decoded first. "/la/../ops/" (or
// "/la/%2e%2e/ops/") is refused rather than cleaned: a browser would
// resolve it to another area than it names, and the login then sends the
// user to their home page. That the page is in the user's own area is
// checked at login, against the area of their role.
func cleanNext(next string) bool {
	if strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "//") {
		return false
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil {
		return false
	}
	p := u.Path
	if !strings.HasPrefix(p, "/la/") && !strings.HasPrefix(p, "/ops/") {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") {
		clean += "/"
	}
	return clean == p
}
