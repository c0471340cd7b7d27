package mesh

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"cpis/mesh/durable"
)

// WriteFileAtomic writes the file name in dir so that a reader sees the
// whole file or nothing: write fills ".<name>.tmp" in dir (through a
// buffer), which is flushed, made durable, closed and renamed to name,
// then dir is made durable (package durable: writers at the same moment
// share the flush). An existing name is replaced. On any failure, write's
// error included (or a panic in write), the temp file is removed and name
// is left as it was. name must be a plain file name (IsPlainName).
func WriteFileAtomic(dir, name string, write func(w io.Writer) error, perm fs.FileMode) error {
	return WriteFilesAtomic(dir, perm, FileWrite{Name: name, Write: write})
}

// FileWrite is a file for WriteFilesAtomic: its name and what fills it.
type FileWrite struct {
	Name  string
	Write func(w io.Writer) error
}

// WriteFilesAtomic writes files into dir, each as WriteFileAtomic does,
// and each appearing only once the one before it is durable in dir: a
// message's data file, then its control file, so that a collector that
// waits for the control file finds a whole data file, even after a crash.
// The temp files are all written first and made durable together (one
// flush, not one each), then renamed in order, dir made durable after each
// rename. On a failure before the first rename nothing is changed; after,
// the files renamed so far stay, and no temp file is left.
func WriteFilesAtomic(dir string, perm fs.FileMode, files ...FileWrite) error {
	for _, fw := range files {
		if !IsPlainName(fw.Name) {
			return fmt.Errorf("write %q: not a plain file name", fw.Name)
		}
	}
	temps := make([]*os.File, 0, len(files))
	renamed := 0
	defer func() {
		for i, f := range temps {
			if i >= renamed {
				_ = f.Close() // a second Close only returns an error
				_ = os.Remove(f.Name())
			}
		}
	}()
	for _, fw := range files {
		f, err := os.OpenFile(filepath.Join(dir, "."+fw.Name+".tmp"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
		if err != nil {
			return fmt.Errorf("write %s: %w", fw.Name, err)
		}
		temps = append(temps, f)
		if err := WriteBuffered(f, fw.Write); err != nil {
			return fmt.Errorf("write %s: %w", fw.Name, err)
		}
	}
	if err := durable.Sync(temps...); err != nil {
		return fmt.Errorf("write %s: %w", files[0].Name, err)
	}
	for i, f := range temps {
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", files[i].Name, err)
		}
	}
	for i, f := range temps {
		if err := os.Rename(f.Name(), filepath.Join(dir, files[i].Name)); err != nil {
			return fmt.Errorf("rename %s: %w", files[i].Name, err)
		}
		renamed = i + 1
		if err := SyncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// buffers holds the write buffers of WriteBuffered for reuse: a night
// answers hundreds of returns with two files each, and a new 64 KiB
// buffer for each file (allocated and cleared) was a fifth of the CPU
// that answering them took.
var buffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

// WriteBuffered runs write on a buffered writer to w and flushes it. The
// buffer is reused once WriteBuffered returns: write must not keep the
// writer it is given.
func WriteBuffered(w io.Writer, write func(io.Writer) error) error {
	bw := buffers.Get().(*bufio.Writer)
	bw.Reset(w)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil) // let w go
	buffers.Put(bw)
	return err
}

// SyncDir makes the renames and creations in the directories dirs
// durable (durable.SyncDir: one flush for them all), then runs the kill
// tests' fault hook (EnvFaultKillSync).
func SyncDir(dirs ...string) error {
	if err := durable.SyncDir(dirs...); err != nil {
		return err
	}
	faultKillSync()
	return nil
}

// IsPlainName reports whether name is a single path element that can name
// a file in a mailbox folder: not empty, not "." or "..", no separator and
// no NUL.
func IsPlainName(name string) bool {
	if name == "" || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 || os.IsPathSeparator(name[i]) {
			return false
		}
	}
	return true
}
