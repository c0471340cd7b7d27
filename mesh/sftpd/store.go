package sftpd

import (
	"log/slog"

	"cpis/store"
)

// *store.DB is a KeyStore: the keys added with `cpis keys add`.
var _ KeyStore = (*store.DB)(nil)

// StoreAudit returns an Audit function that appends each event to db's
// SFTP audit (bucket sftp_audit). An event that cannot be written is
// logged on log (nil: dropped silently); the session goes on.
func StoreAudit(db *store.DB, log *slog.Logger) func(Event) {
	return func(e Event) {
		if err := db.AuditSFTP(store.SFTPEvent(e)); err != nil && log != nil {
			log.Error("sftp audit", "kind", e.Kind, "mailbox", e.MailboxID, "err", err)
		}
	}
}
