package store_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"cpis/store"
)

func newKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeys(t *testing.T) {
	db := open(t, t.TempDir())
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	k841, k841b, k202 := newKey(t), newKey(t), newKey(t)
	var fp841 string
	if err := db.Update(func(tx *store.Tx) error {
		var err error
		if fp841, err = tx.AddKey("841", "la841hc001", k841, "alice@841", at); err != nil {
			return err
		}
		if fp, err := tx.AddKey("841", "LA841HC001", k841, "again", at.Add(time.Hour)); err != nil || fp != fp841 {
			t.Errorf("adding the same key again: %q %v", fp, err)
		}
		if _, err := tx.AddKey("841", "LA841HC001", k841b, "", at.Add(time.Minute)); err != nil {
			return err
		}
		if _, err := tx.AddKey("202", "LA202HC001", k202, "bob", at); err != nil {
			return err
		}
		if _, err := tx.AddKey("202", "LA202HC001", k841, "", at); !errors.Is(err, store.ErrKeyInUse) {
			t.Errorf("a key of 841 added for 202: got %v, want ErrKeyInUse", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fp841 != ssh.FingerprintSHA256(k841) {
		t.Errorf("fingerprint %q", fp841)
	}
	for _, c := range []struct {
		key  ssh.PublicKey
		want string
		ok   bool
	}{{k841, "LA841HC001", true}, {k841b, "LA841HC001", true}, {k202, "LA202HC001", true}, {newKey(t), "", false}} {
		got, ok, err := db.MailboxForKey(c.key)
		if got != c.want || ok != c.ok || err != nil {
			t.Errorf("MailboxForKey = %q %v %v, want %q %v", got, ok, err, c.want, c.ok)
		}
	}
	var all, of841 []store.Key
	if err := db.View(func(tx *store.Tx) error {
		var err error
		if all, err = tx.Keys(""); err != nil {
			return err
		}
		of841, err = tx.Keys("841")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []store.Key{{
		Fingerprint: ssh.FingerprintSHA256(k202), LA: "202", MailboxID: "LA202HC001", Type: "ssh-ed25519",
		AuthorizedKey: authorized(k202), Comment: "bob", Added: at,
	}, {
		Fingerprint: fp841, LA: "841", MailboxID: "LA841HC001", Type: "ssh-ed25519",
		AuthorizedKey: authorized(k841), Comment: "alice@841", Added: at,
	}, {
		Fingerprint: ssh.FingerprintSHA256(k841b), LA: "841", MailboxID: "LA841HC001", Type: "ssh-ed25519",
		AuthorizedKey: authorized(k841b), Added: at.Add(time.Minute),
	}}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("Keys(\"\") (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[1:], of841); diff != "" {
		t.Errorf("Keys(841) (-want +got):\n%s", diff)
	}
	if err := db.Update(func(tx *store.Tx) error {
		if ok, err := tx.RemoveKey("202", fp841); ok || err != nil {
			t.Errorf("202 removed a key of 841: %v %v", ok, err)
		}
		if ok, err := tx.RemoveKey("841", fp841); !ok || err != nil {
			t.Errorf("remove: %v %v", ok, err)
		}
		if ok, err := tx.RemoveKey("841", fp841); ok || err != nil {
			t.Errorf("second remove: %v %v", ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.MailboxForKey(k841); ok {
		t.Error("a removed key still opens the mailbox")
	}
}

func authorized(k ssh.PublicKey) string {
	b := ssh.MarshalAuthorizedKey(k)
	return string(b[:len(b)-1])
}

func TestSFTPAudit(t *testing.T) {
	db := open(t, t.TempDir())
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("BST", 3600))
	events := []store.SFTPEvent{
		{At: at, Session: 1, Kind: "login", MailboxID: "LA841HC001", User: "la841hc001", Remote: "127.0.0.1:5000", Outcome: "ok"},
		{At: at, Session: 1, Kind: "upload", MailboxID: "LA841HC001", Path: "/inbox/x.csv", Bytes: 10, Outcome: "ok"},
		{At: at, Session: 1, Kind: "refusal", Op: "mkdir", MailboxID: "LA841HC001", Path: "/inbox/d", Outcome: "refused", Reason: "permission denied"},
	}
	for _, e := range events {
		if err := db.AuditSFTP(e); err != nil {
			t.Fatal(err)
		}
	}
	var got []store.SFTPEvent
	if err := db.View(func(tx *store.Tx) error {
		return tx.SFTPAuditEvents(func(e store.SFTPEvent) error { got = append(got, e); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	for i := range events {
		events[i].At = at.UTC()
	}
	if diff := cmp.Diff(events, got); diff != "" {
		t.Errorf("SFTP audit (-want +got):\n%s", diff)
	}
}
