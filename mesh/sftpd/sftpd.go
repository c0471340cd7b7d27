// Package sftpd is the hub's SFTP server (mesh/mailboxes.md, "SFTP"): LA data
// teams log in with a public key, as their mailbox ID, and see their own
// mailbox only, as two folders:
//
//	/inbox    upload new files, list, rename unfinished uploads
//	/outbox   list, download, delete (which collects the message)
//
// The folders are <data dir>/mailboxes/<MAILBOX ID>/inbox and outbox, the
// ones mesh/local lists and ingest reads. Each connection gets a handler
// bound to the authenticated mailbox, which resolves every request against
// a virtual tree of those two folders and touches the disk through an
// os.Root opened on the mailbox folder, so no path, symbolic link or race
// reaches outside it.
//
// # Decisions
//
//   - Uploads land under ".<name>.tmp" and are renamed to name on Close
//     (fsync file, rename without replacing, fsync folder); the ingest
//     never reads hidden names. A write past the size limit fails and the
//     temporary file is removed at once; an upload cut off by a dropped
//     connection is removed when pkg/sftp closes its handle.
//   - An upload never replaces a file: opening an existing name for
//     writing, a Close that would land on a name that appeared meanwhile,
//     and a rename onto an existing name are refused. Appending (resume) is
//     refused too.
//   - In /inbox only unfinished uploads (names ending .filepart, .part or
//     .tmp, which the ingest never reads) may be renamed or deleted: a file
//     under its real name may already be being taken. Names starting with
//     "." are the hub's own and are neither listed nor accepted.
//   - Setting only the times of an inbox file (as WinSCP does after an
//     upload) succeeds and changes nothing, so that modification times stay
//     the hub's (the ingest's settle rule reads them); permissions, owner
//     and size changes are refused.
//   - Deleting an outbox data file also removes its control file and calls
//     Config.OnCollected; deleting a control file removes just that file.
//   - Refused requests are answered with permission denied, no such file or
//     failure and a short message that names no host path; each is in the
//     audit as a refusal. Looking up (stat) a name that does not exist is
//     not a refusal.
//   - A new name (upload, rename target) must pass mesh.CheckName: valid
//     UTF-8, at most mesh.MaxNameLen bytes, no control character, no
//     bidirectional control; the refusal says which rule, not the name.
//   - No client can starve the others or the process (which also answers
//     the HTTP lookups): limits before login (per source address, in all,
//     a short handshake timeout) and after it (sessions per mailbox,
//     channels per connection, an idle timeout), see Config. A session
//     whose key is removed ends at once (Revalidate). Refusals of one kind
//     from one source are audited at most once a minute, with a count, so
//     that a flood of them cannot flood the store either.
//   - Session numbers are unique across restarts (they go on from the start
//     time in microseconds).
//   - Temporary files a killed process left in a mailbox are removed once a
//     day old, at start and hourly (RemoveStaleTemps).
package sftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Defaults of Config, for an LA team of a handful of people whose
// software logs in, moves a few files and leaves.
const (
	DefaultSizeLimit        int64 = 512 << 20
	DefaultMaxConns               = 128
	DefaultMaxUnauth              = 32
	DefaultMaxUnauthPerIP         = 8
	DefaultHandshakeTimeout       = 10 * time.Second
	DefaultMaxSessions            = 8
	DefaultMaxChannels            = 4
	DefaultIdleTimeout            = 10 * time.Minute
	DefaultKeyRecheck             = time.Minute
)

// KeyStore tells which mailbox a public key opens (the hub's store is
// one: batch/meshstore).
type KeyStore interface {
	// MailboxForKey returns the mailbox ID key is registered for; ok is
	// false for a key not registered.
	MailboxForKey(key ssh.PublicKey) (mailboxID string, ok bool, err error)
}

// Event kinds.
const (
	KindLogin    = "login"
	KindUpload   = "upload"
	KindDownload = "download"
	KindDelete   = "delete"
	KindRename   = "rename"
	KindRefusal  = "refusal"
	KindLogout   = "logout"
)

// Event outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
	OutcomeFailed  = "failed"
)

// Event is one audit entry of an SFTP session: who did what to which path
// (as the client named it) and how it ended. Never file content.
// batch/meshstore converts it to the store's SFTP audit record, which has
// the same fields.
type Event struct {
	At          time.Time
	Session     uint64 // connection number, unique across restarts
	Kind        string // KindLogin, ...
	Op          string // for a refusal: what was attempted (login, open, write, remove, mkdir, ...)
	MailboxID   string
	User        string // the user name the client gave
	Remote      string
	Fingerprint string // of the key that logged in
	Path        string
	Target      string // rename or symlink target
	Bytes       int64
	Outcome     string // OutcomeOK, OutcomeRefused, OutcomeFailed
	Reason      string
}

// Config configures a Server. Every limit has a default (Default...) for
// a zero value; each refusal it causes is audited (KindRefusal), at most
// once a minute for the same cause from the same source, with the number
// refused since.
type Config struct {
	// DataDir is the hub's data directory: mailboxes are under
	// DataDir/mailboxes.
	DataDir string
	// HostKey is the server's host key (LoadOrCreateHostKey).
	HostKey ssh.Signer
	// Keys maps public keys to mailboxes. It is asked again for every open
	// session's key every KeyRecheck and on Revalidate.
	Keys KeyStore
	// Audit receives every session event; nil drops them. It is called
	// synchronously, from many goroutines.
	Audit func(Event)
	// SizeLimit is the largest upload, in bytes; 0 means DefaultSizeLimit.
	SizeLimit int64
	// MaxConns bounds the connections served at once, logged in or not;
	// more are closed at once.
	MaxConns int
	// MaxUnauth bounds the connections that have not logged in yet, from
	// all sources together, so that silent sockets cannot take every slot.
	MaxUnauth int
	// MaxUnauthPerIP bounds the connections not logged in yet from one
	// source address (an IPv6 source counts by its /64).
	MaxUnauthPerIP int
	// HandshakeTimeout bounds the SSH handshake and authentication.
	HandshakeTimeout time.Duration
	// MaxSessions bounds the logged-in connections of one mailbox; a
	// connection over it is told so when it opens a channel, and closed.
	MaxSessions int
	// MaxChannels bounds the channels (SFTP sessions) open at once on one
	// connection; more are rejected.
	MaxChannels int
	// IdleTimeout closes a logged-in connection that sent no SFTP request
	// (no byte on any of its channels) for that long.
	IdleTimeout time.Duration
	// KeyRecheck is how often every open session's key is checked against
	// Keys again (Revalidate does it at once).
	KeyRecheck time.Duration
	// OnCollected, when set, is called after an LA deleted the outbox data
	// file fileName (and the server removed its control file).
	OnCollected func(mailboxID, fileName string)
	// Log receives operational messages (with host detail the client never
	// sees); nil discards them.
	Log *slog.Logger
}

// withDefaults returns cfg with every zero limit set to its default.
func (cfg Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if cfg.SizeLimit <= 0 {
		cfg.SizeLimit = DefaultSizeLimit
	}
	def(&cfg.MaxConns, DefaultMaxConns)
	def(&cfg.MaxUnauth, DefaultMaxUnauth)
	def(&cfg.MaxUnauthPerIP, DefaultMaxUnauthPerIP)
	def(&cfg.MaxSessions, DefaultMaxSessions)
	def(&cfg.MaxChannels, DefaultMaxChannels)
	defDur(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	defDur(&cfg.IdleTimeout, DefaultIdleTimeout)
	defDur(&cfg.KeyRecheck, DefaultKeyRecheck)
	return cfg
}

// Server is the hub's SFTP server.
type Server struct {
	cfg      Config
	mailbox  string // DataDir/mailboxes
	log      *slog.Logger
	sessions atomic.Uint64 // the last session number given
	refused  *refusals     // audit entries held back
	quiet    *refusals     // log lines held back

	mu       sync.Mutex
	addr     net.Addr
	busy     map[string]bool // mailbox ID + "/" + name: uploads in progress
	conns    int             // connections served, logged in or not
	unauth   map[string]int  // source -> connections not logged in yet
	nUnauth  int             // sum of unauth
	perBox   map[string]int  // mailbox ID -> logged-in connections
	loggedIn map[*session]struct{}
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" || cfg.HostKey == nil || cfg.Keys == nil {
		return nil, errors.New("sftpd: DataDir, HostKey and Keys are required")
	}
	cfg = cfg.withDefaults()
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg,
		mailbox:  filepath.Join(cfg.DataDir, "mailboxes"),
		log:      log.With("component", "sftp"),
		refused:  newRefusals(time.Minute),
		quiet:    newRefusals(time.Minute),
		busy:     map[string]bool{},
		unauth:   map[string]int{},
		perBox:   map[string]int{},
		loggedIn: map[*session]struct{}{},
	}
	// Session numbers go on from the start time in microseconds, so that
	// they do not repeat across restarts (unless a run made more than one
	// connection per microsecond it lasted).
	s.sessions.Store(uint64(time.Now().UnixMicro()))
	return s, nil
}

// Addr returns the address Serve listens on, nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *Server) audit(e Event) {
	if s.cfg.Audit == nil {
		return
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	s.cfg.Audit(e)
}

// Serve accepts connections on l until ctx is cancelled or l fails. On
// cancel it closes l and every connection (unfinished uploads are removed)
// and returns nil once all are done.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.mu.Lock()
	s.addr = l.Addr()
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	context.AfterFunc(ctx, func() { l.Close() })
	var wg sync.WaitGroup
	defer func() {
		cancel() // closes l and every connection
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.watch(ctx)
	}()
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept", "err", err)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("sftp accept: %w", err)
		}
		delay = 0
		src := source(c.RemoteAddr())
		if reason := s.admit(src); reason != "" {
			c.Close()
			s.refuseConn(src, c.RemoteAddr().String(), reason)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.leave()
			s.serveConn(ctx, c, src)
		}()
	}
}

// errAuth is what a refused key gets; x/crypto/ssh does not send it.
var errAuth = errors.New("public key not registered for this mailbox")

// handshake runs the SSH handshake and authentication of c, within the
// handshake timeout.
func (s *Server) handshake(c net.Conn, src string, sess uint64) (*ssh.ServerConn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	remote := c.RemoteAddr().String()
	triedKey, user := false, ""
	cfg := &ssh.ServerConfig{
		ServerVersion: "SSH-2.0-cpis",
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			mb, ok, err := s.cfg.Keys.MailboxForKey(key)
			if err != nil {
				s.log.Error("key lookup", "session", sess, "err", err)
				return nil, errAuth
			}
			if !ok || !strings.EqualFold(mb, meta.User()) || !validID(strings.ToUpper(mb)) {
				return nil, errAuth
			}
			return &ssh.Permissions{Extensions: map[string]string{
				"mailbox":     strings.ToUpper(mb),
				"fingerprint": ssh.FingerprintSHA256(key),
				"key":         string(key.Marshal()),
			}}, nil
		},
		AuthLogCallback: func(meta ssh.ConnMetadata, method string, _ error) {
			user = meta.User()
			if method != "none" {
				triedKey = true
			}
		},
	}
	cfg.AddHostKey(s.cfg.HostKey)

	_ = c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	sconn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		var ne net.Error
		switch {
		case triedKey:
			s.refuseOnce("login "+src, Event{Session: sess, Kind: KindRefusal, Op: "login", User: user, Remote: remote,
				Outcome: OutcomeRefused, Reason: "authentication failed"})
		case errors.As(err, &ne) && ne.Timeout():
			// Not audited (any port scanner does it), logged at most once
			// a minute per source.
			if e, ok := s.quiet.hold(src, Event{Reason: "handshake timed out"}, time.Now()); ok {
				s.log.Info(e.Reason, "session", sess, "remote", remote, "limit", s.cfg.HandshakeTimeout)
			}
		default:
			s.log.Debug("handshake", "session", sess, "remote", remote, "err", err)
		}
		return nil, nil, nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return sconn, chans, reqs, nil
}

func (s *Server) serveConn(ctx context.Context, c net.Conn, src string) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	sess := s.sessions.Add(1)
	remote := c.RemoteAddr().String()

	// The connection holds one of src's slots for connections not logged
	// in until it has a session: one turned away for its mailbox's limit
	// counts as not logged in, so that a key cannot hold more slots that
	// way than a stranger can.
	waiting := true
	defer func() {
		if waiting {
			s.loggedInOrGone(src)
		}
	}()
	sconn, chans, reqs, err := s.handshake(c, src, sess)
	if err != nil {
		return
	}
	defer sconn.Close()
	mb := sconn.Permissions.Extensions["mailbox"]
	fp := sconn.Permissions.Extensions["fingerprint"]
	key, err := ssh.ParsePublicKey([]byte(sconn.Permissions.Extensions["key"]))
	if err != nil {
		s.log.Error("parse key", "session", sess, "err", err)
		return
	}
	go ssh.DiscardRequests(reqs)

	se := &session{id: sess, mailbox: mb, remote: remote, key: key, conn: sconn}
	se.touch()
	if !s.enter(se) {
		s.overSessions(se, sconn.User(), fp, chans)
		return
	}
	defer s.exit(se)
	waiting = false
	s.loggedInOrGone(src)

	root, err := os.OpenRoot(filepath.Join(s.mailbox, mb))
	if err != nil {
		s.log.Error("open mailbox", "session", sess, "mailbox", mb, "err", err)
		s.audit(Event{Session: sess, Kind: KindRefusal, Op: "login", MailboxID: mb, User: sconn.User(), Remote: remote,
			Fingerprint: fp, Outcome: OutcomeFailed, Reason: "mailbox not available"})
		return
	}
	defer root.Close()
	h := &handler{s: s, root: root, mailbox: mb, session: sess, remote: remote, uploads: map[string]*upload{}}
	s.audit(Event{Session: sess, Kind: KindLogin, MailboxID: mb, User: sconn.User(), Remote: remote, Fingerprint: fp, Outcome: OutcomeOK})
	s.log.Info("login", "session", sess, "mailbox", mb, "remote", remote, "fingerprint", fp)

	var channels sync.WaitGroup
	var open atomic.Int32
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only SFTP sessions")
			continue
		}
		if int(open.Load()) >= s.cfg.MaxChannels {
			reason := fmt.Sprintf("too many channels open on this connection (limit %d)", s.cfg.MaxChannels)
			_ = nc.Reject(ssh.ResourceShortage, reason)
			s.refuseOnce(fmt.Sprintf("channels %d", sess), Event{Session: sess, Kind: KindRefusal, Op: "channel", MailboxID: mb,
				Remote: remote, Outcome: OutcomeRefused, Reason: reason})
			// The next channel request of this connection waits: a
			// client opening channels without end is slowed down (its
			// whole connection is, as x/crypto/ssh stops reading it when
			// its requests queue up), not served as fast as it asks.
			time.Sleep(channelRefusalPause)
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			s.log.Warn("accept channel", "session", sess, "err", err)
			continue
		}
		open.Add(1)
		channels.Add(1)
		go func() {
			defer channels.Done()
			defer open.Add(-1)
			h.serveChannel(activeChannel{ch, se}, creqs)
		}()
	}
	channels.Wait()
	s.audit(Event{Session: sess, Kind: KindLogout, MailboxID: mb, Remote: remote,
		Bytes: h.upBytes.Load() + h.downBytes.Load(), Outcome: OutcomeOK})
}

// serveChannel answers the requests of one session channel: the sftp
// subsystem, and nothing else (no shell, exec or port forwarding).
func (h *handler) serveChannel(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "subsystem" || !isSFTP(req.Payload) {
			_ = req.Reply(false, nil)
			continue
		}
		_ = req.Reply(true, nil)
		go ssh.DiscardRequests(reqs)
		rs := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h},
			sftp.WithRSAllocator())
		if err := rs.Serve(); err != nil && !errors.Is(err, io.EOF) {
			h.s.log.Debug("sftp session", "session", h.session, "err", err)
		}
		_ = rs.Close()
		return
	}
}

// isSFTP reports whether a subsystem request's payload (an SSH string)
// names "sftp".
func isSFTP(payload []byte) bool {
	if len(payload) < 4 {
		return false
	}
	n := int(payload[0])<<24 | int(payload[1])<<16 | int(payload[2])<<8 | int(payload[3])
	return n == len(payload)-4 && string(payload[4:]) == "sftp"
}

func validID(id string) bool {
	if id == "" {
		return false
	}
	for _, r := range id {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// claim marks name of mailbox as being uploaded; false if it already is.
func (s *Server) claim(mailbox, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := mailbox + "/" + name
	if s.busy[k] {
		return false
	}
	s.busy[k] = true
	return true
}

func (s *Server) release(mailbox, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, mailbox+"/"+name)
}

func (s *Server) claimed(mailbox, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy[mailbox+"/"+name]
}
