package meshstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/hubtest"
	"cpis/batch/jobs"
	"cpis/batch/meshstore"
	"cpis/mesh"
	"cpis/mesh/meshapi"
	"cpis/store"
)

// runAt is the night after the returns' extract date 2026-11-21.
var runAt = time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)

const (
	la841 = "LA841HC001"
	la202 = "LA202HC001"
	pw841 = "password-of-841"
)

// meshHub is a hub (LAs 841 and 202, 841 with a MESH password) and its
// MESH API adapter.
type meshHub struct {
	*hubtest.Hub
	clock *hubtest.Clock
	api   *meshstore.MeshAPI
	key   string
}

func newMeshHub(t *testing.T) *meshHub {
	t.Helper()
	demo := hubtest.File{Name: "demographics.csv", Data: hubtest.ReadFile(t, hubtest.Testdata("ingest", "demographics.csv"))}
	h := hubtest.New(t, hubtest.Options{LAs: []string{"841", "202"}, Created: runAt.Add(-48 * time.Hour), Demographics: &demo})
	clock := hubtest.NewClock(runAt)
	var key string
	if err := h.DB.Update(func(tx *store.Tx) error {
		var ok bool
		if key, ok = tx.MeshKey(); !ok {
			t.Error("init made no MESH shared key")
		}
		return tx.SetMeshPassword("841", la841, []byte(pw841), runAt)
	}); err != nil {
		t.Fatal(err)
	}
	return &meshHub{Hub: h, clock: clock, key: key, api: &meshstore.MeshAPI{DataDir: h.Dir, DB: h.DB, Now: clock.Now}}
}

// serve starts the MESH API over h on a real listener.
func (h *meshHub) serve(t *testing.T) *httptest.Server {
	t.Helper()
	cfg, err := meshstore.MeshConfig(h.Dir, h.DB, h.clock.Now, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := meshapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func (h *meshHub) client(t *testing.T, base, mailbox, password string) *meshClient {
	return &meshClient{t: t, base: base, mailbox: mailbox, password: password, key: h.key, now: h.clock.Now,
		http: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
}

// folder returns the files of dir (hidden ones included), name to content.
func folder(t *testing.T, dir string) map[string]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[de.Name()] = string(b)
	}
	return out
}

// The whole journey of mesh/meshapi/mesh-api.md: an LA sends a return (chunked,
// gzipped), it lands in its inbox folder with the MESH message ID as
// DTSId, ingest takes it under that ID, tracking says acknowledged; the
// response is in the LA's MESH inbox, downloads whole, and acknowledging
// it collects it as an SFTP delete would.
func TestMeshAPIRoundTrip(t *testing.T) {
	h := newMeshHub(t)
	ts := h.serve(t)
	c := h.client(t, ts.URL, la841, pw841)

	if status := c.handshake(); status != http.StatusOK {
		t.Fatalf("handshake: %d", status)
	}
	ret := hubtest.ReadFile(t, hubtest.Testdata("ingest", "cpf02_clean", "CPIS_841_FULL_20261121.csv"))
	const name = "CPIS_841_FULL_20261121.csv"
	status, id := c.send(mesh.HubMailbox, mesh.WorkflowUpload, name, ret, 100)
	if status != http.StatusAccepted || !mesh.ValidMessageID(id) {
		t.Fatalf("send: %d %s", status, id)
	}

	mb := h.Mailbox("841")
	in := folder(t, mb.InboxDir())
	if in[name] != string(ret) {
		t.Errorf("inbox data file: %d bytes, want the %d sent", len(in[name]), len(ret))
	}
	ctl, err := mesh.ParseControl(strings.NewReader(in["CPIS_841_FULL_20261121.ctl"]))
	if err != nil {
		t.Fatalf("inbox control file: %v (inbox %v)", err, keys(in))
	}
	want := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: la841, To: mesh.HubMailbox,
		Subject: "return " + name, LocalID: "local-" + name, DTSID: id, WorkflowID: mesh.WorkflowUpload}
	if diff := cmp.Diff(want, ctl); diff != "" {
		t.Errorf("control file (-want +got):\n%s", diff)
	}
	if len(in) != 2 {
		t.Errorf("inbox holds %v, want the data and control files only", keys(in))
	}
	if status, tr := c.track(id); status != http.StatusOK || tr["status"] != "accepted" || tr["filename"] != name || tr["local_id"] != "local-"+name {
		t.Errorf("tracking before ingest: %d %v", status, tr)
	}

	res, err := jobs.Ingest(t.Context(), jobs.Env{DataDir: h.Dir, DB: h.DB, Now: h.clock.Now}, jobs.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0].MessageID != id || res.Results[0].Code != "CPF02" {
		t.Fatalf("ingest: %+v, want message %s applied (CPF02)", res.Results, id)
	}
	if status, tr := c.track(id); status != http.StatusOK || tr["status"] != "acknowledged" {
		t.Errorf("tracking after ingest: %d %v", status, tr)
	}
	// A send delivered again (a crash before the upload was marked done)
	// is not put into the inbox a second time.
	again := meshapi.Envelope{ID: id, From: la841, To: mesh.HubMailbox, Workflow: mesh.WorkflowUpload, FileName: name}
	if err := h.api.Deliver(t.Context(), again, bytes.NewReader(ret)); err != nil {
		t.Errorf("delivering again: %v", err)
	}
	if in := folder(t, mb.InboxDir()); len(in) != 0 {
		t.Errorf("inbox after ingest and a second delivery: %v", keys(in))
	}

	out := folder(t, mb.OutboxDir())
	ids := c.list()
	if len(ids) != 1 {
		t.Fatalf("MESH inbox %v, outbox folder %v: want the one response", ids, keys(out))
	}
	hdr, body := c.retrieve(ids[0])
	var respName string
	for n, content := range out {
		if !mesh.IsControlName(n) {
			respName = n
			if body := string(body); body != content {
				t.Errorf("downloaded %q, outbox file %s holds %q", body, n, content)
			}
		}
	}
	if !strings.Contains(string(body), id) {
		t.Errorf("the response %q does not name the return's message ID %s", body, id)
	}
	if hdr.Get("mex-workflowid") != mesh.WorkflowUploadAck || hdr.Get("mex-filename") != respName || hdr.Get("mex-from") != mesh.HubMailbox {
		t.Errorf("download headers %v", hdr)
	}
	if status := c.ack(ids[0]); status != http.StatusOK {
		t.Fatalf("ack: %d", status)
	}
	if status := c.ack(ids[0]); status != http.StatusOK {
		t.Errorf("ack again: %d, want 200 (already acknowledged)", status)
	}
	if out := folder(t, mb.OutboxDir()); len(out) != 0 {
		t.Errorf("outbox after the acknowledgement: %v", keys(out))
	}
	if got := c.list(); len(got) != 0 {
		t.Errorf("MESH inbox after the acknowledgement: %v", got)
	}
	var cols []store.Collection
	var mbs []store.MeshMailbox
	if err := h.DB.View(func(tx *store.Tx) error {
		if err := tx.Collections("841", func(c store.Collection) error { cols = append(cols, c); return nil }); err != nil {
			return err
		}
		var err error
		mbs, err = tx.MeshMailboxes()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wantCols := []store.Collection{{LA: "841", MailboxID: la841, Name: respName, At: runAt, By: store.CollectedByMESH}}
	if diff := cmp.Diff(wantCols, cols); diff != "" {
		t.Errorf("collections (-want +got):\n%s", diff)
	}
	wantMbs := []store.MeshMailbox{{MailboxID: la841, LA: "841", PasswordSet: runAt, LastHandshake: runAt,
		ClientVersion: "mesh_client==3.2", OSName: "Linux", OSVersion: "6.1"}}
	if diff := cmp.Diff(wantMbs, mbs); diff != "" {
		t.Errorf("mesh mailboxes (-want +got):\n%s", diff)
	}

	// The audit has every step, and never a secret.
	actions := map[string]int{}
	if err := h.DB.View(func(tx *store.Tx) error {
		return tx.MeshAuditEvents(time.Time{}, func(e store.MeshEvent) error {
			actions[e.Action]++
			b, _ := json.Marshal(e)
			for _, secret := range []string{pw841, h.key} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("audit event %s holds a secret", b)
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{meshapi.ActionHandshake, meshapi.ActionSend, meshapi.ActionChunk, meshapi.ActionDeliver,
		meshapi.ActionTrack, meshapi.ActionList, meshapi.ActionDownload, meshapi.ActionAck} {
		if actions[a] == 0 {
			t.Errorf("no %q in the MESH audit %v", a, actions)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMeshAPIRefusals(t *testing.T) {
	h := newMeshHub(t)
	ts := h.serve(t)
	c := h.client(t, ts.URL, la841, pw841)
	for _, tc := range []struct {
		to, workflow string
		code         string
	}{
		{mesh.HubMailbox, mesh.WorkflowUploadAck, meshapi.CodeSenderNotAllowed},
		{la202, mesh.WorkflowUpload, meshapi.CodeNotRegistered},
		{"X26ABC1", mesh.WorkflowUpload, meshapi.CodeUnregistered},
	} {
		status, body := c.send(tc.to, tc.workflow, "x.csv", []byte("x"), 100)
		var e struct {
			Detail []struct{ Code string } `json:"detail"`
		}
		_ = json.Unmarshal([]byte(body), &e)
		if status != http.StatusExpectationFailed || len(e.Detail) != 1 || e.Detail[0].Code != tc.code {
			t.Errorf("send to %s, %s: %d %s, want 417 code %s", tc.to, tc.workflow, status, body, tc.code)
		}
	}
	// Mailboxes that do not log in: no password, the hub's own, unknown.
	for _, mb := range []string{la202, mesh.HubMailbox, "X26ABC1"} {
		if status := h.client(t, ts.URL, mb, pw841).handshake(); status != http.StatusForbidden {
			t.Errorf("handshake of %s: %d, want 403", mb, status)
		}
	}
	if status := h.client(t, ts.URL, la841, "wrong").handshake(); status != http.StatusForbidden {
		t.Errorf("wrong password: %d, want 403", status)
	}
	// Nothing reached any folder.
	for _, la := range []string{"841", "202"} {
		if in := folder(t, h.Mailbox(la).InboxDir()); len(in) != 0 {
			t.Errorf("inbox of %s: %v", la, keys(in))
		}
	}
}

// A password set, or the key rotated, through the store is what the next
// request is checked against: the cache does not serve the old one.
func TestMeshCredentialsReload(t *testing.T) {
	h := newMeshHub(t)
	ctx := t.Context()
	key, pw, err := h.api.Credentials(ctx, "la841hc001")
	if err != nil || string(key) != h.key || string(pw) != pw841 {
		t.Fatalf("credentials: %q %q %v", key, pw, err)
	}
	for _, mb := range []string{la202, mesh.HubMailbox, "cpishub01", "NOBODY"} {
		if _, _, err := h.api.Credentials(ctx, mb); !errors.Is(err, meshapi.ErrUnknownMailbox) {
			t.Errorf("credentials of %s: %v, want ErrUnknownMailbox", mb, err)
		}
	}
	var newKey string
	if err := h.DB.Update(func(tx *store.Tx) error {
		if err := tx.SetMeshPassword("841", la841, []byte("changed"), runAt); err != nil {
			return err
		}
		var err error
		newKey, err = tx.RotateMeshKey(runAt)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if key, pw, err := h.api.Credentials(ctx, la841); err != nil || string(key) != newKey || string(pw) != "changed" {
		t.Errorf("credentials after the change: %q %q %v, want %q %q", key, pw, err, newKey, "changed")
	}
}

// The MESH inbox is the outbox folder: another LA's message is forbidden,
// a message collected over SFTP leaves it, a message the hub left
// uncollected for 5 days tracks as undeliverable.
func TestMeshInboxIsOutboxFolder(t *testing.T) {
	h := newMeshHub(t)
	ctx := t.Context()
	put := func(la, name, id string, at time.Time) {
		ctl := mesh.OutgoingControl(mesh.MailboxID(la), mesh.WorkflowAccess, id, name, "access", at)
		if err := h.Mailbox(la).Deliver(name, func(w io.Writer) error { _, err := io.WriteString(w, "content of "+name); return err }, ctl); err != nil {
			t.Fatal(err)
		}
	}
	const id1, id2, id3 = "20261121010000000001_000001", "20261121010000000002_000002", "20261121010000000003_000003"
	put("841", "b.csv", id2, runAt.Add(-6*24*time.Hour))
	put("841", "a.csv", id1, runAt)
	put("202", "c.csv", id3, runAt)
	// A data file whose control file is not there yet is not listed.
	if err := os.WriteFile(filepath.Join(h.Mailbox("841").OutboxDir(), "d.csv"), []byte("half"), 0o640); err != nil {
		t.Fatal(err)
	}

	got, err := h.api.List(ctx, la841)
	if err != nil {
		t.Fatal(err)
	}
	want := []meshapi.Entry{{ID: id1, Workflow: mesh.WorkflowAccess}, {ID: id2, Workflow: mesh.WorkflowAccess}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	msg, err := h.api.Open(ctx, la841, id1)
	if err != nil {
		t.Fatal(err)
	}
	wantMsg := meshapi.Message{ID: id1, From: mesh.HubMailbox, To: la841, Workflow: mesh.WorkflowAccess, FileName: "a.csv",
		LocalID: "a.csv", Subject: "access", Type: "DATA", Chunks: 1, Delivered: runAt}
	if diff := cmp.Diff(wantMsg, msg); diff != "" {
		t.Errorf("open (-want +got):\n%s", diff)
	}
	rc, size, err := h.api.Chunk(ctx, la841, id1, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "content of a.csv" || size != int64(len(b)) {
		t.Errorf("chunk 1: %q (%d bytes)", b, size)
	}
	for _, tc := range []struct {
		mailbox, id string
		k           int
		want        error
	}{
		{la841, id3, 1, meshapi.ErrForbidden},
		{la841, "20261121010000000009_000009", 1, meshapi.ErrNotFound},
		{la841, id1, 2, meshapi.ErrNotFound},
	} {
		if _, _, err := h.api.Chunk(ctx, tc.mailbox, tc.id, tc.k); !errors.Is(err, tc.want) {
			t.Errorf("chunk %d of %s for %s: %v, want %v", tc.k, tc.id, tc.mailbox, err, tc.want)
		}
		if tc.k == 1 {
			if err := h.api.Acknowledge(ctx, tc.mailbox, tc.id); !errors.Is(err, tc.want) {
				t.Errorf("acknowledge %s for %s: %v, want %v", tc.id, tc.mailbox, err, tc.want)
			}
		}
	}

	// Tracking from the hub's side, and by the LA the message waits for:
	// b.csv has waited 6 days.
	for _, tc := range []struct{ id, status, code string }{
		{id1, meshapi.StatusAccepted, "00"},
		{id2, meshapi.StatusUndeliverable, "14"},
	} {
		for _, by := range []string{mesh.HubMailbox, la841} {
			tr, err := h.api.Track(ctx, by, tc.id)
			if err != nil || tr.Status != tc.status || tr.StatusCode != tc.code || tr.To != la841 {
				t.Errorf("track %s by %s: %+v %v, want %s (%s)", tc.id, by, tr, err, tc.status, tc.code)
			}
		}
	}
	if _, err := h.api.Track(ctx, la202, id1); !errors.Is(err, meshapi.ErrNotFound) {
		t.Errorf("track another's message: %v, want ErrNotFound", err)
	}

	// Collected over SFTP: the data file and its control file go.
	for _, n := range []string{"a.csv", "a.ctl"} {
		if err := os.Remove(filepath.Join(h.Mailbox("841").OutboxDir(), n)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := h.api.List(ctx, la841); len(got) != 1 || got[0].ID != id2 {
		t.Errorf("list after an SFTP collection: %v", got)
	}
	if _, err := h.api.Open(ctx, la841, id1); !errors.Is(err, meshapi.ErrNotFound) {
		t.Errorf("open after an SFTP collection: %v, want ErrNotFound", err)
	}

	// Acknowledged over the MESH API: gone from the folder, tracked as
	// acknowledged, acknowledged again without error.
	for range 2 {
		if err := h.api.Acknowledge(ctx, "la841hc001", id2); err != nil {
			t.Fatalf("acknowledge: %v", err)
		}
	}
	if out := folder(t, h.Mailbox("841").OutboxDir()); len(out) != 1 || out["d.csv"] != "half" {
		t.Errorf("outbox after the acknowledgement: %v", keys(out))
	}
	if tr, err := h.api.Track(ctx, mesh.HubMailbox, id2); err != nil || tr.Status != meshapi.StatusAcknowledged || !tr.Acknowledged.Equal(runAt) {
		t.Errorf("track after the acknowledgement: %+v %v", tr, err)
	}
	if err := h.api.Acknowledge(ctx, la202, id2); !errors.Is(err, meshapi.ErrNotFound) {
		t.Errorf("acknowledge by another mailbox: %v, want ErrNotFound", err)
	}
}

func TestMeshDirectory(t *testing.T) {
	h := newMeshHub(t)
	ctx := context.Background()
	search, err := h.api.Search(ctx, mesh.WorkflowUploadAck)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]meshapi.Mailbox{{ID: la202, Name: "Camden"}, {ID: la841, Name: "Darlington"}}, search); diff != "" {
		t.Errorf("search (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		ods, workflow string
		want          []meshapi.Mailbox
	}{
		{"CPISHUB01", mesh.WorkflowUpload, []meshapi.Mailbox{{ID: mesh.HubMailbox, Name: "CP-IS hub"}}},
		{"841", mesh.WorkflowAccess, []meshapi.Mailbox{{ID: la841, Name: "Darlington"}}},
		{"e06000005", mesh.WorkflowInactive, []meshapi.Mailbox{{ID: la841, Name: "Darlington"}}},
		{"841", mesh.WorkflowUpload, nil},
		{"841", "OTHER", nil},
	} {
		got, err := h.api.Lookup(ctx, tc.ods, tc.workflow)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("lookup %s %s (-want +got):\n%s", tc.ods, tc.workflow, diff)
		}
	}
}

// A message over the size limit is refused (417) and nothing of it stays
// in the inbox, hidden files included.
func TestMeshAPITooLarge(t *testing.T) {
	h := newMeshHub(t)
	cfg, err := meshstore.MeshConfig(h.Dir, h.DB, h.clock.Now, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := meshapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := h.client(t, ts.URL, la841, pw841)
	big := bytes.Repeat([]byte("9990000018,CPP,2026-03-02,,,C-1\n"), 100) // 3,200 bytes
	if status, body := c.send(mesh.HubMailbox, mesh.WorkflowUpload, "CPIS_841_FULL_20261121.csv", big, 100); status != http.StatusExpectationFailed {
		t.Errorf("send of %d bytes over a limit of 1000: %d %s, want 417", len(big), status, body)
	}
	if in := folder(t, h.Mailbox("841").InboxDir()); len(in) != 0 {
		t.Errorf("inbox after a refused send: %v", keys(in))
	}
}

// A chunked message whose file name another message still holds in the
// inbox is not delivered (nothing of it shows), stays uploaded, and is
// delivered by Recover once the name is free.
func TestMeshAPINameHeld(t *testing.T) {
	h := newMeshHub(t)
	const name = "CPIS_841_DELTA_20261121.csv"
	h.Hub.Send(t, filepathOf(t, name, "held by another message\n"), "20261121010000000001_000001")
	cfg, err := meshstore.MeshConfig(h.Dir, h.DB, h.clock.Now, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := meshapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := h.client(t, ts.URL, la841, pw841)
	if status, body := c.send(mesh.HubMailbox, mesh.WorkflowUpload, name, []byte("mine\n"), 3); status < 500 {
		t.Fatalf("send while the name is held: %d %s, want a server error", status, body)
	}
	mb := h.Mailbox("841")
	before := folder(t, mb.InboxDir())
	if len(before) != 2 || before[name] != "held by another message\n" {
		t.Fatalf("inbox while the name is held: %v", before)
	}
	for _, n := range []string{name, "CPIS_841_DELTA_20261121.ctl"} {
		if err := os.Remove(filepath.Join(mb.InboxDir(), n)); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := srv.Recover(t.Context())
	if err != nil || len(ids) != 1 {
		t.Fatalf("recover: %v %v", ids, err)
	}
	in := folder(t, mb.InboxDir())
	ctl, err := mesh.ParseControl(strings.NewReader(in["CPIS_841_DELTA_20261121.ctl"]))
	if in[name] != "mine\n" || err != nil || ctl.DTSID != ids[0] {
		t.Errorf("inbox after recover: %v (control %v)", in, err)
	}
}

// filepathOf writes content to a file called name in a folder of t's.
func filepathOf(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A crash between an acknowledgement's record and the removal of its
// files: the message is not listed again, its files go at the next
// listing, and the client's retry is answered as done.
func TestMeshAckCutShort(t *testing.T) {
	h := newMeshHub(t)
	ctx := t.Context()
	const id = "20261121010000000001_000001"
	ctl := mesh.OutgoingControl(la841, mesh.WorkflowUploadAck, id, "r.csv", "response", runAt)
	if err := h.Mailbox("841").Deliver("r.csv", func(w io.Writer) error { _, err := io.WriteString(w, "response"); return err }, ctl); err != nil {
		t.Fatal(err)
	}
	// What Acknowledge commits before it removes the files.
	if err := h.DB.Update(func(tx *store.Tx) error {
		if err := tx.RecordMeshAck(la841, id, runAt); err != nil {
			return err
		}
		return tx.RecordCollection(store.Collection{LA: "841", MailboxID: la841, Name: "r.csv", At: runAt, By: store.CollectedByMESH})
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := h.api.List(ctx, la841); err != nil || len(got) != 0 {
		t.Errorf("list after a recorded acknowledgement: %v %v, want nothing", got, err)
	}
	if out := folder(t, h.Mailbox("841").OutboxDir()); len(out) != 0 {
		t.Errorf("outbox after the listing: %v, want empty", keys(out))
	}
	if err := h.api.Acknowledge(ctx, la841, id); err != nil {
		t.Errorf("acknowledge again: %v", err)
	}
	if tr, err := h.api.Track(ctx, mesh.HubMailbox, id); err != nil || tr.Status != meshapi.StatusAcknowledged {
		t.Errorf("track: %+v %v, want acknowledged", tr, err)
	}
}
