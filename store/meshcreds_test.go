package store_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
)

func TestMeshCredentials(t *testing.T) {
	db := open(t, t.TempDir())
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

	var key string
	if err := db.Update(func(tx *store.Tx) error {
		if _, ok := tx.MeshKey(); ok {
			t.Error("a new store has a MESH key before EnsureMeshKey")
		}
		var made bool
		var err error
		if key, made, err = tx.EnsureMeshKey(at); err != nil || !made || len(key) != 64 {
			t.Errorf("EnsureMeshKey: %q %v %v", key, made, err)
		}
		if again, made, err := tx.EnsureMeshKey(at); err != nil || made || again != key {
			t.Errorf("EnsureMeshKey again: %q %v %v, want %q unchanged", again, made, err, key)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	gen := store.MeshCredentialsGeneration()
	if err := db.Update(func(tx *store.Tx) error {
		return tx.SetMeshPassword("841", "la841hc001", []byte("secret-841"), at)
	}); err != nil {
		t.Fatal(err)
	}
	if store.MeshCredentialsGeneration() == gen {
		t.Error("setting a password did not move the credentials generation")
	}
	if err := db.Update(func(tx *store.Tx) error {
		return tx.SetMeshPassword("841", "LA841HC001", []byte("  "), at)
	}); err == nil {
		t.Error("an empty password was accepted")
	}
	if err := db.Update(func(tx *store.Tx) error {
		if err := tx.RecordMeshHandshake("LA841HC001", "mesh-client 3.2", "Linux", "6.1", at.Add(time.Hour)); err != nil {
			return err
		}
		return tx.RecordMeshHandshake("LA202HC001", "x", "y", "z", at) // no password: ignored
	}); err != nil {
		t.Fatal(err)
	}
	var rotated string
	if err := db.Update(func(tx *store.Tx) (err error) { rotated, err = tx.RotateMeshKey(at); return err }); err != nil {
		t.Fatal(err)
	}
	if rotated == key {
		t.Error("RotateMeshKey kept the old key")
	}
	if err := db.View(func(tx *store.Tx) error {
		k, pw, err := tx.MeshCredentials()
		if err != nil {
			return err
		}
		if string(k) != rotated {
			t.Errorf("credentials key %q, want %q", k, rotated)
		}
		if diff := cmp.Diff(map[string][]byte{"LA841HC001": []byte("secret-841")}, pw); diff != "" {
			t.Errorf("passwords (-want +got):\n%s", diff)
		}
		mbs, err := tx.MeshMailboxes()
		if err != nil {
			return err
		}
		want := []store.MeshMailbox{{MailboxID: "LA841HC001", LA: "841", PasswordSet: at, LastHandshake: at.Add(time.Hour),
			ClientVersion: "mesh-client 3.2", OSName: "Linux", OSVersion: "6.1"}}
		if diff := cmp.Diff(want, mbs); diff != "" {
			t.Errorf("mailboxes (-want +got):\n%s", diff)
		}
		// The audit names what changed, never a secret.
		return tx.AuditEvents(func(e store.AuditEvent) error {
			for _, s := range []string{key, rotated, "secret-841"} {
				if bytes.Contains([]byte(e.Note+e.Action), []byte(s)) {
					t.Errorf("audit event %+v holds a secret", e)
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
}

func TestMeshAckAndAudit(t *testing.T) {
	db := open(t, t.TempDir())
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	const id = "20261121090000000000_ABCDEF"
	if err := db.Update(func(tx *store.Tx) error {
		if _, ok, err := tx.MeshAck("LA841HC001", id); err != nil || ok {
			t.Errorf("MeshAck before: %v %v", ok, err)
		}
		return tx.RecordMeshAck("la841hc001", id, at)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *store.Tx) error {
		got, ok, err := tx.MeshAck("LA841HC001", id)
		if err != nil || !ok || !got.Equal(at) {
			t.Errorf("MeshAck: %v %v %v", got, ok, err)
		}
		if _, ok, _ := tx.MeshAck("LA202HC001", id); ok {
			t.Error("another mailbox's acknowledgement counted")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	events := []store.MeshEvent{
		{At: at.Add(-100 * 24 * time.Hour), Mailbox: "LA841HC001", Action: "send", Outcome: "ok"},
		{At: at.Add(-2 * time.Hour), Mailbox: "LA841HC001", Action: "refusal", Status: 403, Outcome: "refused", Reason: "bad hash"},
		{At: at, Mailbox: "LA202HC001", Action: "download", MessageID: id, Chunk: 1, Bytes: 42, Status: 200, Outcome: "ok"},
	}
	for _, e := range events {
		if err := db.AuditMESH(e); err != nil {
			t.Fatal(err)
		}
	}
	read := func(since time.Time) []store.MeshEvent {
		var out []store.MeshEvent
		if err := db.View(func(tx *store.Tx) error {
			return tx.MeshAuditEvents(since, func(e store.MeshEvent) error { out = append(out, e); return nil })
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if diff := cmp.Diff(events[1:], read(at.Add(-3*time.Hour))); diff != "" {
		t.Errorf("events since (-want +got):\n%s", diff)
	}
	var n int
	if err := db.Update(func(tx *store.Tx) (err error) {
		n, err = tx.PurgeMeshAudits(at.Add(-store.MeshAuditRetention))
		return err
	}); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if diff := cmp.Diff(events[1:], read(time.Time{})); diff != "" {
		t.Errorf("events after purge (-want +got):\n%s", diff)
	}
}
