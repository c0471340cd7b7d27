package sftpd

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// The limits keep one client from starving the others, and the daemon's
// other parts (the HTTP lookups share the process): before login, per
// source and in all (Config.MaxUnauthPerIP, MaxUnauth) within a short
// handshake timeout; after login, per mailbox (MaxSessions), per
// connection (MaxChannels) and in time (IdleTimeout); and a session ends
// as soon as its key is no longer registered (Revalidate, KeyRecheck).

// channelRefusalPause is how long a connection waits after a channel was
// refused for being over MaxChannels; no client that keeps to the limit
// ever waits.
const channelRefusalPause = 100 * time.Millisecond

// source is what the per-address limit counts by: the IP address, or for
// IPv6 its /64 (one host is usually given a whole /64).
func source(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		return host
	}
	if ta.IP.To4() == nil && len(ta.IP) == net.IPv6len {
		return ta.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ta.IP.String()
}

// admit takes a slot for a new connection from src, or returns why not.
func (s *Server) admit(src string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.conns >= s.cfg.MaxConns:
		return "too many connections"
	case s.nUnauth >= s.cfg.MaxUnauth:
		return fmt.Sprintf("too many connections waiting to log in (limit %d)", s.cfg.MaxUnauth)
	case s.unauth[src] >= s.cfg.MaxUnauthPerIP:
		return fmt.Sprintf("too many connections waiting to log in from this address (limit %d)", s.cfg.MaxUnauthPerIP)
	}
	s.conns++
	s.nUnauth++
	s.unauth[src]++
	return ""
}

// loggedInOrGone frees src's slot for connections not logged in yet.
func (s *Server) loggedInOrGone(src string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nUnauth--
	if s.unauth[src]--; s.unauth[src] <= 0 {
		delete(s.unauth, src)
	}
}

// leave frees a connection's slot.
func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns--
}

// refuseConn audits a connection refused before its handshake.
func (s *Server) refuseConn(src, remote, reason string) {
	s.refuseOnce("connect "+src+" "+reason, Event{Session: s.sessions.Add(1), Kind: KindRefusal, Op: "connect", Remote: remote,
		Outcome: OutcomeRefused, Reason: reason})
}

// refuseOnce audits e, or only counts it when an event of the same key was
// audited less than a minute ago; the count goes into the next entry of
// that key, or into a summary entry a minute on (watch).
func (s *Server) refuseOnce(key string, e Event) {
	if e, ok := s.refused.hold(key, e, time.Now()); ok {
		s.audit(e)
	}
}

// session is a logged-in connection.
type session struct {
	id      uint64
	mailbox string
	remote  string
	key     ssh.PublicKey
	conn    ssh.Conn
	last    atomic.Int64 // unix nanoseconds of the last SFTP byte received
	ended   atomic.Bool
}

func (se *session) touch() { se.last.Store(time.Now().UnixNano()) }

// end closes the session's connection at once, auditing why (once).
func (s *Server) end(se *session, op, reason string) {
	if !se.ended.CompareAndSwap(false, true) {
		return
	}
	s.audit(Event{Session: se.id, Kind: KindRefusal, Op: op, MailboxID: se.mailbox, Remote: se.remote,
		Outcome: OutcomeRefused, Reason: reason})
	s.log.Info("session closed", "session", se.id, "mailbox", se.mailbox, "reason", reason)
	se.conn.Close()
}

// enter counts se among its mailbox's sessions; false when the mailbox
// has MaxSessions already.
func (s *Server) enter(se *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perBox[se.mailbox] >= s.cfg.MaxSessions {
		return false
	}
	s.perBox[se.mailbox]++
	s.loggedIn[se] = struct{}{}
	return true
}

func (s *Server) exit(se *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perBox[se.mailbox]--; s.perBox[se.mailbox] <= 0 {
		delete(s.perBox, se.mailbox)
	}
	delete(s.loggedIn, se)
}

// overSessions answers a connection that logged in while its mailbox had
// MaxSessions open: its first channel is rejected with the reason (which
// OpenSSH's client shows), then it is closed; within the handshake timeout
// either way.
func (s *Server) overSessions(se *session, user, fingerprint string, chans <-chan ssh.NewChannel) {
	reason := fmt.Sprintf("too many sessions open for this mailbox (limit %d)", s.cfg.MaxSessions)
	s.refuseOnce("sessions "+se.mailbox, Event{Session: se.id, Kind: KindRefusal, Op: "login", MailboxID: se.mailbox, User: user,
		Remote: se.remote, Fingerprint: fingerprint, Outcome: OutcomeRefused, Reason: reason})
	t := time.AfterFunc(s.cfg.HandshakeTimeout, func() { se.conn.Close() })
	defer t.Stop()
	for nc := range chans {
		_ = nc.Reject(ssh.ResourceShortage, reason)
		return
	}
}

// Revalidate asks Keys again about the key of every open session and
// closes at once each session whose key no longer opens its mailbox (an
// upload in progress is removed, as on any dropped connection). Call it
// after removing a key; the server also runs it every KeyRecheck.
func (s *Server) Revalidate() {
	s.mu.Lock()
	open := make([]*session, 0, len(s.loggedIn))
	for se := range s.loggedIn {
		open = append(open, se)
	}
	s.mu.Unlock()
	type answer struct {
		mailbox string
		ok      bool
	}
	asked := map[string]answer{}
	for _, se := range open {
		k := string(se.key.Marshal())
		a, seen := asked[k]
		if !seen {
			mb, ok, err := s.cfg.Keys.MailboxForKey(se.key)
			if err != nil {
				// Unknown is not removed: the next check decides.
				s.log.Error("key recheck", "session", se.id, "err", err)
				continue
			}
			a = answer{mb, ok}
			asked[k] = a
		}
		if !a.ok || !strings.EqualFold(a.mailbox, se.mailbox) {
			s.end(se, "session", "the key is no longer registered for this mailbox: session closed")
		}
	}
}

// watch closes idle sessions, rechecks keys every KeyRecheck, writes the
// summaries of refusals held back and removes stale temporary files (at
// start and hourly), until ctx ends.
func (s *Server) watch(ctx context.Context) {
	tick := min(max(s.cfg.IdleTimeout/10, 10*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	lastCheck, lastSweep := time.Now(), time.Now()
	s.sweepTemps(lastSweep)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.closeIdle(now)
			if now.Sub(lastCheck) >= s.cfg.KeyRecheck {
				lastCheck = now
				s.Revalidate()
			}
			if now.Sub(lastSweep) >= time.Hour {
				lastSweep = now
				s.sweepTemps(now)
			}
			for _, e := range s.refused.due(now) {
				s.audit(e)
			}
		}
	}
}

func (s *Server) closeIdle(now time.Time) {
	var idle []*session
	s.mu.Lock()
	for se := range s.loggedIn {
		if now.Sub(time.Unix(0, se.last.Load())) >= s.cfg.IdleTimeout {
			idle = append(idle, se)
		}
	}
	s.mu.Unlock()
	for _, se := range idle {
		s.end(se, "idle", fmt.Sprintf("no SFTP request for %s (the idle limit): session closed", s.cfg.IdleTimeout))
	}
}

// activeChannel is a session channel that marks its session active
// whenever the client sends it something (an SFTP request).
type activeChannel struct {
	ssh.Channel
	se *session
}

func (c activeChannel) Read(p []byte) (int, error) {
	n, err := c.Channel.Read(p)
	if n > 0 {
		c.se.touch()
	}
	return n, err
}

// refusals holds back repeated refusals of one kind from one source, so
// that a flood of them does not flood the audit (each entry is a write to
// the store): the first is let through, the next ones within the interval
// are only counted, and the count is let through with the next one after
// it, or as a summary (due).
type refusals struct {
	every time.Duration
	mu    sync.Mutex
	m     map[string]*held
}

type held struct {
	last    time.Time // when one was last let through
	skipped int
	latest  Event
}

// maxHeld bounds the kinds and sources remembered; past it, new ones
// share one entry.
const maxHeld = 4096

func newRefusals(every time.Duration) *refusals {
	return &refusals{every: every, m: map[string]*held{}}
}

// hold returns e to be audited now (its Reason telling how many were held
// back since the last), or false when it is to be only counted.
func (r *refusals) hold(key string, e Event, now time.Time) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.m[key]
	if !ok {
		if len(r.m) >= maxHeld {
			r.prune(now)
		}
		if len(r.m) >= maxHeld {
			key, e.Remote = "", "(many)"
			h = r.m[key]
		}
		if h == nil {
			r.m[key] = &held{last: now}
			return e, true
		}
	}
	if now.Sub(h.last) < r.every {
		h.skipped++
		h.latest = e
		return Event{}, false
	}
	if h.skipped > 0 {
		e.Reason += fmt.Sprintf(" (and %d more since the last entry)", h.skipped)
	}
	h.last, h.skipped = now, 0
	return e, true
}

// due returns a summary entry for each kind held back for a whole
// interval, and forgets the kinds with nothing held back.
func (r *refusals) due(now time.Time) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, h := range r.m {
		if h.skipped > 0 && now.Sub(h.last) >= r.every {
			e := h.latest
			e.At = now
			e.Reason += fmt.Sprintf(" (refused %d times since the last entry)", h.skipped)
			out = append(out, e)
			h.last, h.skipped = now, 0
		}
	}
	r.prune(now)
	return out
}

func (r *refusals) prune(now time.Time) {
	for k, h := range r.m {
		if h.skipped == 0 && now.Sub(h.last) >= r.every {
			delete(r.m, k)
		}
	}
}
