package store

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Buckets of the hub's own MESH mailbox and what moved through it
// (doc.go).
var (
	bMeshConn   = bucketSince("mesh_conn")
	bMeshPulled = bucketSince("mesh_client_pulled")
	bMeshPushed = bucketSince("mesh_client_pushed")
)

// Keys of the mesh_conn bucket.
var (
	kMeshConn      = []byte("conn")
	kMeshHandshake = []byte("handshake")
)

// Which LAs the push job serves over MESH (MeshConn.Push).
const (
	// MeshPushAll: every LA without an SFTP remote mailbox.
	MeshPushAll = "all"
	// MeshPushNone: none; MESH is used for pulling only.
	MeshPushNone = "none"
)

// MeshConn is the hub's own mailbox at a real MESH (mesh/meshapi/mesh-api.md, "Client:
// the hub reaching a real MESH mailbox"), as `cpis mesh connect` records
// it. Secrets stay on disk: the record holds the absolute paths of the
// password and shared-key files (read at each run, so a rotated password
// takes effect without reconnecting) and of the TLS files.
type MeshConn struct {
	URL           string `json:"url"` // base URL, without /messageexchange
	Mailbox       string `json:"mailbox"`
	PasswordFile  string `json:"password_file"`
	SharedKeyFile string `json:"shared_key_file"`
	CertFile      string `json:"cert_file,omitempty"` // client certificate (PEM), with KeyFile
	KeyFile       string `json:"key_file,omitempty"`
	CAFile        string `json:"ca_file,omitempty"` // CA certificates trusted for MESH ("" for the system's)
	// ChunkSize is the largest chunk sent, in bytes (0: the client's
	// default).
	ChunkSize int64 `json:"chunk_size,omitempty"`
	// Push names the LAs whose outbox the push job sends over MESH:
	// MeshPushAll (every LA without an SFTP remote mailbox), MeshPushNone,
	// or LA codes separated by commas.
	Push  string    `json:"push"`
	Added time.Time `json:"added"`
}

// PushLAs returns the LA codes c.Push lists, and whether it means every
// LA without a remote (all).
func (c MeshConn) PushLAs() (codes []string, all bool) {
	switch c.Push {
	case "", MeshPushAll:
		return nil, true
	case MeshPushNone:
		return nil, false
	}
	for _, s := range strings.Split(c.Push, ",") {
		if s = strings.TrimSpace(s); s != "" {
			codes = append(codes, s)
		}
	}
	return codes, false
}

// PutMeshConn records the hub's MESH mailbox, replacing the one recorded.
func (t *Tx) PutMeshConn(c MeshConn) error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return fmt.Errorf("put mesh connection: URL %q is not an http(s) URL", c.URL)
	case c.Mailbox == "":
		return fmt.Errorf("put mesh connection: the mailbox is required")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return fmt.Errorf("put mesh connection: a client certificate needs both its certificate and key files")
	case c.ChunkSize < 0:
		return fmt.Errorf("put mesh connection: chunk size %d", c.ChunkSize)
	}
	for _, f := range []struct{ name, path string }{{"password", c.PasswordFile}, {"shared key", c.SharedKeyFile},
		{"certificate", c.CertFile}, {"key", c.KeyFile}, {"CA", c.CAFile}} {
		if (f.name == "password" || f.name == "shared key" || f.path != "") && !filepath.IsAbs(f.path) {
			return fmt.Errorf("put mesh connection: %s file %q is not an absolute path", f.name, f.path)
		}
	}
	if c.Push == "" {
		c.Push = MeshPushAll
	}
	c.Added = c.Added.UTC()
	if err := putJSON(t.b(bMeshConn), kMeshConn, c); err != nil {
		return fmt.Errorf("put mesh connection: %w", err)
	}
	return nil
}

// MeshConn returns the hub's MESH mailbox; ok is false when none is
// recorded.
func (t *Tx) MeshConn() (c MeshConn, ok bool, err error) {
	ok, err = getJSON(t.b(bMeshConn), kMeshConn, &c)
	return c, ok, err
}

// RemoveMeshConn forgets the hub's MESH mailbox and reports whether one
// was recorded. The records of messages pulled and pushed stay.
func (t *Tx) RemoveMeshConn() (bool, error) {
	b := t.b(bMeshConn)
	if b.Get(kMeshConn) == nil {
		return false, nil
	}
	if err := b.Delete(kMeshHandshake); err != nil {
		return false, err
	}
	return true, b.Delete(kMeshConn)
}

// RecordMeshConnHandshake records a successful handshake of the hub's own
// MESH mailbox (the connection) at time at.
func (t *Tx) RecordMeshConnHandshake(at time.Time) error {
	return t.b(bMeshConn).Put(kMeshHandshake, []byte(at.UTC().Format(time.RFC3339Nano)))
}

// MeshHandshake returns the time of the last successful handshake (zero
// when none).
func (t *Tx) MeshHandshake() (time.Time, error) {
	v := t.b(bMeshConn).Get(kMeshHandshake)
	if v == nil {
		return time.Time{}, nil
	}
	at, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}, fmt.Errorf("decode mesh handshake: %w", err)
	}
	return at, nil
}

// States of a message pulled from the hub's MESH inbox (MeshPulled.State).
const (
	// MeshPulledPutting: being put into the LA's inbox folder (the files
	// may or may not be there).
	MeshPulledPutting = "putting"
	// MeshPulledPut: in the LA's inbox folder (or taken from it since).
	MeshPulledPut = "put"
	// MeshPulledUnrouted: not a return of an LA; archived for operations.
	MeshPulledUnrouted = "unrouted"
)

// MeshPulled is a message the pull job took from the hub's MESH inbox,
// recorded (Putting) before its files are written, marked Put (or
// Unrouted) after, and acknowledged at MESH only then: a message with a
// Put or Unrouted record is acknowledged and never put again.
type MeshPulled struct {
	MessageID string `json:"message_id"` // MESH's, kept as the return's DTSId
	From      string `json:"from"`
	Workflow  string `json:"workflow"`
	FileName  string `json:"file_name"` // mex-FileName
	LA        string `json:"la,omitempty"`
	// Name is the data file's name in the LA's inbox folder, or for an
	// unrouted message its path under the data directory.
	Name   string    `json:"name"`
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"` // hex, of the content
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"` // why it was not routed
	At     time.Time `json:"at"`
	// Acknowledged says MESH was told (the message left the MESH inbox).
	Acknowledged bool `json:"acknowledged,omitempty"`
}

// RecordMeshPulled adds or replaces the record of MESH message p.MessageID.
func (t *Tx) RecordMeshPulled(p MeshPulled) error {
	if p.MessageID == "" || p.State == "" {
		return fmt.Errorf("record mesh pulled: message ID %q, state %q", p.MessageID, p.State)
	}
	p.At = p.At.UTC()
	return putJSON(t.b(bMeshPulled), []byte(p.MessageID), p)
}

// MeshPulled returns the record of MESH message id; ok is false when
// there is none.
func (t *Tx) MeshPulled(id string) (p MeshPulled, ok bool, err error) {
	ok, err = getJSON(t.b(bMeshPulled), []byte(id), &p)
	return p, ok, err
}

// States of an outbox message pushed over MESH (MeshPushed.State).
const (
	// MeshPushStarted: MESH accepted the first chunk and gave MeshID; the
	// message is delivered only once the last chunk is in.
	MeshPushStarted = "started"
	// MeshPushSent: MESH has the message whole.
	MeshPushSent = "sent"
)

// MeshPushed is an outbox message the push job sends over MESH, recorded
// with MESH's message ID before the send can complete, marked Sent after,
// and archived as collected only then.
type MeshPushed struct {
	LA        string    `json:"la"`
	MessageID string    `json:"message_id"` // the hub's (its control file's DTSId), sent as mex-LocalID
	Name      string    `json:"name"`       // the outbox data file
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	MeshID    string    `json:"mesh_id"` // MESH's message ID
	To        string    `json:"to"`      // the MESH mailbox sent to
	State     string    `json:"state"`
	At        time.Time `json:"at"`
}

func meshPushedKey(la, id string) []byte { return concat([]byte(la), []byte(id)) }

// RecordMeshPushed adds or replaces the record of LA p.LA's outbox
// message p.MessageID.
func (t *Tx) RecordMeshPushed(p MeshPushed) error {
	if len(p.LA) != 3 || p.MessageID == "" || p.MeshID == "" || p.State == "" {
		return fmt.Errorf("record mesh pushed: LA %q, message %q, MESH ID %q, state %q", p.LA, p.MessageID, p.MeshID, p.State)
	}
	p.At = p.At.UTC()
	return putJSON(t.b(bMeshPushed), meshPushedKey(p.LA, p.MessageID), p)
}

// MeshPushed returns the record of LA la's outbox message id (the hub's
// message ID); ok is false when there is none.
func (t *Tx) MeshPushed(la, id string) (p MeshPushed, ok bool, err error) {
	ok, err = getJSON(t.b(bMeshPushed), meshPushedKey(la, id), &p)
	return p, ok, err
}
