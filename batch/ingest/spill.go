package ingest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"cpis/store/caldate"
)

// A return's rows are not held in memory while it is evaluated: what every
// row needs from the others (its key, line and whether it was rejected) is
// kept in a compact fact per row, and the rest (the cells a response quotes,
// the names demographics compare, the problems found) goes to a spill file
// on disk, read back in line order. The row outcomes and the plans to write
// are spilled the same way, so a return of 500,000 wide rows costs a few
// tens of bytes of memory per row, whatever its width.

// spill is a temporary store written once, then read from the start as
// often as needed. It is kept in memory while it is small (most returns'
// are) and moves to a file on disk once it grows past spillInMemory bytes.
// The file has no name while it is open where the system allows (so a
// crash leaves nothing behind), and is gone once closed.
type spill struct {
	dir  string
	mem  []byte // the records while there is no file
	f    *os.File
	name string // "" when the file has no name
	w    *bufio.Writer
	buf  []byte
	n    int  // records written
	done bool // closed
}

// spillInMemory is the most a spill keeps in memory: three per return
// being evaluated, within the budget's fixed charge (returnBytes).
const spillInMemory = 512 << 10

// newSpill makes a spill whose file, if it needs one, goes in dir: beside
// the return it is made from, on the data dir's disk rather than in a
// temporary folder that may be memory. "" means the system's temporary
// folder.
func newSpill(dir string) (*spill, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	return &spill{dir: dir}, nil
}

// toFile moves the records kept in memory to a new file.
func (s *spill) toFile() error {
	f, named, err := createUnnamed(s.dir)
	if err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	s.f, s.w = f, bufio.NewWriterSize(f, 64<<10)
	if named {
		// Where a file cannot be made without a name, it loses its name
		// at once if it can (POSIX), else when closed.
		if os.Remove(f.Name()) != nil {
			s.name = f.Name()
		}
	}
	_, err = s.w.Write(s.mem)
	s.mem = nil
	if err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	return nil
}

// createNamed is the fallback of systems without unnamed files: a hidden
// temporary name.
func createNamed(dir string) (*os.File, bool, error) {
	f, err := os.CreateTemp(dir, ".cpis-spill-")
	return f, true, err
}

// close removes the file; it is safe on a nil spill and more than once.
func (s *spill) close() {
	if s == nil || s.done {
		return
	}
	s.done, s.mem = true, nil
	if s.f == nil {
		return
	}
	s.f.Close()
	if s.name != "" {
		os.Remove(s.name)
	}
	s.f = nil
}

// Appending: a record is built with the put methods, then ended.

func (s *spill) putUint(v uint64) { s.buf = binary.AppendUvarint(s.buf, v) }

func (s *spill) putInt(v int) { s.buf = binary.AppendVarint(s.buf, int64(v)) }

func (s *spill) putString(v string) {
	s.buf = binary.AppendUvarint(s.buf, uint64(len(v)))
	s.buf = append(s.buf, v...)
}

func (s *spill) putDate(d caldate.Date) { s.putInt(dateNumber(d)) }

func (s *spill) putBool(v bool) {
	if v {
		s.buf = append(s.buf, 1)
	} else {
		s.buf = append(s.buf, 0)
	}
}

// end writes the record built so far.
func (s *spill) end() error {
	if s.done {
		return errors.New("spill file: closed")
	}
	s.n++
	if s.f == nil && len(s.mem)+len(s.buf) > spillInMemory {
		if err := s.toFile(); err != nil {
			return err
		}
	}
	if s.f == nil {
		s.mem = append(s.mem, s.buf...)
		s.buf = s.buf[:0]
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	return nil
}

// reader flushes what was written and returns a reader of the records from
// the first. Only one reader may be in use at a time.
func (s *spill) reader() (*spillReader, error) {
	if s.done {
		return nil, errors.New("spill file: closed")
	}
	if s.f == nil {
		return &spillReader{r: bufio.NewReaderSize(bytes.NewReader(s.mem), 4<<10), left: s.n}, nil
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("spill file: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("spill file: %w", err)
	}
	return &spillReader{r: bufio.NewReaderSize(s.f, 64<<10), left: s.n}, nil
}

// spillReader reads a spill's records back. Its first error is kept and
// returned by err; values read after it are zero.
type spillReader struct {
	r       *bufio.Reader
	left    int // records not yet started
	e       error
	scratch []byte // for a string longer than what the buffer holds
}

// next starts the next record, reporting false after the last one.
func (r *spillReader) next() bool {
	if r.e != nil || r.left == 0 {
		return false
	}
	r.left--
	return true
}

func (r *spillReader) err() error {
	if r.e != nil {
		return fmt.Errorf("spill file: %w", r.e)
	}
	return nil
}

func (r *spillReader) uint() uint64 {
	if r.e != nil {
		return 0
	}
	v, err := binary.ReadUvarint(r.r)
	r.fail(err)
	return v
}

func (r *spillReader) bool() bool {
	switch r.uint() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail(errors.New("not a bool"))
	return false
}

func (r *spillReader) int() int {
	if r.e != nil {
		return 0
	}
	v, err := binary.ReadVarint(r.r)
	r.fail(err)
	return int(v)
}

func (r *spillReader) string() string {
	n := r.uint()
	if r.e != nil {
		return ""
	}
	if n > 16<<20 {
		r.fail(errors.New("record too long"))
		return ""
	}
	if n == 0 {
		return ""
	}
	if b, err := r.r.Peek(int(n)); err == nil {
		// Most strings are in the buffer already: one copy, no scratch.
		s := string(b)
		_, _ = r.r.Discard(int(n))
		return s
	}
	if cap(r.scratch) < int(n) {
		r.scratch = make([]byte, n)
	}
	b := r.scratch[:n]
	_, err := io.ReadFull(r.r, b)
	r.fail(err)
	return string(b)
}

func (r *spillReader) date() caldate.Date { return numberDate(r.int()) }

func (r *spillReader) fail(err error) {
	if err != nil && r.e == nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.e = err
	}
}

// firstDay is day 1 of dateNumber.
var firstDay = caldate.Of(1, 1, 1)

// dateNumber numbers d from firstDay (1); the zero Date is 0.
func dateNumber(d caldate.Date) int {
	if d.IsZero() {
		return 0
	}
	return d.DaysSince(firstDay) + 1
}

func numberDate(n int) caldate.Date {
	if n == 0 {
		return caldate.Date{}
	}
	return firstDay.AddDays(n - 1)
}
