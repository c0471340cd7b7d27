package store

import (
	"fmt"
	"time"
)

// AuditEvent records one change to the store: what happened, to which LA
// and message, and counts. Never personal data.
type AuditEvent struct {
	At        time.Time      `json:"at"`
	Action    string         `json:"action"`
	LA        string         `json:"la,omitempty"`
	MessageID string         `json:"message_id,omitempty"`
	Counts    map[string]int `json:"counts,omitempty"`
	Note      string         `json:"note,omitempty"`
}

// Audit appends e to the audit log.
func (t *Tx) Audit(e AuditEvent) error {
	b := t.b(bAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	e.At = e.At.UTC()
	return putJSON(b, u64(seq), e)
}

// AuditEvents calls fn for each audit event, oldest first.
func (t *Tx) AuditEvents(fn func(AuditEvent) error) error {
	return t.b(bAudit).ForEach(func(k, v []byte) error {
		var e AuditEvent
		if err := jsonUnmarshal(v, &e); err != nil {
			return fmt.Errorf("decode audit %x: %w", k, err)
		}
		return fn(e)
	})
}

// SFTPAuditRetention is how long SFTP audit events are kept, as row
// outcomes are.
const SFTPAuditRetention = 90 * 24 * time.Hour

// PurgeSFTPAudit removes the SFTP audit events before cutoff and returns
// how many. Events are appended in time order, give or take the few
// milliseconds of concurrent sessions, so it stops at the first event at
// or after cutoff: a straggler a little older is removed by the next run.
func (t *Tx) PurgeSFTPAudit(cutoff time.Time) (int, error) {
	b := t.b(bSFTPAudit)
	var old [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var e SFTPEvent
		if err := jsonUnmarshal(v, &e); err != nil {
			return 0, fmt.Errorf("decode sftp audit %x: %w", k, err)
		}
		if !e.At.Before(cutoff) {
			break
		}
		old = append(old, append([]byte(nil), k...))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("purge sftp audit: %w", err)
		}
	}
	return len(old), nil
}
