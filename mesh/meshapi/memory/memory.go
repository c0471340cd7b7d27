// Package memory implements the interfaces of mesh/meshapi in memory, for
// tests: mailboxes with passwords and the workflows they send and
// receive, inboxes, and the sender's tracking view. Nothing is durable.
package memory

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"cpis/mesh/meshapi"
)

// Mailbox is one mailbox of a Store.
type Mailbox struct {
	ID       string
	Name     string
	ODS      string   // organisation code for endpoint lookup
	Password string   // "" when it does not log in
	Sends    []string // workflows it may send
	Receives []string // workflows it receives
}

// Handshake is a recorded handshake.
type Handshake struct {
	Client meshapi.Client
	At     time.Time
}

// Store is an in-memory implementation of meshapi.Accounts, Router,
// Inbox, Tracking and Directory. Its exported fields are read at each
// call; set them before serving.
type Store struct {
	Key []byte
	// ChunkSize splits a delivered message into download chunks of this
	// many bytes (0: one chunk); GzipChunks stores each chunk gzipped.
	ChunkSize  int
	GzipChunks bool
	// Now is the clock of delivery and acknowledgement; nil: time.Now.
	Now func() time.Time

	mu         sync.Mutex
	mailboxes  map[string]Mailbox
	handshakes map[string]Handshake
	messages   map[string]*message // by ID
	deliveries int
}

type message struct {
	msg     meshapi.Message
	env     meshapi.Envelope
	chunks  [][]byte
	size    int64
	inInbox bool
	acked   time.Time
}

var (
	_ meshapi.Accounts  = (*Store)(nil)
	_ meshapi.Router    = (*Store)(nil)
	_ meshapi.Inbox     = (*Store)(nil)
	_ meshapi.Tracking  = (*Store)(nil)
	_ meshapi.Directory = (*Store)(nil)
)

// New returns a store with the shared key and mailboxes.
func New(key string, mbs ...Mailbox) *Store {
	s := &Store{Key: []byte(key), mailboxes: map[string]Mailbox{}, handshakes: map[string]Handshake{}, messages: map[string]*message{}}
	for _, mb := range mbs {
		s.mailboxes[strings.ToUpper(mb.ID)] = mb
	}
	return s
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Credentials implements meshapi.Accounts.
func (s *Store) Credentials(_ context.Context, mailbox string) ([]byte, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb, ok := s.mailboxes[strings.ToUpper(mailbox)]
	if !ok || mb.Password == "" {
		return nil, nil, fmt.Errorf("%s: %w", mailbox, meshapi.ErrUnknownMailbox)
	}
	return s.Key, []byte(mb.Password), nil
}

// Handshake implements meshapi.Accounts.
func (s *Store) Handshake(_ context.Context, mailbox string, c meshapi.Client, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handshakes[mailbox] = Handshake{Client: c, At: t}
	return nil
}

// Handshakes returns the handshakes recorded, by mailbox.
func (s *Store) Handshakes() map[string]Handshake {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Handshake{}
	for k, v := range s.handshakes {
		out[k] = v
	}
	return out
}

// Route implements meshapi.Router.
func (s *Store) Route(_ context.Context, from, to, workflow string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.route(from, to, workflow)
}

func (s *Store) route(from, to, workflow string) error {
	rcpt, ok := s.mailboxes[to]
	if !ok {
		return &meshapi.Refusal{Code: meshapi.CodeUnregistered, Reason: "no mailbox " + to}
	}
	if !slices.Contains(s.mailboxes[from].Sends, workflow) {
		return &meshapi.Refusal{Code: meshapi.CodeSenderNotAllowed, Reason: from + " does not send " + workflow}
	}
	if !slices.Contains(rcpt.Receives, workflow) {
		return &meshapi.Refusal{Code: meshapi.CodeNotRegistered, Reason: to + " does not receive " + workflow}
	}
	return nil
}

// Deliver implements meshapi.Router: it reads body whole, then puts the
// message into the recipient's inbox.
func (s *Store) Deliver(_ context.Context, e meshapi.Envelope, body io.Reader) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("deliver %s: %w", e.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.messages[e.ID]; ok {
		return nil
	}
	if err := s.route(e.From, e.To, e.Workflow); err != nil {
		return err
	}
	m := &message{env: e, size: int64(len(b)), inInbox: true}
	m.msg = meshapi.Message{ID: e.ID, From: e.From, To: e.To, Workflow: e.Workflow, FileName: e.FileName,
		LocalID: e.LocalID, Subject: e.Subject, PartnerID: e.PartnerID, Encrypted: e.Encrypted,
		Compressed: e.Compressed, Delivered: s.now()}
	s.split(m, b)
	s.messages[e.ID] = m
	s.deliveries++
	return nil
}

// split cuts b into m's chunks.
func (s *Store) split(m *message, b []byte) {
	size := s.ChunkSize
	if size <= 0 || len(b) == 0 {
		size = max(len(b), 1)
	}
	m.chunks = nil
	for off := 0; off < len(b) || off == 0; off += size {
		c := b[off:min(off+size, len(b))]
		if s.GzipChunks {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(c)
			_ = zw.Close()
			c = buf.Bytes()
		}
		m.chunks = append(m.chunks, c)
		if off+size >= len(b) {
			break
		}
	}
	m.msg.Chunks = len(m.chunks)
	m.msg.Gzip = s.GzipChunks
}

// Deliveries counts the messages delivered (each once).
func (s *Store) Deliveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliveries
}

// Put puts a message with the given content into its recipient's inbox,
// as Deliver would (chunked and gzipped as the Store says).
func (s *Store) Put(m meshapi.Message, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mm := &message{msg: m, size: int64(len(content)), inInbox: true,
		env: meshapi.Envelope{ID: m.ID, From: m.From, To: m.To, Workflow: m.Workflow, FileName: m.FileName, LocalID: m.LocalID, Subject: m.Subject}}
	s.split(mm, content)
	s.messages[m.ID] = mm
}

// Content returns the content of message id as delivered, and whether
// it is known.
func (s *Store) Content(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return nil, false
	}
	var out []byte
	for _, c := range m.chunks {
		if m.msg.Gzip {
			zr, err := gzip.NewReader(bytes.NewReader(c))
			if err != nil {
				return nil, false
			}
			c, _ = io.ReadAll(zr)
		}
		out = append(out, c...)
	}
	return out, true
}

// Envelope returns the envelope message id was delivered with.
func (s *Store) Envelope(id string) (meshapi.Envelope, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return meshapi.Envelope{}, false
	}
	return m.env, true
}

// List implements meshapi.Inbox.
func (s *Store) List(_ context.Context, mailbox string) ([]meshapi.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []meshapi.Entry
	for _, m := range s.messages {
		if m.inInbox && m.msg.To == mailbox {
			out = append(out, meshapi.Entry{ID: m.msg.ID, Workflow: m.msg.Workflow})
		}
	}
	slices.SortFunc(out, func(a, b meshapi.Entry) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// lookup finds message id for mailbox, as meshapi.Inbox.Open says.
func (s *Store) lookup(mailbox, id string) (*message, error) {
	m, ok := s.messages[id]
	if !ok {
		return nil, fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
	}
	if m.msg.To != mailbox {
		return nil, fmt.Errorf("message %s: %w", id, meshapi.ErrForbidden)
	}
	return m, nil
}

// Open implements meshapi.Inbox.
func (s *Store) Open(_ context.Context, mailbox, id string) (meshapi.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.lookup(mailbox, id)
	if err != nil {
		return meshapi.Message{}, err
	}
	if !m.inInbox {
		return meshapi.Message{}, fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
	}
	return m.msg, nil
}

// Chunk implements meshapi.Inbox.
func (s *Store) Chunk(_ context.Context, mailbox, id string, k int) (io.ReadCloser, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.lookup(mailbox, id)
	if err != nil {
		return nil, 0, err
	}
	if !m.inInbox || k < 1 || k > len(m.chunks) {
		return nil, 0, fmt.Errorf("message %s chunk %d: %w", id, k, meshapi.ErrNotFound)
	}
	c := m.chunks[k-1]
	return io.NopCloser(bytes.NewReader(c)), int64(len(c)), nil
}

// Acknowledge implements meshapi.Inbox.
func (s *Store) Acknowledge(_ context.Context, mailbox, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.lookup(mailbox, id)
	if err != nil {
		return err
	}
	if m.inInbox {
		m.inInbox = false
		m.acked = s.now()
	}
	return nil
}

// Track implements meshapi.Tracking.
func (s *Store) Track(_ context.Context, mailbox, id string) (meshapi.Tracked, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok || m.env.From != mailbox {
		return meshapi.Tracked{}, fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
	}
	t := meshapi.Tracked{Envelope: m.env, Size: m.size, RecipientName: s.mailboxes[m.env.To].Name,
		Status: meshapi.StatusAccepted, StatusCode: "00", StatusEvent: "TRANSFER",
		StatusDescription: "Transferred to recipient mailbox", StatusTime: m.msg.Delivered,
		Expiry: m.msg.Delivered.Add(5 * 24 * time.Hour)}
	if !m.inInbox {
		t.Status, t.StatusEvent, t.StatusDescription = meshapi.StatusAcknowledged, "DOWNLOAD", "Acknowledged by recipient"
		t.StatusTime, t.Acknowledged = m.acked, m.acked
	}
	return t, nil
}

// Lookup implements meshapi.Directory.
func (s *Store) Lookup(_ context.Context, ods, workflow string) ([]meshapi.Mailbox, error) {
	return s.find(func(mb Mailbox) bool {
		return strings.EqualFold(mb.ODS, ods) && slices.Contains(mb.Receives, workflow)
	}), nil
}

// Search implements meshapi.Directory.
func (s *Store) Search(_ context.Context, workflow string) ([]meshapi.Mailbox, error) {
	return s.find(func(mb Mailbox) bool { return slices.Contains(mb.Receives, workflow) }), nil
}

func (s *Store) find(ok func(Mailbox) bool) []meshapi.Mailbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []meshapi.Mailbox
	for _, mb := range s.mailboxes {
		if ok(mb) {
			out = append(out, meshapi.Mailbox{ID: strings.ToUpper(mb.ID), Name: mb.Name})
		}
	}
	slices.SortFunc(out, func(a, b meshapi.Mailbox) int { return strings.Compare(a.ID, b.ID) })
	return out
}
