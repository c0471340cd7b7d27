// Package accounts keeps the people who use the hub's web pages: LA data
// officers, who see and touch only their LA, and operations, who see all
// LAs. It makes accounts and their one-time set-up links, checks passwords
// and authenticator codes, keeps sessions, throttles guessing and audits
// all of it (`cpis audit --web`). The pages themselves are another
// package's; this one speaks people, not HTTP. Everything is kept in the
// store (store/doc.go: web_users, web_sessions, web_throttle, web_audit),
// so a restart changes nothing.
//
// # Accounts and set-up
//
// An account is made by an operator (`cpis users add`) with an email, a
// role ("la" with the LA's code, or "ops") and no password: Add returns a
// set-up token, valid SetupValidity (24 hours), of which the store keeps
// only the SHA-256. Whoever opens the link sees the authenticator's key
// (as a QR code and as base32 text, the same on every visit until set-up
// is complete), chooses a password and proves the authenticator with a
// code; the token then stops working and the person is signed in
// (CompleteSetup returns the session; audited setup.completed, then
// login): the code set-up used is spent, and the login page would refuse
// the same code, which the app still shows for up to 30 seconds. Showing the page does not use the
// link up (a mail scanner that opens it leaves it working); only
// completing set-up does. Reset (`cpis users reset`) gives a new link: for
// a link that expired, or a person who lost their authenticator or
// password (the old ones stop working, the account's sessions end).
//
// Emails are kept in lower case: one person, one account, whatever the
// case they type. A password is 12 to 1024 characters and is not the
// email, nor the part of it before the "@" (case ignored): long enough to
// stand without composition rules, as NCSC and NIST SP 800-63B advise.
// As they also advise, the obviously guessable are refused: a password of
// fewer than MinDistinctChars (6) different characters ("aaaaaaaaaaaa",
// "121212121212"), and the most used passwords of 12 characters or more
// (common-passwords.txt, about a hundred such as "password123456" or
// "qwertyuiop12", case ignored). The set-up page says which rule a
// refused password broke (WeakPasswordError).
//
// # Passwords
//
// Passwords are hashed with argon2id (RFC 9106) at OWASP's first
// recommended setting: 19 MiB of memory, 2 passes, 1 lane, a 16-byte
// random salt per hash and a 32-byte key, kept in the PHC string form
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash) so that a later change of
// parameters still reads older hashes. Keys are compared in constant time.
// A login for an unknown account hashes against a fixed dummy hash, so
// the answer takes as long as for a known one. At most MaxConcurrentHashes
// hashes run at once, which bounds the memory a burst of logins can take.
//
// # Authenticator codes
//
// TOTP (RFC 6238) as every authenticator app reads it: HMAC-SHA1, 6
// digits, 30-second steps, a 20-byte random secret; a code of the step
// before or after the current one is accepted too (clocks drift). A code
// is accepted once: the step of the last accepted code is kept, and a code
// of that step or an earlier one is refused as a replay (RFC 6238 5.2).
// A replayed code with the right password is a failed login (audited
// "authenticator code already used") but is not counted towards the
// locks: the person has the password and a code their app showed, and
// is no guesser; a replay with a wrong password counts as any failure.
// The secret itself must be kept to check codes; it is in the store like
// the MESH passwords (store/doc.go) and never printed or audited.
//
// # Logins and throttling
//
// A login needs email, password and a current code; any failure is the
// same ErrBadLogin, so an answer never tells whether an account exists.
// Failures are counted per account and per address (the client's host,
// its port dropped). MaxFailures (5) within FailureWindow (15 minutes)
// lock an account, MaxAddrFailures (50) within the same window lock an
// address, each for LockDuration (15 minutes), during which every login
// on it is ErrThrottled, right password or not. An address's limit is ten
// times an account's because people share addresses: everyone behind a
// council's NAT, or behind a reverse proxy in front of the hub, comes
// from one address, and a few people's typing must not lock out all of
// them; 50 is still far too few for guessing passwords. A successful
// login clears the account's count; an address's count only runs out.
// An operator ends an account's lock with Unlock (`cpis users unlock`,
// audited as user.unlocked); List shows the accounts locked now. The
// address is the TCP peer's: a forwarded-for header is not trusted
// (behind a proxy, every client is the proxy's address, which the
// address limit allows for). The counts are
// in the store, so a restart does not reset them. Bad codes on the set-up
// page count against the account the same way. A login refused by a lock
// is audited once a minute per account and address, not at every try, so
// that whoever keeps trying cannot fill the store with the audit of it.
// An email that is not one is counted and audited as typed, cut to 254
// bytes.
//
// # Sessions
//
// A session token is 32 random bytes (base64url), given to the browser at
// Login and kept in the store only as its SHA-256. A session ends after
// IdleTimeout (30 minutes) without use, MaxLifetime (12 hours) after its
// login however busy (a stolen cookie does not last for ever, and a
// working day fits), at Logout, or when the account is removed or reset.
// Its expiry moves on use, never past the lifetime, written at most once
// a minute (RefreshEvery) so that a page's burst of requests costs one
// write.
// Expired sessions are deleted when met, at each login and by expire.
// The CSRF token of a session is the SHA-256 of a fixed label and the
// session token: stable for the session, nothing more to keep, and it
// does not reveal the session token.
//
// # Audit
//
// Every login, failure, throttle, set-up step, logout, account added,
// removed or unlocked is a store.WebEvent; the pages add theirs with
// Audit. Events name the person and the address of the request at hand
// (the set-up page's, the logout's), never a password, token, code or
// secret. What a person can repeat at will is audited with AuditBounded:
// the first of each minute per person (or, before a session, per
// address) and action, the rest dropped; the console uses it for an LA
// user's 403 on operations' pages (page.forbidden), 404s of a page such
// as another LA's file or return (page.not_found) and forms refused for
// their CSRF token (csrf.refused), with the path as detail (never a
// set-up token). They are kept store.WebAuditRetention (90 days; batch/expire).
package accounts
