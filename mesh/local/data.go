package local

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"

	"cpis/mesh"
)

// OpenData opens the data file at path for reading, decompressed when gzipped
// is set, and enforces the size limit on the bytes as stored and again on
// the bytes decompressed (mesh/mailboxes.md, "Size limit"). A file stored over
// limit fails at once; a stream that grows past limit fails while reading.
// Both errors wrap mesh.ErrTooLarge. When gzipped, bytes that are not gzip,
// at the start or anywhere later (a corrupt block, a bad checksum, a
// truncated stream), give an error wrapping mesh.ErrNotGzip.
func OpenData(path string, gzipped bool, limit int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open data file: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open data file: %w", err)
	}
	if info.Size() > limit {
		f.Close()
		return nil, fmt.Errorf("open data file: %w: %d bytes stored, limit %d", mesh.ErrTooLarge, info.Size(), limit)
	}
	// The stored limit holds even if the file grows after Stat.
	stored := mesh.LimitReader(f, limit)
	if !gzipped {
		return &dataReader{Reader: stored, f: f}, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(stored))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open data file: %w", gzipError(err))
	}
	return &dataReader{Reader: mesh.LimitReader(gunzipReader{zr}, limit), f: f, zr: zr}, nil
}

type dataReader struct {
	io.Reader
	f  *os.File
	zr *gzip.Reader
}

func (d *dataReader) Close() error {
	if d.zr != nil {
		d.zr.Close() // only reports a checksum error Read already gave
	}
	return d.f.Close()
}

// gunzipReader maps the gzip reader's errors about its input to
// mesh.ErrNotGzip.
type gunzipReader struct{ zr *gzip.Reader }

func (g gunzipReader) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		err = gzipError(err)
	}
	return n, err
}

// gzipError wraps err with mesh.ErrNotGzip when it says the input is not
// (valid) gzip, and leaves errors of the file system and the stored size
// limit as they are.
func gzipError(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, mesh.ErrTooLarge):
		return err
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &corrupt):
		return fmt.Errorf("%w: %w", mesh.ErrNotGzip, err)
	}
	return err
}
