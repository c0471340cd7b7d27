package local_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh/local"
)

const msgID = "20261121013000123456_3F9A0C"

// take returns the inbox's one ready message.
func take(t *testing.T, m *local.Mailbox) local.Incoming {
	t.Helper()
	ready, err := m.Incoming(realNow)
	if err != nil || len(ready) != 1 {
		t.Fatalf("Incoming = %v, %v; want one message", ready, err)
	}
	return ready[0]
}

func TestArchive(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		ctl      string   // "" for none
		taken    []string // names already in the archive
		wantData string
		wantCtl  string
	}{
		{"with control", "a.csv.gz", "a.ctl", nil, msgID + "_a.csv.gz", msgID + "_a.ctl"},
		{"without control", "a.csv", "", nil, msgID + "_a.csv", ""},
		{"name taken", "a.csv.gz", "a.ctl",
			[]string{msgID + "_a.csv.gz", msgID + "_a.ctl"},
			msgID + "_a.csv.1.gz", msgID + "_a.1.ctl"},
		{"names taken twice", "a.csv", "",
			[]string{msgID + "_a.csv", msgID + "_a.1.csv"},
			msgID + "_a.2.csv", ""},
		{"no extension", "a", "", []string{msgID + "_a"}, msgID + "_a.1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMailbox(t)
			put(t, m.InboxDir(), tt.data, "data", time.Hour)
			if tt.ctl != "" {
				put(t, m.InboxDir(), tt.ctl, "ctl", time.Hour)
			}
			for _, n := range tt.taken {
				put(t, m.ArchiveInDir(), n, "older", time.Hour)
			}
			in := take(t, m)
			dataPath, ctlPath, err := m.Archive(in, msgID)
			if err != nil {
				t.Fatal(err)
			}
			check := func() {
				t.Helper()
				if want := filepath.Join(m.ArchiveInDir(), tt.wantData); dataPath != want {
					t.Errorf("data archived as %q, want %q", dataPath, want)
				}
				wantCtl := ""
				if tt.wantCtl != "" {
					wantCtl = filepath.Join(m.ArchiveInDir(), tt.wantCtl)
				}
				if ctlPath != wantCtl {
					t.Errorf("control archived as %q, want %q", ctlPath, wantCtl)
				}
				if b, _ := os.ReadFile(dataPath); string(b) != "data" {
					t.Errorf("archived data holds %q", b)
				}
				if diff := cmp.Diff([]string{}, names(t, m.InboxDir())); diff != "" {
					t.Errorf("inbox (-want +got):\n%s", diff)
				}
			}
			check()
			// A crash after the renames: the next run archives again.
			dataPath, ctlPath, err = m.Archive(in, msgID)
			if err != nil {
				t.Fatalf("Archive again: %v", err)
			}
			check()
			for _, n := range tt.taken {
				if b, _ := os.ReadFile(filepath.Join(m.ArchiveInDir(), n)); string(b) != "older" {
					t.Errorf("%s overwritten", n)
				}
			}
		})
	}
}

func TestArchiveCrashBetweenFiles(t *testing.T) {
	m := newMailbox(t)
	put(t, m.InboxDir(), "a.csv", "data", 0)
	put(t, m.InboxDir(), "a.ctl", "ctl", 0)
	in := take(t, m)
	// The data file was moved, then the run died.
	if err := os.Rename(in.Path, m.ArchivedPath(msgID, in.Name)); err != nil {
		t.Fatal(err)
	}
	dataPath, ctlPath, err := m.Archive(in, msgID)
	if err != nil {
		t.Fatal(err)
	}
	if dataPath != m.ArchivedPath(msgID, "a.csv") || ctlPath != m.ArchivedPath(msgID, "a.ctl") {
		t.Errorf("Archive = %q, %q", dataPath, ctlPath)
	}
	if diff := cmp.Diff([]string{msgID + "_a.csv", msgID + "_a.ctl"}, names(t, m.ArchiveInDir())); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}
}

func TestArchiveErrors(t *testing.T) {
	m := newMailbox(t)
	put(t, m.InboxDir(), "a.csv", "data", time.Hour)
	in := take(t, m)
	for _, id := range []string{"", "../../x", "20261121013000123456_3f9a0c"} {
		if _, _, err := m.Archive(in, id); err == nil {
			t.Errorf("Archive with message ID %q: no error", id)
		}
	}
	bad := in
	bad.Name = "../a.csv"
	if _, _, err := m.Archive(bad, msgID); err == nil {
		t.Error("Archive of a path: no error")
	}
	gone := in
	gone.Name = "gone.csv"
	if _, _, err := m.Archive(gone, msgID); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Archive of a missing file: %v, want fs.ErrNotExist", err)
	}
	if diff := cmp.Diff([]string{"a.csv"}, names(t, m.InboxDir())); diff != "" {
		t.Errorf("inbox (-want +got):\n%s", diff)
	}
}
