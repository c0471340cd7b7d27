package accounts

import (
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestCheckPassword(t *testing.T) {
	h := hashPassword("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q", h)
	}
	if h2 := hashPassword("correct horse battery staple"); h2 == h {
		t.Error("two hashes of one password are the same: no salt")
	}
	salt := []byte("saltsalt")
	older := "$argon2id$v=19$m=64,t=1,p=2$" + base64.RawStdEncoding.EncodeToString(salt) + "$" +
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("password"), salt, 1, 64, 2, 16))
	for _, tc := range []struct {
		name, hash, password string
		ok                   bool
		err                  error
	}{
		{"right", h, "correct horse battery staple", true, nil},
		{"wrong", h, "correct horse battery stapl", false, nil},
		{"empty", h, "", false, nil},
		// A hash made with other parameters still reads: they are in it.
		{"other parameters", older, "password", true, nil},
		{"other parameters, wrong", older, "Password", false, nil},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuv", "x", false, errBadHash},
		{"argon2i", strings.Replace(h, "argon2id", "argon2i", 1), "x", false, errBadHash},
		{"no parameters", "$argon2id$v=19$$c2FsdA$a2V5", "x", false, errBadHash},
		{"other version", strings.Replace(h, "v=19", "v=16", 1), "x", false, errBadHash},
		{"empty", "", "x", false, errBadHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := checkPassword(tc.hash, tc.password)
			if ok != tc.ok || err != tc.err {
				t.Errorf("checkPassword: %v, %v; want %v, %v", ok, err, tc.ok, tc.err)
			}
		})
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		hashPassword("correct horse battery staple")
	}
}

func TestWeakPassword(t *testing.T) {
	const email = "officer@example.org"
	const (
		short    = "Choose a longer password: at least 12 characters"
		long     = "Choose a shorter password: at most 1024 characters"
		isEmail  = "Choose a password that is not your email address"
		distinct = "Choose a password with more different characters: at least 6 (repeated characters are easy to guess)"
		common   = "Choose a password that is not a common one: this one is among the most used, and is tried first by anyone guessing"
	)
	for _, tc := range []struct{ password, want string }{
		{"correct horse battery staple", ""},
		{"eleven char", short},
		{strings.Repeat("x", 1025), long},
		{"Officer@Example.org", isEmail},
		{"officer", short},
		{"aaaaaaaaaaaa", distinct},
		{"121212121212", distinct},
		{"abcabcabcabcabc", distinct},
		{"abcdeabcdeabcde", distinct},
		{"abcdefabcdefabcdef", ""},
		{"password123456", common},
		{"Password123456", common},
		{"QWERTYUIOP12", common},
		{"123456789012", common},
		{"1q2w3e4r5t6y", common},
		{"qwertyuiop12!", ""},
	} {
		if got := weakPassword(email, tc.password); got != tc.want {
			t.Errorf("weakPassword(%q) = %q, want %q", tc.password, got, tc.want)
		}
	}
	if n := len(commonPasswords); n < 100 {
		t.Errorf("%d common passwords, want about a hundred", n)
	}
	for p := range commonPasswords {
		if len([]rune(p)) < MinPasswordLength || p != strings.ToLower(p) {
			t.Errorf("common password %q: shorter than %d characters or not in lower case (refused anyway, or never matched)", p, MinPasswordLength)
		}
	}
}
