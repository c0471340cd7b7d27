package store

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/ssh"
)

// Buckets of SFTP access: the LA public keys and the session audit (doc.go).
var (
	bKeys      = bucket("sftp_keys")
	bSFTPAudit = bucket("sftp_audit")
)

// ErrKeyInUse means a public key is already registered for another LA: a
// key opens one mailbox only.
var ErrKeyInUse = errors.New("key already registered for another LA")

// Key is an LA public key allowed to log in to the LA's mailbox over SFTP.
type Key struct {
	Fingerprint   string    `json:"fingerprint"` // ssh.FingerprintSHA256, "SHA256:..."
	LA            string    `json:"la"`
	MailboxID     string    `json:"mailbox_id"`
	Type          string    `json:"type"`           // e.g. "ssh-ed25519"
	AuthorizedKey string    `json:"authorized_key"` // one authorized_keys line, without comment
	Comment       string    `json:"comment,omitempty"`
	Added         time.Time `json:"added"`
}

// AddKey registers key for LA la, whose mailbox is mailboxID, and returns
// its fingerprint. Adding a key the LA already has changes nothing; a key
// registered for another LA is refused with ErrKeyInUse.
func (t *Tx) AddKey(la, mailboxID string, key ssh.PublicKey, comment string, at time.Time) (string, error) {
	if la == "" || mailboxID == "" || key == nil {
		return "", fmt.Errorf("add key: LA, mailbox and key are required")
	}
	fp := ssh.FingerprintSHA256(key)
	b := t.b(bKeys)
	var old Key
	if ok, err := getJSON(b, []byte(fp), &old); err != nil {
		return "", fmt.Errorf("add key %s: %w", fp, err)
	} else if ok {
		if old.LA != la {
			return "", fmt.Errorf("add key %s for LA %s: %w (LA %s)", fp, la, ErrKeyInUse, old.LA)
		}
		return fp, nil
	}
	k := Key{
		Fingerprint:   fp,
		LA:            la,
		MailboxID:     strings.ToUpper(mailboxID),
		Type:          key.Type(),
		AuthorizedKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))),
		Comment:       comment,
		Added:         at.UTC(),
	}
	if err := putJSON(b, []byte(fp), k); err != nil {
		return "", fmt.Errorf("add key %s: %w", fp, err)
	}
	return fp, nil
}

// RemoveKey removes the key with fingerprint from LA la's keys. It reports
// false when la has no such key (a key of another LA is left alone).
func (t *Tx) RemoveKey(la, fingerprint string) (bool, error) {
	b := t.b(bKeys)
	var k Key
	ok, err := getJSON(b, []byte(fingerprint), &k)
	if err != nil || !ok || k.LA != la {
		return false, err
	}
	if err := b.Delete([]byte(fingerprint)); err != nil {
		return false, fmt.Errorf("remove key %s: %w", fingerprint, err)
	}
	return true, nil
}

// Keys returns the keys of LA la ("" for every LA), by LA, then date
// added, then fingerprint.
func (t *Tx) Keys(la string) ([]Key, error) {
	var out []Key
	err := t.b(bKeys).ForEach(func(k, v []byte) error {
		var key Key
		if err := jsonUnmarshal(v, &key); err != nil {
			return fmt.Errorf("decode key %s: %w", k, err)
		}
		if la == "" || key.LA == la {
			out = append(out, key)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.LA != b.LA {
			return a.LA < b.LA
		}
		if !a.Added.Equal(b.Added) {
			return a.Added.Before(b.Added)
		}
		return a.Fingerprint < b.Fingerprint
	})
	return out, err
}

// MailboxForKey returns the mailbox ID key is registered for; ok is false
// for a key not registered (or a record that cannot be read).
func (t *Tx) MailboxForKey(key ssh.PublicKey) (mailboxID string, ok bool) {
	var k Key
	found, err := getJSON(t.b(bKeys), []byte(ssh.FingerprintSHA256(key)), &k)
	if err != nil || !found {
		return "", false
	}
	return k.MailboxID, true
}

// MailboxForKey looks key up in its own read transaction, so that a DB
// serves as the SFTP server's key store (mesh/sftpd.KeyStore).
func (db *DB) MailboxForKey(key ssh.PublicKey) (mailboxID string, ok bool, err error) {
	err = db.View(func(tx *Tx) error {
		mailboxID, ok = tx.MailboxForKey(key)
		return nil
	})
	return mailboxID, ok, err
}

// SFTPEvent is one entry of the SFTP session audit: who did what to which
// path, as the client named it, and how it ended. Never file content.
type SFTPEvent struct {
	At          time.Time `json:"at"`
	Session     uint64    `json:"session"`      // connection number, per server start
	Kind        string    `json:"kind"`         // login, upload, download, delete, rename, refusal, logout
	Op          string    `json:"op,omitempty"` // for a refusal: what was attempted
	MailboxID   string    `json:"mailbox_id,omitempty"`
	User        string    `json:"user,omitempty"` // the user name the client gave
	Remote      string    `json:"remote,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Path        string    `json:"path,omitempty"`
	Target      string    `json:"target,omitempty"` // rename target
	Bytes       int64     `json:"bytes,omitempty"`
	Outcome     string    `json:"outcome"` // ok, refused, failed
	Reason      string    `json:"reason,omitempty"`
}

// AuditSFTP appends e to the SFTP audit.
func (t *Tx) AuditSFTP(e SFTPEvent) error {
	b := t.b(bSFTPAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("sftp audit: %w", err)
	}
	e.At = e.At.UTC()
	return putJSON(b, u64(seq), e)
}

// SFTPAuditEvents calls fn for each SFTP audit event, oldest first.
func (t *Tx) SFTPAuditEvents(fn func(SFTPEvent) error) error {
	return t.b(bSFTPAudit).ForEach(func(k, v []byte) error {
		var e SFTPEvent
		if err := jsonUnmarshal(v, &e); err != nil {
			return fmt.Errorf("decode sftp audit %x: %w", k, err)
		}
		return fn(e)
	})
}

// AuditSFTP appends e to the SFTP audit in a write transaction of its own,
// batched with concurrent calls (bbolt's Batch), so that sessions writing
// events at once share one commit.
func (db *DB) AuditSFTP(e SFTPEvent) error {
	return db.bolt.Batch(func(tx *bolt.Tx) error { return (&Tx{tx: tx}).AuditSFTP(e) })
}
