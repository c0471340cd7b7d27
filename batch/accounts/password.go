package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
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
	// MinDistinctChars is the fewest different characters a password has:
	// "aaaaaaaaaaaa" or "121212121212" is long but guessed at once.
	MinDistinctChars = 6
)

// commonPasswords are passwords among the most used (common-passwords.txt),
// in lower case.
//
//go:embed common-passwords.txt
var commonPasswordsText string

var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
}()

// WeakPasswordError is why a password will not do, as a sentence for the
// person choosing it. It is ErrWeakPassword (errors.Is).
type WeakPasswordError struct{ Reason string }

func (e *WeakPasswordError) Error() string { return ErrWeakPassword.Error() + ": " + e.Reason }

// Is makes a WeakPasswordError match ErrWeakPassword.
func (e *WeakPasswordError) Is(target error) bool { return target == ErrWeakPassword }

// weakPassword says why password will not do for email, or "".
func weakPassword(email, password string) string {
	n := len([]rune(password))
	switch {
	case n < MinPasswordLength:
		return fmt.Sprintf("Choose a longer password: at least %d characters", MinPasswordLength)
	case n > MaxPasswordLength:
		return fmt.Sprintf("Choose a shorter password: at most %d characters", MaxPasswordLength)
	}
	p := strings.ToLower(strings.TrimSpace(password))
	local, _, _ := strings.Cut(email, "@")
	if p == email || p == local {
		return "Choose a password that is not your email address"
	}
	distinct := map[rune]bool{}
	for _, r := range p {
		distinct[r] = true
	}
	if len(distinct) < MinDistinctChars {
		return fmt.Sprintf("Choose a password with more different characters: at least %d (repeated characters are easy to guess)", MinDistinctChars)
	}
	if commonPasswords[p] {
		return "Choose a password that is not a common one: this one is among the most used, and is tried first by anyone guessing"
	}
	return ""
}
