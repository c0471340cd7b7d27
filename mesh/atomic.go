package mesh

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"cpis/mesh/durable"
)

// WriteFileAtomic writes the file name in dir so that a reader sees the
// whole file or nothing: write fills ".<name>.tmp" in dir (through a
// buffer), which is flushed, made durable, closed and renamed to name,
// then dir is made durable (package durable: writers at the same moment
// share the flush). An existing name is replaced. On any failure, write's error
// included (or a panic in write), the temp file is removed and name is left
// as it was. name must be a plain file name (IsPlainName).
func WriteFileAtomic(dir, name string, write func(w io.Writer) error, perm fs.FileMode) error {
	if !IsPlainName(name) {
		return fmt.Errorf("write %q: not a plain file name", name)
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = f.Close() // a second Close only returns an error
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := durable.Sync(f); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("rename %s: %w", name, err)
	}
	renamed = true
	return SyncDir(dir)
}

// SyncDir makes the renames and creations in the directory dir durable
// (durable.SyncDir), then runs the kill tests' fault hook
// (EnvFaultKillSync).
func SyncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
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
