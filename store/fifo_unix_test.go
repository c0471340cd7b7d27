//go:build unix

package store_test

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"cpis/store"
)

// A FIFO named cpis.db is refused at once, not opened (which would wait
// for a writer forever).
func TestOpenFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, store.FileName), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := store.Open(dir, store.Options{}); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrDamaged) {
			t.Errorf("Open: %v, want ErrDamaged", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open of a FIFO did not return")
	}
}
