package accounts_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/accounts"
	"cpis/store"
)

func TestThrottle(t *testing.T) {
	type attempt struct {
		email, password, addr string
		advance               time.Duration
		want                  error
	}
	const other = "other@example.org"
	bad := func(email, addr string) attempt {
		return attempt{email: email, password: "wrong password!", addr: addr, advance: time.Minute, want: accounts.ErrBadLogin}
	}
	// manyBad is n failures of n different accounts from host, a few
	// seconds apart.
	manyBad := func(host string, n int) []attempt {
		var out []attempt
		for i := range n {
			out = append(out, attempt{email: fmt.Sprintf("u%d@example.org", i), password: "wrong password!",
				addr: fmt.Sprintf("%s:%d", host, 1000+i), advance: 5 * time.Second, want: accounts.ErrBadLogin})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		attempts []attempt
	}{
		{"five failures lock the account, from any address", []attempt{
			bad(officer, "192.0.2.1:1"), bad(officer, "192.0.2.2:1"), bad(officer, "192.0.2.3:1"), bad(officer, "192.0.2.4:1"), bad(officer, "192.0.2.5:1"),
			{officer, password, "192.0.2.6:1", time.Minute, accounts.ErrThrottled},
			{officer, password, "192.0.2.6:1", 12 * time.Minute, accounts.ErrThrottled}, // 14 minutes after the lock

			{officer, password, "192.0.2.6:1", time.Minute, nil},
		}},
		{"five failures of other accounts leave a shared address open", []attempt{
			bad(officer, "192.0.2.1:1"), bad("a@example.org", "192.0.2.1:2"), bad("b@example.org", "192.0.2.1:3"),
			bad(other, "192.0.2.1:4"), bad("c@example.org", "192.0.2.1:5"), bad("d@example.org", "192.0.2.1:6"),
			{officer, password, "192.0.2.1:7", time.Minute, nil},
			{other, password, "192.0.2.1:8", 0, nil},
		}},
		{"fifty failures lock the address, for any account", append(manyBad("192.0.2.1", accounts.MaxAddrFailures),
			attempt{officer, password, "192.0.2.1:6", 0, accounts.ErrThrottled},
			attempt{officer, password, "192.0.2.9:6", 0, nil},
		)},
		{"failures older than 15 minutes do not count", []attempt{
			bad(officer, "192.0.2.1:1"), bad(officer, "192.0.2.1:1"), bad(officer, "192.0.2.1:1"), bad(officer, "192.0.2.1:1"),
			{officer, "wrong password!", "192.0.2.1:1", 15 * time.Minute, accounts.ErrBadLogin},
			{officer, password, "192.0.2.1:1", time.Minute, nil},
		}},
		{"a success clears the account's count", []attempt{
			bad(officer, "192.0.2.1:1"), bad(officer, "192.0.2.2:1"), bad(officer, "192.0.2.3:1"), bad(officer, "192.0.2.4:1"),
			{officer, password, "192.0.2.5:1", time.Minute, nil},
			bad(officer, "192.0.2.6:1"),
			{officer, password, "192.0.2.7:1", time.Minute, nil},
		}},
		{"IPv6 addresses without their port", append(manyBad("[2001:db8::1]", accounts.MaxAddrFailures),
			attempt{other, password, "[2001:db8::1]:6", time.Minute, accounts.ErrThrottled},
		)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			secrets := map[string]string{officer: f.enrol(officer), other: f.enrol(other)}
			for i, a := range tc.attempts {
				f.advance(a.advance)
				code := "000000"
				if s, ok := secrets[a.email]; ok {
					code = f.code(s, 0)
				}
				if _, err := f.svc.Login(a.email, a.password, code, a.addr); !errors.Is(err, a.want) {
					t.Fatalf("attempt %d (%s from %s): %v, want %v", i+1, a.email, a.addr, err, a.want)
				}
				if _, ok := secrets[a.email]; ok {
					f.advance(30 * time.Second) // a new code for the next one
				}
			}
		})
	}
}

// TestThrottleSurvivesRestart: the lock is in the store, not in memory.
func TestThrottleSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	secret := f.enrol(officer)
	for range accounts.MaxFailures {
		if _, err := f.svc.Login(officer, "wrong password!", f.code(secret, 0), addr); !errors.Is(err, accounts.ErrBadLogin) {
			t.Fatal(err)
		}
	}
	if err := f.hub.DB.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(f.hub.Dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := accounts.New(db, accounts.Options{Now: f.clock.Now})
	if _, err := svc.Login(officer, password, f.code(secret, 0), "198.51.100.1:1"); !errors.Is(err, accounts.ErrThrottled) {
		t.Errorf("login after a restart: %v, want ErrThrottled", err)
	}
}

// TestThrottledAudit: logins refused by a lock are audited once a minute
// per account and address.
func TestThrottledAudit(t *testing.T) {
	f := newFixture(t)
	secret := f.enrol(officer)
	for range accounts.MaxFailures {
		if _, err := f.svc.Login(officer, "wrong password!", f.code(secret, 0), addr); !errors.Is(err, accounts.ErrBadLogin) {
			t.Fatal(err)
		}
	}
	for _, d := range []time.Duration{0, 10 * time.Second, 49 * time.Second, time.Second, 0} {
		f.advance(d)
		if _, err := f.svc.Login(officer, password, f.code(secret, 0), addr); !errors.Is(err, accounts.ErrThrottled) {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Login(officer, password, f.code(secret, 0), "198.51.100.1:1"); !errors.Is(err, accounts.ErrThrottled) {
		t.Fatal(err)
	}
	var got []string
	for _, line := range f.audit() {
		if strings.HasPrefix(line, "login.throttled") {
			got = append(got, line)
		}
	}
	want := []string{
		"login.throttled " + officer + " " + addr,
		"login.throttled " + officer + " " + addr,
		"login.throttled " + officer + " 198.51.100.1:1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("throttled logins audited (-want +got):\n%s", diff)
	}
}

// TestSetupThrottle: bad codes on the set-up page count against the
// account as bad logins do.
func TestSetupThrottle(t *testing.T) {
	f := newFixture(t)
	token, info := f.invite(officer, "")
	for i := range accounts.MaxFailures {
		if _, err := f.svc.CompleteSetup(token, password, "000000", fmt.Sprintf("192.0.2.%d:1", i)); !errors.Is(err, accounts.ErrBadCode) {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.CompleteSetup(token, password, f.code(info.Secret, 0), "192.0.2.99:1"); !errors.Is(err, accounts.ErrThrottled) {
		t.Errorf("set-up after five bad codes: %v, want ErrThrottled", err)
	}
	f.advance(accounts.LockDuration)
	if _, err := f.svc.CompleteSetup(token, password, f.code(info.Secret, 0), "192.0.2.99:1"); err != nil {
		t.Errorf("set-up once the lock ran out: %v", err)
	}
}

func TestSessions(t *testing.T) {
	f := newFixture(t)
	secret := f.enrol(officer)
	login := func() accounts.Session {
		t.Helper()
		f.advance(30 * time.Second)
		s, err := f.svc.Login(officer, password, f.code(secret, 0), addr)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := login()
	type step struct {
		advance time.Duration
		want    error
		expires time.Duration // after the clock, when found
	}
	for i, st := range []step{
		{0, nil, 30 * time.Minute},
		{30 * time.Second, nil, 29*time.Minute + 30*time.Second}, // not written again within a minute
		{29 * time.Minute, nil, 30 * time.Minute},                // used: moved on
		{29 * time.Minute, nil, 30 * time.Minute},
		{30 * time.Minute, accounts.ErrNoSession, 0}, // idle 30 minutes
		{0, accounts.ErrNoSession, 0},
	} {
		f.advance(st.advance)
		got, err := f.svc.Session(s.Token)
		if !errors.Is(err, st.want) {
			t.Fatalf("step %d: %v, want %v", i, err, st.want)
		}
		if err != nil {
			continue
		}
		if got.Token != "" || got.CSRF != s.CSRF || got.User.Email != officer || !got.Expires.Equal(f.clock.Now().Add(st.expires)) {
			t.Errorf("step %d: session %+v (expires in %s), want no token, the same CSRF token, expiry in %s", i, got, got.Expires.Sub(f.clock.Now()), st.expires)
		}
	}
	for _, tok := range []string{"", "nope", s.CSRF} {
		if _, err := f.svc.Session(tok); !errors.Is(err, accounts.ErrNoSession) {
			t.Errorf("Session(%q): %v, want ErrNoSession", tok, err)
		}
	}

	a, b := login(), login()
	if a.Token == b.Token || a.CSRF == b.CSRF {
		t.Error("two sessions share a token")
	}
	if err := f.svc.Logout(a.Token, addr); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(a.Token, addr); err != nil {
		t.Errorf("second logout: %v", err)
	}
	if _, err := f.svc.Session(a.Token); !errors.Is(err, accounts.ErrNoSession) {
		t.Errorf("session after logout: %v", err)
	}
	if _, err := f.svc.Session(b.Token); err != nil {
		t.Errorf("the other session after logout: %v", err)
	}
	c := login()
	if err := f.svc.Remove(strings.ToUpper(officer)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []accounts.Session{b, c} {
		if _, err := f.svc.Session(s.Token); !errors.Is(err, accounts.ErrNoSession) {
			t.Errorf("session after Remove: %v, want ErrNoSession", err)
		}
	}
	if err := f.svc.Remove(officer); !errors.Is(err, accounts.ErrNoUser) {
		t.Errorf("second Remove: %v, want ErrNoUser", err)
	}
	if got := f.audit(); got[len(got)-1] != "user.removed "+officer+" 2 sessions ended" {
		t.Errorf("last audit event %q", got[len(got)-1])
	}
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		for _, s := range []accounts.Session{s, a, b, c} {
			if _, ok, err := tx.WebSession(s.Token); err != nil || ok {
				return fmt.Errorf("session kept under its token: %v", err)
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestReplayRace: two logins at once with the same code: one session.
func TestReplayRace(t *testing.T) {
	f := newFixture(t)
	secret := f.enrol(officer)
	code := f.code(secret, 0)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = f.svc.Login(officer, password, code, fmt.Sprintf("192.0.2.%d:1", i)) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, accounts.ErrBadLogin):
			t.Error(err)
		}
	}
	if ok != 1 {
		t.Errorf("%d logins with one code, want 1 (%v)", ok, errs)
	}
}

// TestNoSecretsStored: the store and the audit never hold a password, a
// set-up or session token, a CSRF token or a code; the TOTP secret only in
// the user's record.
func TestNoSecretsStored(t *testing.T) {
	f := newFixture(t)
	token, info := f.invite(officer, "")
	setupCode := f.code(info.Secret, 0)
	if _, err := f.svc.CompleteSetup(token, "short", setupCode, addr); !errors.Is(err, accounts.ErrWeakPassword) {
		t.Fatal(err)
	}
	if _, err := f.svc.CompleteSetup(token, password, setupCode, addr); err != nil {
		t.Fatal(err)
	}
	f.advance(30 * time.Second)
	loginCode := f.code(info.Secret, 0)
	if _, err := f.svc.Login(officer, "wrong password!", loginCode, addr); err == nil {
		t.Fatal("a wrong password logged in")
	}
	s, err := f.svc.Login(officer, password, loginCode, addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(s.Token, addr); err != nil {
		t.Fatal(err)
	}
	var records []string
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		users, err := tx.WebUsers()
		if err != nil {
			return err
		}
		for _, u := range users {
			u.TOTPSecret = "" // kept, on purpose (package doc)
			b, _ := json.Marshal(u)
			records = append(records, string(b))
		}
		return tx.WebAuditEvents(time.Time{}, func(e store.WebEvent) error {
			b, _ := json.Marshal(e)
			records = append(records, string(b))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(records, "\n")
	for name, secret := range map[string]string{"password": password, "wrong password": "wrong password!", "set-up token": token,
		"session token": s.Token, "CSRF token": s.CSRF, "TOTP secret": info.Secret, "set-up code": setupCode, "login code": loginCode} {
		if strings.Contains(all, secret) {
			t.Errorf("the %s is in the store:\n%s", name, all)
		}
	}
	if !strings.Contains(all, `"password_hash":"$argon2id$v=19$m=19456,t=2,p=1$`) {
		t.Errorf("no argon2id hash in the user's record:\n%s", all)
	}
}

// TestReset: a reset drops the password, the authenticator and the
// sessions; the new link enrols a new authenticator.
func TestReset(t *testing.T) {
	f := newFixture(t)
	oldSecret := f.enrol(officer)
	s, err := f.svc.Login(officer, password, f.code(oldSecret, 0), addr)
	if err != nil {
		t.Fatal(err)
	}
	f.advance(time.Minute)
	token, err := f.svc.Reset("Officer@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Session(s.Token); !errors.Is(err, accounts.ErrNoSession) {
		t.Errorf("session after Reset: %v, want ErrNoSession", err)
	}
	if _, err := f.svc.Login(officer, password, f.code(oldSecret, 0), addr); !errors.Is(err, accounts.ErrBadLogin) {
		t.Errorf("login with the old password and authenticator: %v, want ErrBadLogin", err)
	}
	info, err := f.svc.Setup(token, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Secret == oldSecret {
		t.Error("the new set-up shows the old authenticator key")
	}
	if _, err := f.svc.CompleteSetup(token, "another long password", f.code(info.Secret, 0), addr); err != nil {
		t.Fatal(err)
	}
	f.advance(30 * time.Second)
	if _, err := f.svc.Login(officer, "another long password", f.code(info.Secret, 0), addr); err != nil {
		t.Errorf("login after the new set-up: %v", err)
	}
	users, err := f.svc.List()
	if err != nil || len(users) != 1 || users[0].LA != "841" || !users[0].Created.Equal(t0) {
		t.Errorf("List: %+v, %v; want the officer of 841 made at %s", users, err, t0)
	}
	if _, err := f.svc.Reset("nobody@example.org"); !errors.Is(err, accounts.ErrNoUser) {
		t.Errorf("Reset of nobody: %v, want ErrNoUser", err)
	}
	if got := f.audit(); !slices.Contains(got, "user.reset "+officer+" 2 sessions ended") {
		t.Errorf("no user.reset in the audit:\n%s", strings.Join(got, "\n"))
	}
}

// TestUnlock: an operator ends an account's lock; List shows it until then.
func TestUnlock(t *testing.T) {
	f := newFixture(t)
	secret := f.enrol(officer)
	for range accounts.MaxFailures {
		if _, err := f.svc.Login(officer, "wrong password!", f.code(secret, 0), addr); !errors.Is(err, accounts.ErrBadLogin) {
			t.Fatal(err)
		}
	}
	lockedAt := f.clock.Now()
	f.advance(time.Minute)
	users, err := f.svc.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || !users[0].LockedUntil.Equal(lockedAt.Add(accounts.LockDuration)) {
		t.Fatalf("List: %+v, want %s locked until %s", users, officer, lockedAt.Add(accounts.LockDuration))
	}
	if _, err := f.svc.Login(officer, password, f.code(secret, 0), addr); !errors.Is(err, accounts.ErrThrottled) {
		t.Fatalf("login while locked: %v, want ErrThrottled", err)
	}
	for _, tc := range []struct {
		email     string
		wasLocked bool
		want      error
	}{
		{"Officer@Example.org", true, nil},
		{officer, false, nil},
		{"nobody@example.org", false, accounts.ErrNoUser},
	} {
		got, err := f.svc.Unlock(tc.email)
		if !errors.Is(err, tc.want) || got != tc.wasLocked {
			t.Errorf("Unlock(%q) = %v, %v; want %v, %v", tc.email, got, err, tc.wasLocked, tc.want)
		}
	}
	if users, err := f.svc.List(); err != nil || !users[0].LockedUntil.IsZero() {
		t.Errorf("List after Unlock: %+v, %v; want no lock", users, err)
	}
	if _, err := f.svc.Login(officer, password, f.code(secret, 0), addr); err != nil {
		t.Errorf("login after Unlock: %v", err)
	}
	var got []string
	for _, line := range f.audit() {
		if strings.HasPrefix(line, "user.unlocked") {
			got = append(got, line)
		}
	}
	want := []string{
		"user.unlocked " + officer + " lock until " + lockedAt.Add(accounts.LockDuration).Format(time.RFC3339) + " ended",
		"user.unlocked " + officer + " was not locked",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unlocks audited (-want +got):\n%s", diff)
	}
}

// TestAuditAddresses: the set-up page and the logout are audited with the
// address of their own request, not of another.
func TestAuditAddresses(t *testing.T) {
	f := newFixture(t)
	token, info := f.invite(officer, "198.51.100.7:4000")
	sess, err := f.svc.CompleteSetup(token, password, f.code(info.Secret, 0), addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Setup(token, "203.0.113.9:5000"); !errors.Is(err, accounts.ErrSetupInvalid) {
		t.Fatalf("Setup of a used link: %v", err)
	}
	if err := f.svc.Logout(sess.Token, "198.51.100.8:6000"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"user.added " + officer + " role la, LA 841",
		"setup.opened " + officer + " 198.51.100.7:4000",
		"setup.completed " + officer + " " + addr,
		"login " + officer + " " + addr,
		"setup.refused 203.0.113.9:5000 unknown, expired or used link",
		"logout " + officer + " 198.51.100.8:6000",
	}
	if diff := cmp.Diff(want, f.audit()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// TestAuditBounded: what someone can repeat at will is audited once a
// minute per person (or, without one, per address) and action.
func TestAuditBounded(t *testing.T) {
	f := newFixture(t)
	for i, tc := range []struct {
		advance             time.Duration
		email, addr, action string
		want                bool
	}{
		{0, officer, "192.0.2.1", "page.forbidden", true},
		{10 * time.Second, officer, "192.0.2.2", "page.forbidden", false},
		{0, officer, "192.0.2.1", "page.not_found", true},
		{0, "other@example.org", "192.0.2.1", "page.forbidden", true},
		{0, "", "192.0.2.1", "csrf.refused", true},
		{0, "", "192.0.2.1", "csrf.refused", false},
		{0, "", "192.0.2.3", "csrf.refused", true},
		{50 * time.Second, officer, "192.0.2.1", "page.forbidden", true},
		{59 * time.Second, officer, "192.0.2.1", "page.forbidden", false},
	} {
		f.advance(tc.advance)
		got, err := f.svc.AuditBounded(tc.email, tc.addr, tc.action, "/ops/")
		if err != nil || got != tc.want {
			t.Errorf("call %d (%s %s %s): %v, %v; want %v", i+1, tc.email, tc.addr, tc.action, got, err, tc.want)
		}
	}
	if n := len(f.audit()); n != 6 {
		t.Errorf("%d events audited, want 6:\n%s", n, strings.Join(f.audit(), "\n"))
	}
}

// TestSessionLifetime: a session used every 25 minutes ends 12 hours
// after its login; its expiry never goes past that.
func TestSessionLifetime(t *testing.T) {
	f := newFixture(t)
	secret := f.enrol(officer)
	s, err := f.svc.Login(officer, password, f.code(secret, 0), addr)
	if err != nil {
		t.Fatal(err)
	}
	start := f.clock.Now()
	for at := 25 * time.Minute; at < 12*time.Hour; at += 25 * time.Minute {
		f.clock.Set(start.Add(at))
		got, err := f.svc.Session(s.Token)
		if err != nil {
			t.Fatalf("%s after login: %v", at, err)
		}
		if want := min(at+30*time.Minute, 12*time.Hour); !got.Expires.Equal(start.Add(want)) {
			t.Errorf("%s after login: expires %s after login, want %s", at, got.Expires.Sub(start), want)
		}
	}
	for _, at := range []time.Duration{12 * time.Hour, 12*time.Hour + time.Second} {
		f.clock.Set(start.Add(at))
		if _, err := f.svc.Session(s.Token); !errors.Is(err, accounts.ErrNoSession) {
			t.Errorf("%s after login: %v, want ErrNoSession", at, err)
		}
	}
}
