package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

// validNHS returns the n-th valid 999-range NHS number.
func validNHS(n int) string {
	for i := n; ; i++ {
		base := fmt.Sprintf("999%06d", i)
		for c := '0'; c <= '9'; c++ {
			if s := base + string(c); nhsnumber.Valid(s) {
				return s
			}
		}
	}
}

// checkCopy opens a copy of a store as the store of a data dir of its own
// and checks it; it returns the number of plans.
func checkCopy(t *testing.T, file string) int {
	t.Helper()
	dir := t.TempDir()
	if err := os.Link(file, filepath.Join(dir, store.FileName)); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	defer db.Close()
	rep, err := db.Check()
	if err != nil || !rep.OK() {
		t.Errorf("check of the copy: %v %+v", err, rep.Problems)
	}
	return rep.Plans
}

// A backup taken while another goroutine writes is a whole store as of
// one moment: it opens and passes Check.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	goodStore(t, dir)
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var written atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if err := db.Update(func(tx *store.Tx) error {
				// Each transaction adds a plan and moves another, so a
				// copy of half a transaction would fail Check.
				if err := tx.PutPlan(plans.Plan{Key: plans.Key{NHS: validNHS(1000 + i), LA: "841", Type: plans.CPP}, Start: date("2026-01-01"), LocalID: "W"}); err != nil {
					return err
				}
				if i > 0 {
					if _, err := tx.DeletePlan(plans.Key{NHS: validNHS(1000 + i - 1), LA: "841", Type: plans.CPP}); err != nil {
						return err
					}
					return tx.PutPlan(plans.Plan{Key: plans.Key{NHS: validNHS(1000 + i - 1), LA: "202", Type: plans.LAC}, Start: date("2026-01-01"), LocalID: "W"})
				}
				return nil
			}); err != nil {
				t.Error(err)
				return
			}
			written.Add(1)
		}
	}()
	backups := t.TempDir()
	var files []string
	var after int64 // plans committed when the previous backup returned
	for i := range 5 {
		// A copy holds at most what was committed when it returned; the
		// next is taken once more was committed, so it holds more.
		for written.Load() < after+20 {
			time.Sleep(time.Millisecond) // let the writer get ahead
		}
		file := filepath.Join(backups, fmt.Sprintf("cpis-%d.db", i))
		n, err := db.Backup(file, false)
		if err != nil {
			t.Fatal(err)
		}
		after = written.Load()
		if st, err := os.Stat(file); err != nil || st.Size() != n || st.Mode().Perm() != 0o600 {
			t.Errorf("backup %s: %v, %v; want %d bytes, mode 0600", file, st, err, n)
		}
		files = append(files, file)
	}
	stop.Store(true)
	wg.Wait()
	last := 0
	for _, f := range files {
		n := checkCopy(t, f)
		if n <= last {
			t.Errorf("%s holds %d plans, the one before %d: copies are not of later moments", f, n, last)
		}
		last = n
	}
	if ents, _ := os.ReadDir(backups); len(ents) != len(files) {
		t.Errorf("the backup folder holds %d files, want %d (no temporary files left)", len(ents), len(files))
	}
}

func TestBackupRefusals(t *testing.T) {
	dir := t.TempDir()
	goodStore(t, dir)
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	file := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Backup(file, false); !errors.Is(err, os.ErrExist) {
		t.Errorf("backup over an existing file: got %v, want os.ErrExist", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if _, err := db.Backup(file, true); err != nil {
		t.Fatalf("backup with replace: %v", err)
	}
	if n := checkCopy(t, file); n != 1 {
		t.Errorf("the copy holds %d plans, want 1", n)
	}
	storeFile := filepath.Join(dir, store.FileName)
	before := stateOf(t, storeFile)
	_, err = db.Backup(storeFile, true)
	if want := "backup " + storeFile + ": that is the store file itself"; err == nil || err.Error() != want {
		t.Errorf("backup onto the store itself: got %v, want %q", err, want)
	}
	if diff := cmp.Diff(before, stateOf(t, storeFile)); diff != "" {
		t.Errorf("the store changed (-before +after):\n%s", diff)
	}
	if _, err := db.Backup(filepath.Join(t.TempDir(), "absent", "backup.db"), false); err == nil {
		t.Error("backup into a missing folder succeeded")
	}
}
