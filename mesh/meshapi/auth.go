package meshapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// authScheme starts an Authorization header.
const authScheme = "NHSMESH "

// tokenTime is the layout of a token's timestamp (UTC).
const tokenTime = "200601021504"

// token is a parsed NHSMESH Authorization header.
type token struct {
	mailbox string // as sent
	nonce   string
	count   string
	stamp   string
	at      time.Time
	hash    []byte
}

// parseToken reads an Authorization header; ok is false when it is not a
// well-formed NHSMESH token.
func parseToken(h string) (token, bool) {
	if len(h) < len(authScheme) || !strings.EqualFold(h[:len(authScheme)], authScheme) {
		return token{}, false
	}
	parts := strings.Split(h[len(authScheme):], ":")
	if len(parts) != 5 {
		return token{}, false
	}
	t := token{mailbox: parts[0], nonce: parts[1], count: parts[2], stamp: parts[3]}
	if t.mailbox == "" || t.nonce == "" || !allDigits(t.count) || len(t.stamp) != len(tokenTime) || !allDigits(t.stamp) {
		return token{}, false
	}
	at, err := time.Parse(tokenTime, t.stamp)
	if err != nil {
		return token{}, false
	}
	t.at = at
	if len(parts[4]) != sha256.Size*2 {
		return token{}, false
	}
	sum, err := hex.DecodeString(parts[4]) // either case
	if err != nil {
		return token{}, false
	}
	t.hash = sum
	return t, true
}

// valid reports whether t's hash is the HMAC-SHA256 with key over
// mailbox:nonce:count:password:timestamp, in constant time.
func (t token) valid(key, password []byte) bool {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(t.mailbox + ":" + t.nonce + ":" + t.count + ":"))
	m.Write(password)
	m.Write([]byte(":" + t.stamp))
	return hmac.Equal(m.Sum(nil), t.hash)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// replayKey names a token for the replay check.
type replayKey struct{ mailbox, nonce, count string }

// replays remembers tokens in use and used. A token is reserved while its
// request runs (a second request with it is refused), then either used
// (kept until its timestamp is too old to pass anyway) or released.
type replays struct {
	mu      sync.Mutex
	seen    map[replayKey]time.Time // until when to keep it; zero while in flight
	inserts int
}

func newReplays() *replays { return &replays{seen: map[replayKey]time.Time{}} }

// reserve claims k; false when it is in flight or used.
func (r *replays) reserve(k replayKey, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if until, ok := r.seen[k]; ok && (until.IsZero() || now.Before(until)) {
		return false
	}
	r.seen[k] = time.Time{}
	r.inserts++
	if r.inserts%4096 == 0 {
		for key, until := range r.seen {
			if !until.IsZero() && !now.Before(until) {
				delete(r.seen, key)
			}
		}
	}
	return true
}

// finish marks k used until until, or releases it when used is false.
func (r *replays) finish(k replayKey, used bool, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if used {
		r.seen[k] = until
	} else {
		delete(r.seen, k)
	}
}

// tokenReusable reports whether a request answered status left its token
// unused: 425, 429 and 5xx, which NHS England's client retries with the
// same Authorization header. Every other answer uses the token up.
func tokenReusable(status int) bool {
	return status == 425 || status == 429 || status >= 500
}
