package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bWebAudit is the audit of the web pages (doc.go).
var bWebAudit = bucketSince("web_audit")

// WebAuditRetention is how long web audit events are kept, as the SFTP
// and MESH API audits are.
const WebAuditRetention = 90 * 24 * time.Hour

// WebEvent is one entry of the web audit: who did what from where. Never a
// password, a token, a TOTP code or secret, or file content.
type WebEvent struct {
	At     time.Time `json:"at"`
	User   string    `json:"user,omitempty"`   // the email of the person acting (or named, on a failed login)
	Remote string    `json:"remote,omitempty"` // the client's address
	Action string    `json:"action"`           // login, login.failed, login.throttled, logout, setup.opened, ...
	Detail string    `json:"detail,omitempty"`
}

// AuditWeb appends e to the web audit, keyed by its time (8 bytes, Unix
// nanoseconds) and a sequence number.
func (t *Tx) AuditWeb(e WebEvent) error {
	b := t.b(bWebAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("web audit: %w", err)
	}
	e.At = e.At.UTC()
	return putJSON(b, concat(timeKey(e.At), u64(seq)), e)
}

// AuditWeb appends e to the web audit in a write transaction shared with
// concurrent calls (bbolt's Batch).
func (db *DB) AuditWeb(e WebEvent) error {
	return db.bolt.Batch(func(tx *bolt.Tx) error { return (&Tx{tx: tx}).AuditWeb(e) })
}

// WebAuditEvents calls fn for each web audit event at or after since,
// oldest first.
func (t *Tx) WebAuditEvents(since time.Time, fn func(WebEvent) error) error {
	return eachSince(t.b(bWebAudit), since, func(k, v []byte) error {
		var e WebEvent
		if err := jsonUnmarshal(v, &e); err != nil {
			return fmt.Errorf("decode web audit %x: %w", k, err)
		}
		return fn(e)
	})
}

// PurgeWebAudits removes the web audit events before cutoff and reports
// how many.
func (t *Tx) PurgeWebAudits(cutoff time.Time) (int, error) {
	return purgeBefore(t.b(bWebAudit), cutoff)
}
