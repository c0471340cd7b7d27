// Package meshapi is the hub's MESH REST API server (mesh/meshapi/mesh-api.md): an
// http.Handler serving everything under /messageexchange, and /_ping, so
// that an LA's MESH software can point at the hub unchanged.
//
// The server speaks mailboxes, not CP-IS rules. What a mailbox may log in
// with, where a sent message lands, what a mailbox's inbox holds and what
// the sender sees when tracking come from the interfaces below (Accounts,
// Router, Inbox, Tracking, Directory), which the jobs layer implements over
// the store and the mailbox folders (batch/meshstore); mesh/meshapi/memory
// is an in-memory implementation for tests. Chunked uploads in progress
// live in a folder of their own (Uploads), each chunk on disk before its
// 202, and reach the Router only whole.
//
// # Decisions
//
//   - Authentication is NHSMESH (HMAC-SHA256 of mailbox, nonce, nonce
//     count, password and timestamp with the environment's shared key),
//     compared in constant time, the hex in any case, the timestamp within
//     MaxSkew of the server clock. A (mailbox, nonce, nonce count) is
//     refused once a request carrying it has been answered, except when
//     the answer was 425, 429 or 5xx: NHS England's client resends the same
//     header then. Tokens used are remembered in memory for as long as
//     their timestamp would pass (a restart forgets them).
//   - Accept: application/vnd.mesh.v2+json selects v2 bodies (snake_case)
//     and lower-case mex- header names; anything else v1 (camelCase),
//     except another vnd.mesh value, which is 400. Standard HTTP headers
//     (Content-Type, Content-Length, Content-Encoding, Retry-After) are
//     written by net/http in their usual form; header names are
//     case-insensitive in HTTP.
//   - A message's transport encoding (Content-Encoding: gzip, each chunk a
//     whole gzip stream) is removed before the Router sees it: Deliver gets
//     the content as the sender meant it, and the size limit applies to it.
//   - Limits: a request body over MaxRequest is 413; a message over
//     MaxMessage (assembled, decoded) is 417 and nothing of it is kept;
//     per-mailbox concurrency and rate limits answer 429 with Retry-After
//     (the token is not used up, so the client's retry succeeds); every
//     read of a request body must make progress within BodyIdle. Every
//     refusal is audited.
package meshapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

var (
	// ErrNotFound reports a message or upload that does not exist (or is
	// no longer there).
	ErrNotFound = errors.New("not found")
	// ErrForbidden reports a message that exists but is not the caller's:
	// another mailbox's inbound message, or another sender's upload.
	ErrForbidden = errors.New("forbidden")
	// ErrUnknownMailbox reports a mailbox that does not log in (none, no
	// password, or the hub's own).
	ErrUnknownMailbox = errors.New("unknown mailbox")
)

// Refusal codes of a send (the MESH specification's codes).
const (
	CodeUnregistered     = "12" // the recipient is not a mailbox
	CodeSenderNotAllowed = "16" // the sender may not send this workflow
	CodeNotRegistered    = "17" // the recipient does not receive this workflow
)

// Refusal is a send the Router refuses: Code is CodeUnregistered,
// CodeSenderNotAllowed or CodeNotRegistered, Reason a short text for the
// audit (never shown to the client beyond the code's own description).
type Refusal struct {
	Code   string
	Reason string
}

func (r *Refusal) Error() string { return fmt.Sprintf("refused (%s): %s", r.Code, r.Reason) }

// Client is what a MESH client reports of itself at the handshake.
type Client struct {
	Version   string // mex-ClientVersion
	OSName    string // mex-OSName
	OSVersion string // mex-OSVersion
}

// Accounts tells which mailboxes log in and with what.
type Accounts interface {
	// Credentials returns the environment's shared key and mailbox's
	// password (mailbox as the client gave it; IDs compare
	// case-insensitively). A mailbox that does not log in (unknown, no
	// password, the hub's own) returns an error wrapping
	// ErrUnknownMailbox. It is called on every request, from many
	// goroutines: it should answer from memory.
	Credentials(ctx context.Context, mailbox string) (key, password []byte, err error)
	// Handshake records that mailbox (upper case) shook hands at t,
	// reporting client. It need not be durable at once.
	Handshake(ctx context.Context, mailbox string, client Client, t time.Time) error
}

// Envelope is a message as its sender gave it: the send's headers and the
// message ID the server gave it. Mailbox IDs are upper case.
type Envelope struct {
	ID         string // the message ID (mesh.NewMessageID), given at send
	From       string
	To         string
	Workflow   string // mex-WorkflowID
	FileName   string // mex-FileName; "" when the sender gave none
	LocalID    string // mex-LocalID
	Subject    string // mex-Subject
	PartnerID  string // mex-PartnerID
	Checksum   string // mex-Content-Checksum
	Encrypted  bool   // mex-Content-Encrypted: Y
	Compressed bool   // mex-Content-Compressed: Y (the content itself, not the transport)
	Chunks     int    // how many chunks it was sent in
	Uploaded   time.Time
}

// Router decides where a sent message goes and puts it there.
type Router interface {
	// Route tells whether from may send workflow to to, before any of the
	// body is read: nil, or an error wrapping a *Refusal (code 12, 16 or
	// 17). Mailbox IDs are upper case.
	Route(ctx context.Context, from, to, workflow string) error
	// Deliver puts a complete message into the recipient's inbox. body is
	// the whole content, decoded (no transport gzip), and is read to its
	// end. The contract:
	//   - atomic: a reader of the inbox sees the whole message or nothing,
	//     and if reading body fails (an error wrapping mesh.ErrTooLarge
	//     among others) nothing is kept and an error wrapping body's error
	//     is returned;
	//   - durable: when Deliver returns nil the message is on disk
	//     (fsynced, folder included), and only then does the server answer
	//     202;
	//   - idempotent on e.ID: a message already delivered is not delivered
	//     again and Deliver returns nil (after a crash the server delivers
	//     a complete upload a second time);
	//   - a refusal decided only now returns an error wrapping *Refusal.
	Deliver(ctx context.Context, e Envelope, body io.Reader) error
}

// Message is an inbound message as a recipient downloads it.
type Message struct {
	ID       string
	From     string
	To       string
	Workflow string
	FileName string
	LocalID  string
	Subject  string
	// PartnerID, Encrypted and Compressed are the sender's mex- values.
	PartnerID  string
	Encrypted  bool
	Compressed bool
	// Type is "DATA" or "REPORT" ("" means DATA).
	Type string
	// Chunks is how many chunks the message is downloaded in (at least 1).
	Chunks int
	// Gzip says every chunk is stored as a whole gzip stream: it is sent
	// with Content-Encoding: gzip to a client that accepts gzip, and
	// decoded for one that does not.
	Gzip bool
	// Delivered is when it reached the inbox (the status timestamp).
	Delivered time.Time
}

// Entry is a message in an inbox listing.
type Entry struct {
	ID       string
	Workflow string
}

// Inbox is what a mailbox receives: for an LA, its hub-side outbox folder.
type Inbox interface {
	// List returns every message in mailbox's inbox, complete ones only,
	// sorted by message ID (ascending). The server pages, filters and
	// counts over it.
	List(ctx context.Context, mailbox string) ([]Entry, error)
	// Open returns an inbound message's metadata: an error wrapping
	// ErrNotFound when there is no such message in any inbox (or no
	// longer), ErrForbidden when it is in another mailbox's.
	Open(ctx context.Context, mailbox, id string) (Message, error)
	// Chunk opens chunk k (1..Chunks) of a message as stored (a gzip
	// stream when Message.Gzip) and returns its size in bytes. Errors as
	// Open.
	Chunk(ctx context.Context, mailbox, id string, k int) (io.ReadCloser, int64, error)
	// Acknowledge takes the message out of the inbox (for an LA: collects
	// it, as an SFTP delete would), durably. A message this mailbox has
	// already acknowledged returns nil (a retried request); errors
	// otherwise as Open.
	Acknowledge(ctx context.Context, mailbox, id string) error
}

// Tracking statuses.
const (
	StatusAccepted      = "accepted"      // in the recipient's inbox
	StatusAcknowledged  = "acknowledged"  // the recipient has taken it
	StatusUndeliverable = "undeliverable" // not collected in time (code 14)
)

// Tracked is what a sender sees of a message it sent.
type Tracked struct {
	Envelope
	Size              int64  // bytes of content
	Status            string // StatusAccepted, ...
	StatusCode        string // "00", or "14" when undeliverable
	StatusEvent       string // "TRANSFER", "SEND", ...
	StatusDescription string
	StatusTime        time.Time
	Acknowledged      time.Time // zero until acknowledged
	Expiry            time.Time // when it leaves the inbox uncollected
	RecipientName     string
}

// Tracking answers a sender's questions about messages it sent.
type Tracking interface {
	// Track returns the message id as mailbox sent it: an error wrapping
	// ErrNotFound when it is unknown or mailbox is not its sender.
	Track(ctx context.Context, mailbox, id string) (Tracked, error)
}

// Mailbox is a mailbox as endpoint lookup shows it.
type Mailbox struct {
	ID   string
	Name string
}

// Directory answers endpoint lookup and workflow search.
type Directory interface {
	// Lookup returns the mailboxes of organisation ods that receive
	// workflow.
	Lookup(ctx context.Context, ods, workflow string) ([]Mailbox, error)
	// Search returns every mailbox that receives workflow.
	Search(ctx context.Context, workflow string) ([]Mailbox, error)
}
