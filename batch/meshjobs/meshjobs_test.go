package meshjobs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/hubtest"
	"cpis/batch/jobs"
	"cpis/batch/meshjobs"
	"cpis/batch/meshstore"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/mesh/meshapi"
	"cpis/mesh/meshapi/memory"
	"cpis/mesh/meshclient"
	"cpis/store"
)

// runAt is the jobs' clock.
var runAt = time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)

const (
	sharedKey = "TestKey"
	hubBox    = "X26OT001" // the hub's own mailbox at MESH
	hubPW     = "hub-secret"
	la841     = "LA841HC001"
	la202     = "LA202HC001"
	stranger  = "X26OTHER1" // a MESH mailbox that is no LA of the hub
)

// The messages waiting in the hub's MESH inbox in most tests.
const (
	id841   = "20261122020000000001_000001" // a return of 841, in gzipped chunks
	id202   = "20261122020000000002_000002" // a return of 202
	idOther = "20261122020000000003_000003" // from a mailbox that is no LA
	idWF    = "20261122020000000004_000004" // from 841, another workflow
)

var (
	content841 = []byte(strings.Repeat("9990000018,CPP,2026-11-21,Darlington\n", 20))
	content202 = []byte("9990000026,LAC,2026-11-21,Camden\n")
)

// fixture is a hub (LAs 202 and 841) connected to a MESH (meshapi over
// the memory backend, on a real listener).
type fixture struct {
	t    *testing.T
	hub  *hubtest.Hub
	mesh *memory.Store
	srv  *httptest.Server
	now  time.Time
}

func newFixture(t *testing.T, push string) *fixture {
	t.Helper()
	f := &fixture{t: t, now: runAt}
	f.hub = hubtest.New(t, hubtest.Options{LAs: []string{"202", "841"}, Created: runAt.Add(-24 * time.Hour)})
	hubOut := []string{mesh.WorkflowUploadAck, mesh.WorkflowAccess, mesh.WorkflowInactive}
	f.mesh = memory.New(sharedKey,
		memory.Mailbox{ID: hubBox, Name: "CP-IS hub", Password: hubPW, Sends: hubOut, Receives: []string{mesh.WorkflowUpload}},
		memory.Mailbox{ID: la841, Name: "Darlington", Password: "pw841", Sends: []string{mesh.WorkflowUpload}, Receives: hubOut},
		memory.Mailbox{ID: la202, Name: "Camden", Password: "pw202", Sends: []string{mesh.WorkflowUpload}, Receives: hubOut},
		memory.Mailbox{ID: stranger, Name: "Someone else", Password: "pw", Sends: []string{mesh.WorkflowUpload}},
	)
	up, err := meshapi.OpenUploads(filepath.Join(t.TempDir(), "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	server, err := meshapi.New(meshapi.Config{Accounts: f.mesh, Router: f.mesh, Inbox: f.mesh, Tracking: f.mesh,
		Directory: f.mesh, Uploads: up})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(server)
	t.Cleanup(f.srv.Close)
	f.connect(hubPW, push)
	return f
}

// connect records the hub's MESH mailbox with that password.
func (f *fixture) connect(password, push string) {
	dir := f.t.TempDir()
	pw, key := filepath.Join(dir, "password"), filepath.Join(dir, "key")
	for p, s := range map[string]string{pw: password + "\n", key: sharedKey + "\n"} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			f.t.Fatal(err)
		}
	}
	err := f.hub.DB.Update(func(tx *store.Tx) error {
		return tx.PutMeshConn(store.MeshConn{URL: f.srv.URL, Mailbox: hubBox, PasswordFile: pw, SharedKeyFile: key,
			ChunkSize: 64, Push: push, Added: runAt})
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) config() meshjobs.Config {
	cfg := meshstore.MeshClientConfig(f.hub.Dir, f.hub.DB, func() time.Time { return f.now }, nil, 0)
	cfg.Tune = func(c *meshclient.Config) { c.Backoff = time.Millisecond }
	return cfg
}

func (f *fixture) env() jobs.Env {
	return jobs.Env{DataDir: f.hub.Dir, DB: f.hub.DB, Now: func() time.Time { return f.now }}
}

// waiting puts the four messages of most tests into the hub's MESH inbox.
func (f *fixture) waiting() {
	f.mesh.ChunkSize, f.mesh.GzipChunks = 100, true
	f.mesh.Put(meshapi.Message{ID: id841, From: la841, To: hubBox, Workflow: mesh.WorkflowUpload,
		FileName: "CPIS_841_FULL_20261121.csv", LocalID: "841-2026-11-21-01", Subject: "FULL return", Delivered: runAt}, content841)
	f.mesh.ChunkSize, f.mesh.GzipChunks = 0, false
	f.mesh.Put(meshapi.Message{ID: id202, From: strings.ToLower(la202), To: hubBox, Workflow: mesh.WorkflowUpload,
		FileName: "CPIS_202_FULL_20261121.csv", Delivered: runAt}, content202)
	f.mesh.Put(meshapi.Message{ID: idOther, From: stranger, To: hubBox, Workflow: mesh.WorkflowUpload,
		FileName: "CPIS_999_FULL_20261121.csv", Delivered: runAt}, []byte("not ours\n"))
	f.mesh.Put(meshapi.Message{ID: idWF, From: la841, To: hubBox, Workflow: "CPIS_SOMETHING_ELSE",
		FileName: "other.csv", Delivered: runAt}, []byte("another workflow\n"))
}

// meshInbox lists mailbox's inbox at MESH.
func (f *fixture) meshInbox(mailbox string) []string {
	f.t.Helper()
	es, err := f.mesh.List(context.Background(), mailbox)
	if err != nil {
		f.t.Fatal(err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// folder returns the files of dir (names to contents); none when absent.
func folder(t *testing.T, dir string) map[string]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}
	}
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

func (f *fixture) audit(action string) []store.AuditEvent {
	f.t.Helper()
	var out []store.AuditEvent
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		return tx.AuditEvents(func(e store.AuditEvent) error {
			if e.Action == action {
				out = append(out, e)
			}
			return nil
		})
	}); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// taken returns the message IDs the ingest took for la.
func (f *fixture) taken(la string) []string {
	f.t.Helper()
	var ids []string
	if err := f.hub.DB.View(func(tx *store.Tx) error {
		return tx.Messages(la, func(m *store.Message) error { ids = append(ids, m.MessageID); return nil })
	}); err != nil {
		f.t.Fatal(err)
	}
	return ids
}

func control(t *testing.T, s string) mesh.Control {
	t.Helper()
	c, err := mesh.ParseControl(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPull(t *testing.T) {
	f := newFixture(t, "")
	f.waiting()
	res, err := meshjobs.Pull(context.Background(), f.config())
	if err != nil || res.Failed != nil {
		t.Fatalf("pull: %v %v", err, res.Failed)
	}
	if diff := cmp.Diff(map[string]int{"mesh_messages": 2, "mesh_bytes": len(content841) + len(content202), "mesh_unrouted": 2,
		"mesh_problems": 0, "mesh_failed": 0}, res.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if !res.Handshake {
		t.Error("no handshake")
	}
	if got := f.meshInbox(hubBox); len(got) != 0 {
		t.Errorf("MESH inbox after the pull: %v", got)
	}

	in841 := folder(t, local.Open(f.hub.Dir, la841).InboxDir())
	if got := in841["CPIS_841_FULL_20261121.csv"]; got != string(content841) || len(in841) != 2 {
		t.Errorf("inbox of 841: %v", slices.Sorted(maps.Keys(in841)))
	}
	want := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: la841, To: mesh.HubMailbox,
		Subject: "FULL return", LocalID: "841-2026-11-21-01", DTSID: id841, WorkflowID: mesh.WorkflowUpload}
	got := control(t, in841["CPIS_841_FULL_20261121.ctl"])
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("control file (-want +got):\n%s", diff)
	}
	if err := got.CheckIncoming(la841, false); err != nil {
		t.Errorf("the ingest would refuse the control file: %v", err)
	}
	in202 := folder(t, local.Open(f.hub.Dir, la202).InboxDir())
	if c := control(t, in202["CPIS_202_FULL_20261121.ctl"]); in202["CPIS_202_FULL_20261121.csv"] != string(content202) ||
		c.DTSID != id202 || c.From != la202 || c.LocalID != "CPIS_202_FULL_20261121.csv" {
		t.Errorf("inbox of 202: %v", in202)
	}

	unrouted := folder(t, meshjobs.UnroutedDir(f.hub.Dir))
	if unrouted[idOther+"_CPIS_999_FULL_20261121.csv"] != "not ours\n" || unrouted[idWF+"_other.csv"] != "another workflow\n" || len(unrouted) != 4 {
		t.Errorf("unrouted: %v", unrouted)
	}
	if c := control(t, unrouted[idOther+".ctl"]); c.From != stranger || c.To != hubBox || c.DTSID != idOther {
		t.Errorf("unrouted envelope %+v", c)
	}
	if n := len(f.audit("mesh_pulled")); n != 2 {
		t.Errorf("%d mesh_pulled audit events", n)
	}
	var reasons []string
	for _, e := range f.audit("mesh_unrouted") {
		reasons = append(reasons, e.MessageID+" "+e.Note)
	}
	wantReasons := []string{
		idOther + " " + stranger + " CPIS_LA_UPLOAD: sender \"X26OTHER1\" is not the mailbox of one of the hub's LAs",
		idWF + " " + la841 + " CPIS_SOMETHING_ELSE: workflow \"CPIS_SOMETHING_ELSE\" is not CPIS_LA_UPLOAD",
	}
	if diff := cmp.Diff(wantReasons, reasons); diff != "" {
		t.Errorf("unrouted audit (-want +got):\n%s", diff)
	}

	// The ingest takes both returns with MESH's message IDs.
	if _, err := jobs.Ingest(context.Background(), f.env(), jobs.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := f.taken("841"); !cmp.Equal(got, []string{id841}) {
		t.Errorf("taken for 841: %v", got)
	}

	// Nothing new: nothing happens, and no second handshake that day.
	res, err = meshjobs.Pull(context.Background(), f.config())
	if err != nil || res.Failed != nil || len(res.Messages) != 0 || res.Handshake {
		t.Errorf("second pull: %+v %v", res, err)
	}
	f.now = runAt.Add(24 * time.Hour)
	if res, _ := meshjobs.Pull(context.Background(), f.config()); !res.Handshake {
		t.Error("no handshake the next day")
	}
	if n := len(f.audit("mesh_handshake")); n != 2 {
		t.Errorf("%d handshakes recorded, want 2", n)
	}
}

// A message whose name is taken in the inbox folder by another file stays
// at MESH, reported; the next run after the ingest took the other file
// puts it.
func TestPullNameTaken(t *testing.T) {
	f := newFixture(t, "")
	f.mesh.Put(meshapi.Message{ID: id202, From: la202, To: hubBox, Workflow: mesh.WorkflowUpload,
		FileName: "CPIS_202_FULL_20261121.csv", Delivered: runAt}, content202)
	inbox := local.Open(f.hub.Dir, la202).InboxDir()
	if err := os.WriteFile(filepath.Join(inbox, "CPIS_202_FULL_20261121.csv"), []byte("uploaded over SFTP\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := meshjobs.Pull(context.Background(), f.config())
	if err != nil || res.Failed != nil || len(res.Problems) != 1 || len(res.Messages) != 0 {
		t.Fatalf("pull: %+v %v", res, err)
	}
	if got := f.meshInbox(hubBox); !cmp.Equal(got, []string{id202}) {
		t.Errorf("MESH inbox: %v", got)
	}
	if err := os.Remove(filepath.Join(inbox, "CPIS_202_FULL_20261121.csv")); err != nil {
		t.Fatal(err)
	}
	res, err = meshjobs.Pull(context.Background(), f.config())
	if err != nil || res.Failed != nil || len(res.Messages) != 1 {
		t.Fatalf("second pull: %+v %v", res, err)
	}
	if got := folder(t, inbox)["CPIS_202_FULL_20261121.csv"]; got != string(content202) {
		t.Errorf("inbox holds %q", got)
	}
}

// A MESH that refuses the mailbox stops the MESH part of the job with a
// clear error; the job reports it as a failed part.
func TestRefused(t *testing.T) {
	f := newFixture(t, "")
	f.connect("wrong-password", "")
	f.waiting()
	res, err := jobs.Pull(context.Background(), f.env())
	if err != nil {
		t.Fatal(err)
	}
	fail := res.Failure()
	if fail == nil || !errors.Is(fail, meshclient.ErrRefused) || !strings.Contains(fail.Error(), "MESH mailbox failed") {
		t.Fatalf("failure %v", fail)
	}
	if msg := res.MESH.Failed.Error(); !strings.Contains(msg, "refused the mailbox "+hubBox) || strings.Contains(msg, "wrong-password") {
		t.Errorf("error %q", msg)
	}
	if res.Counts()["mesh_failed"] != 1 || len(f.meshInbox(hubBox)) != 4 {
		t.Errorf("counts %v, MESH inbox %v", res.Counts(), f.meshInbox(hubBox))
	}
	// The push fails the same way, when it has something to send.
	f.outbox(t, "841", "CPIS_841_RESPONSE_1.csv", "20261122023000000001_0000A1", "ok\n")
	pres, err := jobs.Push(context.Background(), f.env())
	if err != nil || !errors.Is(pres.Failure(), meshclient.ErrRefused) {
		t.Errorf("push: %v %v", pres.Failure(), err)
	}
}

// Without a MESH connection the jobs do what they did before: nothing
// over MESH, no mesh_ counts.
func TestNotConnected(t *testing.T) {
	f := newFixture(t, "")
	if err := f.hub.DB.Update(func(tx *store.Tx) error { _, err := tx.RemoveMeshConn(); return err }); err != nil {
		t.Fatal(err)
	}
	f.waiting()
	f.outbox(t, "841", "CPIS_841_RESPONSE_1.csv", "20261122023000000001_0000A1", "ok\n")
	for name, job := range map[string]func(context.Context, jobs.Env) (jobs.RemoteResult, error){"pull": jobs.Pull, "push": jobs.Push} {
		res, err := job(context.Background(), f.env())
		if err != nil || res.Failure() != nil {
			t.Fatalf("%s: %v %v", name, err, res.Failure())
		}
		if diff := cmp.Diff(map[string]int{"las": 0, "files": 0, "bytes": 0, "problems": 0, "failed": 0}, res.Counts()); diff != "" {
			t.Errorf("%s counts (-want +got):\n%s", name, diff)
		}
	}
	if len(f.meshInbox(hubBox)) != 4 || len(folder(t, local.Open(f.hub.Dir, la841).OutboxDir())) != 2 {
		t.Error("something moved")
	}
}

// outbox writes an outbox message for LA la as the hub does.
func (f *fixture) outbox(t *testing.T, la, name, id, content string) {
	t.Helper()
	mb := mesh.MailboxID(la)
	ctl := mesh.OutgoingControl(mb, mesh.WorkflowUploadAck, id, name, "Response to "+name, runAt)
	err := local.Open(f.hub.Dir, mb).Deliver(name, func(w io.Writer) error { _, err := io.WriteString(w, content); return err }, ctl)
	if err != nil {
		t.Fatal(err)
	}
}

// pushed are the outbox messages of most push tests.
var pushed = []struct{ la, name, id, content string }{
	{"841", "CPIS_841_RESPONSE_1.csv", "20261122023000000001_0000A1", "response one\n"},
	{"841", "CPIS_841_ACCESS_20261121.csv", "20261122023000000002_0000A2", strings.Repeat("9990000018,2026-11-21T10:00:00Z\n", 10)},
	{"202", "CPIS_202_RESPONSE_1.csv", "20261122023000000003_0000A3", "response for Camden\n"},
}

func (f *fixture) outboxes(t *testing.T) {
	for _, p := range pushed {
		f.outbox(t, p.la, p.name, p.id, p.content)
	}
}

// delivered is what the LAs' MESH inboxes hold: by file name, the local
// ID, workflow, subject and content.
func (f *fixture) delivered() map[string]string {
	out := map[string]string{}
	for _, mb := range []string{la841, la202} {
		for _, id := range f.meshInbox(mb) {
			env, _ := f.mesh.Envelope(id)
			c, _ := f.mesh.Content(id)
			out[mb+"/"+env.FileName] = fmt.Sprintf("%s %s %q %q", env.LocalID, env.Workflow, env.Subject, c)
		}
	}
	return out
}

func wantDelivered(las ...string) map[string]string {
	out := map[string]string{}
	for _, p := range pushed {
		if slices.Contains(las, p.la) {
			out[mesh.MailboxID(p.la)+"/"+p.name] = fmt.Sprintf("%s %s %q %q", p.id, mesh.WorkflowUploadAck, "Response to "+p.name, p.content)
		}
	}
	return out
}

func TestPush(t *testing.T) {
	for _, tc := range []struct {
		name, push string
		remote202  bool
		want       []string
	}{
		{"all", "all", false, []string{"841", "202"}},
		{"all but the LA with a remote", "all", true, []string{"841"}},
		{"listed", "202", false, []string{"202"}},
		{"none", "none", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.push)
			if tc.remote202 {
				err := f.hub.DB.Update(func(tx *store.Tx) error {
					return tx.PutRemote(store.Remote{LA: "202", Addr: "127.0.0.1:1", User: "u", KeyFile: "/nonexistent/key", Inbox: "in", Outbox: "out"})
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			f.outboxes(t)
			res, err := meshjobs.Push(context.Background(), f.config())
			if err != nil || res.Failed != nil {
				t.Fatalf("push: %v %v", err, res.Failed)
			}
			if diff := cmp.Diff(wantDelivered(tc.want...), f.delivered()); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
			if n := f.mesh.Deliveries(); n != len(res.Messages) {
				t.Errorf("%d deliveries, %d messages pushed", n, len(res.Messages))
			}
			for _, p := range pushed {
				box := local.Open(f.hub.Dir, mesh.MailboxID(p.la))
				out, arch := folder(t, box.OutboxDir()), folder(t, box.ArchiveOutDir())
				if slices.Contains(tc.want, p.la) {
					if _, ok := out[p.name]; ok || arch[p.name] != p.content || arch[mesh.ControlName(p.name)] == "" {
						t.Errorf("%s not archived: outbox %d files, archive %d", p.name, len(out), len(arch))
					}
				} else if out[p.name] != p.content {
					t.Errorf("%s left the outbox", p.name)
				}
			}
			var cols []string
			err = f.hub.DB.View(func(tx *store.Tx) error {
				return tx.Collections("", func(c store.Collection) error { cols = append(cols, c.LA+" "+c.Name+" "+c.By); return nil })
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(cols) != len(res.Messages) || len(f.audit("mesh_pushed")) != len(res.Messages) {
				t.Errorf("collections %v, %d mesh_pushed events, %d messages", cols, len(f.audit("mesh_pushed")), len(res.Messages))
			}
			// Again: nothing to send.
			res, err = meshjobs.Push(context.Background(), f.config())
			if err != nil || res.Failed != nil || len(res.Messages) != 0 {
				t.Errorf("second push: %+v %v", res, err)
			}
		})
	}
}

// errCrash is what the hook stops a run with, as a crash would.
var errCrash = errors.New("crash")

// crashAt makes the run stop at step for message id, once.
func crashAt(t *testing.T, step, id string) {
	done := false
	meshjobs.SetTestHook(func(s, i string) error {
		if !done && s == step && i == id {
			done = true
			return errCrash
		}
		return nil
	})
	t.Cleanup(func() { meshjobs.SetTestHook(nil) })
}

// A crash at any step of a pull, then the ingest, then the next pull and
// ingest: every return taken once with MESH's message ID, every message
// archived or put once, the MESH inbox empty.
func TestPullCrash(t *testing.T) {
	steps := []struct{ step, id string }{
		{"downloaded", id841}, {"recorded", id841}, {"data", id841}, {"control", id841}, {"put", id841}, {"acknowledged", id841},
		{"downloaded", idOther}, {"archived", idOther}, {"put", idOther}, {"acknowledged", idOther},
	}
	for _, s := range steps {
		t.Run(s.step+" "+s.id, func(t *testing.T) {
			f := newFixture(t, "")
			f.waiting()
			crashAt(t, s.step, s.id)
			res, err := meshjobs.Pull(context.Background(), f.config())
			if err != nil || !errors.Is(res.Failed, errCrash) {
				t.Fatalf("crashed pull: %v %v", err, res.Failed)
			}
			meshjobs.SetTestHook(nil)
			if _, err := jobs.Ingest(context.Background(), f.env(), jobs.IngestOptions{}); err != nil {
				t.Fatal(err)
			}
			res, err = meshjobs.Pull(context.Background(), f.config())
			if err != nil || res.Failed != nil {
				t.Fatalf("pull after the crash: %v %v", err, res.Failed)
			}
			if _, err := jobs.Ingest(context.Background(), f.env(), jobs.IngestOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := f.meshInbox(hubBox); len(got) != 0 {
				t.Errorf("MESH inbox: %v", got)
			}
			if got := f.taken("841"); !cmp.Equal(got, []string{id841}) {
				t.Errorf("taken for 841: %v", got)
			}
			if got := f.taken("202"); !cmp.Equal(got, []string{id202}) {
				t.Errorf("taken for 202: %v", got)
			}
			for _, mb := range []string{la841, la202} {
				if in := folder(t, local.Open(f.hub.Dir, mb).InboxDir()); len(in) != 0 {
					t.Errorf("inbox of %s after the ingest: %v", mb, in)
				}
			}
			if n := len(folder(t, meshjobs.UnroutedDir(f.hub.Dir))); n != 4 {
				t.Errorf("%d unrouted files, want 4", n)
			}
			if p, u := len(f.audit("mesh_pulled")), len(f.audit("mesh_unrouted")); p != 2 || u != 2 {
				t.Errorf("%d mesh_pulled, %d mesh_unrouted audit events; want 2 and 2", p, u)
			}
		})
	}
}

// A crash at any step of a push, then the next push: every message
// delivered once at MESH, archived once, collected once.
func TestPushCrash(t *testing.T) {
	// The first message of 841 is smaller than a chunk, the second in
	// several chunks.
	for _, tc := range []struct{ step, id string }{
		{"started", pushed[0].id}, {"recorded", pushed[0].id}, {"sent", pushed[0].id}, {"collected", pushed[0].id}, {"archived", pushed[0].id},
		{"started", pushed[1].id}, {"recorded", pushed[1].id}, {"sent", pushed[1].id}, {"collected", pushed[1].id}, {"archived", pushed[1].id},
	} {
		step, id := tc.step, tc.id
		t.Run(step+" "+id, func(t *testing.T) {
			f := newFixture(t, "all")
			f.outboxes(t)
			crashAt(t, step, id)
			res, err := meshjobs.Push(context.Background(), f.config())
			if err != nil || !errors.Is(res.Failed, errCrash) {
				t.Fatalf("crashed push: %v %v", err, res.Failed)
			}
			meshjobs.SetTestHook(nil)
			res, err = meshjobs.Push(context.Background(), f.config())
			if err != nil || res.Failed != nil {
				t.Fatalf("push after the crash: %v %v", err, res.Failed)
			}
			if diff := cmp.Diff(wantDelivered("841", "202"), f.delivered()); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
			if n := f.mesh.Deliveries(); n != len(pushed) {
				t.Errorf("%d deliveries at MESH, want %d", n, len(pushed))
			}
			for _, p := range pushed {
				box := local.Open(f.hub.Dir, mesh.MailboxID(p.la))
				if out := folder(t, box.OutboxDir()); len(out) != 0 {
					t.Errorf("outbox of %s: %v", p.la, out)
				}
				if arch := folder(t, box.ArchiveOutDir()); arch[p.name] != p.content || len(arch) != 2*countLA(p.la) {
					t.Errorf("archive of %s: %d files", p.la, len(arch))
				}
			}
			if n := len(f.audit("mesh_pushed")); n != len(pushed) {
				t.Errorf("%d mesh_pushed audit events, want %d", n, len(pushed))
			}
			// Nothing more on a third run.
			if res, err := meshjobs.Push(context.Background(), f.config()); err != nil || len(res.Messages) != 0 {
				t.Errorf("third push: %+v %v", res, err)
			}
		})
	}
}

func countLA(la string) int {
	n := 0
	for _, p := range pushed {
		if p.la == la {
			n++
		}
	}
	return n
}

// Messages sent by the push arrive whole at the LA's own MESH client.
func TestPushedReadByLA(t *testing.T) {
	f := newFixture(t, "all")
	f.outboxes(t)
	if res, err := meshjobs.Push(context.Background(), f.config()); err != nil || res.Failed != nil {
		t.Fatalf("push: %v %v", err, res.Failed)
	}
	c, err := meshclient.New(meshclient.Config{URL: f.srv.URL, Mailbox: la841, Password: "pw841", SharedKey: sharedKey})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := c.Inbox(context.Background(), meshclient.ListOptions{})
	if err != nil || len(ids) != 2 {
		t.Fatalf("inbox %v %v", ids, err)
	}
	got := map[string]string{}
	for _, id := range ids {
		var buf bytes.Buffer
		m, err := c.Download(context.Background(), id, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if m.From != hubBox || m.Workflow != mesh.WorkflowUploadAck {
			t.Errorf("envelope %+v", m)
		}
		got[m.FileName] = buf.String()
	}
	if diff := cmp.Diff(map[string]string{pushed[0].name: pushed[0].content, pushed[1].name: pushed[1].content}, got); diff != "" {
		t.Errorf("downloaded (-want +got):\n%s", diff)
	}
}

// A MESH that cannot be reached fails the MESH part (after the client's
// retries), not the job as a whole; nothing moves.
func TestUnreachable(t *testing.T) {
	f := newFixture(t, "all")
	f.waiting()
	f.outboxes(t)
	f.srv.Close()
	for name, job := range map[string]func(context.Context, meshjobs.Config) (meshjobs.Result, error){"pull": meshjobs.Pull, "push": meshjobs.Push} {
		res, err := job(context.Background(), f.config())
		if err != nil || res.Failed == nil || errors.Is(res.Failed, meshclient.ErrRefused) || !strings.Contains(res.Failed.Error(), "MESH mailbox "+hubBox+" at ") {
			t.Errorf("%s: %v, failed %v", name, err, res.Failed)
		}
	}
	if n := len(folder(t, local.Open(f.hub.Dir, la841).OutboxDir())); n != 4 {
		t.Errorf("outbox of 841: %d files", n)
	}
}

// A crash between the data file and its control file, and the data file
// left long enough for the ingest to take it alone (under an ID derived
// from it): the next pull finds it in the archive and does not put it
// again.
func TestPullCrashDataTakenAlone(t *testing.T) {
	f := newFixture(t, "")
	f.waiting()
	crashAt(t, "data", id841)
	if res, err := meshjobs.Pull(context.Background(), f.config()); err != nil || !errors.Is(res.Failed, errCrash) {
		t.Fatalf("crashed pull: %v %v", err, res.Failed)
	}
	meshjobs.SetTestHook(nil)
	data := filepath.Join(local.Open(f.hub.Dir, la841).InboxDir(), "CPIS_841_FULL_20261121.csv")
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(data, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Ingest(context.Background(), f.env(), jobs.IngestOptions{LAs: []string{"841"}}); err != nil {
		t.Fatal(err)
	}
	first := f.taken("841")
	if len(first) != 1 || first[0] == id841 {
		t.Fatalf("taken alone: %v", first)
	}
	res, err := meshjobs.Pull(context.Background(), f.config())
	if err != nil || res.Failed != nil {
		t.Fatalf("pull after the crash: %v %v", err, res.Failed)
	}
	if in := folder(t, local.Open(f.hub.Dir, la841).InboxDir()); len(in) != 0 {
		t.Errorf("put again: %v", slices.Sorted(maps.Keys(in)))
	}
	if _, err := jobs.Ingest(context.Background(), f.env(), jobs.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := f.taken("841"); !cmp.Equal(got, first) {
		t.Errorf("taken for 841: %v, want only %v", got, first)
	}
	if got := f.meshInbox(hubBox); len(got) != 0 {
		t.Errorf("MESH inbox: %v", got)
	}
}
