package returns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"cpis/store/codes"
)

// maxLine is the longest CSV line (returns.md), without its line end. The
// guard applies it to a whole record, so a quoted field that is never closed
// cannot make encoding/csv buffer the rest of the file; no real record comes
// near it.
const maxLine = 1 << 20

// maxField is the longest text an XML field may carry once decoded.
const maxField = 1 << 20

// tokenBudget is how many bytes encoding/xml may read for one token: a field
// of maxField bytes plus its tags and the decoder's read-ahead.
const tokenBudget = maxField + 64<<10

var bom = []byte{0xEF, 0xBB, 0xBF}

// errTokenTooLong is what the guard returns when the XML decoder reads more
// than tokenBudget bytes for one token; the XML reader makes it an F005.
var errTokenTooLong = errors.New("xml token over the read budget")

// sourceError is a failure of the caller's reader, passed on unchanged in
// identity.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "read return: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// guard sits between the caller's reader and a parser. It checks the text
// as it streams (UTF-8 without NUL: F001; a leading BOM is dropped) and
// bounds what a parser can be made to buffer: a CSV record over maxLine
// bytes is F005, and in XML mode the decoder may read at most budget bytes
// between two calls of startToken. Each problem is returned only once every
// byte before it has been served, so problems surface in file order.
type guard struct {
	src     io.Reader
	buf     []byte
	r       int   // buf[r:ok] is checked and not yet served
	ok      int   // buf[ok:w] is not checked yet (at most a partial rune)
	w       int   //
	err     error // returned once buf[r:ok] is served: a *codes.Error, a *sourceError or io.EOF
	srcErr  error // from src; io.EOF at its end
	bomSeen bool  // the start of the input has been looked at

	line int // physical line of buf[ok], from 1

	// CSV mode: RFC 4180 quote parity finds the record ends.
	csv       bool
	quoted    bool // buf[ok] is inside a quoted field
	pendingCR bool // the byte before buf[ok] is a '\r' not yet counted
	recLen    int  // bytes of the current record before buf[ok], line ends inside it included
	recLine   int  // physical line where the current record starts
	limit     int  // longest record; 0: no limit

	// XML mode.
	budget int // bytes Read may serve since the last startToken; 0: no budget
	served int
}

func newGuard(src io.Reader, csvMode bool) *guard {
	g := &guard{src: src, buf: make([]byte, 64<<10), line: 1, recLine: 1, csv: csvMode}
	if csvMode {
		g.limit = maxLine
	} else {
		g.budget = tokenBudget
	}
	return g
}

// startToken gives the XML decoder a fresh read budget.
func (g *guard) startToken() { g.served = 0 }

// Read implements io.Reader for the parser.
func (g *guard) Read(p []byte) (int, error) {
	if g.budget > 0 {
		if g.served >= g.budget {
			return 0, errTokenTooLong
		}
		p = p[:min(len(p), g.budget-g.served)]
	}
	for g.r == g.ok {
		if g.err != nil {
			return 0, g.err
		}
		g.fill()
	}
	n := copy(p, g.buf[g.r:g.ok])
	g.r += n
	g.served += n
	return n, nil
}

// drain reads the rest of the input without limits, for a problem that
// ranks before the one already found: invalid text, or a failure of the
// caller's reader. It returns nil when there is none.
func (g *guard) drain() error {
	g.limit, g.budget = 0, 0
	var ce *codes.Error
	if errors.As(g.err, &ce) && ce.Detail != codes.F001 {
		g.err = nil // a record over the limit: read on past it
	}
	for {
		g.r = g.ok
		if g.err != nil {
			break
		}
		g.fill()
	}
	if g.err == io.EOF {
		return nil
	}
	return g.err
}

// atEOF reports whether the guard has checked and served all of src.
func (g *guard) atEOF() bool { return g.err == io.EOF && g.r == g.ok && g.ok == g.w }

// fill reads more of src and checks it. Call it only when buf[r:ok] is
// served and err is nil.
func (g *guard) fill() {
	if g.ok > 0 {
		g.w = copy(g.buf, g.buf[g.ok:g.w])
		g.r, g.ok = 0, 0
	}
	if g.srcErr == nil {
		n, err := g.src.Read(g.buf[g.w:])
		g.w += n
		g.srcErr = err
	}
	atEOF := g.srcErr == io.EOF
	g.scan(atEOF)
	if g.err != nil || g.srcErr == nil {
		return
	}
	switch {
	case !atEOF:
		g.err = &sourceError{g.srcErr}
	case g.ok == g.w:
		g.err = io.EOF
	}
}

// scan checks buf[ok:w], moving ok past every byte that passes. It stops at
// a partial rune (unless atEOF) or at a problem, which it records in err.
func (g *guard) scan(atEOF bool) {
	if !g.bomSeen {
		head := g.buf[g.ok:g.w]
		if len(head) < len(bom) && !atEOF && bytes.HasPrefix(bom, head) {
			return // too early to tell
		}
		if g.csv {
			if len(head) < 2 && !atEOF {
				return // too early to tell
			}
			if what := utf16Start(head); what != "" {
				g.failAt(1, codes.F001, "the file is %s, not UTF-8: %s", what, exportHint)
				return
			}
		}
		if bytes.HasPrefix(head, bom) {
			g.ok += len(bom)
			g.r = g.ok
		}
		g.bomSeen = true
	}
	for g.ok < g.w {
		c := g.buf[g.ok]
		if plain(c) && !g.pendingCR {
			// Fast path: a run of printable ASCII other than '"' changes
			// nothing but the record length.
			j := g.ok + 1
			for j < g.w && plain(g.buf[j]) {
				j++
			}
			if g.csv && g.limit > 0 && g.recLen+j-g.ok > g.limit {
				j = g.ok + g.limit - g.recLen // the slow path fails on buf[j]
			}
			if j > g.ok {
				if g.csv {
					g.recLen += j - g.ok
				}
				g.ok = j
				continue
			}
		}
		size := 1
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(g.buf[g.ok:g.w])
			if r == utf8.RuneError && n == 1 {
				if !atEOF && (!utf8.FullRune(g.buf[g.ok:g.w]) || g.csv && g.ok+1 == g.w) {
					return // the rest of the rune (or the byte after it) is still to come
				}
				if g.csv && singleByte(g.buf[g.ok+1:g.w]) {
					g.fail(codes.F001, fmt.Sprintf("the file is not valid UTF-8 text (byte 0x%02X): it looks like Latin-1 or Windows-1252 text; %s", c, exportHint))
					return
				}
				g.fail(codes.F001, fmt.Sprintf("the file is not valid UTF-8 text (byte 0x%02X)", c))
				return
			}
			size = n
		case c == 0:
			g.fail(codes.F001, "the file holds a NUL byte: it must be UTF-8 text")
			return
		}
		if g.csv {
			if !g.csvByte(c, size) {
				return
			}
		} else if c == '\n' {
			g.line++
		}
		g.ok += size
	}
}

// csvByte accounts for one character of CSV (c is its first byte) and
// reports whether the record is still within the limit.
func (g *guard) csvByte(c byte, size int) bool {
	recLen, pendingCR := g.recLen, g.pendingCR
	switch c {
	case '\n':
		if !g.quoted {
			g.line++
			g.recLen, g.recLine, g.pendingCR = 0, g.line, false
			return true
		}
		recLen++
		pendingCR = false
	case '\r':
		if pendingCR {
			recLen++
		}
		pendingCR = true
	default:
		if c == '"' {
			g.quoted = !g.quoted
		}
		if pendingCR {
			recLen++
			pendingCR = false
		}
		recLen += size
	}
	if g.limit > 0 && recLen > g.limit {
		if c == '"' {
			g.quoted = !g.quoted // not taken: undo
		}
		if g.line == g.recLine {
			g.failAt(g.recLine, codes.F005, "the line is longer than 1 MiB")
		} else {
			g.failAt(g.recLine, codes.F005, "the record starting here is longer than 1 MiB by line %d (is a quote not closed?)", g.line)
		}
		return false
	}
	if c == '\n' {
		g.line++
	}
	g.recLen, g.pendingCR = recLen, pendingCR
	return true
}

// fail records a text problem at the scan position. In XML, where Line is
// a Plan ordinal, the physical line goes into the text instead.
func (g *guard) fail(d codes.Detail, what string) {
	if g.csv {
		g.failAt(g.line, d, "%s", what)
		return
	}
	g.failAt(0, d, "XML line %d: %s", g.line, what)
}

func (g *guard) failAt(line int, d codes.Detail, format string, args ...any) {
	g.err = &codes.Error{Detail: d, Line: line, Text: fmt.Sprintf(format, args...)}
}

// exportHint is how an LA makes a CSV file the hub reads, in the words of
// Excel's "Save as" menu.
const exportHint = `export it from Excel as "CSV UTF-8 (comma delimited)"`

// utf16Start says what kind of UTF-16 the start of a file is, or "": a
// byte order mark, or ASCII text with a NUL before or after each
// character.
func utf16Start(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return "UTF-16 text (it starts with a UTF-16 byte order mark)"
	case len(head) >= 2 && head[0] != 0 && head[0] < utf8.RuneSelf && head[1] == 0,
		len(head) >= 2 && head[0] == 0 && head[1] != 0 && head[1] < utf8.RuneSelf:
		return "UTF-16 text (a NUL byte beside each character)"
	}
	return ""
}

// singleByte reports whether an invalid byte followed by rest looks like a
// character of a single-byte encoding (Latin-1, Windows-1252) rather than
// broken UTF-8: the next byte, if any, does not continue a UTF-8 sequence.
func singleByte(rest []byte) bool { return len(rest) == 0 || rest[0]&0xC0 != 0x80 }

// plain reports whether c is printable ASCII other than '"'.
func plain(c byte) bool { return c >= 0x20 && c < utf8.RuneSelf && c != '"' }
