package accounts_test

import (
	"bytes"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"cpis/batch/accounts"
	"cpis/batch/hubtest"
	"cpis/store"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

const (
	officer  = "officer@example.org"
	password = "correct horse battery staple"
	addr     = "192.0.2.10:51234"
)

// fixture is a hub with two LAs, an accounts service on its store and a
// clock the test moves.
type fixture struct {
	t     *testing.T
	hub   *hubtest.Hub
	clock *hubtest.Clock
	svc   *accounts.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	hub := hubtest.New(t, hubtest.Options{LAs: []string{"841", "202"}, Mailboxes: []string{"841"}, NoDemographics: true})
	clock := hubtest.NewClock(t0)
	return &fixture{t: t, hub: hub, clock: clock, svc: accounts.New(hub.DB, accounts.Options{Now: clock.Now})}
}

func (f *fixture) advance(d time.Duration) { f.clock.Set(f.clock.Now().Add(d)) }

// code is the authenticator's code for secret at the clock's time plus d.
func (f *fixture) code(secret string, d time.Duration) string {
	f.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, f.clock.Now().Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// invite adds email as an officer of LA 841 and opens its set-up page from
// addr: the set-up link's token and what the page shows.
func (f *fixture) invite(email, addr string) (string, accounts.SetupInfo) {
	f.t.Helper()
	token, err := f.svc.Add(email, accounts.RoleLA, "841")
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := f.svc.Setup(token, addr)
	if err != nil {
		f.t.Fatal(err)
	}
	return token, info
}

// enrol adds email as an officer of LA 841 and completes its set-up; it
// returns the authenticator's secret and moves the clock a step on, so
// that the next code is a new one.
func (f *fixture) enrol(email string) string {
	f.t.Helper()
	token, info := f.invite(email, "")
	if _, err := f.svc.CompleteSetup(token, password, f.code(info.Secret, 0), addr); err != nil {
		f.t.Fatal(err)
	}
	f.advance(30 * time.Second)
	return info.Secret
}

// audit returns the web audit as "action user remote detail" lines (the
// fields not empty).
func (f *fixture) audit() []string {
	f.t.Helper()
	var out []string
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		return tx.WebAuditEvents(time.Time{}, func(e store.WebEvent) error {
			var fields []string
			for _, s := range []string{e.Action, e.User, e.Remote, e.Detail} {
				if s != "" {
					fields = append(fields, s)
				}
			}
			out = append(out, strings.Join(fields, " "))
			return nil
		})
	}); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func TestAdd(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.Add("existing@example.org", accounts.RoleOps, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, email string
		role        accounts.Role
		la          string
		want        error
	}{
		{"LA officer", officer, accounts.RoleLA, "841", nil},
		{"operations", "Ops@Example.ORG ", accounts.RoleOps, "", nil},
		{"the same email in another case", "EXISTING@example.org", accounts.RoleLA, "202", accounts.ErrUserExists},
		{"not an email", "officer", accounts.RoleLA, "841", accounts.ErrBadEmail},
		{"a display name", "Officer <officer2@example.org>", accounts.RoleLA, "841", accounts.ErrBadEmail},
		{"empty", "", accounts.RoleOps, "", accounts.ErrBadEmail},
		{"LA officer without an LA", "a@example.org", accounts.RoleLA, "", accounts.ErrBadRole},
		{"operations with an LA", "b@example.org", accounts.RoleOps, "841", accounts.ErrBadRole},
		{"another role", "c@example.org", "admin", "", accounts.ErrBadRole},
		{"an LA the hub does not serve", "d@example.org", accounts.RoleLA, "999", accounts.ErrUnknownLA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, err := f.svc.Add(tc.email, tc.role, tc.la)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Add: %v, want %v", err, tc.want)
			}
			if tc.want == nil && len(token) < 40 {
				t.Errorf("set-up token %q is short", token)
			}
		})
	}
	users, err := f.svc.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []accounts.User{
		{Email: "existing@example.org", Role: accounts.RoleOps, Created: t0, SetupExpires: t0.Add(24 * time.Hour)},
		{Email: officer, Role: accounts.RoleLA, LA: "841", Created: t0, SetupExpires: t0.Add(24 * time.Hour)},
		{Email: "ops@example.org", Role: accounts.RoleOps, Created: t0, SetupExpires: t0.Add(24 * time.Hour)},
	}
	if diff := cmp.Diff(want, users); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestSetup(t *testing.T) {
	f := newFixture(t)
	token, info := f.invite(officer, "")
	if info.Email != officer || len(info.Secret) != 32 {
		t.Errorf("set-up page for %q with secret of %d characters, want %s and 32", info.Email, len(info.Secret), officer)
	}
	key, err := otp.NewKeyFromURL(info.URL)
	if err != nil {
		t.Fatal(err)
	}
	if key.Secret() != info.Secret || key.Issuer() != "CP-IS hub" || key.AccountName() != officer || key.Period() != 30 ||
		key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Errorf("key URI %s does not say the secret, issuer, account, SHA1, 6 digits, 30 s", info.URL)
	}
	if img, err := png.Decode(bytes.NewReader(info.QRPNG)); err != nil || img.Bounds().Dx() != 256 {
		t.Errorf("QR code: not a 256-pixel PNG (%v)", err)
	}
	f.advance(time.Hour)
	again, err := f.svc.Setup(token, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(info, again); diff != "" {
		t.Errorf("second visit shows another key (-first +second):\n%s", diff)
	}

	for _, tc := range []struct {
		name, token, password string
		code                  func() string
		want                  error
	}{
		{"unknown token", "nope", password, func() string { return f.code(info.Secret, 0) }, accounts.ErrSetupInvalid},
		{"empty token", "", password, func() string { return f.code(info.Secret, 0) }, accounts.ErrSetupInvalid},
		{"short password", token, "eleven char", func() string { return f.code(info.Secret, 0) }, accounts.ErrWeakPassword},
		{"password is the email", token, "Officer@Example.org", func() string { return f.code(info.Secret, 0) }, accounts.ErrWeakPassword},
		{"password is the email's name", token, "OFFICER", func() string { return f.code(info.Secret, 0) }, accounts.ErrWeakPassword},
		{"too long", token, strings.Repeat("x", 1025), func() string { return f.code(info.Secret, 0) }, accounts.ErrWeakPassword},
		{"wrong code", token, password, func() string { return "000000" }, accounts.ErrBadCode},
		{"code of two steps ago", token, password, func() string { return f.code(info.Secret, -60*time.Second) }, accounts.ErrBadCode},
		{"not digits", token, password, func() string { return "abcdef" }, accounts.ErrBadCode},
		{"done", token, password, func() string { return f.code(info.Secret, -30*time.Second) }, nil},
		{"the token again", token, password, func() string { return f.code(info.Secret, 0) }, accounts.ErrSetupInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.svc.CompleteSetup(tc.token, tc.password, tc.code(), addr); !errors.Is(err, tc.want) {
				t.Errorf("CompleteSetup: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := f.svc.Setup(token, ""); !errors.Is(err, accounts.ErrSetupInvalid) {
		t.Errorf("Setup after completion: %v, want ErrSetupInvalid", err)
	}
	users, err := f.svc.List()
	if err != nil || len(users) != 1 || !users[0].Enrolled {
		t.Errorf("List: %+v, %v; want the officer enrolled", users, err)
	}
}

func TestSetupExpires(t *testing.T) {
	f := newFixture(t)
	token, info := f.invite(officer, "")
	f.advance(24 * time.Hour)
	if _, err := f.svc.Setup(token, ""); !errors.Is(err, accounts.ErrSetupInvalid) {
		t.Errorf("Setup after 24 hours: %v, want ErrSetupInvalid", err)
	}
	if _, err := f.svc.CompleteSetup(token, password, f.code(info.Secret, 0), addr); !errors.Is(err, accounts.ErrSetupInvalid) {
		t.Errorf("CompleteSetup after 24 hours: %v, want ErrSetupInvalid", err)
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	secret := f.enrol(officer)
	if _, err := f.svc.Add("pending@example.org", accounts.RoleOps, ""); err != nil {
		t.Fatal(err)
	}
	used := f.code(secret, 0)
	if _, err := f.svc.Login(officer, password, used, addr); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, email, password, code string
		want                        error
	}{
		{"unknown user", "nobody@example.org", password, f.code(secret, 0), accounts.ErrBadLogin},
		{"set-up not complete", "pending@example.org", password, f.code(secret, 0), accounts.ErrBadLogin},
		{"wrong password", officer, password + "!", f.code(secret, 30*time.Second), accounts.ErrBadLogin},
		{"wrong code", officer, password, "123456", accounts.ErrBadLogin},
		{"code already used", officer, password, used, accounts.ErrBadLogin},
		{"code of the step before the last used", officer, password, f.code(secret, -30*time.Second), accounts.ErrBadLogin},
		{"next step's code (clock drift)", "OFFICER@example.org", password, f.code(secret, 30*time.Second), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each from its own address: the address's failures do not add up to a lock.
			s, err := f.svc.Login(tc.email, tc.password, tc.code, tc.name)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Login: %v, want %v", err, tc.want)
			}
			if err == nil && (s.Token == "" || s.CSRF == "" || s.User.Email != officer || s.User.LA != "841" || !s.Expires.Equal(f.clock.Now().Add(30*time.Minute))) {
				t.Errorf("session %+v", s)
			}
		})
	}
	wantAudit := []string{
		"user.added " + officer + " role la, LA 841",
		"setup.opened " + officer,
		"setup.completed " + officer + " " + addr,
		"login " + officer + " " + addr,
		"user.added pending@example.org role ops",
		"login " + officer + " " + addr,
		"login.failed nobody@example.org unknown user unknown user",
		"login.failed pending@example.org set-up not complete set-up not complete",
		"login.failed " + officer + " wrong password wrong password",
		"login.failed " + officer + " wrong code wrong authenticator code",
		"login.failed " + officer + " code already used authenticator code already used",
		"login.failed " + officer + " code of the step before the last used authenticator code already used",
		"login " + officer + " next step's code (clock drift)",
	}
	if diff := cmp.Diff(wantAudit, f.audit()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// TestSetupSignsIn: completing set-up signs the person in (its code is
// used up, so the login page would refuse it), audited as set-up and
// login.
func TestSetupSignsIn(t *testing.T) {
	f := newFixture(t)
	token, info := f.invite(officer, "")
	sess, err := f.svc.CompleteSetup(token, password, f.code(info.Secret, 0), addr)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Token == "" || sess.CSRF == "" || sess.User.Email != officer || sess.User.LA != "841" || !sess.User.Enrolled ||
		!sess.User.LastLogin.Equal(t0) || !sess.Expires.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("CompleteSetup session: %+v", sess)
	}
	got, err := f.svc.Session(sess.Token)
	if err != nil || got.User.Email != officer || got.CSRF != sess.CSRF {
		t.Errorf("Session of the set-up's token: %+v, %v", got, err)
	}
	want := []string{
		"user.added " + officer + " role la, LA 841",
		"setup.opened " + officer,
		"setup.completed " + officer + " " + addr,
		"login " + officer + " " + addr,
	}
	if diff := cmp.Diff(want, f.audit()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// TestReplayNotCounted: a code already used, with the right password, is
// refused (RFC 6238 replay protection) but does not count towards the
// account's lock; with a wrong password it does.
func TestReplayNotCounted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		password string
		want     error // of a login with a fresh code afterwards
	}{
		{"right password", password, nil},
		{"wrong password", "not the password", accounts.ErrThrottled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			token, info := f.invite(officer, "")
			used := f.code(info.Secret, 0)
			if _, err := f.svc.CompleteSetup(token, password, used, addr); err != nil {
				t.Fatal(err)
			}
			for range accounts.MaxFailures + 1 {
				if _, err := f.svc.Login(officer, tc.password, used, addr); !errors.Is(err, accounts.ErrBadLogin) && !errors.Is(err, accounts.ErrThrottled) {
					t.Fatalf("login with the set-up's code: %v, want ErrBadLogin", err)
				}
			}
			f.advance(30 * time.Second)
			if _, err := f.svc.Login(officer, password, f.code(info.Secret, 0), addr); !errors.Is(err, tc.want) {
				t.Errorf("login with a fresh code: %v, want %v", err, tc.want)
			}
		})
	}
}
