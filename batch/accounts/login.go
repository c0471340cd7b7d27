package accounts

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"cpis/store"
)

// Session is a logged-in browser.
type Session struct {
	// Token is the session's cookie value, returned by Login and
	// CompleteSetup only.
	Token string
	// CSRF is the token every form of the session carries.
	CSRF    string
	User    User
	Expires time.Time
}

// accountKey is the throttle key of email's account.
func accountKey(email string) string { return "account:" + email }

// throttleKeys are the keys failures of email from addr count against.
func throttleKeys(email, addr string) []string {
	keys := []string{accountKey(email)}
	if h := hostOf(addr); h != "" {
		keys = append(keys, "addr:"+h)
	}
	return keys
}

// maxFailuresOf is how many failures within FailureWindow lock key: an
// account's MaxFailures, an address's MaxAddrFailures.
func maxFailuresOf(key string) int {
	if strings.HasPrefix(key, "addr:") {
		return MaxAddrFailures
	}
	return MaxFailures
}

// throttled returns ErrThrottled when email's account or addr is locked.
func (s *Service) throttled(tx *store.Tx, email, addr string, now time.Time) error {
	for _, k := range throttleKeys(email, addr) {
		th, err := tx.WebThrottle(k)
		if err != nil {
			return err
		}
		if th.LockedUntil.After(now) {
			return ErrThrottled
		}
	}
	return nil
}

// fail counts a failure of email from addr, locking a key that reaches
// its limit (maxFailuresOf) within FailureWindow (and auditing the lock).
func (s *Service) fail(tx *store.Tx, email, addr string, now time.Time) error {
	for _, k := range throttleKeys(email, addr) {
		th, err := tx.WebThrottle(k)
		if err != nil {
			return err
		}
		recent := th.Failures[:0]
		for _, f := range th.Failures {
			if f.After(now.Add(-FailureWindow)) {
				recent = append(recent, f)
			}
		}
		th.Failures = append(recent, now)
		if len(th.Failures) >= maxFailuresOf(k) {
			th = store.WebThrottle{LockedUntil: now.Add(LockDuration)}
			if err := tx.AuditWeb(store.WebEvent{At: now, User: email, Remote: addr, Action: "throttle.locked",
				Detail: fmt.Sprintf("%s locked until %s", k, th.LockedUntil.Format(time.RFC3339))}); err != nil {
				return err
			}
		}
		if err := tx.PutWebThrottle(k, th); err != nil {
			return err
		}
	}
	return nil
}

// maxEmail bounds an email as audited and counted, in bytes.
const maxEmail = 254

// clip returns s cut to at most n bytes, valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

// throttleAuditEvery is how often, at most, a login refused by a lock on
// the same account and address is audited: a lock is there because
// someone keeps trying, and each try audited would let them fill the
// store. The first refusal of each minute is.
const throttleAuditEvery = time.Minute

// auditThrottle reports whether a refused login of email from addr is to
// be audited, and notes it when so.
func (s *Service) auditThrottle(email, addr string, now time.Time) bool {
	return s.auditDue(email+"\x00"+hostOf(addr), now)
}

// auditDue reports whether the event of key is to be audited (the first
// of each throttleAuditEvery), and notes it when so.
func (s *Service) auditDue(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.throttleAudited[key]; ok && now.Sub(last) < throttleAuditEvery && !now.Before(last) {
		return false
	}
	if len(s.throttleAudited) >= 10000 { // a flood of names: start again rather than grow
		clear(s.throttleAudited)
	}
	s.throttleAudited[key] = now
	return true
}

// dummyHash is a hash that unknown users' passwords are checked against,
// so that a login takes as long whether the account exists or not.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy = hashPassword(newToken()) })
	return s.dummy
}

// Login checks email, password and an authenticator code and starts a
// session. Every failure is ErrBadLogin, whatever was wrong; ErrThrottled
// when the account or the address is locked (package doc).
func (s *Service) Login(email, password, code, addr string) (Session, error) {
	now := s.now()
	e, emailErr := NormalizeEmail(email)
	if emailErr != nil {
		e = clip(email, maxEmail) // counted and audited as typed, within bounds
	}
	var u store.WebUser
	var known bool
	err := s.db.View(func(tx *store.Tx) error {
		if err := s.throttled(tx, e, addr, now); err != nil {
			return err
		}
		var err error
		u, known, err = tx.WebUser(e)
		return err
	})
	if errors.Is(err, ErrThrottled) {
		if s.auditThrottle(e, addr, now) {
			_ = s.db.AuditWeb(store.WebEvent{At: now, User: e, Remote: addr, Action: "login.throttled"})
		}
		return Session{}, fmt.Errorf("login: %w", err)
	}
	if err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	reason := ""
	hash := u.PasswordHash
	switch {
	case !known:
		reason = "unknown user"
	case !u.Enrolled || hash == "":
		reason = "set-up not complete"
	case len(password) > 4*MaxPasswordLength: // no set password is this long: not worth hashing
		reason = "wrong password"
		password = ""
	}
	if reason != "" {
		hash = s.dummyHash()
	}
	okPass, err := checkPassword(hash, password)
	if err != nil {
		return Session{}, fmt.Errorf("login %s: stored password hash: %w", e, err)
	}
	step, okCode := codeStep(u.TOTPSecret, code, now)
	switch {
	case reason != "":
	case !okPass:
		reason = "wrong password"
	case !okCode:
		reason = "wrong authenticator code"
	}
	var sess Session
	err = s.db.Update(func(tx *store.Tx) error {
		if reason == "" {
			cur, ok, err := tx.WebUser(e)
			switch {
			case err != nil:
				return err
			case !ok || !cur.Enrolled:
				reason = "removed or reset meanwhile"
			case cur.PasswordHash != u.PasswordHash || cur.TOTPSecret != u.TOTPSecret:
				reason = "set up again meanwhile"
			case step <= cur.TOTPStep:
				reason = reasonReplay
			default:
				u = cur
			}
		}
		if reason != "" {
			// A replayed code with the right password is no guess: the
			// person typed a code their app showed a moment ago (it was
			// used by the set-up or the login before). It is refused and
			// audited, not counted towards a lock.
			if reason != reasonReplay {
				if err := s.fail(tx, e, addr, now); err != nil {
					return err
				}
			}
			return tx.AuditWeb(store.WebEvent{At: now, User: e, Remote: addr, Action: "login.failed", Detail: reason})
		}
		u.TOTPStep = step
		var err error
		sess, err = s.startSession(tx, u, addr, now)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	if reason != "" {
		return Session{}, fmt.Errorf("login: %w", ErrBadLogin)
	}
	return sess, nil
}

// reasonReplay is the audited reason of a login with a code already used.
const reasonReplay = "authenticator code already used"

// startSession starts a session for u (its TOTPStep already moved on) from
// addr, notes the login, clears the account's failures and audits the
// login.
func (s *Service) startSession(tx *store.Tx, u store.WebUser, addr string, now time.Time) (Session, error) {
	u.LastLogin = now
	if err := tx.PutWebUser(u); err != nil {
		return Session{}, err
	}
	if err := tx.PutWebThrottle(accountKey(u.Email), store.WebThrottle{}); err != nil {
		return Session{}, err
	}
	if _, err := tx.PurgeWebSessions(now); err != nil {
		return Session{}, err
	}
	token := newToken()
	ws := store.WebSession{Email: u.Email, Created: now, LastSeen: now, Expires: s.expiry(now, now), Remote: addr}
	if err := tx.PutWebSession(tokenHash(token), ws); err != nil {
		return Session{}, err
	}
	if err := tx.AuditWeb(store.WebEvent{At: now, User: u.Email, Remote: addr, Action: "login"}); err != nil {
		return Session{}, err
	}
	return Session{Token: token, CSRF: csrfOf(token), User: userOf(u), Expires: ws.Expires}, nil
}

// expiry is when a session started at created and used at now ends:
// IdleTimeout after now, but no later than MaxLifetime after created.
func (s *Service) expiry(created, now time.Time) time.Time {
	e := now.Add(s.opts.IdleTimeout)
	if end := created.Add(s.opts.MaxLifetime); end.Before(e) {
		return end
	}
	return e
}

// Session returns the session of token and moves its expiry on
// (IdleTimeout from now, written at most every RefreshEvery, never past
// MaxLifetime after the login). ErrNoSession when the token is unknown,
// expired (idle or too old) or its account removed.
func (s *Service) Session(token string) (Session, error) {
	if token == "" {
		return Session{}, fmt.Errorf("session: %w", ErrNoSession)
	}
	now := s.now()
	h := tokenHash(token)
	var ws store.WebSession
	var u store.WebUser
	var stale bool
	err := s.db.View(func(tx *store.Tx) error {
		var ok bool
		var err error
		if ws, ok, err = tx.WebSession(h); err != nil || !ok {
			if err == nil {
				err = ErrNoSession
			}
			return err
		}
		if !ws.Expires.After(now) || !ws.Created.Add(s.opts.MaxLifetime).After(now) {
			stale = true
			return ErrNoSession
		}
		if u, ok, err = tx.WebUser(ws.Email); err != nil || !ok {
			if err == nil {
				stale, err = true, ErrNoSession
			}
			return err
		}
		return nil
	})
	if stale {
		if err := s.db.Update(func(tx *store.Tx) error { return tx.DeleteWebSession(h) }); err != nil {
			return Session{}, fmt.Errorf("session: %w", err)
		}
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", err)
	}
	if now.Sub(ws.LastSeen) >= RefreshEvery {
		err := s.db.Update(func(tx *store.Tx) error {
			cur, ok, err := tx.WebSession(h)
			if err != nil || !ok { // ended meanwhile
				if err == nil {
					err = ErrNoSession
				}
				return err
			}
			cur.LastSeen, cur.Expires = now, s.expiry(cur.Created, now)
			ws = cur
			return tx.PutWebSession(h, cur)
		})
		if err != nil {
			return Session{}, fmt.Errorf("session: %w", err)
		}
	}
	return Session{CSRF: csrfOf(token), User: userOf(u), Expires: ws.Expires}, nil
}

// Logout ends the session of token, asked from addr (the client's
// address, audited); an unknown or ended one is no error.
func (s *Service) Logout(token, addr string) error {
	h := tokenHash(token)
	now := s.now()
	err := s.db.Update(func(tx *store.Tx) error {
		ws, ok, err := tx.WebSession(h)
		if err != nil || !ok {
			return err
		}
		if err := tx.DeleteWebSession(h); err != nil {
			return err
		}
		return tx.AuditWeb(store.WebEvent{At: now, User: ws.Email, Remote: clip(addr, maxAddr), Action: "logout"})
	})
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}
