package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"cpis/batch/accounts"
	"cpis/store"
)

var setupLink = regexp.MustCompile(`^(\S+)/setup/([A-Za-z0-9_-]{43})\n$`)

// TestCLIUsers: users add prints a set-up link once, users list shows the
// accounts (with --json, exactly), users remove ends them, and audit --web
// shows all of it, never a password, token, code or secret. The commands
// run as the binary, the person's set-up and login through the accounts
// package, as the web pages do.
func TestCLIUsers(t *testing.T) {
	bin := cpisBinary(t)
	h := initCLIHub(t)
	const officer = "officer@example.org"

	r := binRun(t, bin, "", h.data, cliNow, "users", "add", "--la", "841", "Officer@Example.org")
	m := setupLink.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || m[1] != "http://127.0.0.1:8443" {
		t.Fatalf("users add: exit %d, stdout %q, want a link under http://127.0.0.1:8443", r.code, r.stdout)
	}
	token := m[2]
	if want := "User officer@example.org added (LA 841). Send them the link above: it works once, until 2026-11-23 02:30:00 UTC, and is not shown again.\n"; r.stderr != want {
		t.Errorf("users add: stderr %q, want %q", r.stderr, want)
	}
	out := binOK(t, bin, h.data, "2026-11-22T02:31:00Z", "users", "add", "--ops", "--base-url", "https://cpis.nhs.example/hub/", "ops@nhs.example")
	if m := setupLink.FindStringSubmatch(out); m == nil || m[1] != "https://cpis.nhs.example/hub" {
		t.Errorf("users add --base-url: %q", out)
	}

	// The officer opens the link, chooses a password and enrols; then logs in.
	db, err := store.Open(h.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	svc := accounts.New(db, accounts.Options{Now: func() time.Time { return now }})
	info, err := svc.Setup(token, "")
	if err != nil {
		t.Fatal(err)
	}
	code := func() string {
		c, err := totp.GenerateCodeCustom(info.Secret, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	const password = "a long enough passphrase"
	setupCode := code()
	if _, err := svc.CompleteSetup(token, password, setupCode, "192.0.2.7:50000"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if _, err := svc.Login(officer, password+"?", code(), "192.0.2.7:50001"); err == nil {
		t.Fatal("logged in with a wrong password")
	}
	loginCode := code()
	sess, err := svc.Login(officer, password, loginCode, "192.0.2.7:50002")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Audit(officer, "192.0.2.7:50002", "return.checked", "CPIS_841_FULL_20261121.csv\t(3 rows rejected)"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	at := "2026-11-22T10:00:00Z"
	want := `{"email":"officer@example.org","role":"la","la":"841","created":"2026-11-22T02:30:00Z","enrolled":true,"last_login":"2026-11-22T09:01:00Z"}
{"email":"ops@nhs.example","role":"ops","created":"2026-11-22T02:31:00Z","enrolled":false,"setup_expires":"2026-11-23T02:31:00Z"}
`
	if diff := cmp.Diff(want, binOK(t, bin, h.data, at, "users", "list", "--json")); diff != "" {
		t.Errorf("users list --json (-want +got):\n%s", diff)
	}
	want = "EMAIL                ROLE  LA   ADDED (UTC)          STATUS                                 LAST LOGIN (UTC)     LOCKED UNTIL (UTC)\n" +
		"officer@example.org  la    841  2026-11-22 02:30:00  active                                 2026-11-22 09:01:00  -\n" +
		"ops@nhs.example      ops   -    2026-11-22 02:31:00  set-up link until 2026-11-23 02:31:00  -                    -\n"
	if diff := cmp.Diff(want, binOK(t, bin, h.data, at, "users", "list")); diff != "" {
		t.Errorf("users list (-want +got):\n%s", diff)
	}
	if got := binOK(t, bin, h.data, "2026-11-23T02:31:00Z", "users", "list"); !strings.Contains(got, "ops   -    2026-11-22 02:31:00  set-up link expired") {
		t.Errorf("users list after the link expired:\n%s", got)
	}

	if got := binOK(t, bin, h.data, at, "users", "remove", "OFFICER@example.org"); got != "Removed officer@example.org; their sessions have ended.\n" {
		t.Errorf("users remove: %q", got)
	}
	if r := binRun(t, bin, "", h.data, at, "users", "remove", officer); r.code != exitFailure || r.stderr != "cpis: \"officer@example.org\" has no web account\n" {
		t.Errorf("users remove again: exit %d, stderr %q", r.code, r.stderr)
	}

	want = "AT (UTC)              USER                 REMOTE           ACTION           DETAIL\n" +
		"2026-11-22T02:30:00Z  officer@example.org  -                user.added       role la, LA 841\n" +
		"2026-11-22T02:31:00Z  ops@nhs.example      -                user.added       role ops\n" +
		"2026-11-22T09:00:00Z  officer@example.org  -                setup.opened     \n" +
		"2026-11-22T09:00:00Z  officer@example.org  192.0.2.7:50000  setup.completed  \n" +
		"2026-11-22T09:00:00Z  officer@example.org  192.0.2.7:50000  login            \n" +
		"2026-11-22T09:01:00Z  officer@example.org  192.0.2.7:50001  login.failed     wrong password\n" +
		"2026-11-22T09:01:00Z  officer@example.org  192.0.2.7:50002  login            \n" +
		"2026-11-22T09:01:00Z  officer@example.org  192.0.2.7:50002  return.checked   CPIS_841_FULL_20261121.csv\\t(3 rows rejected)\n" +
		"2026-11-22T10:00:00Z  officer@example.org  -                user.removed     2 sessions ended\n"
	auditTable := binOK(t, bin, h.data, at, "audit", "--web", "--since", "2026-11-22")
	if diff := cmp.Diff(want, auditTable); diff != "" {
		t.Errorf("audit --web (-want +got):\n%s", diff)
	}
	auditJSON := binOK(t, bin, h.data, at, "audit", "--web", "--json", "--since", "2026-11-22T09:01:00Z")
	want = `{"at":"2026-11-22T09:01:00Z","user":"officer@example.org","remote":"192.0.2.7:50001","action":"login.failed","detail":"wrong password"}
{"at":"2026-11-22T09:01:00Z","user":"officer@example.org","remote":"192.0.2.7:50002","action":"login"}
{"at":"2026-11-22T09:01:00Z","user":"officer@example.org","remote":"192.0.2.7:50002","action":"return.checked","detail":"CPIS_841_FULL_20261121.csv\t(3 rows rejected)"}
{"at":"2026-11-22T10:00:00Z","user":"officer@example.org","action":"user.removed","detail":"2 sessions ended"}
`
	if diff := cmp.Diff(want, auditJSON); diff != "" {
		t.Errorf("audit --web --json (-want +got):\n%s", diff)
	}
	if got := binOK(t, bin, h.data, at, "audit", "--web", "--since", "2026-11-22T09:30:00Z"); got != "AT (UTC)              USER                 REMOTE  ACTION        DETAIL\n"+
		"2026-11-22T10:00:00Z  officer@example.org  -       user.removed  2 sessions ended\n" {
		t.Errorf("audit --web --since 09:30:\n%s", got)
	}
	for name, secret := range map[string]string{"password": password, "set-up token": token, "session token": sess.Token, "CSRF token": sess.CSRF,
		"TOTP secret": info.Secret, "set-up code": setupCode, "login code": loginCode} {
		if strings.Contains(auditTable+auditJSON, secret) {
			t.Errorf("the %s is in the audit", name)
		}
	}
}

func TestCLIUsersRefusals(t *testing.T) {
	h := initCLIHub(t)
	if r := h.run("users", "add", "--ops", "ops@nhs.example"); r.code != exitOK {
		t.Fatalf("users add: %+v", r)
	}
	usage := func(msg string) string { return "cpis: " + msg + "\nRun 'cpis --help' for usage.\n" }
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"neither --la nor --ops", []string{"users", "add", "a@example.org"}, exitUsage, usage("give --la CODE or --ops (one of them)")},
		{"both", []string{"users", "add", "--la", "841", "--ops", "a@example.org"}, exitUsage, usage("give --la CODE or --ops (one of them)")},
		{"not an email", []string{"users", "add", "--ops", "someone"}, exitUsage, usage(`"someone": not an email address`)},
		{"a bad base URL", []string{"users", "add", "--ops", "--base-url", "ftp://x", "a@example.org"}, exitUsage,
			usage(`--base-url "ftp://x" is not an http:// or https:// address (scheme, host, optional path)`)},
		{"an LA the hub does not serve", []string{"users", "add", "--la", "999", "a@example.org"}, exitFailure,
			"cpis: add user a@example.org: LA \"999\": no such LA\n"},
		{"an existing user", []string{"users", "add", "--la", "841", "OPS@nhs.example"}, exitFailure, "cpis: add user ops@nhs.example: the user exists\n"},
		{"remove nobody", []string{"users", "remove", "nobody@example.org"}, exitFailure, "cpis: \"nobody@example.org\" has no web account\n"},
		{"reset nobody", []string{"users", "reset", "nobody@example.org"}, exitFailure, "cpis: \"nobody@example.org\" has no web account\n"},
		{"unlock nobody", []string{"users", "unlock", "nobody@example.org"}, exitFailure, "cpis: \"nobody@example.org\" has no web account\n"},
		{"reset with a bad base URL", []string{"users", "reset", "--base-url", "cpis.nhs.example", "ops@nhs.example"}, exitUsage,
			usage(`--base-url "cpis.nhs.example" is not an http:// or https:// address (scheme, host, optional path)`)},
		{"audit --web --org", []string{"audit", "--web", "--org", "RXX01"}, exitUsage, usage("--org and --nhs select lookups; they do not apply with --web")},
		{"audit --web --mesh", []string{"audit", "--web", "--mesh"}, exitUsage, usage("give one of --sftp, --mesh and --web, not 2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run(tc.args...)
			if r.code != tc.code || r.stderr != tc.stderr || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stderr %q", r.code, r.stdout, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}

// TestCLIUsersReset: users reset prints a new set-up link, and the audit
// says so.
func TestCLIUsersReset(t *testing.T) {
	h := initCLIHub(t)
	first := h.run("users", "add", "--la", "841", "officer@example.org")
	r := h.runAt("2026-11-22T05:00:00Z", "users", "reset", "--base-url", "https://cpis.nhs.example", "Officer@example.org")
	m := setupLink.FindStringSubmatch(r.stdout)
	if r.code != exitOK || m == nil || m[1] != "https://cpis.nhs.example" || strings.Contains(first.stdout, m[2]) {
		t.Fatalf("users reset: exit %d, stdout %q, want a new link under https://cpis.nhs.example", r.code, r.stdout)
	}
	want := "Set-up of officer@example.org started again; their password, authenticator and sessions no longer work. " +
		"Send them the link above: it works once, until 2026-11-23 05:00:00 UTC, and is not shown again.\n"
	if r.stderr != want {
		t.Errorf("users reset: stderr %q, want %q", r.stderr, want)
	}
	want = "AT (UTC)              USER                 REMOTE  ACTION      DETAIL\n" +
		"2026-11-22T02:30:00Z  officer@example.org  -       user.added  role la, LA 841\n" +
		"2026-11-22T05:00:00Z  officer@example.org  -       user.reset  0 sessions ended\n"
	if diff := cmp.Diff(want, h.okAt("2026-11-22T06:00:00Z", "audit", "--web")); diff != "" {
		t.Errorf("audit --web (-want +got):\n%s", diff)
	}
	if got := h.okAt("2026-11-22T06:00:00Z", "users", "list"); !strings.Contains(got, "set-up link until 2026-11-23 05:00:00") {
		t.Errorf("users list after the reset:\n%s", got)
	}
}

// TestCLIUsersUnlock: five failed logins lock an account; users list shows
// the lock (table and JSON), users unlock ends it, and audit --web says so.
func TestCLIUsersUnlock(t *testing.T) {
	h := initCLIHub(t)
	if r := h.run("users", "add", "--la", "841", "officer@example.org"); r.code != exitOK {
		t.Fatalf("users add: %+v", r)
	}
	db, err := store.Open(h.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	svc := accounts.New(db, accounts.Options{Now: func() time.Time { return now }})
	for range accounts.MaxFailures {
		if _, err := svc.Login("officer@example.org", "not the password", "123456", "192.0.2.7:50000"); err == nil {
			t.Fatal("logged in")
		}
	}
	db.Close()

	at := "2026-11-22T09:05:00Z"
	want := "EMAIL                ROLE  LA   ADDED (UTC)          STATUS                                 LAST LOGIN (UTC)  LOCKED UNTIL (UTC)\n" +
		"officer@example.org  la    841  2026-11-22 02:30:00  set-up link until 2026-11-23 02:30:00  -                 2026-11-22 09:15:00\n"
	if diff := cmp.Diff(want, h.okAt(at, "users", "list")); diff != "" {
		t.Errorf("users list (-want +got):\n%s", diff)
	}
	want = `{"email":"officer@example.org","role":"la","la":"841","created":"2026-11-22T02:30:00Z","enrolled":false,"setup_expires":"2026-11-23T02:30:00Z","locked_until":"2026-11-22T09:15:00Z"}
`
	if diff := cmp.Diff(want, h.okAt(at, "users", "list", "--json")); diff != "" {
		t.Errorf("users list --json (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ email, want string }{
		{"Officer@example.org", "Unlocked officer@example.org: they can sign in again.\n"},
		{"officer@example.org", "officer@example.org was not locked; its recent failed logins are forgotten.\n"},
	} {
		if got := h.okAt(at, "users", "unlock", tc.email); got != tc.want {
			t.Errorf("users unlock %s: %q, want %q", tc.email, got, tc.want)
		}
	}
	if got := h.okAt(at, "users", "list"); !strings.HasSuffix(got, "  -                 -\n") {
		t.Errorf("users list after unlock:\n%s", got)
	}
	got := h.okAt(at, "audit", "--web", "--since", "2026-11-22T09:05:00Z")
	want = "AT (UTC)              USER                 REMOTE  ACTION         DETAIL\n" +
		"2026-11-22T09:05:00Z  officer@example.org  -       user.unlocked  lock until 2026-11-22T09:15:00Z ended\n" +
		"2026-11-22T09:05:00Z  officer@example.org  -       user.unlocked  was not locked\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit --web (-want +got):\n%s", diff)
	}
}
