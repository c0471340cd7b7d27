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
