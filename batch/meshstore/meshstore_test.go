package meshstore_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/meshstore"
	"cpis/mesh/remote"
	"cpis/mesh/sftpd"
	"cpis/store"
)

var at = time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)

const sum1 = "1111111111111111111111111111111111111111111111111111111111111111"
const sum2 = "2222222222222222222222222222222222222222222222222222222222222222"

// newDB returns a store holding LAs 841 and 202 and the remote mailboxes
// of 841, 202 and 999 (not one of the hub's authorities).
func newDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *store.Tx) error {
		for _, la := range []string{"841", "202"} {
			if err := tx.PutAuthority(store.Authority{Code: la, Name: "LA " + la, MailboxID: "LA" + la + "HC001"}); err != nil {
				return err
			}
		}
		for _, la := range []string{"841", "202", "999"} {
			r := store.Remote{LA: la, Addr: "sftp.example:22", User: "hub" + la, KeyFile: "/keys/id_" + la, Inbox: "in", Outbox: "/out", Added: at}
			if err := tx.PutRemote(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

func audit(t *testing.T, db *store.DB) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	if err := db.View(func(tx *store.Tx) error {
		return tx.AuditEvents(func(e store.AuditEvent) error { out = append(out, e); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func collections(t *testing.T, db *store.DB) []store.Collection {
	t.Helper()
	var out []store.Collection
	if err := db.View(func(tx *store.Tx) error {
		return tx.Collections("", func(c store.Collection) error { out = append(out, c); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRemotes(t *testing.T) {
	s := meshstore.RemoteStore{DB: newDB(t)}
	r := func(la, mb string) remote.Remote {
		return remote.Remote{LA: la, MailboxID: mb, Addr: "sftp.example:22", User: "hub" + la, KeyFile: "/keys/id_" + la, Inbox: "in", Outbox: "/out"}
	}
	cases := []struct {
		las  []string
		want []remote.Remote
	}{
		{nil, []remote.Remote{r("202", "LA202HC001"), r("841", "LA841HC001"), r("999", "")}},
		{[]string{"841"}, []remote.Remote{r("841", "LA841HC001")}},
		{[]string{"999", "123"}, []remote.Remote{r("999", "")}},
	}
	for _, c := range cases {
		got, err := s.Remotes(c.las)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("Remotes(%q) (-want +got):\n%s", c.las, diff)
		}
	}
}

func TestPulledLedger(t *testing.T) {
	db := newDB(t)
	s := meshstore.RemoteStore{DB: db}
	f := remote.PulledFile{LA: "841", Path: "in/a.csv", Size: 12, ModTime: at.Add(-time.Hour), SHA256: sum1, Name: "a.csv", At: at}
	if _, ok, err := s.Pulled(f); err != nil || ok {
		t.Fatalf("Pulled before any record: %v %v", ok, err)
	}
	if err := s.RecordPulled(f); err != nil {
		t.Fatal(err)
	}
	other := f
	other.SHA256 = sum2
	if _, ok, err := s.Pulled(other); err != nil || ok {
		t.Errorf("Pulled of another version: %v %v", ok, err)
	}
	got, ok, err := s.Pulled(f)
	if err != nil || !ok {
		t.Fatalf("Pulled after RecordPulled: %v %v", ok, err)
	}
	if diff := cmp.Diff(f, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	if n := len(audit(t, db)); n != 0 {
		t.Errorf("RecordPulled audited %d events", n)
	}

	f.Delivered = true
	if err := s.RecordDelivered(f, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Pulled(f); !got.Delivered {
		t.Error("not recorded as delivered")
	}
	want := []store.AuditEvent{{At: at.Add(time.Minute), Action: "remote_pulled", LA: "841", Note: "a.csv", Counts: map[string]int{"bytes": 12}}}
	if diff := cmp.Diff(want, audit(t, db)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestPushedLedger(t *testing.T) {
	db := newDB(t)
	s := meshstore.RemoteStore{DB: db}
	if _, ok, err := s.Pushed("841", "r.csv"); err != nil || ok {
		t.Fatalf("Pushed before any record: %v %v", ok, err)
	}
	m := remote.PushedMessage{LA: "841", MailboxID: "LA841HC001", At: at,
		Data:    remote.PushedFile{LA: "841", Name: "r.csv", Path: "/out/r.csv", Size: 10, SHA256: sum1, At: at},
		Control: remote.PushedFile{LA: "841", Name: "r.ctl", Path: "/out/r.ctl", Size: 300, SHA256: sum2, At: at}}
	if err := s.RecordPushed(m); err != nil {
		t.Fatal(err)
	}
	// The same message again (a run cut off before archiving): nothing new.
	again := m
	again.At = at.Add(time.Hour)
	if err := s.RecordPushed(again); err != nil {
		t.Fatal(err)
	}
	for _, f := range []remote.PushedFile{m.Data, m.Control} {
		got, ok, err := s.Pushed("841", f.Name)
		if err != nil || !ok {
			t.Fatalf("Pushed(%s): %v %v", f.Name, ok, err)
		}
		if diff := cmp.Diff(f, got); diff != "" {
			t.Errorf("record of %s (-want +got):\n%s", f.Name, diff)
		}
	}
	// Another content under that name is a new delivery.
	changed := again
	changed.Data.Size, changed.Data.At, changed.Control.At = 11, again.At, again.At
	if err := s.RecordPushed(changed); err != nil {
		t.Fatal(err)
	}
	wantCol := []store.Collection{
		{LA: "841", MailboxID: "LA841HC001", Name: "r.csv", At: at, By: store.CollectedByPush},
		{LA: "841", MailboxID: "LA841HC001", Name: "r.csv", At: at.Add(time.Hour), By: store.CollectedByPush},
	}
	if diff := cmp.Diff(wantCol, collections(t, db)); diff != "" {
		t.Errorf("collections (-want +got):\n%s", diff)
	}
	wantAudit := []store.AuditEvent{
		{At: at, Action: "remote_pushed", LA: "841", Note: "r.csv", Counts: map[string]int{"bytes": 10}},
		{At: at.Add(time.Hour), Action: "remote_pushed", LA: "841", Note: "r.csv", Counts: map[string]int{"bytes": 11}},
	}
	if diff := cmp.Diff(wantAudit, audit(t, db)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// SFTPAudit writes the events into the store's sftp_audit bucket.
func TestSFTPAudit(t *testing.T) {
	db := newDB(t)
	ev := sftpd.Event{At: at, Session: 3, Kind: sftpd.KindUpload, MailboxID: "LA841HC001", Remote: "127.0.0.1:4000",
		Path: "/inbox/CPIS_841_FULL_20261121.csv", Bytes: 9, Outcome: sftpd.OutcomeOK}
	meshstore.SFTPAudit(db, nil)(ev)
	var got []store.SFTPEvent
	if err := db.View(func(tx *store.Tx) error {
		return tx.SFTPAuditEvents(func(e store.SFTPEvent) error { got = append(got, e); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.SFTPEvent{store.SFTPEvent(ev)}, got); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

// Collected records a collection by SFTP for the LA of the mailbox (its ID
// in any case) and logs a mailbox no LA has.
func TestCollected(t *testing.T) {
	db := newDB(t)
	var logs bytes.Buffer
	collected := meshstore.Collected(db, func() time.Time { return at }, slog.New(slog.NewTextHandler(&logs, nil)))
	collected("la841hc001", "CPIS_841_RESPONSE.csv")
	collected("LA123HC001", "x.csv")
	want := []store.Collection{{LA: "841", MailboxID: "LA841HC001", Name: "CPIS_841_RESPONSE.csv", At: at, By: store.CollectedBySFTP}}
	if diff := cmp.Diff(want, collections(t, db)); diff != "" {
		t.Errorf("collections (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), "no LA has mailbox LA123HC001") {
		t.Errorf("log %q does not report the unknown mailbox", logs.String())
	}
}

func TestConfigs(t *testing.T) {
	db := newDB(t)
	now := func() time.Time { return at }
	rc := meshstore.RemoteConfig("data", db, now, nil, 99)
	if rc.DataDir != "data" || rc.Store != (meshstore.RemoteStore{DB: db}) || rc.Now().IsZero() || rc.SizeLimit != 99 {
		t.Errorf("RemoteConfig: %+v", rc)
	}
	sc := meshstore.SFTPConfig("data", db, nil, now, nil, 99)
	if sc.DataDir != "data" || sc.Keys != sftpd.KeyStore(db) || sc.Audit == nil || sc.OnCollected == nil || sc.SizeLimit != 99 {
		t.Errorf("SFTPConfig: %+v", sc)
	}
}
