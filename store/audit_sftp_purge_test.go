package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
)

// The SFTP audit keeps 90 days, like row outcomes; purging twice changes
// nothing the second time.
func TestPurgeSFTPAudit(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	cutoff := now.Add(-store.SFTPAuditRetention)
	var want []store.SFTPEvent
	for i, at := range []time.Time{
		cutoff.Add(-100 * 24 * time.Hour),
		cutoff.Add(-time.Second),
		cutoff, // exactly 90 days: kept
		cutoff.Add(time.Hour),
		now,
	} {
		e := store.SFTPEvent{At: at, Session: uint64(i), Kind: "login", MailboxID: "LA841HC001", Outcome: "ok"}
		if err := db.AuditSFTP(e); err != nil {
			t.Fatal(err)
		}
		if !at.Before(cutoff) {
			want = append(want, e)
		}
	}
	for _, wantN := range []int{2, 0} {
		var n int
		if err := db.Update(func(tx *store.Tx) error { n, err = tx.PurgeSFTPAudit(cutoff); return err }); err != nil {
			t.Fatal(err)
		}
		if n != wantN {
			t.Errorf("purged %d, want %d", n, wantN)
		}
	}
	var got []store.SFTPEvent
	if err := db.View(func(tx *store.Tx) error {
		return tx.SFTPAuditEvents(func(e store.SFTPEvent) error { got = append(got, e); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
}
