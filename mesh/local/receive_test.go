package local_test

import (
	"errors"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
	"cpis/mesh/local"
)

// inbox returns every file of m's inbox, hidden ones included, name to
// content.
func inbox(t *testing.T, m *local.Mailbox) map[string]string {
	t.Helper()
	des, err := os.ReadDir(m.InboxDir())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, de := range des {
		b, err := os.ReadFile(m.InboxDir() + "/" + de.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[de.Name()] = string(b)
	}
	return out
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("client gone") }

// unread fails the test if it is read.
type unread struct{ t *testing.T }

func (u unread) Read([]byte) (int, error) {
	u.t.Error("body read for a message already received")
	return 0, io.EOF
}

func TestReceive(t *testing.T) {
	const id1, id2 = "20261121013000123456_3F9A0C", "20261121013500000001_00AA11"
	ctl := func(id string) mesh.Control {
		return mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: "LA841HC001", To: mesh.HubMailbox,
			LocalID: "r.csv", DTSID: id, WorkflowID: mesh.WorkflowUpload}
	}
	whole := func(id, content string) map[string]string {
		return map[string]string{"CPIS_841_FULL_20261121.csv": content, "CPIS_841_FULL_20261121.ctl": string(ctl(id).Marshal())}
	}
	const name = "CPIS_841_FULL_20261121.csv"
	for _, tc := range []struct {
		name     string
		before   map[string]string // files already in the inbox
		archived bool              // the data file is in the archive under the message's ID
		id       string
		body     io.Reader
		wantErr  error // nil, local.ErrExists, or any error (errors.ErrUnsupported stands for "some error")
		want     map[string]string
	}{
		{name: "new", id: id1, body: strings.NewReader("a,b\n"), want: whole(id1, "a,b\n")},
		{name: "again", before: whole(id1, "a,b\n"), id: id1, body: unread{t}, want: whole(id1, "a,b\n")},
		{name: "control file left by a crash", before: map[string]string{"CPIS_841_FULL_20261121.ctl": string(ctl(id1).Marshal())},
			id: id1, body: strings.NewReader("a,b\n"), want: whole(id1, "a,b\n")},
		{name: "name held by another message", before: whole(id2, "x\n"), id: id1, body: strings.NewReader("a,b\n"),
			wantErr: local.ErrExists, want: whole(id2, "x\n")},
		{name: "data file without control", before: map[string]string{name: "x\n"}, id: id1, body: strings.NewReader("a,b\n"),
			wantErr: local.ErrExists, want: map[string]string{name: "x\n"}},
		{name: "taken by ingest meanwhile", archived: true, before: map[string]string{"CPIS_841_FULL_20261121.ctl": string(ctl(id1).Marshal())},
			id: id1, body: unread{t}, want: map[string]string{"CPIS_841_FULL_20261121.ctl": string(ctl(id1).Marshal())}},
		{name: "body fails", id: id1, body: failingReader{}, wantErr: errors.ErrUnsupported, want: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMailbox(t)
			for n, c := range tc.before {
				put(t, m.InboxDir(), n, c, 0)
			}
			if tc.archived {
				if err := os.MkdirAll(m.ArchiveInDir(), 0o750); err != nil {
					t.Fatal(err)
				}
				put(t, m.ArchiveInDir(), tc.id+"_"+name, "a,b\n", 0)
			}
			err := m.Receive(name, tc.body, ctl(tc.id))
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Receive: %v", err)
			case tc.wantErr == errors.ErrUnsupported && err == nil:
				t.Fatal("Receive succeeded, want an error")
			case tc.wantErr != nil && tc.wantErr != errors.ErrUnsupported && !errors.Is(err, tc.wantErr):
				t.Fatalf("Receive: %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, inbox(t, m)); diff != "" {
				t.Errorf("inbox (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReceiveSharedControl: a data file whose control file another
// waiting file's is refused, naming that file.
func TestReceiveSharedControl(t *testing.T) {
	m := newMailbox(t)
	c1 := mesh.Control{DTSID: "20261121013000123456_3F9A0C"}
	c2 := mesh.Control{DTSID: "20261121013500000001_00AA11"}
	if err := m.Receive("CPIS_841_DELTA_20261204.csv", strings.NewReader("a\n"), c1); err != nil {
		t.Fatal(err)
	}
	err := m.Receive("CPIS_841_DELTA_20261204.xlsx", strings.NewReader("b"), c2)
	want := &local.ExistsError{Op: "receive", Name: "CPIS_841_DELTA_20261204.xlsx", Held: "CPIS_841_DELTA_20261204.ctl", Other: "CPIS_841_DELTA_20261204.csv"}
	var got *local.ExistsError
	if !errors.As(err, &got) || !errors.Is(err, local.ErrExists) {
		t.Fatalf("Receive: %v, want %v", err, want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ExistsError (-want +got):\n%s", diff)
	}
	if got, want := err.Error(), "receive CPIS_841_DELTA_20261204.xlsx: its control file CPIS_841_DELTA_20261204.ctl is that of CPIS_841_DELTA_20261204.csv, waiting: already in the inbox"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// The data file's own name taken: that name is what is held.
	err = m.Receive("CPIS_841_DELTA_20261204.csv", strings.NewReader("b"), c2)
	if !errors.As(err, &got) || got.Held != "CPIS_841_DELTA_20261204.csv" || got.Other != "" {
		t.Errorf("Receive of the same name: %#v", err)
	}
}

func TestReceiveRefusesNames(t *testing.T) {
	m := newMailbox(t)
	c := mesh.Control{DTSID: "20261121013000123456_3F9A0C"}
	var bad []string
	for _, n := range []string{"", "../x.csv", ".hidden.csv", "x.ctl", "x.csv.part"} {
		if err := m.Receive(n, strings.NewReader("x"), c); err == nil {
			bad = append(bad, n)
		}
	}
	if err := m.Receive("x.csv", strings.NewReader("x"), mesh.Control{DTSID: "nope"}); err == nil {
		bad = append(bad, "bad message ID")
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("accepted: %q", bad)
	}
}
