package store

import (
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the store to path while writers go
// on: bbolt's copy of one read transaction, into a temporary file in
// path's directory that is synced, checked (filecheck.go) and then given
// the name path, and the directory synced. An existing path is refused
// with an error wrapping os.ErrExist unless replace, and path may never be
// the store file itself. It returns the size of the copy.
func (db *DB) Backup(path string, replace bool) (int64, error) {
	if same, err := sameFile(db.path, path); err != nil || same {
		if err == nil {
			err = fmt.Errorf("that is the store file itself")
		}
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	if !replace {
		if _, err := os.Lstat(path); err == nil {
			return 0, fmt.Errorf("backup %s: %w", path, os.ErrExist)
		}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".new-*")
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	n, err := db.writeCopy(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	if replace {
		err = os.Rename(tmp, path)
	} else {
		err = placeNew(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	return n, nil
}

// writeCopy writes the store as of one read transaction to f, syncs it
// and checks the copy is a whole bbolt file.
func (db *DB) writeCopy(f *os.File) (int64, error) {
	var n int64
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(f)
		return err
	}); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := checkBoltFile(f); err != nil {
		return 0, fmt.Errorf("the copy: %w", err)
	}
	return n, nil
}

// sameFile reports whether a and b name one file (b need not exist).
func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
