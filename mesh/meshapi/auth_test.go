package meshapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh/meshapi"
	"cpis/mesh/meshapi/memory"
)

// The worked example of mesh/meshapi/mesh-api.md, "Authentication".
func TestSignWorkedExample(t *testing.T) {
	at := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	got := sign("TestKey", "X26ABC1", "4f8d7b1e-0000-4000-8000-000000000001", "0", "password", at)
	want := "NHSMESH X26ABC1:4f8d7b1e-0000-4000-8000-000000000001:0:202401011200:" +
		"efff40ca93d79c2c0816ee78abc6b4d5ca9b981035da1d6312b54ed6fbec2f86"
	if got != want {
		t.Fatalf("sign:\n got %s\nwant %s", got, want)
	}

	// The server accepts that very header at that time, once.
	e := newEnv(t, func(c *meshapi.Config) {
		s := memory.New("TestKey", memory.Mailbox{ID: "X26ABC1", Password: "password"})
		c.Accounts = s
		c.Now = func() time.Time { return at.Add(30 * time.Second) }
	})
	if r := e.do("GET", "/messageexchange/X26ABC1", hdr{"Authorization", want, "Accept", v2}, nil); r.status != 200 || r.body != `{"mailbox_id":"X26ABC1"}`+"\n" {
		t.Fatalf("handshake with the worked example: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/messageexchange/X26ABC1", hdr{"Authorization", want, "Accept", v2}, nil); r.status != 403 {
		t.Fatalf("the same header again: %d %s, want 403", r.status, r.body)
	}
}

func TestAuthentication(t *testing.T) {
	good := func(mailbox string, at time.Time) string {
		return sign(sharedKey, mailbox, "c0ffee00-0000-4000-8000-000000000001", "0", passwords[mailbox], at)
	}
	const (
		v1Invalid  = `{"messageID":"","errorEvent":"AUTH","errorCode":"403","errorDescription":"Invalid Authentication Token"}` + "\n"
		v2Invalid  = `{"message_id":"","internal_id":"X","detail":[{"event":"AUTH","code":"403","msg":"Invalid Authentication Token"}]}` + "\n"
		v1Mismatch = `{"messageID":"","errorEvent":"AUTH","errorCode":"403","errorDescription":"Mailbox id does not match token"}` + "\n"
	)
	cases := []struct {
		name   string
		path   string
		auth   string
		accept string
		status int
		body   string
	}{
		{"good", "/messageexchange/LA841HC001", good(la841, clock), "", 200, `{"mailboxId":"LA841HC001"}` + "\n"},
		{"hash in upper case", "/messageexchange/LA841HC001", upperHash(good(la841, clock)), "", 200, `{"mailboxId":"LA841HC001"}` + "\n"},
		{"scheme in lower case", "/messageexchange/LA841HC001", "nhsmesh " + strings.TrimPrefix(good(la841, clock), "NHSMESH "), "", 200, `{"mailboxId":"LA841HC001"}` + "\n"},
		{"path mailbox in lower case", "/messageexchange/la841hc001", good(la841, clock), "", 200, `{"mailboxId":"LA841HC001"}` + "\n"},
		{"two hours early", "/messageexchange/LA841HC001", good(la841, clock.Add(-2*time.Hour)), "", 200, `{"mailboxId":"LA841HC001"}` + "\n"},
		{"two hours late", "/messageexchange/LA841HC001", good(la841, clock.Add(2*time.Hour)), "", 200, `{"mailboxId":"LA841HC001"}` + "\n"},
		{"missing", "/messageexchange/LA841HC001", "", "", 403, v1Invalid},
		{"missing, v2", "/messageexchange/LA841HC001", "", v2, 403, v2Invalid},
		{"other scheme", "/messageexchange/LA841HC001", "Basic " + strings.TrimPrefix(good(la841, clock), "NHSMESH "), "", 403, v1Invalid},
		{"four parts", "/messageexchange/LA841HC001", good(la841, clock)[:strings.LastIndex(good(la841, clock), ":")], "", 403, v1Invalid},
		{"short hash", "/messageexchange/LA841HC001", good(la841, clock)[:len(good(la841, clock))-2], "", 403, v1Invalid},
		{"hash not hex", "/messageexchange/LA841HC001", good(la841, clock)[:len(good(la841, clock))-1] + "g", "", 403, v1Invalid},
		{"count not a number", "/messageexchange/LA841HC001", sign(sharedKey, la841, "n", "x", pw841, clock), "", 403, v1Invalid},
		{"wrong hash", "/messageexchange/LA841HC001", flipHash(good(la841, clock)), "", 403, v1Invalid},
		{"wrong password", "/messageexchange/LA841HC001", sign(sharedKey, la841, "n", "0", "guess", clock), "", 403, v1Invalid},
		{"wrong key", "/messageexchange/LA841HC001", sign("OtherKey", la841, "n", "0", pw841, clock), "", 403, v1Invalid},
		{"other mailbox's token", "/messageexchange/LA841HC001", good(la842, clock), "", 403, v1Mismatch},
		{"more than two hours early", "/messageexchange/LA841HC001", good(la841, clock.Add(-2*time.Hour-time.Minute)), "", 403, v1Invalid},
		{"more than two hours late", "/messageexchange/LA841HC001", good(la841, clock.Add(2*time.Hour+time.Minute)), "", 403, v1Invalid},
		{"unknown mailbox", "/messageexchange/LA999HC001", sign(sharedKey, "LA999HC001", "n", "0", "x", clock), "", 403, v1Invalid},
		{"the hub never logs in", "/messageexchange/CPISHUB01", sign(sharedKey, "CPISHUB01", "n", "0", "", clock), "", 403, v1Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			h := hdr{"Accept", c.accept}
			if c.auth != "" {
				h = append(h, "Authorization", c.auth)
			}
			r := e.do("GET", c.path, h, nil)
			if diff := cmp.Diff(c.body, normal(r.body, "")); r.status != c.status || diff != "" {
				t.Errorf("status %d, want %d; body (-want +got):\n%s", r.status, c.status, diff)
			}
			if c.status == 403 && !strings.HasPrefix(r.header.Get("Content-Type"), "application/vnd.mesh.") {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
			evs := e.events()
			if len(evs) != 1 {
				t.Fatalf("audit: %+v", evs)
			}
			wantOutcome := meshapi.OutcomeOK
			if c.status != 200 {
				wantOutcome = meshapi.OutcomeRefused
			}
			if evs[0].Status != c.status || evs[0].Outcome != wantOutcome || evs[0].Action != meshapi.ActionHandshake {
				t.Errorf("audit %+v", evs[0])
			}
		})
	}
}

func upperHash(h string) string {
	i := strings.LastIndex(h, ":")
	return h[:i] + strings.ToUpper(h[i:])
}

func flipHash(h string) string {
	b := []byte(h)
	if b[len(b)-1] == '0' {
		b[len(b)-1] = '1'
	} else {
		b[len(b)-1] = '0'
	}
	return string(b)
}

// failingAccounts fails Handshake while fail is set.
type failingAccounts struct {
	meshapi.Accounts
	fail atomic.Bool
}

func (f *failingAccounts) Handshake(ctx context.Context, mailbox string, c meshapi.Client, t time.Time) error {
	if f.fail.Load() {
		return errors.New("disk full")
	}
	return f.Accounts.Handshake(ctx, mailbox, c, t)
}

// A token is used up by an answer other than 425, 429 and 5xx; after
// those NHS England's client resends the same header, which must pass.
func TestReplay(t *testing.T) {
	var acc *failingAccounts
	e := newEnv(t, func(c *meshapi.Config) {
		acc = &failingAccounts{Accounts: c.Accounts}
		c.Accounts = acc
		c.Rate, c.Burst = 0.001, 3
	})
	const dup = `{"messageID":"","errorEvent":"AUTH","errorCode":"403","errorDescription":"Error Duplicated Authentication Token"}` + "\n"

	// Used by a 200.
	a := e.auth(la841)
	if r := e.do("GET", "/messageexchange/LA841HC001", hdr{"Authorization", a}, nil); r.status != 200 {
		t.Fatalf("first: %d", r.status)
	}
	if r := e.do("GET", "/messageexchange/LA841HC001", hdr{"Authorization", a}, nil); r.status != 403 || r.body != dup {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	// Used by a 404 too.
	a = e.auth(la841)
	if r := e.do("GET", "/messageexchange/LA841HC001/inbox/20261121013000000000_000000", hdr{"Authorization", a}, nil); r.status != 404 {
		t.Fatalf("unknown message: %d", r.status)
	}
	if r := e.do("GET", "/messageexchange/LA841HC001", hdr{"Authorization", a}, nil); r.status != 403 || r.body != dup {
		t.Fatalf("replay after 404: %d %s", r.status, r.body)
	}
	// Not used by a 500.
	acc.fail.Store(true)
	a = e.auth(la841)
	if r := e.do("POST", "/messageexchange/LA841HC001", hdr{"Authorization", a}, nil); r.status != 500 {
		t.Fatalf("failing handshake: %d %s", r.status, r.body)
	}
	acc.fail.Store(false)
	// The bucket (3 tokens, next to none a second) is empty now: 429,
	// which does not use the token up either.
	if r := e.do("POST", "/messageexchange/LA841HC001", hdr{"Authorization", a}, nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the rate: %d %s", r.status, r.body)
	}
	e.setClock(clock.Add(time.Hour)) // the bucket fills again
	if r := e.do("POST", "/messageexchange/LA841HC001", hdr{"Authorization", a}, nil); r.status != 200 {
		t.Fatalf("the same header after 500 and 429: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/messageexchange/LA841HC001", hdr{"Authorization", a}, nil); r.status != 403 {
		t.Fatalf("and once more: %d %s", r.status, r.body)
	}
	// Another nonce count of the same nonce is another token.
	n1 := sign(sharedKey, la841, "same-nonce", "1", pw841, e.clock())
	n2 := sign(sharedKey, la841, "same-nonce", "2", pw841, e.clock())
	for _, a := range []string{n1, n2} {
		if r := e.do("GET", "/messageexchange/LA841HC001", hdr{"Authorization", a}, nil); r.status != 200 {
			t.Fatalf("nonce count: %d %s", r.status, r.body)
		}
	}
}
