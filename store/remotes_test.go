package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
)

func TestRemotes(t *testing.T) {
	db := open(t, t.TempDir())
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("BST", 3600))
	r841 := store.Remote{LA: "841", Addr: "sftp.example.org:22", User: "cpis", KeyFile: "/srv/keys/id_841", Inbox: "inbox", Outbox: "outbox", Added: at}
	r202 := store.Remote{LA: "202", Addr: "10.0.0.2:2222", User: "hub", KeyFile: "/srv/keys/id_202", Inbox: "/to-hub", Outbox: "/from-hub", Added: at}
	if err := db.Update(func(tx *store.Tx) error {
		for _, r := range []store.Remote{r841, r202} {
			if err := tx.PutRemote(r); err != nil {
				return err
			}
		}
		bad := r841
		bad.KeyFile = "keys/id_841"
		if err := tx.PutRemote(bad); err == nil || !strings.Contains(err.Error(), "absolute") {
			t.Errorf("relative key path: %v", err)
		}
		if err := tx.PutRemote(store.Remote{LA: "841", KeyFile: "/k"}); err == nil {
			t.Error("a remote without address: no error")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r841.Added, r202.Added = at.UTC(), at.UTC()
	if err := db.View(func(tx *store.Tx) error {
		all, err := tx.Remotes()
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]store.Remote{r202, r841}, all); diff != "" {
			t.Errorf("Remotes (-want +got):\n%s", diff)
		}
		got, ok, err := tx.Remote("841")
		if err != nil || !ok || got != r841 {
			t.Errorf("Remote(841) = %+v %v %v", got, ok, err)
		}
		if _, ok, err := tx.Remote("203"); ok || err != nil {
			t.Errorf("Remote(203) = %v %v", ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *store.Tx) error {
		if ok, err := tx.RemoveRemote("841"); !ok || err != nil {
			t.Errorf("RemoveRemote(841) = %v %v", ok, err)
		}
		if ok, err := tx.RemoveRemote("841"); ok || err != nil {
			t.Errorf("RemoveRemote(841) again = %v %v", ok, err)
		}
		all, err := tx.Remotes()
		if len(all) != 1 || all[0].LA != "202" {
			t.Errorf("after remove: %+v %v", all, err)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPulledAndPushed(t *testing.T) {
	db := open(t, t.TempDir())
	mtime := time.Date(2026, 11, 21, 1, 30, 0, 0, time.UTC)
	sha := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	p := store.PulledFile{LA: "841", Path: "/in/r.csv", Size: 10, ModTime: mtime, SHA256: sha, Name: "r.csv", At: mtime.Add(time.Hour)}
	if err := db.Update(func(tx *store.Tx) error {
		if err := tx.RecordPulled(p); err != nil {
			return err
		}
		if err := tx.RecordPulled(store.PulledFile{LA: "841", Path: "/in/r.csv", SHA256: "nope"}); err == nil {
			t.Error("a record without a SHA-256: no error")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	lookup := func(la, path string, size int64, mt time.Time, sum string) (store.PulledFile, bool) {
		t.Helper()
		var got store.PulledFile
		var ok bool
		if err := db.View(func(tx *store.Tx) error {
			var err error
			got, ok, err = tx.Pulled(la, path, size, mt, sum)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got, ok
	}
	if got, ok := lookup("841", "/in/r.csv", 10, mtime, sha); !ok || got != p || got.Delivered {
		t.Errorf("Pulled = %+v %v", got, ok)
	}
	// Another version of the file (any of path, size, time, content, LA)
	// has no record.
	for _, c := range []struct {
		la, path string
		size     int64
		mt       time.Time
		sum      string
	}{
		{"202", "/in/r.csv", 10, mtime, sha},
		{"841", "/in/r.csv2", 10, mtime, sha},
		{"841", "/in/r.csv", 11, mtime, sha},
		{"841", "/in/r.csv", 10, mtime.Add(time.Second), sha},
		{"841", "/in/r.csv", 10, mtime, other},
	} {
		if _, ok := lookup(c.la, c.path, c.size, c.mt, c.sum); ok {
			t.Errorf("Pulled%v found a record", c)
		}
	}
	p.Delivered = true
	if err := db.Update(func(tx *store.Tx) error { return tx.RecordPulled(p) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := lookup("841", "/in/r.csv", 10, mtime, sha); !got.Delivered {
		t.Error("not marked delivered")
	}

	push := store.PushedFile{LA: "841", Name: "resp.csv", Path: "outbox/resp.csv", Size: 3, SHA256: sha, At: mtime}
	if err := db.Update(func(tx *store.Tx) error { return tx.RecordPushed(push) }); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *store.Tx) error {
		got, ok, err := tx.Pushed("841", "resp.csv")
		if !ok || got != push {
			t.Errorf("Pushed = %+v %v", got, ok)
		}
		if _, ok, _ := tx.Pushed("202", "resp.csv"); ok {
			t.Error("Pushed found another LA's file")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCollections(t *testing.T) {
	db := open(t, t.TempDir())
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	cs := []store.Collection{
		{LA: "841", MailboxID: "LA841HC001", Name: "b.csv", At: t0.Add(2 * time.Hour), By: store.CollectedByPush},
		{LA: "841", MailboxID: "LA841HC001", Name: "a.csv", At: t0.Add(time.Hour), By: store.CollectedBySFTP},
		{LA: "202", MailboxID: "LA202HC001", Name: "c.csv", At: t0, By: store.CollectedBySFTP},
		{LA: "841", MailboxID: "LA841HC001", Name: "z.csv", At: t0.Add(-time.Hour), By: store.CollectedBySFTP},
	}
	if err := db.Update(func(tx *store.Tx) error {
		for _, c := range cs {
			if err := tx.RecordCollection(c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read := func(la string) []string {
		var out []string
		if err := db.View(func(tx *store.Tx) error {
			return tx.Collections(la, func(c store.Collection) error {
				out = append(out, c.LA+" "+c.Name+" "+c.By+" "+c.At.Format("15:04"))
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if diff := cmp.Diff([]string{"841 z.csv sftp 08:00", "841 a.csv sftp 10:00", "841 b.csv push 11:00"}, read("841")); diff != "" {
		t.Errorf("Collections(841) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"202 c.csv sftp 09:00", "841 z.csv sftp 08:00", "841 a.csv sftp 10:00", "841 b.csv push 11:00"}, read("")); diff != "" {
		t.Errorf("Collections(\"\") (-want +got):\n%s", diff)
	}
	errStop := errors.New("stop")
	n := 0
	err := db.View(func(tx *store.Tx) error {
		return tx.Collections("841", func(store.Collection) error { n++; return errStop })
	})
	if !errors.Is(err, errStop) || n != 1 {
		t.Errorf("stopping early: %v after %d", err, n)
	}
}
