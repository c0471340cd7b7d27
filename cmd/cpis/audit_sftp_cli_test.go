package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
)

// cpis audit --sftp reads the SFTP session audit, control characters in
// what a client sent shown escaped.
func TestCLIAuditSFTP(t *testing.T) {
	h := initCLIHub(t)
	db, err := store.Open(h.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	for _, e := range []store.SFTPEvent{
		{At: at, Session: 1, Kind: "login", MailboxID: "LA841HC001", Remote: "127.0.0.1:5000", Outcome: "ok"},
		{At: at.Add(time.Second), Session: 1, Kind: "refusal", Op: "put", MailboxID: "LA841HC001", Remote: "127.0.0.1:5000", Path: "/../../x\x1b.csv", Outcome: "refused", Reason: "outside the mailbox"},
		{At: at.Add(-48 * time.Hour), Session: 9, Kind: "login", User: "LA202HC001", Outcome: "refused", Reason: "key not registered"},
	} {
		if err := db.Update(func(tx *store.Tx) error { return tx.AuditSFTP(e) }); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	got := h.ok("audit", "--sftp", "--since", "2026-11-21")
	want := "AT (UTC)              SESSION  MAILBOX     REMOTE          EVENT        PATH              BYTES  OUTCOME\n" +
		"2026-11-22T01:00:00Z  1        LA841HC001  127.0.0.1:5000  login                          0      ok\n" +
		"2026-11-22T01:00:01Z  1        LA841HC001  127.0.0.1:5000  refusal put  /../../x\\x1b.csv  0      refused: outside the mailbox\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit --sftp (-want +got):\n%s", diff)
	}
}
