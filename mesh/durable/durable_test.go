package durable_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cpis/mesh/durable"
)

// Files written and synced at once, and their folder, are synced without
// error, whichever way the file system is flushed.
func TestSyncConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			f, err := os.Create(filepath.Join(dir, string(rune('a'+i%26))+string(rune('a'+i/26))+".txt"))
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			if _, err := f.WriteString("synthetic"); err != nil {
				t.Error(err)
			}
			if err := durable.Sync(f); err != nil {
				t.Errorf("Sync: %v", err)
			}
			if err := durable.SyncDir(dir); err != nil {
				t.Errorf("SyncDir: %v", err)
			}
		})
	}
	wg.Wait()
}

// What cannot be synced is an error that names it.
func TestSyncErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	if err := durable.SyncDir(missing); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("SyncDir of a missing folder: %v, want an error naming it", err)
	}
	f, err := os.Create(filepath.Join(dir, "closed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := durable.Sync(f); err == nil || !strings.Contains(err.Error(), "closed.txt") {
		t.Errorf("Sync of a closed file: %v, want an error naming it", err)
	}
}
