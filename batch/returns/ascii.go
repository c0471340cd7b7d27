package returns

import "strings"

// Names, kinds, actions and headers are case-insensitive in ASCII only:
// Unicode case folding would accept look-alikes such as "CPIſ" (long s)
// or "upſert" for names a data officer never typed.

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// equalFoldASCII reports whether a and b are equal ignoring ASCII case.
func equalFoldASCII(a, b string) bool { return isASCII(a) && isASCII(b) && strings.EqualFold(a, b) }

// upperASCII upper-cases s when it is ASCII; otherwise it returns s as is,
// so it matches no keyword.
func upperASCII(s string) string {
	if !isASCII(s) {
		return s
	}
	return strings.ToUpper(s)
}

// lowerASCIIString lower-cases s when it is ASCII; otherwise it returns s
// as is.
func lowerASCIIString(s string) string {
	if !isASCII(s) {
		return s
	}
	return strings.ToLower(s)
}
