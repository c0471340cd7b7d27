package returns_test

import (
	"errors"
	"io"
	"testing"

	"cpis/batch/returns"
	"cpis/store/codes"
)

// result is everything a reader gives for one input: the rows, then the
// failure that ended it (nil at a clean end).
type result struct {
	Rows []returns.Row
	Err  *codes.Error
}

// readAll reads the return named name with content r to its end. Any error
// that is not a *codes.Error fails the test.
func readAll(t *testing.T, name string, r io.Reader) result {
	t.Helper()
	n, err := returns.ParseName(name)
	if err != nil {
		t.Fatalf("ParseName(%q): %v", name, err)
	}
	var res result
	rd, err := returns.NewReader(r, n)
	for err == nil {
		var row returns.Row
		row, err = rd.Next()
		if err == nil {
			res.Rows = append(res.Rows, row)
		}
	}
	if err == io.EOF {
		return res
	}
	if !errors.As(err, &res.Err) {
		t.Fatalf("reading %s: %v (%T), want a *codes.Error", name, err, err)
	}
	if rd != nil {
		// A failure is final.
		if _, again := rd.Next(); again != err {
			t.Errorf("Next after the failure = %v, want %v again", again, err)
		}
	}
	return res
}

// failingReader gives its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// repeatReader gives n copies of b without holding them.
type repeatReader struct {
	b   byte
	n   int
	end []byte // after the copies
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		if len(r.end) == 0 {
			return 0, io.EOF
		}
		k := copy(p, r.end)
		r.end = r.end[k:]
		return k, nil
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}
