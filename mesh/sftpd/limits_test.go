package sftpd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"cpis/mesh/sftpd"
	"cpis/mesh/sshtest"
	"cpis/store"
)

// These tests drive the limits of sftpd.Config over a real listener: a
// client over one of them is refused, audited once, and the others are
// served meanwhile.

// dialFrom opens a TCP connection to the server from the loopback address
// src (127.0.0.2, ...: Linux answers the whole 127/8), so that one test can
// play several sources.
func dialFrom(t testing.TB, src string, port int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedSoon reports whether the server closed c within d (a read ends in
// EOF or a reset rather than a timeout). The server's version line, if it
// sent one, is read past.
func closedSoon(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 256)
	for {
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// refusals returns the refusal events so far, their times, sessions,
// remote addresses and fingerprints cleared.
func (e *env) refusals() []sftpd.Event {
	var out []sftpd.Event
	for _, ev := range e.audit() {
		if ev.Kind == sftpd.KindRefusal {
			out = append(out, ev)
		}
	}
	return out
}

// waitRefusals polls until n refusals are audited.
func (e *env) waitRefusals(t *testing.T, n int) []sftpd.Event {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d refusal(s) in the audit", n), func() bool { return len(e.refusals()) >= n })
	return e.refusals()
}

// loginWorks logs in as mailbox with the Go client and lists /inbox.
func (e *env) loginWorks(t *testing.T, mailbox string) {
	t.Helper()
	_, c := e.dial(mailbox)
	if _, err := c.ReadDir("/inbox"); err != nil {
		t.Fatalf("%s: list /inbox: %v", mailbox, err)
	}
}

func TestUnauthenticatedLimits(t *testing.T) {
	for _, c := range []struct {
		name    string
		perIP   int
		global  int
		sources []string // one idle connection from each, in order
		want    string   // the reason the last is refused
	}{
		{"per source", 3, 32, []string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.2"},
			"too many connections waiting to log in from this address (limit 3)"},
		{"in all", 8, 2, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"},
			"too many connections waiting to log in (limit 2)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *sftpd.Config) {
				cfg.MaxUnauthPerIP, cfg.MaxUnauth, cfg.HandshakeTimeout = c.perIP, c.global, 5*time.Second
			})
			var held []net.Conn
			for _, src := range c.sources[:len(c.sources)-1] {
				held = append(held, dialFrom(t, src, e.port))
			}
			// The server has taken the held ones (their slots) before the
			// last comes.
			waitFor(t, "the held connections to be served", func() bool {
				for _, h := range held {
					_ = h.SetReadDeadline(time.Now().Add(time.Second))
					if _, err := h.Read(make([]byte, 1)); err != nil {
						return false
					}
				}
				return true
			})
			over := dialFrom(t, c.sources[len(c.sources)-1], e.port)
			if !closedSoon(over, 2*time.Second) {
				t.Error("a connection over the limit was kept")
			}
			got := e.waitRefusals(t, 1)
			want := []sftpd.Event{{Kind: sftpd.KindRefusal, Op: "connect", Outcome: sftpd.OutcomeRefused, Reason: c.want}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("refusals (-want +got):\n%s", diff)
			}
			if c.name == "per source" {
				// Another source (an LA) logs in meanwhile.
				e.loginWorks(t, la841)
			}
			for _, h := range held {
				h.Close()
			}
			// The slots are free again once the held ones are gone.
			waitFor(t, "a slot", func() bool {
				c := dialFrom(t, c.sources[len(c.sources)-1], e.port)
				defer c.Close()
				return !closedSoon(c, 200*time.Millisecond)
			})
		})
	}
}

// 200 idle sockets from one address (more than the old limit on all
// connections) do not keep an LA's OpenSSH client out, and a flood of
// refusals is one audit entry.
func TestIdleSocketsDoNotLockOut(t *testing.T) {
	sshtest.NeedSFTP(t)
	e := newEnv(t, nil) // the defaults
	for range 200 {
		dialFrom(t, "127.0.0.2", e.port)
	}
	src := e.localFile(ret, body)
	out, err := e.sftp(la841, e.keys[la841], "put "+src+" /inbox/\n")
	if err != nil {
		t.Fatalf("sftp while 200 sockets are held: %v\n%s", err, out)
	}
	if got := e.tree()[la841+"/inbox/"+ret]; got != body {
		t.Errorf("uploaded %q", got)
	}
	want := []sftpd.Event{{Kind: sftpd.KindRefusal, Op: "connect", Outcome: sftpd.OutcomeRefused,
		Reason: fmt.Sprintf("too many connections waiting to log in from this address (limit %d)", sftpd.DefaultMaxUnauthPerIP)}}
	if diff := cmp.Diff(want, e.refusals()); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
}

func TestDefaultsSuitLASoftware(t *testing.T) {
	if sftpd.DefaultHandshakeTimeout > 10*time.Second {
		t.Errorf("handshake timeout %s: a silent socket holds a slot that long", sftpd.DefaultHandshakeTimeout)
	}
	if sftpd.DefaultMaxUnauthPerIP*4 > sftpd.DefaultMaxUnauth || sftpd.DefaultMaxUnauth >= sftpd.DefaultMaxConns {
		t.Errorf("one source may take %d of %d slots before login, %d in all", sftpd.DefaultMaxUnauthPerIP, sftpd.DefaultMaxUnauth, sftpd.DefaultMaxConns)
	}
}

func TestMaxSessionsPerMailbox(t *testing.T) {
	e := newEnv(t, func(c *sftpd.Config) { c.MaxSessions = 2 })
	c1, _ := e.dial(la841)
	e.dial(la841)
	// The third logs in (the key is good) but is told why it gets no
	// session, and closed.
	conn := e.dialSSH(t, la841)
	_, err := sftp.NewClient(conn)
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.ResourceShortage || oce.Message != "too many sessions open for this mailbox (limit 2)" {
		t.Errorf("third session: got %v, want resource shortage: too many sessions ... (limit 2)", err)
	}
	waitFor(t, "the third connection to close", func() bool {
		_, _, err := conn.SendRequest("keepalive@openssh.com", true, nil)
		return err != nil
	})
	// Other mailboxes are not counted with it.
	e.loginWorks(t, la842)
	// A session ended frees its place.
	c1.Close()
	waitFor(t, "a place", func() bool {
		conn := e.dialSSH(t, la841)
		defer conn.Close()
		c, err := sftp.NewClient(conn)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	got := e.refusals()
	want := []sftpd.Event{{Kind: sftpd.KindRefusal, Op: "login", MailboxID: la841, User: la841, Outcome: sftpd.OutcomeRefused,
		Reason: "too many sessions open for this mailbox (limit 2)"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
}

const la842 = "LA842HC001"

// A key over its mailbox's limit cannot hold more slots than a stranger:
// its connections count as waiting to log in until they are closed.
func TestOverSessionsHoldNoMoreSlots(t *testing.T) {
	e := newEnv(t, func(c *sftpd.Config) { c.MaxSessions, c.MaxUnauthPerIP = 1, 2 })
	e.dial(la841)
	e.dialSSH(t, la841) // over the limit, holds its connection open
	e.dialSSH(t, la841)
	c := dialFrom(t, "127.0.0.1", e.port)
	if !closedSoon(c, 2*time.Second) {
		t.Error("a third connection was kept while two over the mailbox's limit wait")
	}
	want := "too many connections waiting to log in from this address (limit 2)"
	waitFor(t, "the refusal", func() bool {
		for _, ev := range e.refusals() {
			if ev.Reason == want {
				return true
			}
		}
		return false
	})
}

// dialSSH logs in as mailbox and returns the SSH connection, no channel
// open.
func (e *env) dialSSH(t *testing.T, mailbox string) *ssh.Client {
	t.Helper()
	signer, err := ssh.ParsePrivateKey(fileBytes(t, e.keys[mailbox]))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port)), &ssh.ClientConfig{
		User:            mailbox,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// One key opening channels without end gets MaxChannels of them; the
// refusals are one audit entry; a channel closed frees its place.
func TestMaxChannels(t *testing.T) {
	e := newEnv(t, func(c *sftpd.Config) { c.MaxChannels = 2 })
	conn := e.dialSSH(t, la841)
	var open []ssh.Channel
	for range 2 {
		ch, reqs, err := conn.OpenChannel("session", nil)
		if err != nil {
			t.Fatal(err)
		}
		go ssh.DiscardRequests(reqs)
		open = append(open, ch)
	}
	start := time.Now()
	const over = 20
	for i := range over {
		_, _, err := conn.OpenChannel("session", nil)
		var oce *ssh.OpenChannelError
		if !errors.As(err, &oce) || oce.Reason != ssh.ResourceShortage || oce.Message != "too many channels open on this connection (limit 2)" {
			t.Fatalf("channel %d over the limit: got %v", i+3, err)
		}
	}
	// Each refusal slows the connection down: a flood of them is not
	// served as fast as it is asked.
	if d := time.Since(start); d < (over-1)*100*time.Millisecond {
		t.Errorf("%d channels refused in %s", over, d)
	}
	// The two open ones still serve SFTP.
	c, err := sftp.NewClient(conn)
	if err == nil {
		c.Close()
		t.Error("a third SFTP client was served")
	}
	open[0].Close()
	waitFor(t, "a channel place", func() bool {
		c, err := sftp.NewClient(conn)
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = c.ReadDir("/outbox")
		return err == nil
	})
	want := []sftpd.Event{{Kind: sftpd.KindRefusal, Op: "channel", MailboxID: la841, Outcome: sftpd.OutcomeRefused,
		Reason: "too many channels open on this connection (limit 2)"}}
	if diff := cmp.Diff(want, e.refusals()); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
}

func TestIdleTimeout(t *testing.T) {
	const idle = 400 * time.Millisecond
	e := newEnv(t, func(c *sftpd.Config) { c.IdleTimeout = idle })
	busy, cb := e.dial(la841)
	quiet, _ := e.dial(la842)
	start := time.Now()
	// SFTP requests keep a session open well past the idle limit.
	for time.Since(start) < 3*idle {
		if _, err := cb.ReadDir("/inbox"); err != nil {
			t.Fatalf("a busy session was closed after %s: %v", time.Since(start), err)
		}
		time.Sleep(idle / 4)
	}
	// The quiet one is gone, the busy one, now quiet, goes too.
	for _, c := range []*ssh.Client{quiet, busy} {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("an idle session was not closed")
		}
	}
	reason := "no SFTP request for 400ms (the idle limit): session closed"
	want := []sftpd.Event{
		{Kind: sftpd.KindRefusal, Op: "idle", MailboxID: la842, Outcome: sftpd.OutcomeRefused, Reason: reason},
		{Kind: sftpd.KindRefusal, Op: "idle", MailboxID: la841, Outcome: sftpd.OutcomeRefused, Reason: reason},
	}
	if diff := cmp.Diff(want, e.waitRefusals(t, 2)); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
}

// keyEnv is an env whose server the test holds, and the store behind its
// key store.
type keyEnv struct {
	*env
	srv *sftpd.Server
	db  *store.DB
}

// newKeyEnv starts a second server on the config of newEnv (change
// applied), whose Revalidate the test can call.
func newKeyEnv(t *testing.T, change func(*sftpd.Config)) *keyEnv {
	var cfg sftpd.Config
	e := newEnv(t, func(c *sftpd.Config) {
		if change != nil {
			change(c)
		}
		cfg = *c
	})
	srv, err := sftpd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, l); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	e.port = l.Addr().(*net.TCPAddr).Port
	return &keyEnv{env: e, srv: srv, db: cfg.Keys.(*store.DB)}
}

// removeKey removes mailbox's key from the store, as `cpis keys remove`.
func (e *keyEnv) removeKey(t *testing.T, la, mailbox string) {
	t.Helper()
	signer, err := ssh.ParsePrivateKey(fileBytes(t, e.keys[mailbox]))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Update(func(tx *store.Tx) error {
		ok, err := tx.RemoveKey(la, ssh.FingerprintSHA256(signer.PublicKey()))
		if !ok && err == nil {
			err = errors.New("no such key")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestRemovedKeyEndsSessions(t *testing.T) {
	for _, c := range []struct {
		name    string
		recheck time.Duration
		notify  bool
	}{
		{"notified", time.Hour, true},
		{"periodic recheck", 100 * time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newKeyEnv(t, func(cfg *sftpd.Config) { cfg.KeyRecheck = c.recheck })
			conn, cl := e.dial(la841)
			_, other := e.dial(la842)
			f, err := cl.Create("/inbox/" + ret)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte(body)); err != nil {
				t.Fatal(err)
			}
			e.removeKey(t, "841", la841)
			start := time.Now()
			if c.notify {
				e.srv.Revalidate()
			}
			done := make(chan error, 1)
			go func() { done <- conn.Wait() }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the session of a removed key goes on")
			}
			if c.notify && time.Since(start) > time.Second {
				t.Errorf("closed %s after Revalidate", time.Since(start))
			}
			// Its upload in progress is gone with it; the other LA's
			// session goes on.
			waitFor(t, "the upload to be removed", func() bool {
				_, err := os.Stat(filepath.Join(e.data, "mailboxes", la841, "inbox", "."+ret+".tmp"))
				return errors.Is(err, os.ErrNotExist)
			})
			if _, err := other.ReadDir("/outbox"); err != nil {
				t.Errorf("the other LA's session: %v", err)
			}
			var ended []sftpd.Event
			for _, ev := range e.refusals() {
				if ev.Op == "session" {
					ended = append(ended, ev)
				}
			}
			want := []sftpd.Event{{Kind: sftpd.KindRefusal, Op: "session", MailboxID: la841, Outcome: sftpd.OutcomeRefused,
				Reason: "the key is no longer registered for this mailbox: session closed"}}
			if diff := cmp.Diff(want, ended); diff != "" {
				t.Errorf("refusals (-want +got):\n%s", diff)
			}
		})
	}
}

// Session numbers of a restarted server do not repeat the last run's.
func TestSessionNumbersAcrossRestarts(t *testing.T) {
	e := newKeyEnv(t, nil)
	seen := map[uint64]string{}
	for run := range 2 {
		if run == 1 {
			e = newKeyEnv(t, nil)
		}
		for range 3 {
			conn, _ := e.dial(la841)
			conn.Close()
		}
		waitFor(t, "the logouts", func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			return len(e.events) >= 6
		})
		e.mu.Lock()
		for _, ev := range e.events {
			if ev.Kind != sftpd.KindLogin {
				continue
			}
			if prev, ok := seen[ev.Session]; ok {
				t.Errorf("session %d given twice (%s and run %d)", ev.Session, prev, run)
			}
			seen[ev.Session] = fmt.Sprint("run ", run)
		}
		e.mu.Unlock()
	}
	if len(seen) != 6 {
		t.Errorf("%d distinct session numbers, want 6", len(seen))
	}
}

// Names that could attack a terminal or a log are refused, with a reason
// that says what is wrong, and audited; nothing is written.
func TestNamesRefused(t *testing.T) {
	long := strings.Repeat("a", 247) + ".csv" // 251 bytes
	e := newEnv(t, nil)
	_, c := e.dial(la841)
	before := e.tree()
	var want []sftpd.Event
	for _, n := range []struct{ name, reason string }{
		{"a\x1b[31m.csv", "file name refused: it contains a control character (U+001B)"},
		{"a\nb.csv", "file name refused: it contains a control character (U+000A)"},
		{"a\u202egsm.csv", "file name refused: it contains a bidirectional text control (U+202E)"},
		{"a\u2067b.csv", "file name refused: it contains a bidirectional text control (U+2067)"},
		{"a\xff.csv", "file name refused: it is not valid UTF-8"},
		{long, "file name refused: it is 251 bytes long, the limit is 250"},
		{strings.Repeat("b", 255), "file name refused: it is 255 bytes long, the limit is 250"},
	} {
		// The reason goes to the client with the status (pkg/sftp's
		// client keeps only the code; WinSCP shows the message) and to
		// the audit.
		if _, err := c.Create("/inbox/" + n.name); !errors.Is(err, os.ErrPermission) {
			t.Errorf("upload %q: got %v, want permission denied", n.name, err)
		}
		want = append(want, sftpd.Event{Kind: sftpd.KindRefusal, Op: "write", MailboxID: la841, Path: "/inbox/" + n.name,
			Outcome: sftpd.OutcomeRefused, Reason: n.reason})
	}
	// The same for a rename's target.
	e.put(la841+"/inbox/x.csv.filepart", "half")
	if err := c.Rename("/inbox/x.csv.filepart", "/inbox/x\u202e.csv"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("rename to a bidirectional override: got %v, want permission denied", err)
	}
	want = append(want, sftpd.Event{Kind: sftpd.KindRefusal, Op: "rename", MailboxID: la841, Path: "/inbox/x.csv.filepart",
		Target: "/inbox/x\u202e.csv", Outcome: sftpd.OutcomeRefused, Reason: "file name refused: it contains a bidirectional text control (U+202E)"})
	before[la841+"/inbox/x.csv.filepart"] = "half"
	if diff := cmp.Diff(before, e.tree()); diff != "" {
		t.Errorf("mailbox tree (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(want, e.refusals()); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
	// 250 bytes is still a name.
	f, err := c.Create("/inbox/" + long[1:])
	if err != nil {
		t.Fatalf("a 250-byte name: %v", err)
	}
	if _, err := io.WriteString(f, body); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("a 250-byte name: %v", err)
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	data := t.TempDir()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	files := map[string]time.Duration{ // path below mailboxes -> age
		"LA841HC001/inbox/.old.csv.tmp":   25 * time.Hour,
		"LA841HC001/inbox/.young.csv.tmp": 23 * time.Hour,
		"LA841HC001/inbox/.busy.csv.tmp":  48 * time.Hour, // an upload in progress
		"LA841HC001/inbox/old.csv.tmp":    48 * time.Hour, // the LA's own unfinished upload
		"LA841HC001/inbox/old.csv":        48 * time.Hour,
		"LA841HC001/outbox/.resp.csv.tmp": 30 * time.Hour,
		"LA842HC001/inbox/.x.tmp":         100 * time.Hour,
	}
	for p, age := range files {
		full := filepath.Join(data, "mailboxes", p)
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	keep := func(mb, name string) bool { return mb == la841 && name == "busy.csv" }
	got, err := sftpd.RemoveStaleTemps(data, sftpd.StaleTempAge, now, keep)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"LA841HC001/inbox/.old.csv.tmp", "LA841HC001/outbox/.resp.csv.tmp", "LA842HC001/inbox/.x.tmp"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	gone := map[string]bool{}
	for _, p := range want {
		gone[p] = true
	}
	for p := range files {
		_, err := os.Stat(filepath.Join(data, "mailboxes", p))
		if errors.Is(err, os.ErrNotExist) != gone[p] {
			t.Errorf("%s: stat after the sweep: %v", p, err)
		}
	}
}

// The server removes day-old temporary files when it starts.
func TestStaleTempsRemovedAtStart(t *testing.T) {
	var data string
	newEnv(t, func(c *sftpd.Config) {
		data = c.DataDir
		p := filepath.Join(data, "mailboxes", la841, "inbox", ".left.csv.tmp")
		if err := os.WriteFile(p, []byte("half"), 0o640); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-25 * time.Hour)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	})
	waitFor(t, "the stale file to go", func() bool {
		_, err := os.Stat(filepath.Join(data, "mailboxes", la841, "inbox", ".left.csv.tmp"))
		return errors.Is(err, os.ErrNotExist)
	})
}
