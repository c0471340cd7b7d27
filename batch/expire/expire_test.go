package expire_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/expire"
	"cpis/batch/hubtest"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

func d(s string) caldate.Date {
	if s == "" {
		return caldate.Date{}
	}
	v, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestRun(t *testing.T) {
	type row struct {
		nhs, typ, end, due, localID string
	}
	rows := []row{
		{"9990276579", "CPP", "", "", "open-no-dob"},
		{"9990275831", "CPP", "2025-11-21", "", "ended-366-days-ago"},
		{"9990275831", "LAC", "2025-11-22", "", "ended-365-days-ago"},
		{"9995724111", "UCPP", "", "2026-10-25", "due-28-days-ago"},
		{"9995724111", "CPP", "", "", "open-cpp-same-person"},
		{"9992312327", "UCPP", "", "2026-10-24", "due-29-days-ago"},
		{"9992312327", "LAC", "", "", "adult-366-days-ago"},
	}
	var held []plans.Plan
	for _, r := range rows {
		held = append(held, plans.Plan{Key: plans.Key{NHS: r.nhs, LA: "841", Type: plans.Type(r.typ)}, Start: d("2020-01-01"), End: d(r.end), Due: d(r.due), LocalID: r.localID})
	}
	// Only 9992312327 has a date of birth: 18 on 2025-11-21, visible until
	// 2026-11-21 inclusive.
	db := hubtest.New(t, hubtest.Options{LAs: []string{"841"}, Plans: held, Demographics: &hubtest.File{Name: "demographics.csv",
		Data: []byte("nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n9992312327,,,2007-11-21,,N,\n")}}).DB
	// 2026-11-22 02:30 London.
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	res, err := expire.Run(db, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plans != 3 {
		t.Errorf("purged %d plans, want 3", res.Plans)
	}
	var left []string
	_ = db.View(func(tx *store.Tx) error {
		return tx.AllPlans(func(p plans.Plan) error { left = append(left, p.LocalID); return nil })
	})
	want := []string{"ended-365-days-ago", "open-no-dob", "open-cpp-same-person", "due-28-days-ago"}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("plans left (-want +got):\n%s", diff)
	}
	res, err = expire.Run(db, now)
	if err != nil || res.Plans != 0 {
		t.Errorf("second run purged %d (%v), want 0", res.Plans, err)
	}
}

// TestAuditRetention: SFTP, MESH API and web audit events are kept 90 days,
// purged after (and counted), whatever else expire does.
func TestAuditRetention(t *testing.T) {
	db := hubtest.New(t, hubtest.Options{LAs: []string{"841"}}).DB
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	old, kept := now.Add(-90*24*time.Hour-time.Minute), now.Add(-90*24*time.Hour+time.Minute)
	for _, at := range []time.Time{old, old, kept} {
		if err := db.AuditSFTP(store.SFTPEvent{At: at, Kind: "login", MailboxID: "LA841HC001"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range []time.Time{old, kept, kept} {
		if err := db.AuditMESH(store.MeshEvent{At: at, Mailbox: "LA841HC001"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range []time.Time{old, old, old, kept} {
		if err := db.AuditWeb(store.WebEvent{At: at, User: "officer@example.org", Action: "login"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(tx *store.Tx) error {
		for i, exp := range []time.Time{now.Add(-time.Second), now, now.Add(time.Second)} {
			if err := tx.PutWebSession(fmt.Sprint(i), store.WebSession{Email: "officer@example.org", Expires: exp}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res, err := expire.Run(db, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.SFTPAudits != 2 || res.MeshAudits != 1 || res.WebAudits != 3 || res.WebSessions != 2 {
		t.Errorf("purged %d SFTP, %d MESH, %d web audit events and %d web sessions, want 2, 1, 3 and 2",
			res.SFTPAudits, res.MeshAudits, res.WebAudits, res.WebSessions)
	}
	var web []time.Time
	_ = db.View(func(tx *store.Tx) error {
		return tx.WebAuditEvents(time.Time{}, func(e store.WebEvent) error { web = append(web, e.At); return nil })
	})
	if diff := cmp.Diff([]time.Time{kept}, web); diff != "" {
		t.Errorf("web audit left (-want +got):\n%s", diff)
	}
	var sftp, mesh []time.Time
	_ = db.View(func(tx *store.Tx) error {
		if err := tx.SFTPAuditEvents(func(e store.SFTPEvent) error { sftp = append(sftp, e.At); return nil }); err != nil {
			return err
		}
		return tx.MeshAuditEvents(time.Time{}, func(e store.MeshEvent) error { mesh = append(mesh, e.At); return nil })
	})
	if diff := cmp.Diff([]time.Time{kept}, sftp); diff != "" {
		t.Errorf("SFTP audit left (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Time{kept, kept}, mesh); diff != "" {
		t.Errorf("MESH audit left (-want +got):\n%s", diff)
	}
	if again, err := expire.Run(db, now); err != nil || again.SFTPAudits != 0 || again.MeshAudits != 0 || again.WebAudits != 0 || again.WebSessions != 0 {
		t.Errorf("expire again: %+v, %v; want nothing purged", again, err)
	}
}

// TestArchiveUncollectedGoesOnPastABrokenOutbox: an LA whose outbox is
// broken fails alone; the other LAs' messages uncollected for 30 days
// still move to the archive.
func TestArchiveUncollectedGoesOnPastABrokenOutbox(t *testing.T) {
	hb := hubtest.New(t, hubtest.Options{LAs: []string{"202", "841"}})
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	old := now.Add(-expire.ArchiveAfter - time.Hour)
	out841 := filepath.Join(hb.Dir, "mailboxes", "LA841HC001", "outbox")
	for _, name := range []string{"CPIS_841_ACCESS_20261020.csv", "CPIS_841_ACCESS_20261020.ctl"} {
		p := filepath.Join(out841, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	out202 := filepath.Join(hb.Dir, "mailboxes", "LA202HC001", "outbox")
	if err := os.RemoveAll(out202); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out202, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	moved, err := expire.ArchiveUncollected(hb.Dir, hb.DB, now)
	var lae *mesh.LAError
	if !errors.As(err, &lae) || lae.LA != "202" {
		t.Errorf("ArchiveUncollected: %v, want LA 202's failure", err)
	}
	if moved != 1 {
		t.Errorf("moved %d, want LA 841's message", moved)
	}
	if left, _ := os.ReadDir(out841); len(left) != 0 {
		t.Errorf("LA 841's outbox still holds %d file(s)", len(left))
	}
}
