package local

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Concurrent callers share fsyncs, and each returns only after an fsync
// that started after it was called.
func TestSyncDirShared(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i%26))+".txt"), []byte("x"), 0o640); err != nil {
				t.Error(err)
			}
			v, _ := dirSyncs.Load(dir)
			var before uint64
			if v != nil {
				d := v.(*dirSync)
				d.mu.Lock()
				before = d.started
				d.mu.Unlock()
			}
			if err := SyncDirShared(dir); err != nil {
				t.Error(err)
			}
			d := func() *dirSync { v, _ := dirSyncs.Load(dir); return v.(*dirSync) }()
			d.mu.Lock()
			done := d.done
			d.mu.Unlock()
			if done <= before {
				t.Errorf("returned after fsync %d, which started before the call (%d started then)", done, before)
			}
		})
	}
	wg.Wait()
	if err := SyncDirShared(filepath.Join(dir, "missing")); err == nil {
		t.Error("fsync of a missing folder: no error")
	}
}
