package console

import "testing"

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]bool{
		"/la/":                 true,
		"/la/returns":          true,
		"/la/returns?sent=x":   true,
		"/la/files/x.csv":      true,
		"/ops/":                true,
		"/ops/held/20261121_1": true,
		"":                     false,
		"/":                    false,
		"/la":                  false,
		"/login":               false,
		"//evil.example/la/":   false,
		"/\\evil.example/la/":  false,
		"https://x/la/":        false,
		"/la/../ops/":          false,
		"/la/%2e%2e/ops/":      false,
		"/ops/../la/":          false,
		"/la/./returns":        false,
		"/la//returns":         false,
		"/la/returns/..":       false,
		"/la/x\r\nSet-Cookie:": false,
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %v, want %v", next, got, want)
		}
	}
}
