package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The argon2id parameters of new hashes (package doc).
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// MaxConcurrentHashes bounds the argon2id hashes running at once (each
// takes argonMemory).
const MaxConcurrentHashes = 4

var hashSlots = make(chan struct{}, MaxConcurrentHashes)

var errBadHash = errors.New("not an argon2id hash")

// hashPassword returns the argon2id hash of password in PHC form.
func hashPassword(password string) string {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	key := argonKey(password, salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func argonKey(password string, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey([]byte(password), salt, t, m, p, n)
}

// checkPassword reports whether password matches hash (PHC form), comparing
// keys in constant time.
func checkPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argonKey(password, salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// MinPasswordLength and MaxPasswordLength bound a password, in characters.
const (
	MinPasswordLength = 12
	MaxPasswordLength = 1024
)

// weakPassword says why password will not do for email, or "".
func weakPassword(email, password string) string {
	n := len([]rune(password))
	switch {
	case n < MinPasswordLength:
		return fmt.Sprintf("a password needs at least %d characters", MinPasswordLength)
	case n > MaxPasswordLength:
		return fmt.Sprintf("a password has at most %d characters", MaxPasswordLength)
	}
	local, _, _ := strings.Cut(email, "@")
	if p := strings.ToLower(strings.TrimSpace(password)); p == email || p == local {
		return "a password must not be the email address"
	}
	return ""
}
