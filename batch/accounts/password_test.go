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
