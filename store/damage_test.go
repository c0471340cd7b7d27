package store_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"cpis/store"
	"cpis/store/plans"
)

// A store without one of the buckets every store has (its plans above
// all) is refused as damaged and left as it is: made again empty, it
// would answer "no alert". A bucket added to the layout later is made in
// an older store that lacks it.
func TestOpenMissingBuckets(t *testing.T) {
	for _, name := range []string{"plans", "plans_by_la", "demographics", "authorities", "messages", "outcomes", "history", "owed_notifications", "orgs"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := goodStore(t, dir)
			boltUpdate(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(name)) })
			before := stateOf(t, path)
			_, err := store.Open(dir, store.Options{})
			if !errors.Is(err, store.ErrDamaged) || store.Damage(err) != "bucket "+name+" is missing" {
				t.Errorf("Open: %v, want ErrDamaged: bucket %s is missing", err, name)
			}
			if after := stateOf(t, path); after != before {
				t.Errorf("the refused store changed")
			}
		})
	}
	t.Run("mesh_audit, added later", func(t *testing.T) {
		dir := t.TempDir()
		path := goodStore(t, dir)
		boltUpdate(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("mesh_audit")) })
		db, err := store.Open(dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.AuditMESH(store.MeshEvent{At: time.Now(), Mailbox: "LA841HC001"}); err != nil {
			t.Errorf("the bucket added later was not made: %v", err)
		}
	})
	t.Run("the web buckets, added later", func(t *testing.T) {
		dir := t.TempDir()
		path := goodStore(t, dir)
		boltUpdate(t, path, func(tx *bolt.Tx) error {
			for _, b := range []string{"web_users", "web_sessions", "web_throttle", "web_audit"} {
				if err := tx.DeleteBucket([]byte(b)); err != nil {
					return err
				}
			}
			return nil
		})
		db, err := store.Open(dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *store.Tx) error {
			if err := tx.PutWebUser(store.WebUser{Email: "ops@nhs.example", Role: "ops"}); err != nil {
				return err
			}
			if err := tx.PutWebSession("h", store.WebSession{Email: "ops@nhs.example", Expires: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.PutWebThrottle("addr:192.0.2.1", store.WebThrottle{Failures: []time.Time{time.Now()}}); err != nil {
				return err
			}
			return tx.AuditWeb(store.WebEvent{At: time.Now(), Action: "login"})
		})
		if err != nil {
			t.Errorf("the buckets added later were not made: %v", err)
		}
		if rep, err := db.Check(); err != nil || !rep.OK() {
			t.Errorf("check: %+v, %v", rep, err)
		}
	})
}

// A tree page overwritten with zeros or with bytes of another page is
// refused as damaged: never a crash (bbolt walks the pages at open in a
// goroutine of its own, where a damaged page is a panic no one can
// recover), never a store that answers.
func TestOpenDamagedPages(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Create: true, NoSync: true, Setup: func(tx *store.Tx) error {
		return tx.PutAuthority(store.Authority{Code: "841", Name: "LA 841", EmergencyPhone: "0300 000 0000"})
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Enough plans for a tree of several levels.
	if err := db.Update(func(tx *store.Tx) error {
		for i := range 3000 {
			nhs := fmt.Sprintf("999%07d", i)
			if err := tx.PutPlan(plans.Plan{Key: plans.Key{NHS: nhs, LA: "841", Type: plans.CPP}, Start: date("2026-03-02"), LocalID: fmt.Sprintf("C-%d", i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	path := filepath.Join(dir, store.FileName)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := pageSize(t, path)
	// The pages in use: below the high-water mark of the meta pages (the
	// file is longer, preallocated).
	hwm := int64(binary.NativeEndian.Uint64(good[16+40:]))
	if m1 := int64(binary.NativeEndian.Uint64(good[ps+16+40:])); m1 > hwm {
		hwm = m1
	}
	d := t.TempDir()
	bad := make([]byte, len(good))
	refused := 0
	for id := int64(2); id < hwm; id++ {
		for _, fill := range []string{"zeros", "page 2"} {
			copy(bad, good)
			page := bad[id*ps : (id+1)*ps]
			switch fill {
			case "zeros":
				clear(page)
			default:
				if id == 2 {
					continue
				}
				copy(page, good[2*ps:3*ps])
			}
			if err := os.WriteFile(filepath.Join(d, store.FileName), bad, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(d, store.Options{NoSync: true})
			switch {
			case err == nil:
				// A free page: nothing reaches it.
				db.Close()
			case errors.Is(err, store.ErrDamaged):
				refused++
			default:
				t.Errorf("page %d (%s): %v, want ErrDamaged or a good open", id, fill, err)
			}
		}
	}
	if refused == 0 {
		t.Errorf("no damaged page of %d was refused", hwm)
	}
}
