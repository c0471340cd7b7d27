package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
)

func TestMeshConn(t *testing.T) {
	db := open(t, t.TempDir())
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("BST", 3600))
	good := store.MeshConn{URL: "https://mesh.example.org", Mailbox: "X26OT001", PasswordFile: "/srv/mesh/password",
		SharedKeyFile: "/srv/mesh/key", CertFile: "/srv/mesh/cert.pem", KeyFile: "/srv/mesh/key.pem", ChunkSize: 1 << 20, Added: at}
	err := db.Update(func(tx *store.Tx) error {
		if _, ok, err := tx.MeshConn(); ok || err != nil {
			t.Errorf("MeshConn before connect: %v %v", ok, err)
		}
		for _, tc := range []struct {
			name string
			edit func(*store.MeshConn)
			want string
		}{
			{"no URL", func(c *store.MeshConn) { c.URL = "mesh.example.org" }, "URL"},
			{"no mailbox", func(c *store.MeshConn) { c.Mailbox = "" }, "mailbox"},
			{"relative password", func(c *store.MeshConn) { c.PasswordFile = "password" }, "absolute"},
			{"no key file", func(c *store.MeshConn) { c.SharedKeyFile = "" }, "absolute"},
			{"cert without key", func(c *store.MeshConn) { c.KeyFile = "" }, "both"},
			{"relative CA", func(c *store.MeshConn) { c.CAFile = "ca.pem" }, "absolute"},
		} {
			bad := good
			tc.edit(&bad)
			if err := tx.PutMeshConn(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		return tx.PutMeshConn(good)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := good
	want.Added, want.Push = at.UTC(), store.MeshPushAll
	hs := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *store.Tx) error {
		got, ok, err := tx.MeshConn()
		if err != nil || !ok {
			t.Fatalf("MeshConn: %v %v", ok, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MeshConn (-want +got):\n%s", diff)
		}
		if at, err := tx.MeshHandshake(); !at.IsZero() || err != nil {
			t.Errorf("handshake before any: %v %v", at, err)
		}
		return tx.RecordMeshConnHandshake(hs)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *store.Tx) error {
		if got, err := tx.MeshHandshake(); !got.Equal(hs) || err != nil {
			t.Errorf("handshake %v %v", got, err)
		}
		if ok, err := tx.RemoveMeshConn(); !ok || err != nil {
			t.Errorf("RemoveMeshConn: %v %v", ok, err)
		}
		if _, ok, _ := tx.MeshConn(); ok {
			t.Error("connection still there")
		}
		if ok, err := tx.RemoveMeshConn(); ok || err != nil {
			t.Errorf("RemoveMeshConn again: %v %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMeshConnPushLAs(t *testing.T) {
	for _, tc := range []struct {
		push  string
		codes []string
		all   bool
	}{
		{"", nil, true},
		{"all", nil, true},
		{"none", nil, false},
		{"841, 202,", []string{"841", "202"}, false},
	} {
		codes, all := store.MeshConn{Push: tc.push}.PushLAs()
		if !cmp.Equal(codes, tc.codes) || all != tc.all {
			t.Errorf("%q: %v %v", tc.push, codes, all)
		}
	}
}

func TestMeshLedgers(t *testing.T) {
	db := open(t, t.TempDir())
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("BST", 3600))
	pulled := store.MeshPulled{MessageID: "20261121013000123456_3F9A0C", From: "LA841HC001", Workflow: "CPIS_LA_UPLOAD",
		FileName: "a.csv", LA: "841", Name: "a.csv", Size: 3, SHA256: "ab", State: store.MeshPulledPutting, At: at}
	pushed := store.MeshPushed{LA: "841", MessageID: "20261121013000123456_000001", Name: "r.csv", Size: 5, SHA256: "cd",
		MeshID: "20261121013001000000_ABCDEF", To: "LA841HC001", State: store.MeshPushStarted, At: at}
	err := db.Update(func(tx *store.Tx) error {
		if err := tx.RecordMeshPulled(store.MeshPulled{MessageID: "x"}); err == nil {
			t.Error("pulled without state: no error")
		}
		if err := tx.RecordMeshPushed(store.MeshPushed{LA: "841", MessageID: "x", State: store.MeshPushStarted}); err == nil {
			t.Error("pushed without MESH ID: no error")
		}
		if err := tx.RecordMeshPulled(pulled); err != nil {
			return err
		}
		return tx.RecordMeshPushed(pushed)
	})
	if err != nil {
		t.Fatal(err)
	}
	pulled.At, pushed.At = at.UTC(), at.UTC()
	err = db.View(func(tx *store.Tx) error {
		if got, ok, err := tx.MeshPulled(pulled.MessageID); !ok || err != nil || got != pulled {
			t.Errorf("MeshPulled %+v %v %v", got, ok, err)
		}
		if _, ok, err := tx.MeshPulled("20261121013000123456_000000"); ok || err != nil {
			t.Errorf("unknown pulled: %v %v", ok, err)
		}
		if got, ok, err := tx.MeshPushed("841", pushed.MessageID); !ok || err != nil || got != pushed {
			t.Errorf("MeshPushed %+v %v %v", got, ok, err)
		}
		if _, ok, err := tx.MeshPushed("202", pushed.MessageID); ok || err != nil {
			t.Errorf("pushed of another LA: %v %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
