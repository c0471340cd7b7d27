// Package meshstore is the store as the mesh transports need it: it fills
// the interfaces of mesh/remote (Store), mesh/sftpd (KeyStore, Audit,
// OnCollected) and mesh/meshapi (MeshAPI: Accounts, Router, Inbox,
// Tracking, Directory) from the hub's *store.DB and mailbox folders,
// converting the mesh packages' records to the store's, and builds the
// configs the daemon starts them with. The mesh packages import nothing of the store; this package is
// where the two meet.
package meshstore

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"cpis/mesh/remote"
	"cpis/mesh/sftpd"
	"cpis/store"
)

// RemoteConfig returns the config of remote.Pull and remote.Push over the
// data directory dataDir and its store db: records and audit times by
// now, pulled files bounded by sizeLimit (0: the default).
func RemoteConfig(dataDir string, db *store.DB, now func() time.Time, log *slog.Logger, sizeLimit int64) remote.Config {
	return remote.Config{DataDir: dataDir, Store: RemoteStore{DB: db}, Now: now, Log: log, SizeLimit: sizeLimit}
}

// SFTPConfig returns the config of the hub's SFTP server over the data
// directory dataDir and its store db: the keys added with `cpis keys add`
// open the mailboxes, every session event goes to the SFTP audit, and a
// message an LA collects is recorded at now. Uploads are bounded by
// sizeLimit (0: the default).
func SFTPConfig(dataDir string, db *store.DB, hostKey ssh.Signer, now func() time.Time, log *slog.Logger, sizeLimit int64) sftpd.Config {
	return sftpd.Config{DataDir: dataDir, HostKey: hostKey, Keys: db, Audit: SFTPAudit(db, log), SizeLimit: sizeLimit,
		OnCollected: Collected(db, now, log), Log: log}
}

// RemoteStore is the store as remote.Pull and remote.Push read and record
// it: the remotes bucket, the authorities' mailbox IDs, the records of
// files pulled and pushed, collections and the audit.
type RemoteStore struct {
	DB *store.DB
}

var _ remote.Store = RemoteStore{}

// Remotes returns the remote mailboxes of las (all when empty), by LA
// code, each with its LA's mailbox ID ("" for an LA that is not one of the
// hub's authorities).
func (s RemoteStore) Remotes(las []string) ([]remote.Remote, error) {
	want := map[string]bool{}
	for _, c := range las {
		want[c] = true
	}
	var out []remote.Remote
	err := s.DB.View(func(tx *store.Tx) error {
		all, err := tx.Remotes()
		if err != nil {
			return err
		}
		for _, r := range all {
			if len(want) > 0 && !want[r.LA] {
				continue
			}
			a, ok, err := tx.Authority(r.LA)
			if err != nil {
				return err
			}
			rm := remote.Remote{LA: r.LA, Addr: r.Addr, User: r.User, KeyFile: r.KeyFile, Inbox: r.Inbox, Outbox: r.Outbox}
			if ok {
				rm.MailboxID = a.MailboxID
			}
			out = append(out, rm)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Pulled returns the record of the remote file version f names.
func (s RemoteStore) Pulled(f remote.PulledFile) (rec remote.PulledFile, ok bool, err error) {
	err = s.DB.View(func(tx *store.Tx) error {
		p, found, err := tx.Pulled(f.LA, f.Path, f.Size, f.ModTime, f.SHA256)
		rec, ok = remote.PulledFile(p), found
		return err
	})
	return rec, ok, err
}

// RecordPulled adds or replaces the record of f.
func (s RemoteStore) RecordPulled(f remote.PulledFile) error {
	return s.DB.Update(func(tx *store.Tx) error { return tx.RecordPulled(store.PulledFile(f)) })
}

// RecordDelivered records f (Delivered) and the audit event
// "remote_pulled" (its local name, its bytes) at time at.
func (s RemoteStore) RecordDelivered(f remote.PulledFile, at time.Time) error {
	return s.DB.Update(func(tx *store.Tx) error {
		if err := tx.RecordPulled(store.PulledFile(f)); err != nil {
			return err
		}
		return tx.Audit(store.AuditEvent{At: at, Action: "remote_pulled", LA: f.LA, Note: f.Name,
			Counts: map[string]int{"bytes": int(f.Size)}})
	})
}

// Pushed returns the latest delivery of LA la's outbox file name.
func (s RemoteStore) Pushed(la, name string) (rec remote.PushedFile, ok bool, err error) {
	err = s.DB.View(func(tx *store.Tx) error {
		p, found, err := tx.Pushed(la, name)
		rec, ok = remote.PushedFile(p), found
		return err
	})
	return rec, ok, err
}

// RecordPushed records m's files, its collection (by push) and the audit
// event "remote_pushed" (its data file's name and bytes), unless its data
// file is recorded already with the same size and SHA-256.
func (s RemoteStore) RecordPushed(m remote.PushedMessage) error {
	return s.DB.Update(func(tx *store.Tx) error {
		old, found, err := tx.Pushed(m.LA, m.Data.Name)
		if err != nil {
			return err
		}
		if found && old.Size == m.Data.Size && old.SHA256 == m.Data.SHA256 {
			return nil // recorded by a run cut off before archiving
		}
		for _, f := range []remote.PushedFile{m.Data, m.Control} {
			if err := tx.RecordPushed(store.PushedFile(f)); err != nil {
				return err
			}
		}
		if err := tx.RecordCollection(store.Collection{LA: m.LA, MailboxID: m.MailboxID, Name: m.Data.Name, At: m.At, By: store.CollectedByPush}); err != nil {
			return err
		}
		return tx.Audit(store.AuditEvent{At: m.At, Action: "remote_pushed", LA: m.LA, Note: m.Data.Name,
			Counts: map[string]int{"bytes": int(m.Data.Size)}})
	})
}

// *store.DB is the SFTP server's KeyStore: the keys added with `cpis keys
// add`.
var _ sftpd.KeyStore = (*store.DB)(nil)

// SFTPAudit returns an sftpd Audit function that appends each event to
// db's SFTP audit (bucket sftp_audit). An event that cannot be written is
// logged on log (nil: dropped silently); the session goes on.
func SFTPAudit(db *store.DB, log *slog.Logger) func(sftpd.Event) {
	return func(e sftpd.Event) {
		if err := db.AuditSFTP(store.SFTPEvent(e)); err != nil && log != nil {
			log.Error("sftp audit", "kind", e.Kind, "mailbox", e.MailboxID, "err", err)
		}
	}
}

// Collected returns an sftpd OnCollected function that records, at now,
// that the LA of mailboxID collected the outbox message file over SFTP.
// A collection that cannot be recorded is logged on log (nil: dropped
// silently).
func Collected(db *store.DB, now func() time.Time, log *slog.Logger) func(mailboxID, file string) {
	return func(mailboxID, file string) {
		err := db.Update(func(tx *store.Tx) error {
			las, err := tx.Authorities()
			if err != nil {
				return err
			}
			for _, a := range las {
				if strings.EqualFold(a.MailboxID, mailboxID) {
					return tx.RecordCollection(store.Collection{LA: a.Code, MailboxID: a.MailboxID, Name: file, At: now(), By: store.CollectedBySFTP})
				}
			}
			return fmt.Errorf("no LA has mailbox %s", mailboxID)
		})
		if err != nil && log != nil {
			log.Error("record collection", "mailbox", mailboxID, "file", file, "err", err)
		}
	}
}
