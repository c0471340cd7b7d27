package mesh

import (
	"errors"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest file name, in bytes, a mailbox accepts. File
// systems stop at 255 bytes and a file is written under a temporary name
// (".<name>.tmp", 5 bytes more) before it gets its own, so 250 is what
// always fits.
const MaxNameLen = 250

// ErrBadName is wrapped by CheckName's errors.
var ErrBadName = errors.New("file name refused")

// CheckName tells whether name may name a file in a mailbox: valid UTF-8,
// at most MaxNameLen bytes, and no rune that could deceive a terminal or a
// log reader (control characters, bidirectional controls such as U+202E,
// line and paragraph separators). It does not check for path separators
// (IsPlainName does). The error says what is wrong without repeating the
// name, and wraps ErrBadName.
func CheckName(name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: it is not valid UTF-8", ErrBadName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: it is %d bytes long, the limit is %d", ErrBadName, len(name), MaxNameLen)
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return fmt.Errorf("%w: it contains a control character (%U)", ErrBadName, r)
		case isBidiControl(r):
			return fmt.Errorf("%w: it contains a bidirectional text control (%U)", ErrBadName, r)
		case r == '\u2028' || r == '\u2029':
			return fmt.Errorf("%w: it contains a line or paragraph separator (%U)", ErrBadName, r)
		}
	}
	return nil
}

// isBidiControl reports the runes that reorder displayed text (Unicode's
// Bidi_Control property): marks, embeddings, overrides and isolates.
func isBidiControl(r rune) bool {
	return r == '\u061c' || r == '\u200e' || r == '\u200f' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// Printable returns s as it may be shown on a terminal or written to a
// log: unchanged when every rune is printable and s is valid UTF-8,
// otherwise quoted as Go quotes strings (without the surrounding quotes),
// so that control characters, bidirectional overrides and invalid bytes
// appear as \x1b, \u202e, \xff. Every command that prints a name that came
// from outside (a mailbox file name, what an SFTP client sent) prints it
// through Printable.
func Printable(s string) string {
	if utf8.ValidString(s) {
		clean := true
		for _, r := range s {
			if !unicode.IsPrint(r) {
				clean = false
				break
			}
		}
		if clean {
			return s
		}
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
