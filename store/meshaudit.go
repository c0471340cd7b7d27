package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bMeshAudit is the MESH API's request audit (doc.go).
var bMeshAudit = bucketSince("mesh_audit")

// MeshAuditRetention is how long MESH audit events are kept.
const MeshAuditRetention = 90 * 24 * time.Hour

// CollectedByMESH is a Collection made over MESH: an LA's acknowledgement
// through the hub's MESH API, or the push job's send to the LA's mailbox at
// a real MESH.
const CollectedByMESH = "mesh"

// MeshEvent is one entry of the MESH API audit: who asked what and how it
// ended. Never a password, a token or content.
type MeshEvent struct {
	At        time.Time `json:"at"`
	Remote    string    `json:"remote,omitempty"`
	Mailbox   string    `json:"mailbox,omitempty"`
	Action    string    `json:"action"` // handshake, send, chunk, deliver, download, acknowledge, refusal, ...
	MessageID string    `json:"message_id,omitempty"`
	Chunk     int       `json:"chunk,omitempty"`
	Bytes     int64     `json:"bytes,omitempty"`
	Status    int       `json:"status,omitempty"` // the HTTP status answered
	Code      string    `json:"code,omitempty"`   // the MESH error code
	Outcome   string    `json:"outcome"`          // ok, refused, failed
	Reason    string    `json:"reason,omitempty"`
}

// AuditMESH appends e to the MESH audit, keyed by its time (8 bytes,
// Unix nanoseconds) and a sequence number.
func (t *Tx) AuditMESH(e MeshEvent) error {
	b := t.b(bMeshAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("mesh audit: %w", err)
	}
	e.At = e.At.UTC()
	return putJSON(b, concat(timeKey(e.At), u64(seq)), e)
}

// AuditMESH appends e to the MESH audit in a write transaction shared
// with concurrent calls (bbolt's Batch), so that requests audited at once
// share one commit.
func (db *DB) AuditMESH(e MeshEvent) error {
	return db.bolt.Batch(func(tx *bolt.Tx) error { return (&Tx{tx: tx}).AuditMESH(e) })
}

// MeshAuditEvents calls fn for each MESH audit event at or after since,
// oldest first.
func (t *Tx) MeshAuditEvents(since time.Time, fn func(MeshEvent) error) error {
	return eachSince(t.b(bMeshAudit), since, func(k, v []byte) error {
		var e MeshEvent
		if err := jsonUnmarshal(v, &e); err != nil {
			return fmt.Errorf("decode mesh audit %x: %w", k, err)
		}
		return fn(e)
	})
}

// PurgeMeshAudits removes the MESH audit events before cutoff and
// reports how many.
func (t *Tx) PurgeMeshAudits(cutoff time.Time) (int, error) {
	return purgeBefore(t.b(bMeshAudit), cutoff)
}
