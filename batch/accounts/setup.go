package accounts

import (
	"errors"
	"fmt"
	"time"

	"cpis/store"
)

// SetupInfo is what the set-up page shows: the authenticator's key as text
// (base32, for typing in), as a key URI and as a QR code (PNG).
type SetupInfo struct {
	Email  string
	Secret string // base32
	URL    string // otpauth://
	QRPNG  []byte
}

// Setup returns the set-up page's content for token, shown to addr (the
// client's address, audited): the same key on every call until set-up is
// complete. ErrSetupInvalid when the token is unknown, expired or used.
func (s *Service) Setup(token, addr string) (SetupInfo, error) {
	now := s.now()
	var email, secret string
	err := s.db.Update(func(tx *store.Tx) error {
		u, err := s.setupUser(tx, token)
		if err != nil {
			return err
		}
		email = u.Email
		if u.TOTPSecret == "" {
			k, err := s.newTOTPKey(u.Email)
			if err != nil {
				return err
			}
			u.TOTPSecret = k.Secret()
			if err := tx.PutWebUser(u); err != nil {
				return err
			}
		}
		secret = u.TOTPSecret
		return tx.AuditWeb(store.WebEvent{At: now, User: u.Email, Remote: clip(addr, maxAddr), Action: "setup.opened"})
	})
	if errors.Is(err, ErrSetupInvalid) {
		_ = s.db.AuditWeb(store.WebEvent{At: now, Remote: clip(addr, maxAddr), Action: "setup.refused", Detail: "unknown, expired or used link"})
	}
	if err != nil {
		return SetupInfo{}, fmt.Errorf("set-up: %w", err)
	}
	return s.setupInfo(email, secret)
}

// setupUser returns the user whose set-up token is token, still valid.
func (s *Service) setupUser(tx *store.Tx, token string) (store.WebUser, error) {
	if token == "" {
		return store.WebUser{}, ErrSetupInvalid
	}
	u, ok, err := tx.WebUserBySetup(tokenHash(token))
	if err != nil {
		return store.WebUser{}, err
	}
	if !ok || u.Enrolled || !s.now().Before(u.SetupExpires) {
		return store.WebUser{}, ErrSetupInvalid
	}
	return u, nil
}

// CompleteSetup sets the password of token's account and enrols its
// authenticator, proven by a current code; the token then stops working
// and the person is signed in: the session is returned (audited as
// setup.completed, then login), since the code they would type at the
// login page is the one set-up just used. ErrSetupInvalid (token),
// ErrWeakPassword, ErrBadCode (wrong code, or the set-up page never
// shown), ErrThrottled (too many bad codes for the account or the
// address).
func (s *Service) CompleteSetup(token, password, code, addr string) (Session, error) {
	now := s.now()
	var u store.WebUser
	err := s.db.View(func(tx *store.Tx) error {
		var err error
		if u, err = s.setupUser(tx, token); err != nil {
			return err
		}
		return s.throttled(tx, u.Email, addr, now)
	})
	switch {
	case errors.Is(err, ErrSetupInvalid):
		_ = s.db.AuditWeb(store.WebEvent{At: now, Remote: addr, Action: "setup.refused", Detail: "unknown, expired or used link"})
		return Session{}, fmt.Errorf("set-up: %w", err)
	case errors.Is(err, ErrThrottled):
		if s.auditThrottle(u.Email, addr, now) {
			_ = s.db.AuditWeb(store.WebEvent{At: now, User: u.Email, Remote: addr, Action: "setup.throttled"})
		}
		return Session{}, fmt.Errorf("set-up: %w", err)
	case err != nil:
		return Session{}, fmt.Errorf("set-up: %w", err)
	}
	if why := weakPassword(u.Email, password); why != "" {
		_ = s.db.AuditWeb(store.WebEvent{At: now, User: u.Email, Remote: addr, Action: "setup.failed", Detail: why})
		return Session{}, fmt.Errorf("set-up: %w", &WeakPasswordError{Reason: why})
	}
	step, ok := codeStep(u.TOTPSecret, code, now)
	if u.TOTPSecret == "" || !ok {
		err := s.db.Update(func(tx *store.Tx) error {
			if err := s.fail(tx, u.Email, addr, now); err != nil {
				return err
			}
			return tx.AuditWeb(store.WebEvent{At: now, User: u.Email, Remote: addr, Action: "setup.failed", Detail: "wrong authenticator code"})
		})
		if err != nil {
			return Session{}, fmt.Errorf("set-up: %w", err)
		}
		return Session{}, fmt.Errorf("set-up: %w", ErrBadCode)
	}
	hash := hashPassword(password)
	var sess Session
	err = s.db.Update(func(tx *store.Tx) error {
		cur, err := s.setupUser(tx, token) // again: another request may have used it meanwhile
		if err != nil {
			return err
		}
		if cur.TOTPSecret != u.TOTPSecret {
			return ErrBadCode
		}
		cur.PasswordHash, cur.Enrolled, cur.TOTPStep = hash, true, step
		cur.SetupHash, cur.SetupExpires = "", time.Time{}
		if err := tx.AuditWeb(store.WebEvent{At: now, User: cur.Email, Remote: addr, Action: "setup.completed"}); err != nil {
			return err
		}
		sess, err = s.startSession(tx, cur, addr, now)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("set-up: %w", err)
	}
	return sess, nil
}
