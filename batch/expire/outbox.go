package expire

import (
	"fmt"
	"time"

	"cpis/mesh/local"
	"cpis/store"
)

// Outbox ages (mailboxes.md): a message not collected within 5 days is
// undelivered (MESH status 14) and stays for the reports; after 30 days it
// moves to archive/<MAILBOX ID>/out.
const (
	UndeliveredAfter = 5 * 24 * time.Hour
	ArchiveAfter     = 30 * 24 * time.Hour
)

// ArchiveUncollected moves every outbox message older than ArchiveAfter
// (by the data file's modification time) into its mailbox's archive, data
// file then control file, and audits each move. It returns how many moved.
func ArchiveUncollected(dataDir string, db *store.DB, now time.Time) (int, error) {
	var las []store.Authority
	if err := db.View(func(tx *store.Tx) error {
		var err error
		las, err = tx.Authorities()
		return err
	}); err != nil {
		return 0, err
	}
	moved := 0
	for _, a := range las {
		mb := local.Open(dataDir, a.MailboxID)
		files, err := mb.Outbox()
		if err != nil {
			return moved, err
		}
		for _, f := range files {
			if now.Sub(f.ModTime) < ArchiveAfter {
				continue
			}
			if _, _, err := mb.ArchiveOutbox(f.Name); err != nil {
				return moved, fmt.Errorf("archive uncollected %s/%s: %w", a.MailboxID, f.Name, err)
			}
			moved++
			if err := db.Update(func(tx *store.Tx) error {
				return tx.Audit(store.AuditEvent{At: now, Action: "outbox.archived_uncollected", LA: a.Code, Note: f.Name})
			}); err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}
