// Package nhsnumber normalises and validates NHS numbers as store/domain.md
// describes: white space trimmed, inner spaces and hyphens removed, ten
// digits, a modulus 11 check digit, and no number of one repeated digit.
package nhsnumber

import "strings"

// Problem says why a text is not a valid NHS number. Its value is the
// detail code of the row outcome CPR04.
type Problem string

// The ways a text can fail to be an NHS number.
const (
	OK           Problem = ""
	Missing      Problem = "R001" // empty after trimming
	NotTenDigits Problem = "R002" // another character, or not 10 digits
	BadCheck     Problem = "R003" // fails the check digit, or one repeated digit
)

// Describe returns a short phrase for p, for response details.
func (p Problem) Describe() string {
	switch p {
	case Missing:
		return "NHS number is missing"
	case NotTenDigits:
		return "NHS number is not 10 digits"
	case BadCheck:
		return "NHS number fails the check digit"
	}
	return ""
}

// Normalize returns s without surrounding white space and without the spaces
// and hyphens inside it, and the problem that makes it invalid (OK when it is
// a valid NHS number). Surrounding white space is any Unicode white space
// (strings.TrimSpace), so a no-break space a spreadsheet left around a
// number does not make it invalid; inside, only ' ' and '-' are removed.
func Normalize(s string) (string, Problem) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Missing
	}
	var buf [10]byte
	n := 0
	bad := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case c >= '0' && c <= '9':
			if n < len(buf) {
				buf[n] = c
			}
			n++
		default:
			bad = true
		}
	}
	if bad || n != 10 {
		return stripped(s), NotTenDigits
	}
	num := string(buf[:])
	if !checkDigitOK(buf) || repeated(buf) {
		return num, BadCheck
	}
	return num, OK
}

// Valid reports whether s is a valid NHS number once normalised.
func Valid(s string) bool {
	_, p := Normalize(s)
	return p == OK
}

func stripped(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '-' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func checkDigitOK(d [10]byte) bool {
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(d[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	if check == 10 {
		return false
	}
	return int(d[9]-'0') == check
}

func repeated(d [10]byte) bool {
	for i := 1; i < 10; i++ {
		if d[i] != d[0] {
			return false
		}
	}
	return true
}
