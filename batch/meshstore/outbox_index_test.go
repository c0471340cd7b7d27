package meshstore_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"cpis/mesh"
	"cpis/mesh/meshapi"
)

// Messages found through the outbox index are checked against the folder
// each time: a control file rewritten (another message ID, the same
// size), a data file collected over SFTP, a message moved to another
// LA's outbox are all seen at once.
func TestOutboxIndexFollowsTheFolder(t *testing.T) {
	h := newMeshHub(t)
	ctx := t.Context()
	put := func(la, name, id string) {
		t.Helper()
		ctl := mesh.OutgoingControl(mesh.MailboxID(la), mesh.WorkflowAccess, id, name, "access", runAt)
		if err := h.Mailbox(la).Deliver(name, func(w io.Writer) error { _, err := io.WriteString(w, "content of "+name); return err }, ctl); err != nil {
			t.Fatal(err)
		}
	}
	open := func(la, id string) error {
		t.Helper()
		_, err := h.api.Open(ctx, mesh.MailboxID(la), id)
		return err
	}
	const id1, id2, id3 = "20261121010000000001_000001", "20261121010000000002_000002", "20261121010000000003_000003"
	put("841", "a.csv", id1)
	put("841", "b.csv", id3)
	if _, err := h.api.List(ctx, la841); err != nil {
		t.Fatal(err)
	}
	if err := open("841", id1); err != nil {
		t.Fatalf("open %s: %v", id1, err)
	}
	// The control file of a.csv rewritten with another message ID.
	put("841", "a.csv", id2)
	if err := open("841", id1); !errors.Is(err, meshapi.ErrNotFound) {
		t.Errorf("open %s after its control file names %s: %v, want not found", id1, id2, err)
	}
	if err := open("841", id2); err != nil {
		t.Errorf("open %s: %v", id2, err)
	}
	// b.csv collected over SFTP.
	if err := open("841", id3); err != nil {
		t.Fatalf("open %s: %v", id3, err)
	}
	out := h.Mailbox("841").OutboxDir()
	for _, n := range []string{"b.csv", mesh.ControlName("b.csv")} {
		if err := os.Remove(filepath.Join(out, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := open("841", id3); !errors.Is(err, meshapi.ErrNotFound) {
		t.Errorf("open %s after an SFTP collection: %v, want not found", id3, err)
	}
	// a.csv now in 202's outbox instead.
	for _, n := range []string{"a.csv", mesh.ControlName("a.csv")} {
		if err := os.Remove(filepath.Join(out, n)); err != nil {
			t.Fatal(err)
		}
	}
	put("202", "a.csv", id2)
	if err := open("841", id2); !errors.Is(err, meshapi.ErrForbidden) {
		t.Errorf("open %s from 841 once in 202's outbox: %v, want forbidden", id2, err)
	}
}
