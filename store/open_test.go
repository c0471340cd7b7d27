package store_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"cpis/store"
	"cpis/store/plans"
)

// fileState is what must not change about a refused store file.
type fileState struct {
	Size    int64
	ModTime time.Time
	SHA256  string // of the content
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.IsDir() {
		return fileState{Size: st.Size(), ModTime: st.ModTime()}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return fileState{Size: st.Size(), ModTime: st.ModTime(), SHA256: hex.EncodeToString(sum[:])}
}

// goodStore makes a store with two authorities and a plan in dir and
// returns its file's path.
func goodStore(t *testing.T, dir string) string {
	t.Helper()
	db, err := store.Open(dir, store.Options{Create: true, NoSync: true, Setup: func(tx *store.Tx) error {
		for _, la := range []string{"841", "202"} {
			if err := tx.PutAuthority(store.Authority{Code: la, Name: "LA " + la, EmergencyPhone: "0300 000 0000"}); err != nil {
				return err
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *store.Tx) error {
		return tx.PutPlan(plans.Plan{Key: plans.Key{NHS: "9990276579", LA: "841", Type: plans.CPP}, Start: date("2026-03-02"), LocalID: "C-1"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, store.FileName)
}

// pageSize reads the page size of a bbolt file from its first meta page.
func pageSize(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return int64(binary.NativeEndian.Uint32(b[16+8:]))
}

// boltUpdate changes a closed store file with bbolt directly.
func boltUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// A store file that is empty, cut short, not a bbolt file, or a bbolt file
// the hub did not make is refused with ErrDamaged, with or without
// Create, and is left exactly as it was.
func TestOpenRefusesDamagedStore(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		// detail begins the error after ErrDamaged's text; a format of
		// the page size and the damaged file's size.
		detail string
	}{
		{"empty", func(t *testing.T, path string) { os.WriteFile(path, nil, 0o600) }, "empty (0 bytes)"},
		{"text", func(t *testing.T, path string) {
			os.WriteFile(path, []byte(strings.Repeat("not a store\n", 1000)), 0o600)
		}, "meta page 0: not a meta page"},
		{"one byte", func(t *testing.T, path string) { os.WriteFile(path, []byte{0}, 0o600) }, "meta page 0: the file ends before it"},
		{"first page only", func(t *testing.T, path string) {
			os.Truncate(path, pageSize(t, path))
		}, "meta page 1: the file ends before it"},
		{"truncated to three pages", func(t *testing.T, path string) {
			os.Truncate(path, 3*pageSize(t, path))
		}, "%[2]d bytes, shorter than the"},
		{"truncated mid-page", func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			os.Truncate(path, st.Size()-100)
		}, "size %[2]d is not a whole number of %[1]d-byte pages"},
		{"meta 0 checksum", func(t *testing.T, path string) { flipByte(t, path, 16+20) }, "meta page 0: checksum mismatch"},
		{"meta 1 checksum", func(t *testing.T, path string) { flipByte(t, path, pageSize(t, path)+16+20) }, "meta page 1: checksum mismatch"},
		{"meta 0 magic", func(t *testing.T, path string) { flipByte(t, path, 16) }, "meta page 0: not a bbolt file (magic)"},
		{"directory", func(t *testing.T, path string) {
			os.Remove(path)
			os.Mkdir(path, 0o700)
		}, "not a regular file"},
		{"bbolt file without buckets", func(t *testing.T, path string) {
			os.Remove(path)
			b, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
		}, "no meta bucket"},
		{"no schema record", func(t *testing.T, path string) {
			boltUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("schema")) })
		}, "no schema record"},
		{"no creation time", func(t *testing.T, path string) {
			boltUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("created")) })
		}, "no creation time in the schema record"},
		{"authority lost", func(t *testing.T, path string) {
			boltUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("authorities")).Delete([]byte("202")) })
		}, "authority 202 named by the schema record is missing"},
		{"authorities bucket emptied", func(t *testing.T, path string) {
			boltUpdate(t, path, func(tx *bolt.Tx) error {
				if err := tx.DeleteBucket([]byte("authorities")); err != nil {
					return err
				}
				_, err := tx.CreateBucket([]byte("authorities"))
				return err
			})
		}, "authority 202 named by the schema record is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := goodStore(t, dir)
			ps := pageSize(t, path)
			tt.damage(t, path)
			var size int64
			if st, err := os.Stat(path); err == nil {
				size = st.Size()
			}
			detail := tt.detail
			if strings.Contains(detail, "%[") {
				detail = fmt.Sprintf(detail, ps, size)
			}
			// An old modification time shows a rewrite even within the
			// file system's time resolution.
			old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			before := stateOf(t, path)
			for _, opts := range []store.Options{{}, {Create: true}, {Create: true, NoSync: true}} {
				db, err := store.Open(dir, opts)
				if err == nil {
					db.Close()
					t.Fatalf("Open(%+v) of a damaged store succeeded", opts)
				}
				if !errors.Is(err, store.ErrDamaged) {
					t.Errorf("Open(%+v): got %v, want ErrDamaged", opts, err)
				}
				want := "open store " + path + ": the store file is empty or damaged: " + detail
				if !strings.HasPrefix(err.Error(), want) {
					t.Errorf("Open(%+v): error %q, want it to begin %q", opts, err, want)
				}
				if got := store.Damage(err); !strings.HasPrefix(got, detail) {
					t.Errorf("Open(%+v): Damage %q, want it to begin %q", opts, got, detail)
				}
				if diff := cmp.Diff(before, stateOf(t, path)); diff != "" {
					t.Errorf("Open(%+v) changed the file (-before +after):\n%s", opts, diff)
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("the data dir holds %d entries, want only the store file", len(ents))
			}
		})
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xFF
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// A new store carries the schema record from its first moment: the
// version, the creation time and the authorities Setup wrote.
func TestCreateWritesSchemaRecord(t *testing.T) {
	dir := t.TempDir()
	created := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	db, err := store.Open(dir, store.Options{Create: true, Now: created, Setup: func(tx *store.Tx) error {
		for _, la := range []string{"841", "202", "841"} {
			if err := tx.PutAuthority(store.Authority{Code: la}); err != nil {
				return err
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *store.Tx) error { return tx.PutAuthority(store.Authority{Code: "100"}) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	got := map[string]string{}
	b, err := bolt.Open(filepath.Join(dir, store.FileName), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	b.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).ForEach(func(k, v []byte) error { got[string(k)] = string(v); return nil })
	})
	b.Close()
	want := map[string]string{"schema": "2", "created": "2026-11-22T02:30:00Z", "authorities": `["100","202","841"]`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("meta bucket (-want +got):\n%s", diff)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the data dir holds %d entries, want only the store file", len(ents))
	}
}

// A Setup that fails leaves no store (and no temporary file) behind.
func TestCreateSetupFails(t *testing.T) {
	dir := t.TempDir()
	failed := errors.New("bad authorities")
	_, err := store.Open(dir, store.Options{Create: true, Setup: func(*store.Tx) error { return failed }})
	if !errors.Is(err, failed) {
		t.Fatalf("got %v, want the Setup error", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the data dir holds %v, want nothing", ents)
	}
}

// A store made before the schema record named the authorities is
// accepted, and the list is added from the authorities held.
func TestOpenAddsAuthoritiesToOldSchemaRecord(t *testing.T) {
	dir := t.TempDir()
	path := goodStore(t, dir)
	boltUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("authorities")) })
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := db.Check()
	if err != nil || !rep.OK() {
		t.Errorf("check after open: %v %+v", err, rep)
	}
	db.Close()
}

// Opening a whole store writes nothing: a backup can be checked in place.
func TestOpenWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := goodStore(t, dir)
	before := stateOf(t, path)
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *store.Tx) error { return nil })
	db.Close()
	if diff := cmp.Diff(before, stateOf(t, path)); diff != "" {
		t.Errorf("opening and closing the store changed the file (-before +after):\n%s", diff)
	}
}
