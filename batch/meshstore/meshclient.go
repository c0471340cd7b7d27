package meshstore

import (
	"log/slog"
	"time"

	"cpis/batch/meshjobs"
	"cpis/store"
)

// MeshClientConfig returns the config of meshjobs.Pull and meshjobs.Push
// over the data directory dataDir and its store db: records and audit
// times by now, pulled messages bounded by sizeLimit (0: the default).
func MeshClientConfig(dataDir string, db *store.DB, now func() time.Time, log *slog.Logger, sizeLimit int64) meshjobs.Config {
	return meshjobs.Config{DataDir: dataDir, Store: MeshClientStore{DB: db}, Now: now, Log: log, SizeLimit: sizeLimit}
}

// MeshClientStore is the store as the MESH pull and push read and record
// it: the hub's MESH connection and handshake, the authorities and their
// remotes, the ledgers of messages pulled and pushed, collections and the
// audit.
type MeshClientStore struct {
	DB *store.DB
}

var _ meshjobs.Store = MeshClientStore{}

// Conn returns the hub's MESH connection and its last handshake.
func (s MeshClientStore) Conn() (c store.MeshConn, last time.Time, ok bool, err error) {
	err = s.DB.View(func(tx *store.Tx) error {
		if c, ok, err = tx.MeshConn(); err != nil || !ok {
			return err
		}
		last, err = tx.MeshHandshake()
		return err
	})
	return c, last, ok, err
}

// RecordHandshake records a successful handshake at time at, with the
// audit event mesh_handshake.
func (s MeshClientStore) RecordHandshake(at time.Time) error {
	return s.DB.Update(func(tx *store.Tx) error {
		if err := tx.RecordMeshConnHandshake(at); err != nil {
			return err
		}
		c, _, err := tx.MeshConn()
		if err != nil {
			return err
		}
		return tx.Audit(store.AuditEvent{At: at, Action: "mesh_handshake", Note: c.Mailbox})
	})
}

// Mailboxes returns the hub's LAs, each saying whether it has an SFTP
// remote mailbox.
func (s MeshClientStore) Mailboxes() ([]meshjobs.Mailbox, error) {
	var out []meshjobs.Mailbox
	err := s.DB.View(func(tx *store.Tx) error {
		las, err := tx.Authorities()
		if err != nil {
			return err
		}
		for _, a := range las {
			_, remote, err := tx.Remote(a.Code)
			if err != nil {
				return err
			}
			out = append(out, meshjobs.Mailbox{LA: a.Code, MailboxID: a.MailboxID, Remote: remote})
		}
		return nil
	})
	return out, err
}

// Pulled returns the record of MESH message id.
func (s MeshClientStore) Pulled(id string) (p store.MeshPulled, ok bool, err error) {
	err = s.DB.View(func(tx *store.Tx) error {
		p, ok, err = tx.MeshPulled(id)
		return err
	})
	return p, ok, err
}

// RecordPulled records p, with the audit event mesh_pulled or
// mesh_unrouted when its state becomes put or unrouted.
func (s MeshClientStore) RecordPulled(p store.MeshPulled) error {
	return s.DB.Update(func(tx *store.Tx) error {
		old, found, err := tx.MeshPulled(p.MessageID)
		if err != nil {
			return err
		}
		if err := tx.RecordMeshPulled(p); err != nil {
			return err
		}
		if found && old.State == p.State {
			return nil
		}
		switch p.State {
		case store.MeshPulledPut:
			return tx.Audit(store.AuditEvent{At: p.At, Action: "mesh_pulled", LA: p.LA, MessageID: p.MessageID,
				Note: p.Name, Counts: map[string]int{"bytes": int(p.Size)}})
		case store.MeshPulledUnrouted:
			return tx.Audit(store.AuditEvent{At: p.At, Action: "mesh_unrouted", MessageID: p.MessageID,
				Note: p.From + " " + p.Workflow + ": " + p.Reason, Counts: map[string]int{"bytes": int(p.Size)}})
		}
		return nil
	})
}

// Taken reports whether the ingest has taken a return of LA la with
// message ID id.
func (s MeshClientStore) Taken(la, id string) (ok bool, err error) {
	err = s.DB.View(func(tx *store.Tx) error {
		_, ok, err = tx.MessageByID(la, id)
		return err
	})
	return ok, err
}

// Pushed returns the record of LA la's outbox message id.
func (s MeshClientStore) Pushed(la, id string) (p store.MeshPushed, ok bool, err error) {
	err = s.DB.View(func(tx *store.Tx) error {
		p, ok, err = tx.MeshPushed(la, id)
		return err
	})
	return p, ok, err
}

// RecordPushed records p; when its state becomes sent, also the
// collection of its data file (by MESH) and the audit event mesh_pushed,
// in the same transaction.
func (s MeshClientStore) RecordPushed(p store.MeshPushed) error {
	return s.DB.Update(func(tx *store.Tx) error {
		old, found, err := tx.MeshPushed(p.LA, p.MessageID)
		if err != nil {
			return err
		}
		if err := tx.RecordMeshPushed(p); err != nil {
			return err
		}
		if p.State != store.MeshPushSent || (found && old.State == store.MeshPushSent) {
			return nil
		}
		if err := tx.RecordCollection(store.Collection{LA: p.LA, MailboxID: p.To, Name: p.Name, At: p.At, By: store.CollectedByMESH}); err != nil {
			return err
		}
		return tx.Audit(store.AuditEvent{At: p.At, Action: "mesh_pushed", LA: p.LA, MessageID: p.MessageID,
			Note: p.Name + " as " + p.MeshID, Counts: map[string]int{"bytes": int(p.Size)}})
	})
}
