package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"cpis/store/caldate"
	"cpis/store/codes"
)

// State is where a message is in its lifecycle (mesh/mailboxes.md, "Lifecycle").
type State string

// The lifecycle states. Recovery finishes only the steps a state still
// lacks: Taken needs archiving, Archived needs evaluating, and any state
// with pending responses needs them written.
const (
	Taken     State = "taken"     // recorded; the files may still be in the inbox
	Archived  State = "archived"  // files in the archive; not yet evaluated
	Waiting   State = "waiting"   // CPF05: waits for a demographics reference
	Held      State = "held"      // F009: a FULL return held by the safety rule
	Decided   State = "decided"   // outcome final (applied or not)
	Responded State = "responded" // final outcome and every response written
)

// Counts are the summary counts of a return (batch/returns/returns.md, "The response").
type Counts struct {
	Read      int `json:"read"`
	Applied   int `json:"applied"`
	Rejected  int `json:"rejected"`
	Warnings  int `json:"warnings"`
	Withdrawn int `json:"withdrawn"`
}

// String is how every summary detail begins (batch/returns/returns.md):
// "read=N applied=N rejected=N warnings=N withdrawn=N".
func (c Counts) String() string {
	return fmt.Sprintf("read=%d applied=%d rejected=%d warnings=%d withdrawn=%d", c.Read, c.Applied, c.Rejected, c.Warnings, c.Withdrawn)
}

// Map returns the counts by name, for audit records.
func (c Counts) Map() map[string]int {
	return map[string]int{"read": c.Read, "applied": c.Applied, "rejected": c.Rejected, "warnings": c.Warnings, "withdrawn": c.Withdrawn}
}

// Outcome is a file outcome: the summary row of a response.
type Outcome struct {
	Code   codes.Code   `json:"code"`
	Detail codes.Detail `json:"detail_code,omitempty"`
	Text   string       `json:"text"`
	Counts Counts       `json:"counts"`
	// WithRows says the response lists the row outcomes after the summary.
	WithRows bool `json:"with_rows,omitempty"`
}

// Response is one response message owed, or written, to the LA.
type Response struct {
	MessageID string    `json:"message_id"`
	File      string    `json:"file"`
	DecidedAt time.Time `json:"decided_at"`
	WrittenAt time.Time `json:"written_at,omitzero"`
	Outcome   Outcome   `json:"outcome"`
}

// Message is a message taken from an LA's inbox.
type Message struct {
	Key       []byte       `json:"-"`
	LA        string       `json:"la"`
	MailboxID string       `json:"mailbox_id"`
	MessageID string       `json:"message_id"`
	File      string       `json:"file"`
	Control   string       `json:"control,omitempty"` // control file name, if any
	SHA256    string       `json:"sha256"`            // of the decompressed content
	Size      int64        `json:"size"`
	Kind      string       `json:"kind,omitempty"` // FULL or DELTA when the name parsed
	Extract   caldate.Date `json:"extract,omitzero"`
	TakenAt   time.Time    `json:"taken_at"`
	State     State        `json:"state"`
	// Problem is a reason known when taken that decides the outcome (a bad
	// control file, a pairing conflict), as detail code and sentence.
	Problem     *codes.Problem `json:"problem,omitempty"`
	ArchivePath string         `json:"archive_path,omitempty"`
	ControlPath string         `json:"control_archive_path,omitempty"`
	// Outcome is the current outcome (the last one decided).
	Outcome   *Outcome   `json:"outcome,omitempty"`
	Applied   bool       `json:"applied,omitempty"`
	AppliedAt time.Time  `json:"applied_at,omitzero"`
	Responses []Response `json:"responses,omitempty"`
}

// Clone returns a copy of m that shares nothing changeable with it.
func (m *Message) Clone() *Message {
	c := *m
	c.Key = append([]byte(nil), m.Key...)
	c.Responses = append([]Response(nil), m.Responses...)
	if m.Outcome != nil {
		o := *m.Outcome
		c.Outcome = &o
	}
	return &c
}

// Pending returns the responses decided but not yet written.
func (m *Message) Pending() []Response {
	var out []Response
	for _, r := range m.Responses {
		if r.WrittenAt.IsZero() {
			out = append(out, r)
		}
	}
	return out
}

// RowOutcome is one row of a response after the summary.
type RowOutcome struct {
	Line      int          `json:"line"`
	LocalID   string       `json:"local_id"`
	NHSNumber string       `json:"nhs_number"`
	Code      codes.Code   `json:"code"`
	Detail    codes.Detail `json:"detail_code"`
	Text      string       `json:"detail"`
}

// NewMessage records a newly taken message, giving it its key and its
// repeat-check index entries (the first message with an ID or content keeps
// the index).
func (t *Tx) NewMessage(m *Message) error {
	b := t.b(bMessages)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("new message: %w", err)
	}
	m.Key = concat([]byte(m.LA), u64(seq))
	idKey := concat([]byte(m.LA), []byte(m.MessageID))
	if t.b(bMessageIDs).Get(idKey) == nil {
		if err := t.b(bMessageIDs).Put(idKey, m.Key); err != nil {
			return err
		}
	}
	fileKey := concat([]byte(m.LA), []byte(m.SHA256), []byte(m.File))
	if t.b(bMessageFiles).Get(fileKey) == nil {
		if err := t.b(bMessageFiles).Put(fileKey, m.Key); err != nil {
			return err
		}
	}
	return t.PutMessage(m)
}

// PutMessage saves m and keeps the open-messages index in step with its
// state.
func (t *Tx) PutMessage(m *Message) error {
	if len(m.Key) == 0 {
		return fmt.Errorf("put message %s: no key (use NewMessage)", m.MessageID)
	}
	if err := putJSON(t.b(bMessages), m.Key, m); err != nil {
		return fmt.Errorf("put message %s: %w", m.MessageID, err)
	}
	if m.State == Responded && len(m.Pending()) == 0 {
		return t.b(bOpen).Delete(m.Key)
	}
	return t.b(bOpen).Put(m.Key, nil)
}

// Message returns the message stored under key.
func (t *Tx) Message(key []byte) (*Message, error) {
	m := &Message{}
	ok, err := getJSON(t.b(bMessages), key, m)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("message %x: %w", key, ErrNotFound)
	}
	m.Key = append([]byte(nil), key...)
	return m, nil
}

// MessageByID returns the first message taken from la's mailbox with id.
func (t *Tx) MessageByID(la, id string) (*Message, bool, error) {
	key := t.b(bMessageIDs).Get(concat([]byte(la), []byte(id)))
	if key == nil {
		return nil, false, nil
	}
	m, err := t.Message(key)
	return m, err == nil, err
}

// MessageByContent returns the first message taken from la's mailbox with
// this file name and decompressed content hash.
func (t *Tx) MessageByContent(la, file, sha string) (*Message, bool, error) {
	key := t.b(bMessageFiles).Get(concat([]byte(la), []byte(sha), []byte(file)))
	if key == nil {
		return nil, false, nil
	}
	m, err := t.Message(key)
	return m, err == nil, err
}

// OpenMessages returns the messages of la (every LA when la is "") whose
// lifecycle is not finished, in the order they were taken per LA.
func (t *Tx) OpenMessages(la string) ([]*Message, error) {
	var out []*Message
	c := t.b(bOpen).Cursor()
	prefix := []byte(la)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		m, err := t.Message(k)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Messages calls fn for every message of la (every LA when ""), oldest
// first per LA.
func (t *Tx) Messages(la string, fn func(*Message) error) error {
	c := t.b(bMessages).Cursor()
	prefix := []byte(la)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		m := &Message{}
		if err := jsonUnmarshal(v, m); err != nil {
			return fmt.Errorf("decode message %x: %w", k, err)
		}
		m.Key = append([]byte(nil), k...)
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// PutOutcomes replaces the row outcomes of m.
func (t *Tx) PutOutcomes(m *Message, rows []RowOutcome) error {
	if err := t.DeleteOutcomes(m.Key); err != nil {
		return err
	}
	return t.AppendOutcomes(m, 0, rows)
}

// AppendOutcomes stores rows as the row outcomes of m from the index first
// on, so that a long list can be stored over several transactions (after
// DeleteOutcomes) without holding it all in one.
func (t *Tx) AppendOutcomes(m *Message, first int, rows []RowOutcome) error {
	b := t.b(bOutcomes)
	// Keys grow: a message's lines in order, after every earlier message's
	// (pages split full, as for the demographics reference).
	b.FillPercent = 1.0
	for i, r := range rows {
		key := t.slab.keep(binary.BigEndian.AppendUint32(append(t.slab.next(len(m.Key)+4), m.Key...), uint32(first+i)))
		v := t.slab.keep(appendRowOutcome(t.slab.next(32+len(r.LocalID)+len(r.NHSNumber)+len(r.Text)), r))
		if err := b.Put(key, v); err != nil {
			return fmt.Errorf("put outcomes of %s: %w", m.MessageID, err)
		}
	}
	return nil
}

// DeleteOutcomes removes the row outcomes stored for the message key.
func (t *Tx) DeleteOutcomes(msgKey []byte) error {
	_, err := t.deleteOutcomes(msgKey)
	return err
}

// PurgeOutcomes removes the row outcomes of the message key and reports how
// many there were.
func (t *Tx) PurgeOutcomes(msgKey []byte) (int, error) { return t.deleteOutcomes(msgKey) }

func (t *Tx) deleteOutcomes(msgKey []byte) (int, error) {
	b := t.b(bOutcomes)
	c := b.Cursor()
	var keys [][]byte
	for k, _ := c.Seek(msgKey); k != nil && bytes.HasPrefix(k, msgKey); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("delete outcomes: %w", err)
		}
	}
	return len(keys), nil
}

// Outcomes calls fn for each row outcome of the message key, in order.
func (t *Tx) Outcomes(msgKey []byte, fn func(RowOutcome) error) error {
	c := t.b(bOutcomes).Cursor()
	for k, v := c.Seek(msgKey); k != nil && bytes.HasPrefix(k, msgKey); k, v = c.Next() {
		r, err := decodeRowOutcome(v)
		if err != nil {
			return recordError(bOutcomes, outcomeName(k), err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// outcomeName is an outcomes key as people read it: "LA:seq/line".
func outcomeName(k []byte) string {
	if len(k) != 15 {
		return readable(k)
	}
	return messageName(k[:11]) + "/" + strconv.FormatUint(uint64(binary.BigEndian.Uint32(k[11:])), 10)
}

// MessageSeq returns the sequence number inside a message key.
func MessageSeq(key []byte) uint64 {
	if len(key) < 11 {
		return 0
	}
	return binary.BigEndian.Uint64(key[3:11])
}

// LAState is what the hub keeps per LA between runs.
type LAState struct {
	// LastApplied is the extract date of the newest applied return (CPF02
	// or CPF03); older returns are refused (F008).
	LastApplied caldate.Date `json:"last_applied,omitzero"`
	// LastAppliedID is the message ID of that return.
	LastAppliedID string `json:"last_applied_id,omitempty"`
}

// LAState returns the state kept for la.
func (t *Tx) LAState(la string) (LAState, error) {
	var s LAState
	_, err := getJSON(t.b(bLAState), []byte(la), &s)
	return s, err
}

// PutLAState saves the state of la.
func (t *Tx) PutLAState(la string, s LAState) error {
	return putJSON(t.b(bLAState), []byte(la), s)
}
