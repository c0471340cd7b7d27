package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cpis/store/demographics"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

func open(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(dir, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func date(s string) caldate.Date {
	d, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := store.Open(dir, store.Options{}); !errors.Is(err, store.ErrNotInitialised) {
		t.Fatalf("open of an empty dir: got %v, want ErrNotInitialised", err)
	}
	db := open(t, dir)
	_ = db
	// bbolt's flock is per open file: a second Open waits for the first and
	// must give up quickly with a clear error, never hang.
	start := time.Now()
	_, err := store.Open(dir, store.Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open: got %v, want ErrLocked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("second open took %s", time.Since(start))
	}
}

func TestSchemaVersionRefused(t *testing.T) {
	dir := t.TempDir()
	b, err := bolt.Open(filepath.Join(dir, store.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return m.Put([]byte("schema"), []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := store.Open(dir, store.Options{}); !errors.Is(err, store.ErrSchema) {
		t.Fatalf("got %v, want ErrSchema", err)
	}
}

func TestPlansAndIndex(t *testing.T) {
	db := open(t, t.TempDir())
	ps := []plans.Plan{
		{Key: plans.Key{NHS: "9990276579", LA: "841", Type: plans.CPP}, Start: date("2026-03-02"), LocalID: "C-1"},
		{Key: plans.Key{NHS: "9990276579", LA: "202", Type: plans.LAC}, Start: date("2025-01-01"), End: date("2026-01-01"), LocalID: "L-1"},
		{Key: plans.Key{NHS: "9990275831", LA: "841", Type: plans.UCPP}, Start: date("2026-05-01"), Due: date("2026-12-01"), LocalID: "U-1"},
	}
	if err := db.Update(func(tx *store.Tx) error {
		for _, p := range ps {
			if err := tx.PutPlan(p); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var of841, all []plans.Plan
	if err := db.View(func(tx *store.Tx) error {
		if err := tx.PlansOfLA("841", func(p plans.Plan) error { of841 = append(of841, p); return nil }); err != nil {
			return err
		}
		return tx.AllPlans(func(p plans.Plan) error { all = append(all, p); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]plans.Plan{ps[2], ps[0]}, of841, cmp.AllowUnexported(caldate.Date{})); diff != "" {
		t.Errorf("plans of 841 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]plans.Plan{ps[2], ps[1], ps[0]}, all, cmp.AllowUnexported(caldate.Date{})); diff != "" {
		t.Errorf("all plans in (NHS, LA, type) order (-want +got):\n%s", diff)
	}
	if err := db.Update(func(tx *store.Tx) error {
		ok, err := tx.DeletePlan(ps[0].Key)
		if !ok || err != nil {
			t.Errorf("delete held plan: %v %v", ok, err)
		}
		ok, err = tx.DeletePlan(ps[0].Key)
		if ok || err != nil {
			t.Errorf("second delete: %v %v", ok, err)
		}
		n := 0
		err = tx.PlansOfLA("841", func(plans.Plan) error { n++; return nil })
		if n != 1 {
			t.Errorf("index after delete has %d plans of 841, want 1", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// A failed demographics import leaves the previous reference whole.
func TestReplaceDemographicsRollsBack(t *testing.T) {
	db := open(t, t.TempDir())
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	if err := db.Update(func(tx *store.Tx) error {
		return tx.ReplaceDemographics(now, func(put func(demographics.Record) error) error {
			return put(demographics.Record{NHS: "9990276579", FamilyName: "Example", DOB: date("2015-03-01")})
		})
	}); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("bad line")
	err := db.Update(func(tx *store.Tx) error {
		return tx.ReplaceDemographics(now, func(put func(demographics.Record) error) error {
			if err := put(demographics.Record{NHS: "9990275831"}); err != nil {
				return err
			}
			return failed
		})
	})
	if !errors.Is(err, failed) {
		t.Fatalf("got %v", err)
	}
	if err := db.View(func(tx *store.Tx) error {
		r, ok, err := tx.Demographic("9990276579")
		if err != nil || !ok || r.FamilyName != "Example" || r.DOB != date("2015-03-01") {
			t.Errorf("old reference lost: %+v %v", r, ok)
		}
		if _, ok, err := tx.Demographic("9990275831"); err != nil || ok {
			t.Error("half an import is visible")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestMessagesOpenIndexAndOutcomes(t *testing.T) {
	db := open(t, t.TempDir())
	m := &store.Message{LA: "841", MessageID: "20261121013000123456_3F9A0C", File: "CPIS_841_FULL_20261121.csv", SHA256: "ab", State: store.Taken}
	rows := []store.RowOutcome{{Line: 2, Code: "CPR04", Detail: "R003"}, {Line: 5, Code: "CPR06", Detail: "W002"}}
	if err := db.Update(func(tx *store.Tx) error {
		if err := tx.NewMessage(m); err != nil {
			return err
		}
		return tx.PutOutcomes(m, rows)
	}); err != nil {
		t.Fatal(err)
	}
	check := func(wantOpen int) {
		t.Helper()
		if err := db.View(func(tx *store.Tx) error {
			open, err := tx.OpenMessages("841")
			if len(open) != wantOpen {
				t.Errorf("open messages = %d, want %d", len(open), wantOpen)
			}
			byID, ok, _ := tx.MessageByID("841", m.MessageID)
			if !ok || byID.File != m.File {
				t.Errorf("MessageByID = %+v %v", byID, ok)
			}
			if _, ok, _ := tx.MessageByContent("841", m.File, "ab"); !ok {
				t.Error("MessageByContent found nothing")
			}
			if _, ok, _ := tx.MessageByID("202", m.MessageID); ok {
				t.Error("a message ID of 841 must not be found for 202")
			}
			var got []store.RowOutcome
			_ = tx.Outcomes(m.Key, func(r store.RowOutcome) error { got = append(got, r); return nil })
			if diff := cmp.Diff(rows, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	check(1)
	m.State = store.Responded
	if err := db.Update(func(tx *store.Tx) error { return tx.PutMessage(m) }); err != nil {
		t.Fatal(err)
	}
	check(0)
}

func TestFileIsRealBolt(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	db.Close()
	st, err := os.Stat(filepath.Join(dir, store.FileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("store file: %v %v (want mode 0600)", st, err)
	}
}
