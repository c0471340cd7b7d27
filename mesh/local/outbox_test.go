package local_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"cpis/mesh"
	"cpis/mesh/local"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func TestDeliver(t *testing.T) {
	m := newMailbox(t)
	const name = "CPIS_841_RESPONSE_20261121_" + msgID + ".csv"
	ctl := mesh.OutgoingControl(m.ID(), mesh.WorkflowUploadAck, msgID, name, "Response", realNow)
	if err := m.Deliver(name, writeString("first"), ctl); err != nil {
		t.Fatal(err)
	}
	// Recovery writes the same response again.
	if err := m.Deliver(name, writeString("message_id\r\n"), ctl); err != nil {
		t.Fatal(err)
	}
	ctlName := "CPIS_841_RESPONSE_20261121_" + msgID + ".ctl"
	if diff := cmp.Diff([]string{name, ctlName}, names(t, m.OutboxDir())); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
	if b, _ := os.ReadFile(filepath.Join(m.OutboxDir(), name)); string(b) != "message_id\r\n" {
		t.Errorf("data file holds %q", b)
	}
	b, _ := os.ReadFile(filepath.Join(m.OutboxDir(), ctlName))
	got, err := mesh.ParseControl(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ctl, got); diff != "" {
		t.Errorf("control file (-want +got):\n%s", diff)
	}
}

func TestDeliverFailure(t *testing.T) {
	m := newMailbox(t)
	errBroke := errors.New("broke")
	err := m.Deliver("r.csv", func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 1<<20))
		return errBroke
	}, mesh.Control{})
	if !errors.Is(err, errBroke) {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff([]string{}, names(t, m.OutboxDir())); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"r.ctl", ".r.csv", "r.csv.tmp", "../r.csv", ""} {
		if err := m.Deliver(bad, writeString("x"), mesh.Control{}); err == nil {
			t.Errorf("Deliver(%q): no error", bad)
		}
	}
}

func TestSend(t *testing.T) {
	m := newMailbox(t)
	src := put(t, t.TempDir(), "CPIS_841_FULL_20261121.csv.gz", "payload", 0)
	ctl := mesh.Control{From: m.ID(), To: mesh.HubMailbox, WorkflowID: mesh.WorkflowUpload, DTSID: msgID, IsCompressed: true}
	name, err := m.Send(src, ctl)
	if err != nil {
		t.Fatal(err)
	}
	if name != "CPIS_841_FULL_20261121.csv.gz" {
		t.Errorf("Send = %q", name)
	}
	in := take(t, m)
	if in.Name != name || in.ControlName != "CPIS_841_FULL_20261121.ctl" {
		t.Errorf("Incoming = %+v", in)
	}
	if b, _ := os.ReadFile(in.Path); string(b) != "payload" {
		t.Errorf("inbox file holds %q", b)
	}
	b, _ := os.ReadFile(in.ControlPath)
	got, err := mesh.ParseControl(bytes.NewReader(b))
	if err != nil || got.CheckIncoming(m.ID(), true) != nil {
		t.Errorf("control file: %v, %v", err, got.CheckIncoming(m.ID(), true))
	}
	if _, err := m.Send(src, ctl); !errors.Is(err, local.ErrExists) {
		t.Errorf("second Send: %v, want ErrExists", err)
	}
	// Only its control file in the inbox: refused as well.
	os.Remove(in.Path)
	if _, err := m.Send(src, ctl); !errors.Is(err, local.ErrExists) {
		t.Errorf("Send over a control file: %v, want ErrExists", err)
	}
	for _, bad := range []string{
		put(t, t.TempDir(), "x.ctl", "", 0),
		put(t, t.TempDir(), "x.csv.part", "", 0),
		t.TempDir(),
		filepath.Join(t.TempDir(), "missing.csv"),
	} {
		if _, err := m.Send(bad, ctl); err == nil {
			t.Errorf("Send(%q): no error", bad)
		}
	}
}

func TestListing(t *testing.T) {
	m := newMailbox(t)
	for _, dir := range []string{m.InboxDir(), m.OutboxDir()} {
		put(t, dir, "b.csv", "bb", time.Minute)
		put(t, dir, "b.ctl", "c", time.Minute)
		put(t, dir, "a.csv.gz", "a", 0)
		put(t, dir, "orphan.ctl", "c", 0)
		put(t, dir, ".b.csv.tmp", "c", 0)
		put(t, dir, "c.csv.filepart", "c", 0)
		os.Mkdir(filepath.Join(dir, "d.csv"), 0o750)
		os.Symlink(filepath.Join(dir, "b.csv"), filepath.Join(dir, "e.csv"))
	}
	want := []local.OutFile{
		{Name: "a.csv.gz", Size: 1, ModTime: realNow},
		{Name: "b.csv", Size: 2, ModTime: realNow.Add(-time.Minute), HasControl: true},
	}
	for name, list := range map[string]func() ([]local.OutFile, error){"Outbox": m.Outbox, "InboxFiles": m.InboxFiles} {
		got, err := list()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(0)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}
