// Package remote moves messages between the hub's local mailboxes
// (mesh/local) and LA mailboxes that live on other SFTP servers
// (mesh/mailboxes.md, "Remote mailboxes"): Pull brings returns from each remote
// inbox into the LA's local inbox, where the ingest takes them; Push
// delivers each local outbox message to the remote outbox and archives it
// as collected. The daemon's pull and push jobs call them; `cpis remotes`
// records which LA has a remote mailbox. What they read and record in the
// hub's store goes through the Store interface (batch/meshstore fills it
// from the store).
//
// The remote folders are named from the hub's side, like the local ones:
// Remote.Inbox is where the LA (or its transfer service) puts returns for
// the hub to pull, Remote.Outbox where the hub pushes what the LA
// collects. They are paths on the remote server, absolute or relative to
// the login's home folder.
//
// # Contracts
//
//   - Host keys are checked against <data dir>/known_hosts (OpenSSH format):
//     an unknown or changed key stops that LA with a HostKeyError naming the
//     host and the fingerprint seen; the other LAs go on. Nothing is ever
//     added to known_hosts automatically.
//   - A remote file is never brought twice and never lost, whatever breaks
//     (connection, process): it is downloaded under ".<name>.tmp" in the
//     local inbox (size limit enforced while copying, fsynced), recorded in
//     the Store with its path, size, modification time and SHA-256, renamed
//     into the inbox (never over an existing file), marked delivered, and
//     only then deleted remotely. A file the Store has recorded is not
//     brought again: the remaining steps are finished (the remote delete,
//     typically). A file already in the local inbox under that name with
//     the same SHA-256 counts as pulled; with other content the remote
//     file stays and is reported.
//   - Pull takes a remote data file once its control file (mesh.ControlName)
//     is there, or, without one, once its remote modification time has
//     settled by the real clock (mesh.Pair, mesh.Message.Ready); then its
//     control file. Work in progress (mesh.IsTempName), folders and links
//     are never read.
//   - Push delivers each outbox message whose control file is there (the
//     hub writes the data file, then its control file): the data file is
//     uploaded as "<name>.part", its size checked, renamed to <name>
//     (never over an existing file), then the control file the same way;
//     the delivery and the collection are recorded; then both files move
//     to archive/<MAILBOX>/out. A remote file of that name and size counts
//     as delivered, so a run cut off half way is finished by the next.
package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"cpis/mesh"
	"cpis/mesh/local"
)

// Defaults of Config.
const (
	DefaultSizeLimit   int64 = 512 << 20
	DefaultDialTimeout       = 30 * time.Second
	// parallel bounds how many LAs are served at once.
	parallel = 4
)

// Sentinel errors.
var (
	// ErrUnknownHost: the remote's host key is not in known_hosts.
	ErrUnknownHost = errors.New("unknown host key")
	// ErrHostKeyChanged: known_hosts holds another key for the remote.
	ErrHostKeyChanged = errors.New("host key changed")
	// ErrAuth: the remote refused the key.
	ErrAuth = errors.New("authentication refused")
)

// Remote is an LA's mailbox on another SFTP server: where and as whom the
// hub logs in, and its folders, named from the hub's side like the local
// ones (the hub pulls returns from Inbox and pushes messages to Outbox).
type Remote struct {
	LA string // the LA's code
	// MailboxID is the LA's mailbox ID; "" when the LA is not one of the
	// hub's authorities (that LA then fails).
	MailboxID string
	Addr      string // host:port
	User      string
	KeyFile   string // the private key the hub logs in with
	Inbox     string // remote folder the hub pulls returns from
	Outbox    string // remote folder the hub pushes messages to
}

// PulledFile is the record of a remote file the pull brings into the local
// inbox: made (Delivered false) before the file is renamed into the local
// inbox, marked Delivered after, and the remote file is deleted only then.
type PulledFile struct {
	LA      string
	Path    string    // remote path
	Size    int64     // bytes
	ModTime time.Time // remote modification time
	SHA256  string    // hex, of the bytes as stored
	Name    string    // name in the local inbox
	At      time.Time
	// Delivered says the file is in the local inbox under Name (or was
	// taken from it since).
	Delivered bool
}

// PushedFile is the record of an outbox file the push delivered.
type PushedFile struct {
	LA     string
	Name   string // name in the local outbox
	Path   string // remote path
	Size   int64
	SHA256 string // hex
	At     time.Time
}

// PushedMessage is an outbox message the push delivered: its data file,
// then its control file.
type PushedMessage struct {
	LA, MailboxID string
	Data, Control PushedFile
	At            time.Time
}

// Store is what Pull and Push read and record in the hub's store. Each
// method is one transaction of its own.
type Store interface {
	// Remotes returns the remote mailboxes, by LA code: those of las, or
	// all when las is empty.
	Remotes(las []string) ([]Remote, error)
	// Pulled returns the record of the remote file version f names (its
	// LA, Path, Size, ModTime and SHA256); ok is false when there is none.
	Pulled(f PulledFile) (rec PulledFile, ok bool, err error)
	// RecordPulled adds or replaces the record of f.
	RecordPulled(f PulledFile) error
	// RecordDelivered records f as Delivered, with the audit event
	// "remote_pulled" at time at.
	RecordDelivered(f PulledFile, at time.Time) error
	// Pushed returns the latest delivery of LA la's outbox file name; ok
	// is false when there is none.
	Pushed(la, name string) (rec PushedFile, ok bool, err error)
	// RecordPushed records m's two files delivered, the collection of its
	// data file by push and the audit event "remote_pushed"; nothing when
	// its data file is recorded already with the same size and SHA-256
	// (by a run cut off before archiving).
	RecordPushed(m PushedMessage) error
}

// Config configures Pull and Push.
type Config struct {
	// DataDir is the hub's data directory (mailboxes, archive, known_hosts).
	DataDir string
	// Store holds the remote mailboxes and the records of files moved.
	Store Store
	// Now is the clock of records and audit times (--now).
	Now func() time.Time
	// RealNow is the wall clock of the settle rule; nil means time.Now.
	RealNow func() time.Time
	// SizeLimit bounds a file pulled; 0 means DefaultSizeLimit.
	SizeLimit int64
	Log       *slog.Logger
	// DialTimeout bounds connecting and logging in, and how long a server
	// may leave a keepalive unanswered; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// LAs limits the run to these LA codes; empty means every LA with a
	// remote mailbox.
	LAs []string
}

func (c *Config) defaults() error {
	if c.DataDir == "" || c.Store == nil {
		return errors.New("remote: DataDir and Store are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RealNow == nil {
		c.RealNow = time.Now
	}
	if c.SizeLimit <= 0 {
		c.SizeLimit = DefaultSizeLimit
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	return nil
}

// File is a file moved (or whose move an earlier run had started and this
// one finished).
type File struct {
	LA        string `json:"la"`
	MailboxID string `json:"mailbox_id"`
	Name      string `json:"name"`   // the local name
	Remote    string `json:"remote"` // the remote path
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	// Already says an earlier run had moved the file and was cut off
	// before the end: this run only finished the steps left (deleting the
	// remote copy, archiving the local one).
	Already bool `json:"already,omitempty"`
}

// Problem is a file left where it was, for operations to look at: over
// the size limit, or its name already taken by another file on the
// receiving side. It is not a failure of the LA; its other files move.
type Problem struct {
	LA     string `json:"la"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Result is what a Pull or Push did, by LA then file.
type Result struct {
	LAs      int // LAs with a remote mailbox served (failed ones included)
	Files    []File
	Problems []Problem
	Failed   []*mesh.LAError // the LAs that could not be served (host key, login, network, local disk)
}

// Counts summarises r for a job listing.
func (r Result) Counts() map[string]int {
	var bytes int64
	for _, f := range r.Files {
		bytes += f.Size
	}
	return map[string]int{"las": r.LAs, "files": len(r.Files), "bytes": int(bytes),
		"problems": len(r.Problems), "failed": len(r.Failed)}
}

// testHook, when set (tests only), is called at each step of moving a
// file; an error stops the LA there, as a crash would.
var testHook func(step, name string) error

func hook(step, name string) error {
	if testHook == nil {
		return nil
	}
	return testHook(step, name)
}

// laRun is one LA's part of a run.
type laRun struct {
	cfg      *Config
	remote   Remote
	mb       *local.Mailbox
	files    []File
	problems []Problem
}

func (r *laRun) problem(name, format string, args ...any) {
	p := Problem{LA: r.remote.LA, Name: name, Reason: fmt.Sprintf(format, args...)}
	r.cfg.Log.Warn("remote mailbox file left in place", "la", p.LA, "file", name, "reason", p.Reason)
	r.problems = append(r.problems, p)
}

// run serves every LA with a remote mailbox with do, in parallel
// (bounded); an LA that fails is reported and the others go on.
func run(ctx context.Context, cfg Config, job string, do func(context.Context, *laRun) error) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	remotes, err := cfg.Store.Remotes(cfg.LAs)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", job, err)
	}

	var (
		res Result
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, parallel)
	)
	res.LAs = len(remotes)
	for _, rm := range remotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := &laRun{cfg: &cfg, remote: rm}
			var err error
			switch {
			case rm.MailboxID == "":
				err = fmt.Errorf("LA %s is not one of the hub's authorities", rm.LA)
			case ctx.Err() != nil:
				err = ctx.Err()
			default:
				r.mb = local.Open(cfg.DataDir, rm.MailboxID)
				err = do(ctx, r)
			}
			if err != nil {
				cfg.Log.Error(job+" failed", "la", rm.LA, "addr", rm.Addr, "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			res.Files = append(res.Files, r.files...)
			res.Problems = append(res.Problems, r.problems...)
			if err != nil {
				res.Failed = append(res.Failed, &mesh.LAError{LA: rm.LA, Err: err})
			}
		}()
	}
	wg.Wait()
	sort.SliceStable(res.Files, func(i, j int) bool { return res.Files[i].LA < res.Files[j].LA })
	sort.SliceStable(res.Problems, func(i, j int) bool { return res.Problems[i].LA < res.Problems[j].LA })
	sort.Slice(res.Failed, func(i, j int) bool { return res.Failed[i].LA < res.Failed[j].LA })
	return res, ctx.Err()
}
