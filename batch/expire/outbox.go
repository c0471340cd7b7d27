package expire

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
)

// Outbox ages (mesh/mailboxes.md, "Outbox aging"): a message not collected within 5 days is
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
	// One LA's broken outbox does not keep the others' messages from the
	// archive: each LA is tried, the failures returned together.
	moved := 0
	var failed []error
	for _, a := range las {
		n, err := archiveUncollected(db, a, local.Open(dataDir, a.MailboxID), now)
		moved += n
		if err != nil {
			failed = append(failed, &mesh.LAError{LA: a.Code, Err: err})
		}
	}
	return moved, errors.Join(failed...)
}

// archiveUncollected moves LA a's outbox messages (mailbox mb) older than
// ArchiveAfter to the archive, and the control files left alone.
func archiveUncollected(db *store.DB, a store.Authority, mb *local.Mailbox, now time.Time) (int, error) {
	moved := 0
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
	// A control file whose data file has left without it (a run killed
	// between the two moves of ArchiveOutbox) follows it once it is as
	// old: an LA's collector must never find a control file alone.
	orphans, err := orphanControls(mb, files, now)
	if err != nil {
		return moved, err
	}
	for _, name := range orphans {
		if _, _, err := mb.ArchiveOutbox(name); err != nil {
			return moved, fmt.Errorf("archive uncollected %s/%s: %w", a.MailboxID, name, err)
		}
		moved++
		if err := db.Update(func(tx *store.Tx) error {
			return tx.Audit(store.AuditEvent{At: now, Action: "outbox.archived_uncollected", LA: a.Code, Note: name})
		}); err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// orphanControls returns the control files of mb's outbox that pair with
// none of its data files (listed in files, before any was moved) and were
// last modified ArchiveAfter or more before now.
func orphanControls(mb *local.Mailbox, files []local.OutFile, now time.Time) ([]string, error) {
	paired := map[string]bool{}
	for _, f := range files {
		paired[strings.ToLower(mesh.ControlName(f.Name))] = true
	}
	des, err := os.ReadDir(mb.OutboxDir())
	if err != nil {
		return nil, fmt.Errorf("list outbox %s: %w", mb.ID(), err)
	}
	var out []string
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() || !mesh.IsControlName(name) || mesh.IsTempName(name) || paired[strings.ToLower(name)] {
			continue
		}
		info, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // collected since
		}
		if err != nil {
			return nil, err
		}
		if now.Sub(info.ModTime()) >= ArchiveAfter {
			out = append(out, name)
		}
	}
	return out, nil
}

// Undelivered is a message not collected within UndeliveredAfter: its data
// file still waits in the LA's outbox (MESH status 14).
type Undelivered struct {
	LA        string
	MailboxID string
	File      string
	// MessageID is the DTSId of the message's control file; "" when it
	// has none or it cannot be read (the file name still names it).
	MessageID string
	Size      int64
	// Since is when the message was put in the outbox (the data file's
	// modification time).
	Since time.Time
}

// OutboxAt reads the outbox of LA a at instant now: how many messages wait
// there uncollected (a collection deletes the file: every data file there
// is uncollected) and those that have waited more than UndeliveredAfter,
// by file name. A mailbox whose folder was never made has nothing waiting.
func OutboxAt(dataDir string, a store.Authority, now time.Time) (uncollected int, undelivered []Undelivered, err error) {
	mb := local.Open(dataDir, a.MailboxID)
	files, err := mb.Outbox()
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	for _, f := range files {
		if now.Sub(f.ModTime) <= UndeliveredAfter {
			continue
		}
		u := Undelivered{LA: a.Code, MailboxID: a.MailboxID, File: f.Name, Size: f.Size, Since: f.ModTime}
		if f.HasControl {
			u.MessageID = controlID(filepath.Join(mb.OutboxDir(), mesh.ControlName(f.Name)))
		}
		undelivered = append(undelivered, u)
	}
	return len(files), undelivered, nil
}

// controlID returns the message ID in a control file ("" when it cannot
// be read: the file name still identifies the message).
func controlID(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	c, err := mesh.ParseControl(f)
	if err != nil {
		return ""
	}
	return c.DTSID
}
