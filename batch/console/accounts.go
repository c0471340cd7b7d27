package console

import (
	"errors"
	"time"
)

// Accounts is what the console needs of the web accounts (batch/accounts):
// set-up links, logins, sessions and the web audit. *accounts.Service
// implements it; the console never touches passwords or TOTP secrets
// beyond passing them through.
type Accounts interface {
	// Setup returns what the set-up page shows for a one-time link.
	Setup(token string) (SetupInfo, error)
	// CompleteSetup sets the password and enrols the authenticator.
	CompleteSetup(token, password, code, addr string) error
	// Login checks the password and TOTP code and opens a session.
	Login(email, password, code, addr string) (Session, error)
	// Session returns the live session of token (ErrNoSession when none:
	// unknown, logged out or idle too long) and marks it used.
	Session(token string) (Session, error)
	// Logout ends the session of token.
	Logout(token string) error
	// Audit records one web action.
	Audit(email, addr, action, detail string) error
}

// Role is what a user may do: RoleLA (one LA's pages) or RoleOps.
type Role string

// The roles.
const (
	RoleLA  Role = "la"
	RoleOps Role = "ops"
)

// User is a person with a web account.
type User struct {
	Email     string
	Role      Role
	LA        string // the LA code of an RoleLA user
	Created   time.Time
	Enrolled  time.Time
	LastLogin time.Time
}

// Session is a logged-in user's session.
type Session struct {
	Token   string
	CSRF    string
	User    User
	Expires time.Time
}

// SetupInfo is what the set-up page shows: the account's email, the TOTP
// secret as text and as an otpauth URL, and its QR code as a PNG.
type SetupInfo struct {
	Email  string
	Secret string
	URL    string
	QRPNG  []byte
}

// Errors of Accounts that the pages tell apart.
var (
	ErrBadLogin     = errors.New("email, password or code not accepted")
	ErrThrottled    = errors.New("too many failed logins: try again later")
	ErrNoSession    = errors.New("no such session")
	ErrWeakPassword = errors.New("password too weak")
	ErrBadCode      = errors.New("code not accepted")
	ErrSetupInvalid = errors.New("set-up link unknown, used or expired")
)
