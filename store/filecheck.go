package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"
)

// The layout of a bbolt meta page (go.etcd.io/bbolt internal/common): a
// page header (id 8, flags 2, count 2, overflow 4 bytes) and the meta
// (magic 4, version 4, page size 4, flags 4, root bucket page 8, root
// sequence 8, freelist page 8, high-water mark page 8, txid 8, checksum
// 8), in the byte order of the machine that wrote it. The checksum is the
// FNV-64a of the meta before it. bbolt writes meta pages at page 0 and 1.
const (
	pageHeaderSize = 16
	metaSize       = 64
	metaPageFlag   = 0x04
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	noFreelist     = ^uint64(0)
	minPageSize    = 512
	maxPageSize    = 1 << 24
)

// damage is ErrDamaged with what is wrong with the file.
type damage struct{ detail string }

func (d *damage) Error() string        { return ErrDamaged.Error() + ": " + d.detail }
func (d *damage) Is(target error) bool { return target == ErrDamaged }

func damaged(format string, args ...any) error {
	return &damage{detail: fmt.Sprintf(format, args...)}
}

// Damage says what is wrong with a store file that Open refused with
// ErrDamaged (err), or "" when err is not that.
func Damage(err error) string {
	var d *damage
	if errors.As(err, &d) {
		return d.detail
	}
	return ""
}

// boltMeta is what checkFile reads of a meta page.
type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
}

// checkFile checks the store file at path before bbolt maps it, under a
// shared lock (a writer holds an exclusive one) taken by deadline: it
// fails with ErrLocked when the lock is not had in time and ErrDamaged
// when the file is not a whole bbolt file. It only reads.
func checkFile(path string, deadline time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lockShared(f, deadline); err != nil {
		return err
	}
	return checkBoltFile(f)
}

// checkBoltFile checks that f is a whole bbolt file: a regular file, a
// whole number of pages, both meta pages valid (magic, version, checksum)
// and of one page size, and every page they refer to inside the file (so
// that reading the mapped file never faults beyond its end).
func checkBoltFile(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return damaged("not a regular file")
	}
	size := st.Size()
	if size == 0 {
		return damaged("empty (0 bytes)")
	}
	m0, err := readMeta(f, 0, size)
	if err != nil {
		return damaged("meta page 0: %v", err)
	}
	ps := int64(m0.pageSize)
	if size%ps != 0 {
		return damaged("size %d is not a whole number of %d-byte pages", size, ps)
	}
	m1, err := readMeta(f, ps, size)
	if err != nil {
		return damaged("meta page 1: %v", err)
	}
	if m1.pageSize != m0.pageSize {
		return damaged("the meta pages disagree on the page size (%d, %d)", m0.pageSize, m1.pageSize)
	}
	for i, m := range []boltMeta{m0, m1} {
		switch {
		case m.pgid < 2 || m.root >= m.pgid || (m.freelist >= m.pgid && m.freelist != noFreelist):
			return damaged("meta page %d refers to pages beyond its high-water mark", i)
		case m.pgid > uint64(size/ps):
			return damaged("%d bytes, shorter than the %d pages of meta page %d (truncated)", size, m.pgid, i)
		}
	}
	return nil
}

// readMeta reads and validates the meta page at off of a file of size
// bytes.
func readMeta(r io.ReaderAt, off, size int64) (boltMeta, error) {
	var buf [pageHeaderSize + metaSize]byte
	if size < off+int64(len(buf)) {
		return boltMeta{}, errors.New("the file ends before it")
	}
	if _, err := r.ReadAt(buf[:], off); err != nil {
		return boltMeta{}, err
	}
	ne := binary.NativeEndian
	if ne.Uint16(buf[8:]) != metaPageFlag {
		return boltMeta{}, errors.New("not a meta page")
	}
	m := buf[pageHeaderSize:]
	if ne.Uint32(m[0:]) != boltMagic {
		return boltMeta{}, errors.New("not a bbolt file (magic)")
	}
	if v := ne.Uint32(m[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("bbolt format version %d, not %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != ne.Uint64(m[56:]) {
		return boltMeta{}, errors.New("checksum mismatch")
	}
	meta := boltMeta{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]), pgid: ne.Uint64(m[40:])}
	if ps := meta.pageSize; ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0 {
		return boltMeta{}, fmt.Errorf("page size %d", ps)
	}
	return meta, nil
}
