package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Buckets of the MESH API's accounts (doc.go).
var (
	bMeshCreds     = bucketSince("mesh_creds")
	bMeshPasswords = bucketSince("mesh_passwords")
	bMeshMailboxes = bucketSince("mesh_mailboxes")
	bMeshAcks      = bucketSince("mesh_acks")
)

// kMeshKey is the shared key's entry in mesh_creds.
var kMeshKey = []byte("shared_key")

// ErrNoMeshKey reports a store that has no MESH shared key yet (made
// before cpis knew of one): `cpis mesh key` makes it.
var ErrNoMeshKey = errors.New("no MESH shared key")

// meshGeneration counts the commits, in this process, that changed the
// MESH shared key or a password: a cache of the credentials reloads when
// it moves (MeshCredentialsGeneration).
var meshGeneration atomic.Uint64

// MeshCredentialsGeneration returns a number that changes every time a
// transaction of this process that changed the MESH shared key or a
// mailbox password commits. The MESH API caches the credentials in memory
// and reloads them when it differs from the one it loaded them at.
func MeshCredentialsGeneration() uint64 { return meshGeneration.Load() }

func (t *Tx) meshChanged() { t.tx.OnCommit(func() { meshGeneration.Add(1) }) }

// MeshMailbox is an LA mailbox that logs in to the MESH API: when its
// password was set, its last handshake and the client it reported there.
// Never its password (kept apart, in mesh_passwords).
type MeshMailbox struct {
	MailboxID     string    `json:"mailbox_id"`
	LA            string    `json:"la"`
	PasswordSet   time.Time `json:"password_set"`
	LastHandshake time.Time `json:"last_handshake,omitzero"`
	ClientVersion string    `json:"client_version,omitempty"` // mex-ClientVersion
	OSName        string    `json:"os_name,omitempty"`        // mex-OSName
	OSVersion     string    `json:"os_version,omitempty"`     // mex-OSVersion
}

// newSecret returns n random bytes as lower-case hex.
func newSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// MeshKey returns the environment's MESH shared key; ok is false when the
// store has none yet.
func (t *Tx) MeshKey() (key string, ok bool) {
	v := t.b(bMeshCreds).Get(kMeshKey)
	return string(v), v != nil
}

// EnsureMeshKey returns the MESH shared key, making one (32 random bytes,
// as 64 hex characters) when the store has none; made says it did.
func (t *Tx) EnsureMeshKey(at time.Time) (key string, made bool, err error) {
	if k, ok := t.MeshKey(); ok {
		return k, false, nil
	}
	k, err := t.RotateMeshKey(at)
	return k, err == nil, err
}

// RotateMeshKey makes a new MESH shared key, replacing the old one, and
// audits it (never the key itself). Every MESH client then needs the new
// key.
func (t *Tx) RotateMeshKey(at time.Time) (string, error) {
	k := newSecret(32)
	if err := t.b(bMeshCreds).Put(kMeshKey, []byte(k)); err != nil {
		return "", fmt.Errorf("mesh key: %w", err)
	}
	t.meshChanged()
	return k, t.Audit(AuditEvent{At: at, Action: "mesh.key_made"})
}

// NewMeshPassword returns a new random MESH password (24 random bytes as
// 48 hex characters).
func NewMeshPassword() []byte { return []byte(newSecret(24)) }

// SetMeshPassword sets the MESH password of LA la's mailbox mailboxID
// (replacing any) and audits it (never the password). An empty password
// is refused.
func (t *Tx) SetMeshPassword(la, mailboxID string, password []byte, at time.Time) error {
	mailboxID = strings.ToUpper(mailboxID)
	if la == "" || mailboxID == "" {
		return fmt.Errorf("set mesh password: LA and mailbox are required")
	}
	if len(bytes.TrimSpace(password)) == 0 {
		return fmt.Errorf("set mesh password of %s: the password is empty", mailboxID)
	}
	mb, _, err := t.MeshMailbox(mailboxID)
	if err != nil {
		return err
	}
	mb.MailboxID, mb.LA, mb.PasswordSet = mailboxID, la, at.UTC()
	if err := t.b(bMeshPasswords).Put([]byte(mailboxID), append([]byte(nil), password...)); err != nil {
		return fmt.Errorf("set mesh password of %s: %w", mailboxID, err)
	}
	if err := putJSON(t.b(bMeshMailboxes), []byte(mailboxID), mb); err != nil {
		return fmt.Errorf("set mesh password of %s: %w", mailboxID, err)
	}
	t.meshChanged()
	return t.Audit(AuditEvent{At: at, Action: "mesh.password_set", LA: la, Note: mailboxID})
}

// MeshMailbox returns the MESH record of mailboxID; ok is false when it
// has no password.
func (t *Tx) MeshMailbox(mailboxID string) (mb MeshMailbox, ok bool, err error) {
	ok, err = getJSON(t.b(bMeshMailboxes), []byte(strings.ToUpper(mailboxID)), &mb)
	if err != nil {
		return MeshMailbox{}, false, fmt.Errorf("mesh mailbox %s: %w", mailboxID, err)
	}
	return mb, ok, nil
}

// MeshMailboxes returns the mailboxes that have a MESH password, by
// mailbox ID.
func (t *Tx) MeshMailboxes() ([]MeshMailbox, error) {
	var out []MeshMailbox
	err := t.b(bMeshMailboxes).ForEach(func(k, v []byte) error {
		var mb MeshMailbox
		if err := jsonUnmarshal(v, &mb); err != nil {
			return fmt.Errorf("decode mesh mailbox %s: %w", k, err)
		}
		out = append(out, mb)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].MailboxID < out[j].MailboxID })
	return out, err
}

// MeshCredentials returns the shared key (nil when none) and the password
// of every mailbox that has one, by upper-case mailbox ID: what the MESH
// API checks a request's token against.
func (t *Tx) MeshCredentials() (key []byte, passwords map[string][]byte, err error) {
	if k, ok := t.MeshKey(); ok {
		key = []byte(k)
	}
	passwords = map[string][]byte{}
	err = t.b(bMeshPasswords).ForEach(func(k, v []byte) error {
		passwords[string(k)] = append([]byte(nil), v...)
		return nil
	})
	return key, passwords, err
}

// RecordMeshHandshake records that mailboxID shook hands at at, reporting
// its client. A mailbox without a MESH record (no password) is left
// alone.
func (t *Tx) RecordMeshHandshake(mailboxID, clientVersion, osName, osVersion string, at time.Time) error {
	mb, ok, err := t.MeshMailbox(mailboxID)
	if err != nil || !ok {
		return err
	}
	mb.LastHandshake, mb.ClientVersion, mb.OSName, mb.OSVersion = at.UTC(), clientVersion, osName, osVersion
	return putJSON(t.b(bMeshMailboxes), []byte(mb.MailboxID), mb)
}

func meshAckKey(mailboxID, messageID string) []byte {
	return concat([]byte(strings.ToUpper(mailboxID)), []byte{0}, []byte(messageID))
}

// RecordMeshAck records that mailboxID acknowledged message messageID over
// the MESH API at at, so that a retried acknowledgement is answered as
// done.
func (t *Tx) RecordMeshAck(mailboxID, messageID string, at time.Time) error {
	return putJSON(t.b(bMeshAcks), meshAckKey(mailboxID, messageID), at.UTC())
}

// MeshAck returns when mailboxID acknowledged messageID; ok is false when
// it has not.
func (t *Tx) MeshAck(mailboxID, messageID string) (at time.Time, ok bool, err error) {
	ok, err = getJSON(t.b(bMeshAcks), meshAckKey(mailboxID, messageID), &at)
	return at, ok, err
}
