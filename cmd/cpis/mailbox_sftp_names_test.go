package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file name that could attack a terminal, however it reached a mailbox,
// is printed escaped by mailbox list; mailbox send refuses to take one in.
func TestCLIMailboxNamesEscaped(t *testing.T) {
	h := initCLIHub(t)
	inbox := filepath.Join(h.data, "mailboxes", "LA841HC001", "inbox")
	for _, name := range []string{"x\x1b[2J.csv", "a\u202evsc.csv", "b\xff.csv"} {
		if err := os.WriteFile(filepath.Join(inbox, name), []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	out := h.ok("mailbox", "list", "--la", "841")
	for _, want := range []string{`x\x1b[2J.csv`, `a\u202evsc.csv`, `b\xff.csv`} {
		if !strings.Contains(out, want) {
			t.Errorf("mailbox list lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x1b\u202e\xff") {
		t.Errorf("mailbox list printed a raw control character:\n%q", out)
	}

	for _, c := range []struct{ name, want string }{
		{"y\x1b]0;pwned\a.csv", `y\x1b]0;pwned\a.csv: file name refused: it contains a control character (U+001B)`},
		{"r\u202egsm.csv", `r\u202egsm.csv: file name refused: it contains a bidirectional text control (U+202E)`},
		{strings.Repeat("n", 251), "file name refused: it is 251 bytes long, the limit is 250"},
	} {
		r := h.run("mailbox", "send", "--la", "841", h.file(c.name, "x"))
		if r.code != exitFailure || !strings.Contains(r.stderr, c.want) {
			t.Errorf("mailbox send %q: exit %d, stderr %q; want exit %d and %q", c.name, r.code, r.stderr, exitFailure, c.want)
		}
		if strings.ContainsAny(r.stderr, "\x1b\u202e") {
			t.Errorf("mailbox send printed a raw control character: %q", r.stderr)
		}
	}
}
