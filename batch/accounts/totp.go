package accounts

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The TOTP settings every authenticator app reads (package doc).
const (
	totpPeriod     = 30 // seconds
	totpSkew       = 1  // steps either side
	totpSecretSize = 20 // bytes
	qrSize         = 256
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// newTOTPKey makes a new authenticator key for email.
func (s *Service) newTOTPKey(email string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.opts.Issuer, AccountName: email, Period: totpPeriod,
		SecretSize: totpSecretSize, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("make authenticator key: %w", err)
	}
	return k, nil
}

// setupInfo is what the set-up page shows for the secret.
func (s *Service) setupInfo(email, secret string) (SetupInfo, error) {
	u := otpURL(s.opts.Issuer, email, secret)
	k, err := otp.NewKeyFromURL(u)
	if err != nil {
		return SetupInfo{}, fmt.Errorf("authenticator key: %w", err)
	}
	img, err := k.Image(qrSize, qrSize)
	if err != nil {
		return SetupInfo{}, fmt.Errorf("authenticator QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return SetupInfo{}, fmt.Errorf("authenticator QR code: %w", err)
	}
	return SetupInfo{Email: email, Secret: secret, URL: u, QRPNG: buf.Bytes()}, nil
}

// otpURL is the key URI of the secret (Google Authenticator's format, which
// every authenticator app reads), built the way totp.Generate builds it.
func otpURL(issuer, email, secret string) string {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: email, Period: totpPeriod,
		Secret: decodeSecret(secret), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil { // only for an empty issuer or account, which New and Add rule out
		return ""
	}
	return k.URL()
}

// codeStep returns the step whose code code is, among the steps within
// totpSkew of now, and whether there is one.
func codeStep(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// decodeSecret reads a base32 secret as kept (no padding).
func decodeSecret(secret string) []byte {
	b, _ := base32NoPad.DecodeString(secret)
	return b
}
