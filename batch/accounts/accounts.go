package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"cpis/store"
)

// Role is what a user may see: one LA, or everything.
type Role string

// The roles.
const (
	// RoleLA is an LA data officer: that LA only.
	RoleLA Role = "la"
	// RoleOps is operations: every LA.
	RoleOps Role = "ops"
)

// Errors. Every one is wrapped with context by the methods; test with
// errors.Is.
var (
	// ErrBadEmail: not a plain email address.
	ErrBadEmail = errors.New("not an email address")
	// ErrBadRole: neither "la" nor "ops", or an LA code given with "ops".
	ErrBadRole = errors.New("the role is \"la\" with an LA code, or \"ops\" without one")
	// ErrUnknownLA: the LA code is not one of the store's authorities.
	ErrUnknownLA = errors.New("no such LA")
	// ErrUserExists: Add of an email that has an account.
	ErrUserExists = errors.New("the user exists")
	// ErrNoUser: Remove of an email that has no account.
	ErrNoUser = errors.New("no such user")
	// ErrSetupInvalid: the set-up token is unknown, expired or used.
	ErrSetupInvalid = errors.New("the set-up link is not valid (unknown, expired or already used)")
	// ErrWeakPassword: the password is too short, too long, the email,
	// of too few different characters or a common one (WeakPasswordError).
	ErrWeakPassword = errors.New("the password will not do")
	// ErrBadCode: the authenticator code is wrong, old or already used.
	ErrBadCode = errors.New("the authenticator code is wrong")
	// ErrBadLogin: unknown user, wrong password or wrong code, alike.
	ErrBadLogin = errors.New("wrong email, password or code")
	// ErrThrottled: too many failures for the account or the address.
	ErrThrottled = errors.New("too many failed logins: try again later")
	// ErrNoSession: the session token is unknown or expired.
	ErrNoSession = errors.New("no such session")
)

// Throttling (package doc).
const (
	// MaxFailures failures within FailureWindow lock an account.
	MaxFailures = 5
	// MaxAddrFailures failures within FailureWindow lock an address: many
	// more than an account's, since people behind one proxy or NAT share
	// an address, and one person's typing must not lock out the others.
	MaxAddrFailures = 50
	// FailureWindow is how far back failures count.
	FailureWindow = 15 * time.Minute
	// LockDuration is how long a key stays locked.
	LockDuration = 15 * time.Minute
)

// MaxLifetime is how long a session lasts at most, however busy: a
// working day and more, after which the person signs in again.
const MaxLifetime = 12 * time.Hour

// RefreshEvery is how often a session's expiry is written again as it is used.
const RefreshEvery = time.Minute

// User is an account as the pages see it: no secrets.
type User struct {
	Email     string
	Role      Role
	LA        string // "" for ops
	Created   time.Time
	Enrolled  bool // set-up complete
	LastLogin time.Time
	// SetupExpires is when the set-up link stops working; zero once
	// set-up is complete.
	SetupExpires time.Time
	// LockedUntil is when the account's login lock (too many failures)
	// ends; zero when it is not locked.
	LockedUntil time.Time
}

// Options tune a Service; zero values take the defaults.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// IdleTimeout ends a session unused this long (default 30 minutes).
	IdleTimeout time.Duration
	// MaxLifetime ends a session this long after its login, used or not
	// (default 12 hours).
	MaxLifetime time.Duration
	// SetupValidity is how long a set-up link works (default 24 hours).
	SetupValidity time.Duration
	// Issuer names the hub in authenticator apps (default "CP-IS hub").
	Issuer string
}

// Service keeps the accounts and sessions in a store. It is safe for
// concurrent use.
type Service struct {
	db   *store.DB
	opts Options

	dummyOnce sync.Once
	dummy     string // a hash to check unknown users against

	mu              sync.Mutex
	throttleAudited map[string]time.Time // email + NUL + host -> last login.throttled audited
}

// New returns a Service on db.
func New(db *store.DB, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.MaxLifetime <= 0 {
		opts.MaxLifetime = MaxLifetime
	}
	if opts.SetupValidity <= 0 {
		opts.SetupValidity = 24 * time.Hour
	}
	if opts.Issuer == "" {
		opts.Issuer = "CP-IS hub"
	}
	return &Service{db: db, opts: opts, throttleAudited: map[string]time.Time{}}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

func userOf(u store.WebUser) User {
	return User{Email: u.Email, Role: Role(u.Role), LA: u.LA, Created: u.Created, Enrolled: u.Enrolled, LastLogin: u.LastLogin,
		SetupExpires: u.SetupExpires}
}

// EmailKey is email as accounts are kept under it: trimmed and in lower
// case.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// NormalizeEmail returns email trimmed and in lower case (EmailKey), or
// ErrBadEmail when it is not a plain address (no display name, no angle
// brackets).
func NormalizeEmail(email string) (string, error) {
	e := EmailKey(email)
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 || strings.ContainsAny(e, " \t\r\n\"()<>,;:\\[]") {
		return "", fmt.Errorf("%q: %w", email, ErrBadEmail)
	}
	return e, nil
}

// newToken returns 32 random bytes as base64url.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is the SHA-256 (hex) under which a token is kept.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// csrfOf is the CSRF token of the session with token.
func csrfOf(token string) string {
	sum := sha256.Sum256([]byte("cpis csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// hostOf is the throttling key's address: the host without its port.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// Add makes an account for email with role (and, for RoleLA, the LA's
// code) and returns its set-up token, valid SetupValidity. It refuses a bad
// email (ErrBadEmail), a bad role (ErrBadRole), an LA that is not one of
// the store's authorities (ErrUnknownLA) and an existing user
// (ErrUserExists).
func (s *Service) Add(email string, role Role, la string) (string, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return "", fmt.Errorf("add user: %w", err)
	}
	switch {
	case role == RoleLA && la != "":
	case role == RoleOps && la == "":
	default:
		return "", fmt.Errorf("add user %s: %w", e, ErrBadRole)
	}
	token := newToken()
	now := s.now()
	err = s.db.Update(func(tx *store.Tx) error {
		if role == RoleLA {
			if _, ok, err := tx.Authority(la); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("LA %q: %w", la, ErrUnknownLA)
			}
		}
		if _, ok, err := tx.WebUser(e); err != nil {
			return err
		} else if ok {
			return ErrUserExists
		}
		if err := tx.PutWebUser(store.WebUser{Email: e, Role: string(role), LA: la, Created: now,
			SetupHash: tokenHash(token), SetupExpires: now.Add(s.opts.SetupValidity)}); err != nil {
			return err
		}
		detail := "role ops"
		if role == RoleLA {
			detail = "role la, LA " + la
		}
		return tx.AuditWeb(store.WebEvent{At: now, User: e, Action: "user.added", Detail: detail})
	})
	if err != nil {
		return "", fmt.Errorf("add user %s: %w", e, err)
	}
	return token, nil
}

// Reset starts email's set-up again, for someone who lost their
// authenticator or password: the password and the authenticator key are
// dropped, the account's sessions end, and a new set-up token (valid
// SetupValidity) is returned. Role, LA and creation time stay. ErrNoUser
// when there is no such account.
func (s *Service) Reset(email string) (string, error) {
	e := EmailKey(email)
	token := newToken()
	now := s.now()
	err := s.db.Update(func(tx *store.Tx) error {
		u, ok, err := tx.WebUser(e)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNoUser
		}
		u.PasswordHash, u.TOTPSecret, u.TOTPStep, u.Enrolled = "", "", 0, false
		u.SetupHash, u.SetupExpires = tokenHash(token), now.Add(s.opts.SetupValidity)
		if err := tx.PutWebUser(u); err != nil {
			return err
		}
		n, err := tx.DeleteWebSessions(e)
		if err != nil {
			return err
		}
		return tx.AuditWeb(store.WebEvent{At: now, User: e, Action: "user.reset", Detail: fmt.Sprintf("%d sessions ended", n)})
	})
	if err != nil {
		return "", fmt.Errorf("reset user %q: %w", email, err)
	}
	return token, nil
}

// List returns every account, by email, with its lock (LockedUntil) when
// it is locked now.
func (s *Service) List() ([]User, error) {
	var out []User
	now := s.now()
	err := s.db.View(func(tx *store.Tx) error {
		users, err := tx.WebUsers()
		if err != nil {
			return err
		}
		for _, u := range users {
			lu := userOf(u)
			th, err := tx.WebThrottle(accountKey(u.Email))
			if err != nil {
				return err
			}
			if th.LockedUntil.After(now) {
				lu.LockedUntil = th.LockedUntil
			}
			out = append(out, lu)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// Unlock ends email's login lock and forgets its recent failures, for a
// person locked out by someone else's guesses (or their own typing) who
// has shown who they are. The address's count is left alone. It is
// audited (user.unlocked) whether or not the account was locked; ErrNoUser
// when there is no such account.
func (s *Service) Unlock(email string) (wasLocked bool, err error) {
	e := EmailKey(email)
	now := s.now()
	err = s.db.Update(func(tx *store.Tx) error {
		if _, ok, err := tx.WebUser(e); err != nil {
			return err
		} else if !ok {
			return ErrNoUser
		}
		th, err := tx.WebThrottle(accountKey(e))
		if err != nil {
			return err
		}
		wasLocked = th.LockedUntil.After(now)
		if err := tx.PutWebThrottle(accountKey(e), store.WebThrottle{}); err != nil {
			return err
		}
		detail := "was not locked"
		if wasLocked {
			detail = "lock until " + th.LockedUntil.Format(time.RFC3339) + " ended"
		}
		return tx.AuditWeb(store.WebEvent{At: now, User: e, Action: "user.unlocked", Detail: detail})
	})
	if err != nil {
		return false, fmt.Errorf("unlock user %q: %w", email, err)
	}
	return wasLocked, nil
}

// Remove deletes email's account and ends its sessions (ErrNoUser when
// there is none).
func (s *Service) Remove(email string) error {
	e := EmailKey(email)
	now := s.now()
	err := s.db.Update(func(tx *store.Tx) error {
		ok, err := tx.DeleteWebUser(e)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNoUser
		}
		n, err := tx.DeleteWebSessions(e)
		if err != nil {
			return err
		}
		return tx.AuditWeb(store.WebEvent{At: now, User: e, Action: "user.removed", Detail: fmt.Sprintf("%d sessions ended", n)})
	})
	if err != nil {
		return fmt.Errorf("remove user %q: %w", email, err)
	}
	return nil
}

// Bounds of what Audit records, in bytes.
const (
	maxDetail = 1000
	maxAction = 100
	maxAddr   = 100
)

// Audit records an action on the web pages: who (email), from where (the
// client's address), what (action, e.g. "return.checked") and a detail
// (e.g. a file name). Never a password, token, code or file content.
func (s *Service) Audit(email, addr, action, detail string) error {
	if action == "" {
		return fmt.Errorf("web audit: no action")
	}
	e := store.WebEvent{At: s.now(), User: clip(email, maxEmail), Remote: clip(addr, maxAddr), Action: clip(action, maxAction), Detail: clip(detail, maxDetail)}
	if err := s.db.AuditWeb(e); err != nil {
		return fmt.Errorf("web audit: %w", err)
	}
	return nil
}

// AuditBounded records an action as Audit does, but at most once every
// minute for the same action by the same person (or, with no person,
// from the same address); the others are dropped. It is for what someone
// can repeat at will: refused pages (an LA user's 403 on operations'
// pages, 404s probing another LA's files or returns) and forms refused
// for their CSRF token. The first of each minute is enough to see who is
// probing; each of them would let them fill the store. It reports whether
// the action was recorded.
func (s *Service) AuditBounded(email, addr, action, detail string) (bool, error) {
	who := "user\x00" + email
	if email == "" {
		who = "addr\x00" + hostOf(addr)
	}
	if !s.auditDue("bounded\x00"+action+"\x00"+who, s.now()) {
		return false, nil
	}
	return true, s.Audit(email, addr, action, detail)
}
