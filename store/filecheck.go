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
	txid     uint64
}

// checkFile checks the store file at path before bbolt maps it, under a
// shared lock (a writer holds an exclusive one) taken by deadline: it
// fails with ErrLocked when the lock is not had in time and ErrDamaged
// when the file is not a whole bbolt file. It only reads.
func checkFile(path string, deadline time.Time) error {
	// Not a regular file (a FIFO would block the open forever, a device
	// read forever): refused before it is opened.
	if st, err := os.Stat(path); err != nil {
		return err
	} else if !st.Mode().IsRegular() {
		return damaged("not a regular file")
	}
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
	// bbolt uses the meta of the later transaction; every page its tree
	// reaches is walked before bbolt does so itself (on open it walks them
	// in a goroutine of its own, where a damaged page is a panic no caller
	// can recover: the process would die with a dump instead of refusing).
	m := m0
	if m1.txid > m0.txid {
		m = m1
	}
	w := &pageWalker{r: f, ps: ps, hwm: m.pgid, seen: make([]uint64, (m.pgid+63)/64)}
	if err := w.bucket(m.root, nil, 0); err != nil {
		return damaged("%v", err)
	}
	return nil
}

// The layout of bbolt's tree pages (go.etcd.io/bbolt internal/common):
// after the page header, count elements of 16 bytes, then keys and values.
// A branch element is pos 4, key size 4, child page 8; a leaf element is
// flags 4, pos 4, key size 4, value size 4, pos counted from the element
// itself. A leaf value flagged as a bucket is a bucket header (root page 8,
// sequence 8), followed by the bucket's inline leaf page when root is 0.
const (
	branchPageFlag = 0x01
	leafPageFlag   = 0x02
	bucketLeafFlag = 0x01
	elementSize    = 16
	bucketHeader   = 16
	maxDepth       = 64
)

// pageWalker checks the pages of a bbolt tree by reading them, never by
// mapping them: each page names itself, has a tree page's flags, and
// keeps its elements, keys and values inside itself and the file.
type pageWalker struct {
	r    io.ReaderAt
	ps   int64
	hwm  uint64
	seen []uint64 // bit per page: walked already
	bufs [][]byte // a page buffer per depth, reused
}

// bucket walks the bucket whose root is page root, or whose inline page
// is inline when root is 0.
func (w *pageWalker) bucket(root uint64, inline []byte, depth int) error {
	if root == 0 {
		return w.elements(inline, 0, depth)
	}
	return w.page(root, depth)
}

func (w *pageWalker) page(id uint64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("page %d: the tree is deeper than %d", id, maxDepth)
	}
	if id < 2 || id >= w.hwm {
		return fmt.Errorf("a page refers to page %d, outside 2..%d", id, w.hwm-1)
	}
	if w.seen[id/64]&(1<<(id%64)) != 0 {
		return fmt.Errorf("page %d is reached twice", id)
	}
	w.seen[id/64] |= 1 << (id % 64)
	// One read of the first page, one more for any overflow, into a buffer
	// kept per depth (the pages of the levels above are still in use).
	for len(w.bufs) <= depth {
		w.bufs = append(w.bufs, nil)
	}
	buf := w.bufs[depth]
	if int64(cap(buf)) < w.ps {
		buf = make([]byte, w.ps)
	}
	buf = buf[:w.ps]
	if _, err := w.r.ReadAt(buf, int64(id)*w.ps); err != nil {
		return fmt.Errorf("page %d: %v", id, err)
	}
	ne := binary.NativeEndian
	if got := ne.Uint64(buf[0:]); got != id {
		return fmt.Errorf("page %d names itself page %d", id, got)
	}
	overflow := uint64(ne.Uint32(buf[12:]))
	if id+overflow >= w.hwm {
		return fmt.Errorf("page %d runs past page %d", id, w.hwm-1)
	}
	if overflow > 0 {
		whole := int64(overflow+1) * w.ps
		if int64(cap(buf)) < whole {
			buf = append(make([]byte, 0, whole), buf...)
		}
		buf = buf[:whole]
		if _, err := w.r.ReadAt(buf[w.ps:], (int64(id)+1)*w.ps); err != nil {
			return fmt.Errorf("page %d: %v", id, err)
		}
	}
	if int64(cap(buf)) <= maxKeptBuffer {
		w.bufs[depth] = buf
	}
	return w.elements(buf, id, depth)
}

// maxKeptBuffer is the largest page buffer the walker keeps for reuse.
const maxKeptBuffer = 1 << 20

// elements checks the page in buf (page id, or 0 for an inline page) and
// walks what its elements reach.
func (w *pageWalker) elements(buf []byte, id uint64, depth int) error {
	if len(buf) < pageHeaderSize {
		return fmt.Errorf("page %d: shorter than a page header", id)
	}
	ne := binary.NativeEndian
	flags, count := ne.Uint16(buf[8:]), int(ne.Uint16(buf[10:]))
	if pageHeaderSize+count*elementSize > len(buf) {
		return fmt.Errorf("page %d: %d elements do not fit", id, count)
	}
	for i := 0; i < count; i++ {
		at := pageHeaderSize + i*elementSize
		e := buf[at : at+elementSize]
		switch flags {
		case branchPageFlag:
			pos, ksize := int(ne.Uint32(e[0:])), int(ne.Uint32(e[4:]))
			if at+pos+ksize > len(buf) || at+pos < 0 {
				return fmt.Errorf("page %d: element %d runs past the page", id, i)
			}
			if err := w.page(ne.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
		case leafPageFlag:
			eflags, pos := ne.Uint32(e[0:]), int(ne.Uint32(e[4:]))
			ksize, vsize := int(ne.Uint32(e[8:])), int(ne.Uint32(e[12:]))
			start := at + pos + ksize
			if at+pos < 0 || start+vsize > len(buf) || start < 0 {
				return fmt.Errorf("page %d: element %d runs past the page", id, i)
			}
			if eflags&bucketLeafFlag == 0 {
				continue
			}
			v := buf[start : start+vsize]
			if len(v) < bucketHeader {
				return fmt.Errorf("page %d: element %d: a bucket header of %d bytes", id, i, len(v))
			}
			if err := w.bucket(ne.Uint64(v[0:]), v[bucketHeader:], depth+1); err != nil {
				return err
			}
		default:
			return fmt.Errorf("page %d: flags %#x, not a branch or leaf page", id, flags)
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
	meta := boltMeta{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]), pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}
	if ps := meta.pageSize; ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0 {
		return boltMeta{}, fmt.Errorf("page size %d", ps)
	}
	return meta, nil
}
