package meshstore_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/meshjobs"
	"cpis/batch/meshstore"
	"cpis/store"
)

func TestMeshClientStore(t *testing.T) {
	db := newDB(t)
	s := meshstore.MeshClientStore{DB: db}
	if _, _, ok, err := s.Conn(); ok || err != nil {
		t.Fatalf("Conn before connect: %v %v", ok, err)
	}
	if err := db.Update(func(tx *store.Tx) error {
		return tx.PutMeshConn(store.MeshConn{URL: "https://mesh.example", Mailbox: "X26OT001", PasswordFile: "/p", SharedKeyFile: "/k", Added: at})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordHandshake(at); err != nil {
		t.Fatal(err)
	}
	c, last, ok, err := s.Conn()
	if !ok || err != nil || c.Mailbox != "X26OT001" || !last.Equal(at) {
		t.Errorf("Conn: %+v %v %v %v", c, last, ok, err)
	}
	mbs, err := s.Mailboxes()
	if err != nil {
		t.Fatal(err)
	}
	// newDB gives both LAs a remote; 999's is no authority.
	if diff := cmp.Diff([]meshjobs.Mailbox{{LA: "202", MailboxID: "LA202HC001", Remote: true}, {LA: "841", MailboxID: "LA841HC001", Remote: true}}, mbs); diff != "" {
		t.Errorf("Mailboxes (-want +got):\n%s", diff)
	}
	if taken, err := s.Taken("841", "20261122020000000001_000001"); taken || err != nil {
		t.Errorf("Taken: %v %v", taken, err)
	}

	// A pulled message: audited once when put, not when acknowledged.
	p := store.MeshPulled{MessageID: "20261122020000000001_000001", From: "LA841HC001", Workflow: "CPIS_LA_UPLOAD", LA: "841",
		Name: "a.csv", Size: 3, State: store.MeshPulledPutting, At: at}
	for _, st := range []string{store.MeshPulledPutting, store.MeshPulledPut, store.MeshPulledPut} {
		p.State = st
		if err := s.RecordPulled(p); err != nil {
			t.Fatal(err)
		}
	}
	p.Acknowledged = true
	if err := s.RecordPulled(p); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Pulled(p.MessageID); !ok || err != nil || got != p {
		t.Errorf("Pulled %+v %v %v", got, ok, err)
	}
	u := store.MeshPulled{MessageID: "20261122020000000002_000002", From: "X26OTHER1", Workflow: "W", Reason: "not an LA", State: store.MeshPulledUnrouted, At: at}
	if err := s.RecordPulled(u); err != nil {
		t.Fatal(err)
	}

	// A pushed message: collected and audited once, when sent.
	q := store.MeshPushed{LA: "841", MessageID: "20261122023000000001_0000A1", Name: "r.csv", Size: 5, MeshID: "20261122023001000000_ABCDEF",
		To: "LA841HC001", State: store.MeshPushStarted, At: at}
	for _, st := range []string{store.MeshPushStarted, store.MeshPushSent, store.MeshPushSent} {
		q.State = st
		if err := s.RecordPushed(q); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok, err := s.Pushed("841", q.MessageID); !ok || err != nil || got != q {
		t.Errorf("Pushed %+v %v %v", got, ok, err)
	}
	if diff := cmp.Diff([]store.Collection{{LA: "841", MailboxID: "LA841HC001", Name: "r.csv", At: at, By: store.CollectedByMESH}}, collections(t, db)); diff != "" {
		t.Errorf("collections (-want +got):\n%s", diff)
	}
	var got []string
	for _, e := range audit(t, db) {
		got = append(got, e.Action+" "+e.MessageID+" "+e.Note)
	}
	want := []string{
		"mesh_handshake  X26OT001",
		"mesh_pulled 20261122020000000001_000001 a.csv",
		"mesh_unrouted 20261122020000000002_000002 X26OTHER1 W: not an LA",
		"mesh_pushed 20261122023000000001_0000A1 r.csv as 20261122023001000000_ABCDEF",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}
