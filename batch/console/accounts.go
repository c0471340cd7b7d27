package console

import "cpis/batch/accounts"

// Accounts is what the console needs of the web accounts (batch/accounts):
// set-up links, logins, sessions and the web audit. *accounts.Service
// implements it (logins, set-up steps and logouts audit themselves; the
// pages audit their actions with Ctx.Audit). The console never keeps a
// password, code or secret: it passes them through.
type Accounts interface {
	Setup(token, addr string) (accounts.SetupInfo, error)
	CompleteSetup(token, password, code, addr string) (accounts.Session, error)
	Login(email, password, code, addr string) (accounts.Session, error)
	Session(token string) (accounts.Session, error)
	Logout(token, addr string) error
	Audit(email, addr, action, detail string) error
	AuditBounded(email, addr, action, detail string) (bool, error)
}

var _ Accounts = (*accounts.Service)(nil)

// The accounts' types and roles as the pages use them.
type (
	// User is a person with a web account.
	User = accounts.User
	// Role is what a user may do.
	Role = accounts.Role
	// Session is a logged-in user's session.
	Session = accounts.Session
	// SetupInfo is what the set-up page shows.
	SetupInfo = accounts.SetupInfo
	// WeakPasswordError says why a chosen password will not do.
	WeakPasswordError = accounts.WeakPasswordError
)

// The roles.
const (
	RoleLA  = accounts.RoleLA
	RoleOps = accounts.RoleOps
)

// The accounts' errors the pages tell apart.
var (
	ErrBadLogin     = accounts.ErrBadLogin
	ErrThrottled    = accounts.ErrThrottled
	ErrNoSession    = accounts.ErrNoSession
	ErrWeakPassword = accounts.ErrWeakPassword
	ErrBadCode      = accounts.ErrBadCode
	ErrSetupInvalid = accounts.ErrSetupInvalid
)
