package meshapi

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cpis/mesh"
)

// Names inside an upload's folder.
const (
	uploadMeta = "meta.json" // the Envelope, written with chunk 1
	uploadDone = "done"      // the message was delivered; the folder is a tombstone
	gzipSuffix = ".gz"       // a chunk stored as sent with Content-Encoding: gzip
)

// DefaultUploadAge is how long an unfinished upload (or the tombstone of
// a delivered one) is kept.
const DefaultUploadAge = 24 * time.Hour

// Uploads is the area of chunked uploads in progress, a folder on disk
// (the hub puts it at <data dir>/mesh_uploads): one folder per message ID holding meta.json
// (the send's envelope) and one file per chunk received (named by its
// number, ".gz" appended when it came gzip-encoded), each written to a
// temporary name, fsynced and renamed, the folder fsynced, before its 202.
// Once every chunk is there the message is delivered whole, the chunks
// removed and a "done" marker left, so that a late chunk is answered 423;
// Clean removes unfinished uploads and markers after a day.
type Uploads struct {
	dir string
}

// OpenUploads opens (creating it when missing) the upload area dir.
func OpenUploads(dir string) (*Uploads, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open upload area: %w", err)
	}
	return &Uploads{dir: dir}, nil
}

// upload is the state of one upload.
type upload struct {
	env    Envelope
	done   bool
	chunks map[int]string // chunk number -> file name
	stored int64          // bytes of chunks stored
}

// create starts the upload of e, durably.
func (u *Uploads) create(e Envelope) error {
	if !mesh.ValidMessageID(e.ID) {
		return fmt.Errorf("create upload: bad message ID %q", e.ID)
	}
	dir := filepath.Join(u.dir, e.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	if err := mesh.WriteFileAtomic(dir, uploadMeta, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}, 0o600); err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	return mesh.SyncDir(u.dir)
}

// get reads the state of upload id: an error wrapping ErrNotFound when
// there is none.
func (u *Uploads) get(id string) (upload, error) {
	if !mesh.ValidMessageID(id) {
		return upload{}, fmt.Errorf("upload %s: %w", id, ErrNotFound)
	}
	dir := filepath.Join(u.dir, id)
	b, err := os.ReadFile(filepath.Join(dir, uploadMeta))
	if errors.Is(err, fs.ErrNotExist) {
		return upload{}, fmt.Errorf("upload %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return upload{}, fmt.Errorf("upload %s: %w", id, err)
	}
	var up upload
	if err := json.Unmarshal(b, &up.env); err != nil {
		return upload{}, fmt.Errorf("upload %s: %w", id, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return upload{}, fmt.Errorf("upload %s: %w", id, err)
	}
	up.chunks = map[int]string{}
	for _, de := range ents {
		name := de.Name()
		if name == uploadDone {
			up.done = true
			continue
		}
		k, err := strconv.Atoi(strings.TrimSuffix(name, gzipSuffix))
		if err != nil || k < 1 {
			continue // meta.json, temporary files
		}
		up.chunks[k] = name
		if info, err := de.Info(); err == nil {
			up.stored += info.Size()
		}
	}
	return up, nil
}

// complete reports whether every chunk of up is there.
func (up upload) complete() bool {
	for k := 1; k <= up.env.Chunks; k++ {
		if up.chunks[k] == "" {
			return false
		}
	}
	return true
}

// putChunk stores chunk k of upload id from r (gz: r is a gzip stream,
// kept as it is), durably, replacing an earlier copy of that chunk. On
// any error nothing of it is kept.
func (u *Uploads) putChunk(id string, k int, gz bool, r io.Reader) (int64, error) {
	dir := filepath.Join(u.dir, id)
	name, other := strconv.Itoa(k), strconv.Itoa(k)+gzipSuffix
	if gz {
		name, other = other, name
	}
	var n int64
	err := mesh.WriteFileAtomic(dir, name, func(w io.Writer) error {
		var err error
		n, err = io.Copy(w, r)
		return err
	}, 0o600)
	if err != nil {
		return 0, fmt.Errorf("store chunk %d of %s: %w", k, id, err)
	}
	if err := os.Remove(filepath.Join(dir, other)); err == nil {
		_ = mesh.SyncDir(dir)
	}
	return n, nil
}

// content returns the whole content of a complete upload: its chunks in
// order, each gzip chunk decoded.
func (u *Uploads) content(up upload) io.ReadCloser {
	return &chunkReader{dir: filepath.Join(u.dir, up.env.ID), up: up}
}

// chunkReader reads the chunks of an upload one after the other.
type chunkReader struct {
	dir string
	up  upload
	k   int // current chunk, 0 before the first
	f   *os.File
	r   io.Reader
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			if c.k >= c.up.env.Chunks {
				return 0, io.EOF
			}
			c.k++
			name := c.up.chunks[c.k]
			f, err := os.Open(filepath.Join(c.dir, name))
			if err != nil {
				return 0, fmt.Errorf("chunk %d: %w", c.k, err)
			}
			c.f, c.r = f, f
			if strings.HasSuffix(name, gzipSuffix) {
				c.r = newLazyGzip(f)
			}
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			_ = c.f.Close()
			c.f, c.r = nil, nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, fmt.Errorf("chunk %d: %w", c.k, err)
		}
		return n, nil
	}
}

func (c *chunkReader) Close() error {
	if c.f != nil {
		return c.f.Close()
	}
	return nil
}

// finish marks upload id delivered and removes its chunks.
func (u *Uploads) finish(id string) error {
	dir := filepath.Join(u.dir, id)
	if err := mesh.WriteFileAtomic(dir, uploadDone, func(io.Writer) error { return nil }, 0o600); err != nil {
		return fmt.Errorf("finish upload %s: %w", id, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("finish upload %s: %w", id, err)
	}
	for _, de := range ents {
		if n := de.Name(); n != uploadDone && n != uploadMeta {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	return nil
}

// remove drops upload id and everything of it.
func (u *Uploads) remove(id string) error {
	if err := os.RemoveAll(filepath.Join(u.dir, id)); err != nil {
		return fmt.Errorf("remove upload %s: %w", id, err)
	}
	return mesh.SyncDir(u.dir)
}

// pending returns the IDs of the uploads present, unfinished or not.
func (u *Uploads) pending() ([]string, error) {
	ents, err := os.ReadDir(u.dir)
	if err != nil {
		return nil, fmt.Errorf("list uploads: %w", err)
	}
	var ids []string
	for _, de := range ents {
		if de.IsDir() && mesh.ValidMessageID(de.Name()) {
			ids = append(ids, de.Name())
		}
	}
	return ids, nil
}

// Clean removes the uploads begun before cutoff: unfinished ones (their
// sender never sent every chunk) and the markers of delivered ones. It
// returns the IDs of the unfinished uploads it removed. A complete upload
// not yet delivered (a crash before its delivery) is left for
// Server.Recover.
func (u *Uploads) Clean(cutoff time.Time) ([]string, error) {
	ids, err := u.pending()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, id := range ids {
		up, err := u.get(id)
		if errors.Is(err, ErrNotFound) {
			// A folder without meta.json: a create cut short.
			info, serr := os.Stat(filepath.Join(u.dir, id))
			if serr == nil && info.ModTime().Before(cutoff) {
				if err := u.remove(id); err != nil {
					return removed, err
				}
			}
			continue
		}
		if err != nil {
			return removed, err
		}
		if !up.env.Uploaded.Before(cutoff) || (!up.done && up.complete()) {
			continue
		}
		if err := u.remove(id); err != nil {
			return removed, err
		}
		if !up.done {
			removed = append(removed, id)
		}
	}
	return removed, nil
}

// lazyGzip decodes a gzip stream, reading its header on the first Read so
// that a bad stream fails as a read, wrapping mesh.ErrNotGzip (an error of
// the source itself is returned as it is).
type lazyGzip struct {
	src errRecorder
	zr  *gzip.Reader
}

func newLazyGzip(r io.Reader) *lazyGzip { return &lazyGzip{src: errRecorder{r: r}} }

func (l *lazyGzip) Read(p []byte) (int, error) {
	if l.zr == nil {
		zr, err := gzip.NewReader(&l.src)
		if err != nil {
			return 0, l.wrap(err)
		}
		l.zr = zr
	}
	n, err := l.zr.Read(p)
	if err != nil && err != io.EOF {
		return n, l.wrap(err)
	}
	return n, err
}

func (l *lazyGzip) wrap(err error) error {
	if l.src.err != nil {
		return l.src.err
	}
	return fmt.Errorf("%w: %v", mesh.ErrNotGzip, err)
}

// errRecorder remembers the first error (other than io.EOF) its reader
// returned.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
