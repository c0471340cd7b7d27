package sftpd_test

// Hostile uploads (issue 6): an SFTP upload to ../../x.csv is refused and
// nothing is written anywhere: not in the data dir (walked whole, the
// store's bytes aside), not in the folders above it.

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh/sftpd"
	"cpis/mesh/sshtest"
	"cpis/store"
)

// dataDirState describes every folder and file under dir; the store file
// by its name only (the server may record logins in it).
func dataDirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out[rel+"/"] = ""
		case rel == store.FileName:
			out[rel] = "the store"
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		default:
			out[rel] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// aboveDataDir lists where ../../x.csv could land if a path escaped: the
// mailbox tree's folders and the folders above the data dir.
func aboveDataDir(data string) []string {
	var out []string
	for _, d := range []string{
		filepath.Join(data, "mailboxes"),
		data,
		filepath.Dir(data),
		filepath.Dir(filepath.Dir(data)),
	} {
		out = append(out, filepath.Join(d, "x.csv"))
	}
	return out
}

func TestHostileUploadOutside(t *testing.T) {
	sshtest.NeedSFTP(t)
	for _, c := range []struct {
		name, batch string
	}{
		{"relative from the root", "put %s ../../x.csv"},
		{"relative from inbox", "cd /inbox\nput %s ../../x.csv"},
		{"through inbox", "put %s /inbox/../../x.csv"},
		{"far above", "put %s /inbox/../../../../../../x.csv"},
		{"filepart then rename out", "put %s /inbox/x.csv.filepart\nrename /inbox/x.csv.filepart ../../x.csv"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			src := e.localFile("x.csv", body)
			for _, p := range aboveDataDir(e.data) {
				if _, err := os.Lstat(p); err == nil {
					t.Fatalf("%s exists before the upload", p)
				}
			}
			before := dataDirState(t, e.data)
			out, err := e.sftp(la841, e.keys[la841], strings.ReplaceAll(c.batch, "%s", src)+"\n")
			if err == nil {
				t.Errorf("sftp succeeded:\n%s", out)
			}
			e.stop()
			after := dataDirState(t, e.data)
			if strings.Contains(c.batch, "filepart") {
				// The upload in progress stays, as any unfinished upload
				// does (named as work in progress: ingest never reads it).
				if after[la841HC001Path("inbox/x.csv.filepart")] != fmt.Sprintf("%x", sha256.Sum256([]byte(body))) {
					t.Errorf("the .filepart upload is not in the inbox")
				}
				delete(after, la841HC001Path("inbox/x.csv.filepart"))
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("the data dir changed (-before +after):\n%s", diff)
			}
			for _, p := range aboveDataDir(e.data) {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("the upload landed at %s", p)
				}
			}
			var refused []sftpd.Event
			for _, ev := range e.audit() {
				if ev.Kind == sftpd.KindRefusal {
					ev.Reason = ""
					refused = append(refused, ev)
				}
			}
			want := sftpd.Event{Kind: sftpd.KindRefusal, MailboxID: la841, Op: "write", Path: "/x.csv", Outcome: sftpd.OutcomeRefused}
			if strings.Contains(c.batch, "rename") {
				want.Op, want.Path, want.Target = "rename", "/inbox/x.csv.filepart", "/x.csv"
			}
			if len(refused) == 0 || !cmp.Equal(refused[len(refused)-1], want) {
				t.Errorf("refusals audited: %+v\nwant the last to be %+v\nclient said:\n%s", refused, want, out)
			}
			if strings.Contains(out, e.data) {
				t.Errorf("the client was told a host path:\n%s", out)
			}
		})
	}
}

func la841HC001Path(rel string) string { return filepath.Join("mailboxes", la841, rel) }

// TestHostileUploadOutsideRaw sends the same paths with pkg/sftp, which
// passes them to the server as given (OpenSSH's client makes them
// absolute first).
func TestHostileUploadOutsideRaw(t *testing.T) {
	e := newEnv(t, nil)
	before := dataDirState(t, e.data)
	_, c := e.dial(la841)
	for _, p := range []string{"../../x.csv", "inbox/../../x.csv", "/inbox/../../../x.csv", "inbox/../../../../../x.csv", "..", "../../"} {
		f, err := c.Create(p)
		if err == nil {
			_, werr := f.Write([]byte(body))
			cerr := f.Close()
			t.Errorf("create %q: accepted (write: %v, close: %v)", p, werr, cerr)
		}
	}
	e.stop()
	if diff := cmp.Diff(before, dataDirState(t, e.data)); diff != "" {
		t.Errorf("the data dir changed (-before +after):\n%s", diff)
	}
	for _, p := range aboveDataDir(e.data) {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("an upload landed at %s", p)
		}
	}
}
