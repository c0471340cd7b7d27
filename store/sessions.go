package store

import (
	"fmt"
	"time"
)

// bWebSessions holds the web sessions (doc.go).
var bWebSessions = bucketSince("web_sessions")

// WebSession is a logged-in browser: whose, since when, and when it ends
// unless used again. It is keyed by the SHA-256 of its token; the token
// itself is only ever in the browser's cookie.
type WebSession struct {
	Email    string    `json:"email"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
	Remote   string    `json:"remote,omitempty"`
}

// WebSession returns the session whose token has the hash (hex SHA-256).
func (t *Tx) WebSession(hash string) (WebSession, bool, error) {
	var s WebSession
	ok, err := getJSON(t.b(bWebSessions), []byte(hash), &s)
	if err != nil {
		return WebSession{}, false, fmt.Errorf("web session: %w", err)
	}
	return s, ok, nil
}

// PutWebSession adds or replaces the session under hash.
func (t *Tx) PutWebSession(hash string, s WebSession) error {
	return putJSON(t.b(bWebSessions), []byte(hash), s)
}

// DeleteWebSession ends the session under hash (nothing when none).
func (t *Tx) DeleteWebSession(hash string) error {
	return t.b(bWebSessions).Delete([]byte(hash))
}

// DeleteWebSessions ends every session of email and reports how many.
func (t *Tx) DeleteWebSessions(email string) (int, error) {
	return t.deleteSessions(func(s WebSession) bool { return s.Email == email })
}

// PurgeWebSessions removes the sessions expired at now and reports how many.
func (t *Tx) PurgeWebSessions(now time.Time) (int, error) {
	return t.deleteSessions(func(s WebSession) bool { return !s.Expires.After(now) })
}

func (t *Tx) deleteSessions(match func(WebSession) bool) (int, error) {
	b := t.b(bWebSessions)
	var keys [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		var s WebSession
		if err := jsonUnmarshal(v, &s); err != nil {
			return fmt.Errorf("decode web session: %w", err)
		}
		if match(s) {
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	}); err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("delete web session: %w", err)
		}
	}
	return len(keys), nil
}
