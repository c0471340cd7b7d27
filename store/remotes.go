package store

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Buckets of remote mailboxes and collections (doc.go).
var (
	bRemotes     = bucket("remotes")
	bPulled      = bucket("remote_pulled")
	bPushed      = bucket("remote_pushed")
	bCollections = bucket("collections")
)

// Remote is an LA's mailbox on another SFTP server (mesh/mailboxes.md, "Remote
// mailboxes"). Its folders are named from the hub's side, like the local
// ones: the hub pulls returns from Inbox and pushes messages to Outbox.
type Remote struct {
	LA   string `json:"la"`
	Addr string `json:"addr"` // host:port
	User string `json:"user"`
	// KeyFile is the absolute path of the private key the hub logs in
	// with; the key itself stays on disk.
	KeyFile string    `json:"key_file"`
	Inbox   string    `json:"inbox"`  // remote folder the hub pulls returns from
	Outbox  string    `json:"outbox"` // remote folder the hub pushes messages to
	Added   time.Time `json:"added"`
}

// PutRemote adds or replaces LA r.LA's remote mailbox.
func (t *Tx) PutRemote(r Remote) error {
	switch {
	case r.LA == "" || r.Addr == "" || r.User == "" || r.Inbox == "" || r.Outbox == "":
		return fmt.Errorf("put remote: LA, address, user, inbox and outbox are required")
	case !filepath.IsAbs(r.KeyFile):
		return fmt.Errorf("put remote %s: key file %q is not an absolute path", r.LA, r.KeyFile)
	}
	r.Added = r.Added.UTC()
	if err := putJSON(t.b(bRemotes), []byte(r.LA), r); err != nil {
		return fmt.Errorf("put remote %s: %w", r.LA, err)
	}
	return nil
}

// Remote returns LA la's remote mailbox; ok is false when it has none.
func (t *Tx) Remote(la string) (r Remote, ok bool, err error) {
	ok, err = getJSON(t.b(bRemotes), []byte(la), &r)
	return r, ok, err
}

// Remotes returns every remote mailbox, by LA code.
func (t *Tx) Remotes() ([]Remote, error) {
	var out []Remote
	err := t.b(bRemotes).ForEach(func(k, v []byte) error {
		var r Remote
		if err := jsonUnmarshal(v, &r); err != nil {
			return fmt.Errorf("decode remote %s: %w", k, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// RemoveRemote removes LA la's remote mailbox and reports whether it had
// one. The records of files pulled and pushed stay: they still keep a
// file from coming twice if the remote is added again.
func (t *Tx) RemoveRemote(la string) (bool, error) {
	b := t.b(bRemotes)
	if b.Get([]byte(la)) == nil {
		return false, nil
	}
	return true, b.Delete([]byte(la))
}

// PulledFile is a remote file the pull job brought into the local inbox.
// It is recorded (Delivered false) before the file is renamed into the
// local inbox, marked Delivered after, and the remote file is deleted only
// then: a file with a record is never brought twice, and one without a
// Delivered record is never deleted remotely.
type PulledFile struct {
	LA      string    `json:"la"`
	Path    string    `json:"path"` // remote path, as the hub named it
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"` // remote modification time
	SHA256  string    `json:"sha256"`   // hex, of the bytes as stored
	Name    string    `json:"name"`     // name in the local inbox
	At      time.Time `json:"at"`
	// Delivered says the file is in the local inbox under Name (or was
	// taken from it since).
	Delivered bool `json:"delivered"`
}

// pulledKey is LA(3) + remote path + NUL + size(8) + mtime(8, Unix
// nanoseconds) + SHA-256(32): all big-endian, so the records of one remote
// file version sort together under pulledPrefix.
func pulledKey(la, path string, size int64, mtime time.Time, sha string) ([]byte, error) {
	sum, err := hex.DecodeString(sha)
	if err != nil || len(sum) != 32 {
		return nil, fmt.Errorf("pulled %s: %q is not a SHA-256", path, sha)
	}
	if strings.IndexByte(path, 0) >= 0 {
		return nil, fmt.Errorf("pulled %q: NUL in path", path)
	}
	return concat([]byte(la), []byte(path), []byte{0}, u64(uint64(size)), u64(uint64(mtime.UnixNano())), sum), nil
}

// RecordPulled adds or updates the record of a pulled file (keyed by LA,
// path, size, modification time and SHA-256).
func (t *Tx) RecordPulled(p PulledFile) error {
	if len(p.LA) != 3 {
		return fmt.Errorf("record pulled %s: LA code %q", p.Path, p.LA)
	}
	k, err := pulledKey(p.LA, p.Path, p.Size, p.ModTime, p.SHA256)
	if err != nil {
		return fmt.Errorf("record %w", err)
	}
	p.ModTime, p.At = p.ModTime.UTC(), p.At.UTC()
	return putJSON(t.b(bPulled), k, p)
}

// Pulled returns the record of the remote file with that LA, path, size,
// modification time and SHA-256; ok is false when there is none.
func (t *Tx) Pulled(la, path string, size int64, mtime time.Time, sha string) (p PulledFile, ok bool, err error) {
	k, err := pulledKey(la, path, size, mtime, sha)
	if err != nil {
		return p, false, err
	}
	ok, err = getJSON(t.b(bPulled), k, &p)
	return p, ok, err
}

// PushedFile is an outbox file the push job delivered to an LA's remote
// mailbox.
type PushedFile struct {
	LA     string    `json:"la"`
	Name   string    `json:"name"` // name in the local outbox
	Path   string    `json:"path"` // remote path
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	At     time.Time `json:"at"`
}

// RecordPushed records the delivery of LA p.LA's outbox file p.Name,
// replacing an earlier record of that name.
func (t *Tx) RecordPushed(p PushedFile) error {
	if len(p.LA) != 3 || p.Name == "" {
		return fmt.Errorf("record pushed: LA %q, file %q", p.LA, p.Name)
	}
	p.At = p.At.UTC()
	return putJSON(t.b(bPushed), concat([]byte(p.LA), []byte(p.Name)), p)
}

// Pushed returns the latest delivery of LA la's outbox file name.
func (t *Tx) Pushed(la, name string) (p PushedFile, ok bool, err error) {
	ok, err = getJSON(t.b(bPushed), concat([]byte(la), []byte(name)), &p)
	return p, ok, err
}

// Ways a message is collected (Collection.By).
const (
	CollectedBySFTP = "sftp" // the LA downloaded and deleted it from the hub's SFTP server
	CollectedByPush = "push" // the push job delivered it to the LA's remote mailbox
	CollectedByWeb  = "web"  // an LA user marked it collected on the console's Collect page
)

// Collection is an outbox message collected (mesh/mailboxes.md, "Collection").
type Collection struct {
	LA        string    `json:"la"`
	MailboxID string    `json:"mailbox_id"`
	Name      string    `json:"name"` // the data file
	At        time.Time `json:"at"`
	By        string    `json:"by"` // CollectedBySFTP, CollectedByPush, CollectedByMESH, CollectedByWeb
}

// RecordCollection records a collection, keyed LA(3) + time(8, Unix
// nanoseconds, big-endian) + file name, so an LA's collections read in
// time order.
func (t *Tx) RecordCollection(c Collection) error {
	if len(c.LA) != 3 || c.Name == "" {
		return fmt.Errorf("record collection: LA %q, file %q", c.LA, c.Name)
	}
	c.At = c.At.UTC()
	return putJSON(t.b(bCollections), concat([]byte(c.LA), u64(uint64(c.At.UnixNano())), []byte(c.Name)), c)
}

// Collections calls fn for each collection of LA la ("" for every LA), by
// LA, then oldest first. An error from fn stops the loop and is returned.
func (t *Tx) Collections(la string, fn func(Collection) error) error {
	c := t.b(bCollections).Cursor()
	prefix := []byte(la)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var col Collection
		if err := jsonUnmarshal(v, &col); err != nil {
			return fmt.Errorf("decode collection %x: %w", k, err)
		}
		if err := fn(col); err != nil {
			return err
		}
	}
	return nil
}
