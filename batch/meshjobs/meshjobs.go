// Package meshjobs is the pull and push jobs' MESH part: when the hub's
// own mailbox at a real MESH is recorded (`cpis mesh connect`), Pull
// brings the returns waiting in that mailbox's inbox into the inbox
// folders of the LAs that sent them, and Push sends LA outbox messages to
// the LAs' MESH mailboxes (mesh/meshapi/mesh-api.md, "Client: the hub reaching a real
// MESH mailbox"). It talks to MESH through mesh/meshclient and to the
// store through Store (batch/meshstore fills it).
//
// # Exactly once
//
//   - Pull: a message is recorded (putting) before its files are written
//     into the LA's inbox folder (data file, then control file, each
//     atomically), marked put after, and acknowledged at MESH only then. A
//     message recorded put (or unrouted) is acknowledged and not put
//     again. A message recorded putting (a run cut off while writing) is
//     put only if it is nowhere yet: not taken by the ingest (its ID in
//     the store), not in the inbox folder (its control file with that
//     DTSId, or its data file with the same SHA-256), not in the ingest's
//     archive with the same SHA-256.
//   - Push: a message is sent in at least two chunks. MESH gives its ID
//     with the first chunk and delivers it only with the last, so the ID
//     is recorded (started) before the message can reach the LA. After a
//     crash, a started message is tracked at MESH: known, it was
//     delivered; unknown, its remaining chunks are sent again (MESH
//     answering that the upload is complete means delivered too; an
//     upload MESH has forgotten is sent afresh). It is recorded sent (and
//     collected), then archived; a sent message is only archived. A crash
//     between the first chunk's answer and its record leaves an
//     unfinished upload at MESH, never delivered (MESH drops it after a
//     day), and the message is sent afresh.
//
// # Routing
//
//   - Pulled: a DATA message of workflow CPIS_LA_UPLOAD whose mex-From is
//     the mailbox ID of one of the hub's LAs (case-insensitively) goes to
//     that LA's inbox folder under its mex-FileName, with a control file
//     as `cpis mailbox send` writes one (DTSId the MESH message ID). Any
//     other message (another workflow, a sender that is no LA, a report,
//     a file name the inbox would never read) is archived under
//     <data>/archive/mesh/unrouted/ (content and a control file with its
//     envelope), audited (mesh_unrouted) and counted, then acknowledged.
//     A message whose name is taken in the inbox folder by another file,
//     or over the size limit, stays at MESH and is reported as a problem.
//   - Pushed: the outbox of every LA without an SFTP remote mailbox (or
//     those the connection names; none when it says so), each message
//     whose control file is there, to the LA's mailbox ID with its control
//     file's workflow and subject, its file name, and the hub's message
//     ID as mex-LocalID.
//
// # Handshake and failures
//
// Each job handshakes when none succeeded yet on the day (UTC) of its
// clock. A MESH that refuses the mailbox, or cannot be reached, fails the
// job's MESH part (Result.Failed, with a sentence saying so) while the
// SFTP remotes are served.
package meshjobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cpis/mesh/meshclient"
	"cpis/store"
)

// DefaultSizeLimit bounds a message pulled when Config.SizeLimit is 0.
const DefaultSizeLimit int64 = 512 << 20

// Mailbox is one of the hub's LAs as the jobs route to it.
type Mailbox struct {
	LA        string // code
	MailboxID string
	Remote    bool // it has an SFTP remote mailbox (served by mesh/remote)
}

// Store is what Pull and Push read and record. Each method is one
// transaction of its own.
type Store interface {
	// Conn returns the hub's MESH connection and the time of its last
	// successful handshake; ok is false when none is recorded.
	Conn() (c store.MeshConn, lastHandshake time.Time, ok bool, err error)
	// RecordHandshake records a successful handshake at time at.
	RecordHandshake(at time.Time) error
	// Mailboxes returns the hub's LAs.
	Mailboxes() ([]Mailbox, error)
	// Pulled returns the record of MESH message id.
	Pulled(id string) (store.MeshPulled, bool, error)
	// RecordPulled adds or replaces p, with the audit event mesh_pulled
	// (state put) or mesh_unrouted (state unrouted) when its state
	// changes to one of those.
	RecordPulled(p store.MeshPulled) error
	// Taken reports whether the ingest has taken a return of LA la with
	// message ID id.
	Taken(la, id string) (bool, error)
	// Pushed returns the record of LA la's outbox message id.
	Pushed(la, id string) (store.MeshPushed, bool, error)
	// RecordPushed adds or replaces p; when its state becomes sent, also
	// the collection of its data file (by MESH) and the audit event
	// mesh_pushed.
	RecordPushed(p store.MeshPushed) error
}

// Config configures Pull and Push.
type Config struct {
	DataDir string
	Store   Store
	// Now is the clock of records, audit times and the daily handshake.
	Now func() time.Time
	Log *slog.Logger
	// SizeLimit bounds a message pulled; 0 means DefaultSizeLimit.
	SizeLimit int64
	// Tune adjusts the client's configuration before it is made (tests:
	// retries, clock); nil leaves it.
	Tune func(*meshclient.Config)
}

// Message is a message moved (or whose move an earlier run had done and
// this one finished).
type Message struct {
	MeshID   string `json:"mesh_id"`
	LA       string `json:"la,omitempty"`
	Peer     string `json:"peer"` // mex-From of a pulled message, mex-To of a pushed one
	Workflow string `json:"workflow"`
	Name     string `json:"name"` // the data file
	Size     int64  `json:"size"`
	// Already says an earlier run had put or sent it: this run only
	// finished the steps left (acknowledging, archiving).
	Already bool `json:"already,omitempty"`
	// Unrouted says it was archived for operations, not put into an inbox.
	Unrouted bool   `json:"unrouted,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Problem is a message left where it was, for operations to look at.
type Problem struct {
	MeshID string `json:"mesh_id,omitempty"`
	LA     string `json:"la,omitempty"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Result is what a Pull or Push did over MESH.
type Result struct {
	// Connected says a MESH connection is recorded (nothing else is set
	// when it is not).
	Connected  bool      `json:"connected"`
	Mailbox    string    `json:"mailbox,omitempty"`
	Handshake  bool      `json:"handshake,omitempty"` // one was made this run
	Messages   []Message `json:"messages,omitempty"`
	Problems   []Problem `json:"problems,omitempty"`
	Failed     error     `json:"-"` // what stopped the MESH part
	FailedText string    `json:"failed,omitempty"`
}

// Counts summarises r for a job listing: nothing when no MESH connection
// is recorded.
func (r Result) Counts() map[string]int {
	if !r.Connected {
		return nil
	}
	var bytes int64
	unrouted, moved := 0, 0
	for _, m := range r.Messages {
		if m.Unrouted {
			unrouted++
			continue
		}
		moved++
		bytes += m.Size
	}
	failed := 0
	if r.Failed != nil {
		failed = 1
	}
	return map[string]int{"mesh_messages": moved, "mesh_bytes": int(bytes), "mesh_unrouted": unrouted,
		"mesh_problems": len(r.Problems), "mesh_failed": failed}
}

func (r *Result) fail(err error) {
	r.Failed = err
	r.FailedText = err.Error()
}

// testHook, when set (tests only), is called at each step of moving a
// message; an error stops the run there, as a crash would.
var testHook func(step, id string) error

func hook(step, id string) error {
	if testHook == nil {
		return nil
	}
	return testHook(step, id)
}

func (c *Config) defaults() error {
	if c.DataDir == "" || c.Store == nil {
		return errors.New("meshjobs: DataDir and Store are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.SizeLimit <= 0 {
		c.SizeLimit = DefaultSizeLimit
	}
	return nil
}

// readSecret reads a password or key file: its content without the
// trailing line end.
func readSecret(what, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the MESH %s file: %w", what, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("the MESH %s file %s is empty", what, path)
	}
	return s, nil
}

// Client makes the MESH client of connection c: its secrets and TLS
// files read now. tune (nil: none) adjusts the configuration first.
func Client(c store.MeshConn, tune func(*meshclient.Config)) (*meshclient.Client, error) {
	pw, err := readSecret("password", c.PasswordFile)
	if err != nil {
		return nil, err
	}
	key, err := readSecret("shared key", c.SharedKeyFile)
	if err != nil {
		return nil, err
	}
	cfg := meshclient.Config{URL: c.URL, Mailbox: c.Mailbox, Password: pw, SharedKey: key, ChunkSize: c.ChunkSize}
	if c.CertFile != "" || c.CAFile != "" || strings.HasPrefix(c.URL, "https:") {
		if cfg.TLS, err = meshclient.TLSConfig(c.CertFile, c.KeyFile, c.CAFile); err != nil {
			return nil, err
		}
	}
	if tune != nil {
		tune(&cfg)
	}
	return meshclient.New(cfg)
}

// connect returns the client of the recorded connection after the day's
// handshake; ok is false when no connection is recorded. A failure is
// recorded in res.
func connect(ctx context.Context, cfg *Config, res *Result, job string) (*meshclient.Client, bool, error) {
	conn, last, ok, err := cfg.Store.Conn()
	if err != nil {
		return nil, false, fmt.Errorf("mesh %s: %w", job, err)
	}
	if !ok {
		return nil, false, nil
	}
	res.Connected, res.Mailbox = true, conn.Mailbox
	c, err := Client(conn, cfg.Tune)
	if err != nil {
		res.fail(fmt.Errorf("MESH mailbox %s: %w", conn.Mailbox, err))
		return nil, false, nil
	}
	now := cfg.Now().UTC()
	if last.IsZero() || last.UTC().Format(time.DateOnly) != now.Format(time.DateOnly) {
		if err := c.Handshake(ctx); err != nil {
			res.fail(connError(conn, err))
			return nil, false, nil
		}
		res.Handshake = true
		if err := cfg.Store.RecordHandshake(now); err != nil {
			return nil, false, fmt.Errorf("mesh %s: %w", job, err)
		}
	}
	return c, true, nil
}

// connError says what a failure to reach the MESH mailbox means.
func connError(conn store.MeshConn, err error) error {
	if errors.Is(err, meshclient.ErrRefused) {
		return fmt.Errorf("MESH at %s refused the mailbox %s (check its password and shared key files, and the client certificate): %w", conn.URL, conn.Mailbox, err)
	}
	return fmt.Errorf("MESH mailbox %s at %s: %w", conn.Mailbox, conn.URL, err)
}

// workDir is where pulled messages are downloaded before they are put.
func workDir(dataDir string) string { return filepath.Join(dataDir, "mesh", "client", "pull") }

// UnroutedDir is where messages that are no LA's return are archived.
func UnroutedDir(dataDir string) string { return filepath.Join(dataDir, "archive", "mesh", "unrouted") }
