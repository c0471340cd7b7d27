package store

import (
	"fmt"
	"time"
)

// Buckets of the web accounts (doc.go).
var (
	bWebUsers    = bucketSince("web_users")
	bWebThrottle = bucketSince("web_throttle")
)

// WebUser is a person who logs in to the hub's web pages: an LA data
// officer (role "la", with the LA's code) or operations (role "ops"). Only
// hashes of the password and of the set-up token are kept; the TOTP secret
// is kept as issued, since checking a code needs it (as the MESH passwords
// are, doc.go). None of them ever leaves the store except the secret, shown
// on the set-up page until set-up is complete.
type WebUser struct {
	Email   string    `json:"email"` // lower case; the key
	Role    string    `json:"role"`  // "la" or "ops"
	LA      string    `json:"la,omitempty"`
	Created time.Time `json:"created"`
	// PasswordHash is the argon2id hash in PHC form, "" until set-up.
	PasswordHash string `json:"password_hash,omitempty"`
	// TOTPSecret is the authenticator's key (base32), made when the set-up
	// page is first shown.
	TOTPSecret string `json:"totp_secret,omitempty"`
	// TOTPStep is the 30-second step of the last code accepted: a code of
	// that step or an earlier one is refused (a replay).
	TOTPStep int64 `json:"totp_step,omitempty"`
	Enrolled bool  `json:"enrolled"`
	// SetupHash is the SHA-256 (hex) of the set-up token, until it is used;
	// SetupExpires is when it stops working.
	SetupHash    string    `json:"setup_hash,omitempty"`
	SetupExpires time.Time `json:"setup_expires,omitzero"`
	LastLogin    time.Time `json:"last_login,omitzero"`
}

// WebUser returns the user with the email (lower case).
func (t *Tx) WebUser(email string) (WebUser, bool, error) {
	var u WebUser
	ok, err := getJSON(t.b(bWebUsers), []byte(email), &u)
	if err != nil {
		return WebUser{}, false, fmt.Errorf("web user: %w", err)
	}
	return u, ok, nil
}

// PutWebUser adds or replaces u.
func (t *Tx) PutWebUser(u WebUser) error {
	if u.Email == "" {
		return fmt.Errorf("web user without an email")
	}
	u.Created = u.Created.UTC()
	return putJSON(t.b(bWebUsers), []byte(u.Email), u)
}

// DeleteWebUser removes the user with the email; ok is false when there
// was none.
func (t *Tx) DeleteWebUser(email string) (bool, error) {
	b := t.b(bWebUsers)
	if b.Get([]byte(email)) == nil {
		return false, nil
	}
	if err := b.Delete([]byte(email)); err != nil {
		return false, fmt.Errorf("delete web user: %w", err)
	}
	return true, nil
}

// WebUsers returns every web user, by email.
func (t *Tx) WebUsers() ([]WebUser, error) {
	var out []WebUser
	err := t.b(bWebUsers).ForEach(func(k, v []byte) error {
		var u WebUser
		if err := jsonUnmarshal(v, &u); err != nil {
			return fmt.Errorf("decode web user %q: %w", k, err)
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

// WebUserBySetup returns the user whose set-up token has the hash (hex
// SHA-256), expired or not. Users are few (people, not records): a scan
// keeps the layout free of an index to keep in step.
func (t *Tx) WebUserBySetup(hash string) (WebUser, bool, error) {
	if hash == "" {
		return WebUser{}, false, nil
	}
	users, err := t.WebUsers()
	if err != nil {
		return WebUser{}, false, err
	}
	for _, u := range users {
		if u.SetupHash == hash {
			return u, true, nil
		}
	}
	return WebUser{}, false, nil
}

// WebThrottle is the recent login failures of one key (an account or an
// address) and, once too many, until when the key is locked.
type WebThrottle struct {
	Failures    []time.Time `json:"failures,omitempty"`
	LockedUntil time.Time   `json:"locked_until,omitzero"`
}

// WebThrottle returns the throttle record of key ("account:EMAIL" or
// "addr:HOST"); a key never seen has the zero record.
func (t *Tx) WebThrottle(key string) (WebThrottle, error) {
	var th WebThrottle
	if _, err := getJSON(t.b(bWebThrottle), []byte(key), &th); err != nil {
		return WebThrottle{}, fmt.Errorf("web throttle: %w", err)
	}
	return th, nil
}

// PutWebThrottle replaces key's throttle record; the zero record deletes it.
func (t *Tx) PutWebThrottle(key string, th WebThrottle) error {
	if len(th.Failures) == 0 && th.LockedUntil.IsZero() {
		return t.b(bWebThrottle).Delete([]byte(key))
	}
	return putJSON(t.b(bWebThrottle), []byte(key), th)
}

// PurgeWebThrottles removes the throttle records with no lock after now
// and no failure since window before now, and reports how many.
func (t *Tx) PurgeWebThrottles(now time.Time, window time.Duration) (int, error) {
	b := t.b(bWebThrottle)
	var old [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		var th WebThrottle
		if err := jsonUnmarshal(v, &th); err != nil {
			return fmt.Errorf("decode web throttle %q: %w", k, err)
		}
		if th.LockedUntil.After(now) {
			return nil
		}
		for _, f := range th.Failures {
			if f.After(now.Add(-window)) {
				return nil
			}
		}
		old = append(old, append([]byte(nil), k...))
		return nil
	}); err != nil {
		return 0, err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("purge web throttle: %w", err)
		}
	}
	return len(old), nil
}
