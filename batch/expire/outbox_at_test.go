package expire_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/expire"
	"cpis/batch/hubtest"
	"cpis/mesh"
	"cpis/store"
)

// TestOutboxAt: every data file in an outbox is uncollected; one older
// than UndeliveredAfter is undelivered, with its control file's message ID
// when it has one; a control file alone, a temporary file and a mailbox
// never made count for nothing.
func TestOutboxAt(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{LAs: []string{"841", "202"}, Mailboxes: []string{"841"}})
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	mb := h.Mailbox("841")
	put := func(name string, data []byte, age time.Duration) {
		t.Helper()
		p := filepath.Join(mb.OutboxDir(), name)
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	const id = "20261116090000000000_0000AA"
	ctl := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: mesh.HubMailbox, To: "LA841HC001",
		LocalID: "old.csv", DTSID: id, WorkflowID: "CPIS_HUB_RESPONSE"}
	put("old.csv", []byte("a,b\r\n"), 6*24*time.Hour)
	put(mesh.ControlName("old.csv"), ctl.Marshal(), 6*24*time.Hour)
	put("old-no-control.csv", []byte("abc"), 5*24*time.Hour+time.Second)
	put("five-days.csv", []byte("x"), 5*24*time.Hour)
	put("new.csv", []byte("x"), time.Hour)
	put(mesh.ControlName("alone.csv"), ctl.Marshal(), 40*24*time.Hour)

	var a841, a202 store.Authority
	if err := h.DB.View(func(tx *store.Tx) error {
		a841, _, _ = tx.Authority("841")
		var err error
		a202, _, err = tx.Authority("202")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	n, late, err := expire.OutboxAt(h.Dir, a841, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []expire.Undelivered{
		{LA: "841", MailboxID: "LA841HC001", File: "old-no-control.csv", Size: 3, Since: now.Add(-5*24*time.Hour - time.Second)},
		{LA: "841", MailboxID: "LA841HC001", File: "old.csv", MessageID: id, Size: 5, Since: now.Add(-6 * 24 * time.Hour)},
	}
	if n != 4 {
		t.Errorf("uncollected %d, want 4", n)
	}
	if diff := cmp.Diff(want, late); diff != "" {
		t.Errorf("undelivered (-want +got):\n%s", diff)
	}
	n, late, err = expire.OutboxAt(h.Dir, a202, now)
	if n != 0 || len(late) != 0 || err != nil {
		t.Errorf("a mailbox never made: %d, %v, %v", n, late, err)
	}
}
