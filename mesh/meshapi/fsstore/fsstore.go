// Package fsstore is a durable file-system implementation of the message
// side of mesh/meshapi (Router's Deliver, Inbox, Tracking): every mailbox's
// messages in one directory, for the MESH API's benchmark and tests, and a
// model of the group commit the hub's own adapter needs.
//
// On disk: journal.log, an append-only journal of records (a delivery
// with its metadata and, up to InlineLimit bytes, its content; an
// acknowledgement), each with its length and CRC-32C; and blobs/<message
// ID> for larger contents (written, fsynced and renamed before their
// record). Open replays the journal into memory and cuts a torn tail.
//
// Group commit: a request appends its record to a shared buffer and waits;
// one of the waiting requests writes the whole buffer and fdatasyncs the
// journal once for all of them, so concurrent sends cost one flush a
// batch, not one each. A request returns only when its record is on disk;
// a message is listed only then, and whole.
//
// The journal is never compacted: fine for a benchmark, not for years of
// traffic.
package fsstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"cpis/mesh"
	"cpis/mesh/meshapi"
)

// Defaults.
const (
	DefaultInlineLimit = 1 << 20  // contents up to this size go into the journal
	DefaultChunkSize   = 20 << 20 // download chunk size
)

// Record types.
const (
	recDeliver byte = 1
	recAck     byte = 2
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Router is the routing decision fsstore leaves to its caller.
type Router interface {
	Route(ctx context.Context, from, to, workflow string) error
}

// Store is the journal and its in-memory index.
type Store struct {
	dir string
	// Routes decides Route; nil accepts every send.
	Routes Router
	// ChunkSize is the download chunk size; 0 means DefaultChunkSize.
	ChunkSize int64
	// InlineLimit bounds contents kept in the journal; 0 means
	// DefaultInlineLimit.
	InlineLimit int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	log *os.File

	mu         sync.Mutex
	cond       *sync.Cond
	buf        []byte // records appended, not yet written
	spare      []byte
	size       int64  // journal size, buffered records included
	seq        uint64 // records appended
	durable    uint64 // records on disk
	committing bool
	err        error // a failed write or flush: the store refuses from then on
	msgs       map[string]*entry
	inbox      map[string]map[string]*entry // mailbox -> ID -> entry, unacknowledged

	syncs atomic.Int64
}

// meta is a delivery record's metadata.
type meta struct {
	Env       meshapi.Envelope
	Size      int64
	Blob      bool
	Delivered time.Time
}

type entry struct {
	meta
	off   int64 // offset of the content in the journal (inline)
	acked time.Time
}

var (
	_ meshapi.Router   = (*Store)(nil)
	_ meshapi.Inbox    = (*Store)(nil)
	_ meshapi.Tracking = (*Store)(nil)
)

// Open opens (creating it when missing) the store in dir and replays its
// journal.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "journal.log"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	s := &Store{dir: dir, log: f, msgs: map[string]*entry{}, inbox: map[string]map[string]*entry{}}
	s.cond = sync.NewCond(&s.mu)
	if err := s.replay(); err != nil {
		f.Close()
		return nil, err
	}
	if err := mesh.SyncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the journal.
func (s *Store) Close() error { return s.log.Close() }

// Syncs counts the journal flushes so far (fdatasync calls).
func (s *Store) Syncs() int64 { return s.syncs.Load() }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) chunkSize() int64 {
	if s.ChunkSize > 0 {
		return s.ChunkSize
	}
	return DefaultChunkSize
}

// replay reads the journal into the index and cuts a torn tail (a
// record cut short or failing its CRC: it was never acknowledged to
// anyone).
func (s *Store) replay() error {
	info, err := s.log.Stat()
	if err != nil {
		return fmt.Errorf("replay journal: %w", err)
	}
	r := io.NewSectionReader(s.log, 0, info.Size())
	var off int64
	var head [9]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			break
		}
		n := int64(binary.BigEndian.Uint32(head[0:4]))
		sum := binary.BigEndian.Uint32(head[4:8])
		typ := head[8]
		if n > info.Size()-off-9 {
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil || crc32.Checksum(payload, crcTable) != sum {
			break
		}
		if err := s.apply(typ, payload, off+9); err != nil {
			return fmt.Errorf("replay journal at %d: %w", off, err)
		}
		off += 9 + n
	}
	if off != info.Size() {
		if err := s.log.Truncate(off); err != nil {
			return fmt.Errorf("cut journal tail: %w", err)
		}
		if err := unix.Fdatasync(int(s.log.Fd())); err != nil {
			return fmt.Errorf("cut journal tail: %w", err)
		}
	}
	if _, err := s.log.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("replay journal: %w", err)
	}
	s.size = off
	return nil
}

// apply adds a record to the index; payloadOff is where its payload
// starts in the journal.
func (s *Store) apply(typ byte, payload []byte, payloadOff int64) error {
	switch typ {
	case recDeliver:
		if len(payload) < 4 {
			return errors.New("short delivery record")
		}
		ml := int(binary.BigEndian.Uint32(payload[:4]))
		if 4+ml > len(payload) {
			return errors.New("short delivery record")
		}
		var m meta
		if err := json.Unmarshal(payload[4:4+ml], &m); err != nil {
			return err
		}
		s.add(&entry{meta: m, off: payloadOff + 4 + int64(ml)})
	case recAck:
		var a ackRec
		if err := json.Unmarshal(payload, &a); err != nil {
			return err
		}
		s.ack(a.Mailbox, a.ID, a.At)
	default:
		return fmt.Errorf("unknown record type %d", typ)
	}
	return nil
}

type ackRec struct {
	Mailbox string
	ID      string
	At      time.Time
}

func (s *Store) add(e *entry) {
	s.msgs[e.Env.ID] = e
	box := s.inbox[e.Env.To]
	if box == nil {
		box = map[string]*entry{}
		s.inbox[e.Env.To] = box
	}
	box[e.Env.ID] = e
}

func (s *Store) ack(mailbox, id string, at time.Time) {
	e, ok := s.msgs[id]
	if !ok || e.Env.To != mailbox || !e.acked.IsZero() {
		return
	}
	e.acked = at
	delete(s.inbox[mailbox], id)
}

// commit appends a record and returns once it is on disk, with the
// offset of its payload. Concurrent commits share one write and one
// fdatasync.
func (s *Store) commit(typ byte, payload []byte) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	var head [9]byte
	binary.BigEndian.PutUint32(head[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(head[4:8], crc32.Checksum(payload, crcTable))
	head[8] = typ
	s.buf = append(append(s.buf, head[:]...), payload...)
	off := s.size + 9
	s.size += 9 + int64(len(payload))
	s.seq++
	mine := s.seq
	for s.durable < mine && s.err == nil {
		if s.committing {
			s.cond.Wait()
			continue
		}
		s.committing = true
		buf, upto := s.buf, s.seq
		s.buf, s.spare = s.spare[:0], nil
		s.mu.Unlock()
		_, err := s.log.Write(buf)
		if err == nil {
			err = unix.Fdatasync(int(s.log.Fd()))
			s.syncs.Add(1)
		}
		s.mu.Lock()
		s.spare = buf[:0]
		s.committing = false
		if err != nil {
			s.err = fmt.Errorf("journal: %w", err)
		} else {
			s.durable = upto
		}
		s.cond.Broadcast()
	}
	if s.durable < mine {
		return 0, s.err
	}
	return off, nil
}

// Route implements meshapi.Router through Routes.
func (s *Store) Route(ctx context.Context, from, to, workflow string) error {
	if s.Routes == nil {
		return nil
	}
	return s.Routes.Route(ctx, from, to, workflow)
}

// Deliver implements meshapi.Router: the content goes into the journal
// (or, above InlineLimit, into a blob fsynced before the record), and
// the message is listed once its record is on disk.
func (s *Store) Deliver(ctx context.Context, e meshapi.Envelope, body io.Reader) error {
	s.mu.Lock()
	_, dup := s.msgs[e.ID]
	s.mu.Unlock()
	if dup {
		return nil
	}
	if !mesh.ValidMessageID(e.ID) {
		return fmt.Errorf("deliver: bad message ID %q", e.ID)
	}
	limit := s.InlineLimit
	if limit <= 0 {
		limit = DefaultInlineLimit
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(body, limit+1))
	if err != nil {
		return fmt.Errorf("deliver %s: %w", e.ID, err)
	}
	m := meta{Env: e, Size: n, Delivered: s.now().UTC()}
	var content []byte
	if n > limit {
		m.Blob = true
		rest := io.MultiReader(bytes.NewReader(buf.Bytes()), body)
		var size int64
		err := mesh.WriteFileAtomic(filepath.Join(s.dir, "blobs"), e.ID, func(w io.Writer) error {
			var err error
			size, err = io.Copy(w, rest)
			return err
		}, 0o600)
		if err != nil {
			return fmt.Errorf("deliver %s: %w", e.ID, err)
		}
		m.Size = size
	} else {
		content = buf.Bytes()
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("deliver %s: %w", e.ID, err)
	}
	payload := make([]byte, 4, 4+len(mb)+len(content))
	binary.BigEndian.PutUint32(payload, uint32(len(mb)))
	payload = append(append(payload, mb...), content...)
	off, err := s.commit(recDeliver, payload)
	if err != nil {
		return fmt.Errorf("deliver %s: %w", e.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.msgs[e.ID]; !dup {
		s.add(&entry{meta: m, off: off + 4 + int64(len(mb))})
	}
	return nil
}

// Deliveries counts the messages delivered.
func (s *Store) Deliveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// List implements meshapi.Inbox.
func (s *Store) List(_ context.Context, mailbox string) ([]meshapi.Entry, error) {
	s.mu.Lock()
	out := make([]meshapi.Entry, 0, len(s.inbox[mailbox]))
	for _, e := range s.inbox[mailbox] {
		out = append(out, meshapi.Entry{ID: e.Env.ID, Workflow: e.Env.Workflow})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b meshapi.Entry) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Store) find(mailbox, id string) (*entry, error) {
	e, ok := s.msgs[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
	case e.Env.To != mailbox:
		return nil, fmt.Errorf("message %s: %w", id, meshapi.ErrForbidden)
	case !e.acked.IsZero():
		return nil, fmt.Errorf("message %s: acknowledged: %w", id, meshapi.ErrNotFound)
	}
	return e, nil
}

// Open implements meshapi.Inbox.
func (s *Store) Open(_ context.Context, mailbox, id string) (meshapi.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.find(mailbox, id)
	if err != nil {
		return meshapi.Message{}, err
	}
	cs := s.chunkSize()
	return meshapi.Message{ID: id, From: e.Env.From, To: e.Env.To, Workflow: e.Env.Workflow, FileName: e.Env.FileName,
		LocalID: e.Env.LocalID, Subject: e.Env.Subject, PartnerID: e.Env.PartnerID, Encrypted: e.Env.Encrypted,
		Compressed: e.Env.Compressed, Chunks: int(max(1, (e.Size+cs-1)/cs)), Delivered: e.Delivered}, nil
}

// Chunk implements meshapi.Inbox.
func (s *Store) Chunk(_ context.Context, mailbox, id string, k int) (io.ReadCloser, int64, error) {
	s.mu.Lock()
	e, err := s.find(mailbox, id)
	s.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	cs := s.chunkSize()
	start := int64(k-1) * cs
	if k < 1 || (start >= e.Size && !(k == 1 && e.Size == 0)) {
		return nil, 0, fmt.Errorf("message %s chunk %d: %w", id, k, meshapi.ErrNotFound)
	}
	n := min(cs, e.Size-start)
	if !e.Blob {
		return io.NopCloser(io.NewSectionReader(s.log, e.off+start, n)), n, nil
	}
	f, err := os.Open(filepath.Join(s.dir, "blobs", id))
	if err != nil {
		return nil, 0, fmt.Errorf("message %s: %w", id, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, start, n), f}, n, nil
}

// Acknowledge implements meshapi.Inbox: the acknowledgement is in the
// journal before it returns.
func (s *Store) Acknowledge(_ context.Context, mailbox, id string) error {
	s.mu.Lock()
	e, ok := s.msgs[id]
	switch {
	case !ok:
		s.mu.Unlock()
		return fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
	case e.Env.To != mailbox:
		s.mu.Unlock()
		return fmt.Errorf("message %s: %w", id, meshapi.ErrForbidden)
	case !e.acked.IsZero():
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	at := s.now().UTC()
	b, err := json.Marshal(ackRec{Mailbox: mailbox, ID: id, At: at})
	if err != nil {
		return err
	}
	if _, err := s.commit(recAck, b); err != nil {
		return fmt.Errorf("acknowledge %s: %w", id, err)
	}
	s.mu.Lock()
	s.ack(mailbox, id, at)
	s.mu.Unlock()
	return nil
}

// Track implements meshapi.Tracking.
func (s *Store) Track(_ context.Context, mailbox, id string) (meshapi.Tracked, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.msgs[id]
	if !ok || e.Env.From != mailbox {
		return meshapi.Tracked{}, fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
	}
	t := meshapi.Tracked{Envelope: e.Env, Size: e.Size, Status: meshapi.StatusAccepted, StatusCode: "00",
		StatusEvent: "TRANSFER", StatusDescription: "Transferred to recipient mailbox", StatusTime: e.Delivered,
		Expiry: e.Delivered.Add(5 * 24 * time.Hour)}
	if !e.acked.IsZero() {
		t.Status, t.StatusEvent, t.StatusDescription = meshapi.StatusAcknowledged, "DOWNLOAD", "Acknowledged by recipient"
		t.StatusTime, t.Acknowledged = e.acked, e.acked
	}
	return t, nil
}
