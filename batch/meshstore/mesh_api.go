package meshstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"cpis/batch/returns"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/mesh/meshapi"
	"cpis/store"
)

// UndeliveredAfter is how long a hub message may wait in an LA's outbox
// before tracking calls it undeliverable (MESH status code 14).
const UndeliveredAfter = 5 * 24 * time.Hour

// cacheTTL bounds how long the credentials and the authorities are served
// from memory without a look at the store (a change made through the
// store in this process reloads them at once).
const cacheTTL = time.Minute

// MeshUploadsDir returns the folder of the MESH API's chunked uploads in
// progress in the data directory dataDir.
func MeshUploadsDir(dataDir string) string { return filepath.Join(dataDir, "mesh_uploads") }

// MeshConfig returns the config of the hub's MESH API server
// (meshapi.New) over the data directory dataDir and its store db: the
// accounts, routes, inboxes, tracking and directory of MeshAPI, the
// upload area MeshUploadsDir, every event to the MESH audit, messages
// bounded by sizeLimit (0: the default). It makes the environment's
// shared key when the store has none yet.
func MeshConfig(dataDir string, db *store.DB, now func() time.Time, log *slog.Logger, sizeLimit int64) (meshapi.Config, error) {
	if now == nil {
		now = time.Now
	}
	if err := db.Update(func(tx *store.Tx) error { _, _, err := tx.EnsureMeshKey(now()); return err }); err != nil {
		return meshapi.Config{}, fmt.Errorf("mesh key: %w", err)
	}
	up, err := meshapi.OpenUploads(MeshUploadsDir(dataDir))
	if err != nil {
		return meshapi.Config{}, fmt.Errorf("mesh uploads: %w", err)
	}
	api := &MeshAPI{DataDir: dataDir, DB: db, Now: now, Log: log}
	return meshapi.Config{Accounts: api, Router: api, Inbox: api, Tracking: api, Directory: api,
		Uploads: up, Audit: meshAudit(api.group(), log), Now: now, Log: log, MaxMessage: sizeLimit}, nil
}

// MeshAudit returns a meshapi Audit function that appends each event to
// db's MESH audit, durably before it returns, in commits shared with
// concurrent events. An event that cannot be written is logged on log
// (nil: dropped silently); the request goes on.
func MeshAudit(db *store.DB, log *slog.Logger) func(meshapi.Event) {
	return meshAudit(&groupCommit{db: db}, log)
}

func meshAudit(g *groupCommit, log *slog.Logger) func(meshapi.Event) {
	return func(e meshapi.Event) {
		if err := g.do(func(tx *store.Tx) error { return tx.AuditMESH(store.MeshEvent(e)) }); err != nil && log != nil {
			log.Error("mesh audit", "action", e.Action, "mailbox", e.Mailbox, "err", err)
		}
	}
}

// MeshAPI is the hub's side of the MESH API (mesh/meshapi/mesh-api.md): it implements
// meshapi's Accounts, Router, Inbox, Tracking and Directory over the store
// and the LA mailbox folders.
//   - The mailboxes that log in are the LA mailboxes given a password
//     (`cpis mesh password`); CPISHUB01 never does.
//   - A return sent to CPISHUB01 (CPIS_LA_UPLOAD) lands in the sending
//     LA's inbox folder, data file and control file with the MESH message
//     ID as DTSId (local.Mailbox.Receive); ingest takes it from there.
//   - An LA's MESH inbox is its outbox folder: every data file with a
//     well-formed control file, by the control file's DTSId. Acknowledging
//     one collects it as an SFTP delete does (store.CollectedByMESH).
//   - Tracking a return: accepted while in the inbox folder, acknowledged
//     once the store's message ledger has it.
type MeshAPI struct {
	DataDir string
	DB      *store.DB
	// Now is the clock of collections and statuses; nil means time.Now.
	Now func() time.Time
	// Log receives errors the client does not see; nil discards them.
	Log *slog.Logger

	mu    sync.Mutex
	creds *credentials
	las   *authorities
	index outboxIndex
	// writes shares the store's commits among concurrent handshakes,
	// acknowledgements and audit events.
	writes *groupCommit
}

var (
	_ meshapi.Accounts  = (*MeshAPI)(nil)
	_ meshapi.Router    = (*MeshAPI)(nil)
	_ meshapi.Inbox     = (*MeshAPI)(nil)
	_ meshapi.Tracking  = (*MeshAPI)(nil)
	_ meshapi.Directory = (*MeshAPI)(nil)
)

type credentials struct {
	gen       uint64
	loaded    time.Time // real time
	key       []byte
	passwords map[string][]byte
}

type authorities struct {
	loaded    time.Time // real time
	all       []store.Authority
	byMailbox map[string]store.Authority
}

func (a *MeshAPI) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *MeshAPI) logError(msg string, args ...any) {
	if a.Log != nil {
		a.Log.Error(msg, args...)
	}
}

// group returns the writes' group commit.
func (a *MeshAPI) group() *groupCommit {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.writes == nil {
		a.writes = &groupCommit{db: a.DB}
	}
	return a.writes
}

// credentials returns the cached credentials, reloaded when a change was
// committed since or cacheTTL has passed.
func (a *MeshAPI) credentials() (*credentials, error) {
	gen := store.MeshCredentialsGeneration()
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.creds; c != nil && c.gen == gen && time.Since(c.loaded) < cacheTTL {
		return c, nil
	}
	c := &credentials{gen: gen, loaded: time.Now()}
	if err := a.DB.View(func(tx *store.Tx) (err error) {
		c.key, c.passwords, err = tx.MeshCredentials()
		return err
	}); err != nil {
		return nil, err
	}
	a.creds = c
	return c, nil
}

// authorities returns the LAs, cached for cacheTTL.
func (a *MeshAPI) authorities() (*authorities, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.las; l != nil && time.Since(l.loaded) < cacheTTL {
		return l, nil
	}
	l := &authorities{loaded: time.Now(), byMailbox: map[string]store.Authority{}}
	if err := a.DB.View(func(tx *store.Tx) (err error) { l.all, err = tx.Authorities(); return err }); err != nil {
		return nil, err
	}
	for _, la := range l.all {
		l.byMailbox[strings.ToUpper(la.MailboxID)] = la
	}
	a.las = l
	return l, nil
}

// authority returns the LA whose mailbox is mailbox.
func (a *MeshAPI) authority(mailbox string) (store.Authority, bool, error) {
	l, err := a.authorities()
	if err != nil {
		return store.Authority{}, false, err
	}
	la, ok := l.byMailbox[strings.ToUpper(mailbox)]
	return la, ok, nil
}

// Credentials implements meshapi.Accounts from memory.
func (a *MeshAPI) Credentials(_ context.Context, mailbox string) (key, password []byte, err error) {
	id := strings.ToUpper(mailbox)
	if id == mesh.HubMailbox {
		return nil, nil, fmt.Errorf("mailbox %s: %w", id, meshapi.ErrUnknownMailbox)
	}
	c, err := a.credentials()
	if err != nil {
		return nil, nil, fmt.Errorf("mesh credentials: %w", err)
	}
	pw, ok := c.passwords[id]
	if !ok || len(c.key) == 0 {
		return nil, nil, fmt.Errorf("mailbox %s: %w", id, meshapi.ErrUnknownMailbox)
	}
	return c.key, pw, nil
}

// Handshake implements meshapi.Accounts: the mailbox's last handshake and
// client, in a write shared with concurrent ones.
func (a *MeshAPI) Handshake(_ context.Context, mailbox string, c meshapi.Client, t time.Time) error {
	return a.group().do(func(tx *store.Tx) error {
		return tx.RecordMeshHandshake(mailbox, c.Version, c.OSName, c.OSVersion, t)
	})
}

// Route implements meshapi.Router: an LA may send CPIS_LA_UPLOAD to
// CPISHUB01 and nothing else.
func (a *MeshAPI) Route(_ context.Context, from, to, workflow string) error {
	if strings.EqualFold(to, mesh.HubMailbox) {
		if workflow != mesh.WorkflowUpload {
			return &meshapi.Refusal{Code: meshapi.CodeSenderNotAllowed, Reason: "the hub receives " + mesh.WorkflowUpload + " only, not " + workflow}
		}
		if _, ok, err := a.authority(from); err != nil {
			return err
		} else if !ok {
			return &meshapi.Refusal{Code: meshapi.CodeSenderNotAllowed, Reason: from + " is no LA's mailbox"}
		}
		return nil
	}
	if _, ok, err := a.authority(to); err != nil {
		return err
	} else if ok {
		return &meshapi.Refusal{Code: meshapi.CodeNotRegistered, Reason: to + " receives from the hub only"}
	}
	return &meshapi.Refusal{Code: meshapi.CodeUnregistered, Reason: to + " is not a mailbox of the hub"}
}

// Deliver implements meshapi.Router: the return goes into the sending
// LA's inbox folder as `cpis mailbox send` would put it, with e.ID as its
// DTSId (local.Mailbox.Receive: atomic, durable, idempotent). A message
// the store's ledger already has (taken by ingest) is not put again.
func (a *MeshAPI) Deliver(ctx context.Context, e meshapi.Envelope, body io.Reader) error {
	if err := a.Route(ctx, e.From, e.To, e.Workflow); err != nil {
		return err
	}
	la, _, err := a.authority(e.From)
	if err != nil {
		return err
	}
	var taken bool
	if err := a.DB.View(func(tx *store.Tx) error {
		_, found, err := tx.MessageByID(la.Code, e.ID)
		taken = found
		return err
	}); err != nil {
		return fmt.Errorf("deliver %s: %w", e.ID, err)
	}
	if taken {
		return nil
	}
	name := deliverName(e)
	localID := e.LocalID
	if localID == "" {
		localID = name
	}
	ctl := mesh.Control{
		Version: "1.0", AddressType: "DTS", MessageType: "Data",
		From: la.MailboxID, To: mesh.HubMailbox, Subject: subject(e.Subject, name), LocalID: localID,
		DTSID: e.ID, WorkflowID: mesh.WorkflowUpload, Encrypted: e.Encrypted,
		IsCompressed: strings.HasSuffix(strings.ToLower(name), ".gz"),
	}
	if err := local.Open(a.DataDir, la.MailboxID).Receive(name, body, ctl); err != nil {
		return fmt.Errorf("deliver %s: %w", e.ID, err)
	}
	return nil
}

// deliverName is the inbox name of a sent message: its mex-FileName, or
// "<message ID>.dat" when it gave none the inbox could hold (mesh.CheckName:
// no control or bidirectional characters, valid UTF-8, not too long).
func deliverName(e meshapi.Envelope) string {
	n := e.FileName
	if !mesh.IsPlainName(n) || mesh.IsTempName(n) || mesh.IsControlName(n) || mesh.CheckName(n) != nil || len(n) > 200 || strings.ContainsAny(n, "\\:") {
		return e.ID + ".dat"
	}
	return n
}

// subject is the control file's Subject: the sender's, or the one `cpis
// mailbox send` gives.
func subject(given, name string) string {
	if given != "" {
		return given
	}
	if n, err := returns.ParseName(name); err == nil {
		return fmt.Sprintf("%s return %s", n.Kind, n.Extract)
	}
	return "CP-IS return"
}

// outMessage is a complete message in an outbox folder.
type outMessage struct {
	la   store.Authority
	name string // the data file
	path string
	size int64
	mod  time.Time
	ctl  mesh.Control
}

// delivered is when the message reached the outbox: its control file's
// status time, or the data file's modification time.
func (m outMessage) delivered() time.Time {
	if m.ctl.Status != nil && !m.ctl.Status.DateTime.IsZero() {
		return m.ctl.Status.DateTime
	}
	return m.mod.UTC()
}

// outboxDir is la's outbox folder.
func (a *MeshAPI) outboxDir(la store.Authority) string {
	return local.Open(a.DataDir, la.MailboxID).OutboxDir()
}

// outbox returns the complete messages of la's outbox folder (a data file
// with a well-formed control file whose DTSId is a message ID), by
// message ID. Control files unchanged since they were last read are not
// read again (outboxIndex).
func (a *MeshAPI) outbox(la store.Authority) ([]outMessage, error) {
	mb := local.Open(a.DataDir, la.MailboxID)
	files, err := mb.Outbox()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	dir := mb.OutboxDir()
	var out []outMessage
	for _, f := range files {
		if !f.HasControl {
			continue
		}
		ctl, _, ok, err := a.index.control(dir, mesh.ControlName(f.Name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // collected meanwhile
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		out = append(out, outMessage{la: la, name: f.Name, path: filepath.Join(dir, f.Name), size: f.Size, mod: f.ModTime, ctl: ctl})
	}
	// A message whose acknowledgement is recorded was collected: its files
	// are still there only when a crash cut Acknowledge short between the
	// record and their removal. They are removed now, and it is not listed
	// again.
	acked := map[string]bool{}
	if len(out) > 0 {
		if err := a.DB.View(func(tx *store.Tx) error {
			for _, m := range out {
				_, ok, err := tx.MeshAck(la.MailboxID, m.ctl.DTSID)
				if err != nil {
					return err
				}
				acked[m.ctl.DTSID] = ok
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	kept := out[:0]
	for _, m := range out {
		if !acked[m.ctl.DTSID] {
			kept = append(kept, m)
			continue
		}
		if err := a.removeCollected(m); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(kept, func(x, y outMessage) int { return strings.Compare(x.ctl.DTSID, y.ctl.DTSID) })
	a.index.seen(dir, la, kept)
	return kept, nil
}

// removeCollected removes the data file and the control file of a
// collected message from its outbox folder, forgets it in the index, and
// fsyncs the folder (the fsync shared with concurrent removals).
func (a *MeshAPI) removeCollected(m outMessage) error {
	dir := filepath.Dir(m.path)
	for _, n := range []string{m.name, mesh.ControlName(m.name)} {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove collected %s: %w", m.name, err)
		}
	}
	a.index.forget(m.ctl.DTSID)
	if err := mesh.SyncDir(dir); err != nil {
		return fmt.Errorf("remove collected %s: %w", m.name, err)
	}
	return nil
}

// find returns message id of mailbox's outbox folder: ErrNotFound when no
// outbox has it, ErrForbidden when another LA's has.
func (a *MeshAPI) find(mailbox, id string) (outMessage, error) {
	l, err := a.authorities()
	if err != nil {
		return outMessage{}, err
	}
	own, isLA := l.byMailbox[strings.ToUpper(mailbox)]
	if m, ok := a.index.lookup(a, id); ok {
		if isLA && m.la.Code == own.Code {
			return m, nil
		}
		return outMessage{}, fmt.Errorf("message %s: %w", id, meshapi.ErrForbidden)
	}
	if isLA {
		msgs, err := a.outbox(own)
		if err != nil {
			return outMessage{}, err
		}
		for _, m := range msgs {
			if m.ctl.DTSID == id {
				return m, nil
			}
		}
	}
	if mesh.ValidMessageID(id) {
		for _, la := range l.all {
			if la.Code == own.Code && isLA {
				continue
			}
			msgs, err := a.outbox(la)
			if err != nil {
				return outMessage{}, err
			}
			for _, m := range msgs {
				if m.ctl.DTSID == id {
					return outMessage{}, fmt.Errorf("message %s: %w", id, meshapi.ErrForbidden)
				}
			}
		}
	}
	return outMessage{}, fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
}

// List implements meshapi.Inbox: the complete messages of the LA's outbox
// folder.
func (a *MeshAPI) List(_ context.Context, mailbox string) ([]meshapi.Entry, error) {
	la, ok, err := a.authority(mailbox)
	if err != nil || !ok {
		return nil, err
	}
	msgs, err := a.outbox(la)
	if err != nil {
		return nil, err
	}
	out := make([]meshapi.Entry, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, meshapi.Entry{ID: m.ctl.DTSID, Workflow: m.ctl.WorkflowID})
	}
	return out, nil
}

// Open implements meshapi.Inbox.
func (a *MeshAPI) Open(_ context.Context, mailbox, id string) (meshapi.Message, error) {
	m, err := a.find(mailbox, id)
	if err != nil {
		return meshapi.Message{}, err
	}
	return meshapi.Message{
		ID: id, From: mesh.HubMailbox, To: m.la.MailboxID, Workflow: m.ctl.WorkflowID, FileName: m.name,
		LocalID: m.ctl.LocalID, Subject: m.ctl.Subject, Encrypted: m.ctl.Encrypted, Compressed: m.ctl.IsCompressed,
		Type: "DATA", Chunks: 1, Delivered: m.delivered(),
	}, nil
}

// Chunk implements meshapi.Inbox: a message in a folder is one chunk, its
// data file as stored.
func (a *MeshAPI) Chunk(_ context.Context, mailbox, id string, k int) (io.ReadCloser, int64, error) {
	m, err := a.find(mailbox, id)
	if err != nil {
		return nil, 0, err
	}
	if k != 1 {
		return nil, 0, fmt.Errorf("message %s chunk %d: %w", id, k, meshapi.ErrNotFound)
	}
	f, err := os.Open(m.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, info.Size(), nil
}

// Acknowledge implements meshapi.Inbox: the LA collects the message. The
// acknowledgement and the collection are recorded first, then the data
// file and its control file leave the outbox (the folder fsynced). After
// a crash between the two the message is not listed again (outbox
// finishes its removal) and the client's retry answers nil: a message
// this mailbox acknowledged already answers nil.
func (a *MeshAPI) Acknowledge(ctx context.Context, mailbox, id string) error {
	return a.Collect(ctx, mailbox, id, store.CollectedByMESH)
}

// Collect is Acknowledge with the collection recorded as made by by (a
// store.CollectedBy* value): the console's "mark collected" is the same
// collection as a MESH acknowledgement, made on the web.
func (a *MeshAPI) Collect(_ context.Context, mailbox, id, by string) error {
	mailbox = strings.ToUpper(mailbox)
	m, err := a.find(mailbox, id)
	if errors.Is(err, meshapi.ErrNotFound) {
		var acked bool
		if verr := a.DB.View(func(tx *store.Tx) (err error) { _, acked, err = tx.MeshAck(mailbox, id); return err }); verr != nil {
			return verr
		}
		if acked {
			return nil
		}
	}
	if err != nil {
		return err
	}
	at := a.now()
	// In a write shared with concurrent acknowledgements and audit
	// events (one commit and fsync for all), on disk before the files go.
	if err := a.group().do(func(tx *store.Tx) error {
		if _, done, err := tx.MeshAck(mailbox, id); err != nil || done {
			return err
		}
		if err := tx.RecordMeshAck(mailbox, id, at); err != nil {
			return err
		}
		return tx.RecordCollection(store.Collection{LA: m.la.Code, MailboxID: m.la.MailboxID, Name: m.name, At: at, By: by})
	}); err != nil {
		return fmt.Errorf("acknowledge %s: %w", id, err)
	}
	if err := a.removeCollected(m); err != nil {
		return fmt.Errorf("acknowledge %s: %w", id, err)
	}
	return nil
}

// Track implements meshapi.Tracking. For an LA: a return it sent,
// accepted while its files are in the inbox folder, acknowledged once the
// store's ledger has it (ingest took it). For CPISHUB01 (the hub itself):
// a message waiting in an LA's outbox folder, undeliverable (status code
// 14) once it has waited UndeliveredAfter, acknowledged once the LA
// acknowledged it over the MESH API.
func (a *MeshAPI) Track(_ context.Context, mailbox, id string) (meshapi.Tracked, error) {
	mailbox = strings.ToUpper(mailbox)
	notFound := fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
	if !mesh.ValidMessageID(id) {
		return meshapi.Tracked{}, notFound
	}
	if mailbox == mesh.HubMailbox {
		return a.trackHub(id)
	}
	la, ok, err := a.authority(mailbox)
	if err != nil {
		return meshapi.Tracked{}, err
	}
	if !ok {
		return meshapi.Tracked{}, notFound
	}
	uploaded := messageIDTime(id)
	t := meshapi.Tracked{
		Envelope:   meshapi.Envelope{ID: id, From: la.MailboxID, To: mesh.HubMailbox, Workflow: mesh.WorkflowUpload, Chunks: 1, Uploaded: uploaded},
		StatusCode: "00", RecipientName: "CP-IS hub", Expiry: uploaded.Add(UndeliveredAfter),
	}
	var msg *store.Message
	if err := a.DB.View(func(tx *store.Tx) error {
		m, found, err := tx.MessageByID(la.Code, id)
		if found {
			msg = m
		}
		return err
	}); err != nil {
		return meshapi.Tracked{}, err
	}
	if msg != nil {
		t.FileName, t.Size = msg.File, msg.Size
		if ctl, err := readControl(msg.ControlPath); err == nil && ctl.DTSID == id {
			t.LocalID, t.Subject = ctl.LocalID, ctl.Subject
		}
		t.Status, t.StatusEvent, t.StatusDescription = meshapi.StatusAcknowledged, "DOWNLOAD", "Taken by the hub"
		t.StatusTime, t.Acknowledged = msg.TakenAt.UTC(), msg.TakenAt.UTC()
		return t, nil
	}
	mb := local.Open(a.DataDir, la.MailboxID)
	files, err := mb.InboxFiles()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return meshapi.Tracked{}, err
	}
	for _, f := range files {
		if !f.HasControl {
			continue
		}
		ctl, err := readControl(filepath.Join(mb.InboxDir(), mesh.ControlName(f.Name)))
		if err != nil || ctl.DTSID != id || !strings.EqualFold(ctl.From, la.MailboxID) {
			continue
		}
		t.FileName, t.Size, t.LocalID, t.Subject = f.Name, f.Size, ctl.LocalID, ctl.Subject
		t.Status, t.StatusEvent, t.StatusDescription = meshapi.StatusAccepted, "TRANSFER", "Transferred to recipient mailbox"
		t.StatusTime = f.ModTime.UTC()
		return t, nil
	}
	// A hub message waiting in this LA's MESH inbox: the LA may track it
	// too (a hub decision: MESH's tracking is the sender's, and the hub,
	// CPISHUB01, never logs in), so that undeliverable (14) after 5 days is
	// seen by the one who can collect it.
	if ht, err := a.trackHub(id); err == nil && strings.EqualFold(ht.To, la.MailboxID) {
		return ht, nil
	} else if err != nil && !errors.Is(err, meshapi.ErrNotFound) {
		return meshapi.Tracked{}, err
	}
	return meshapi.Tracked{}, notFound
}

func (a *MeshAPI) trackHub(id string) (meshapi.Tracked, error) {
	l, err := a.authorities()
	if err != nil {
		return meshapi.Tracked{}, err
	}
	for _, la := range l.all {
		msgs, err := a.outbox(la)
		if err != nil {
			return meshapi.Tracked{}, err
		}
		for _, m := range msgs {
			if m.ctl.DTSID != id {
				continue
			}
			d := m.delivered()
			t := meshapi.Tracked{
				Envelope: meshapi.Envelope{ID: id, From: mesh.HubMailbox, To: la.MailboxID, Workflow: m.ctl.WorkflowID,
					FileName: m.name, LocalID: m.ctl.LocalID, Subject: m.ctl.Subject, Chunks: 1, Uploaded: d},
				Size: m.size, Status: meshapi.StatusAccepted, StatusCode: "00", StatusEvent: "TRANSFER",
				StatusDescription: "Transferred to recipient mailbox", StatusTime: d, Expiry: d.Add(UndeliveredAfter),
				RecipientName: la.Name,
			}
			if !a.now().Before(d.Add(UndeliveredAfter)) {
				t.Status, t.StatusCode, t.StatusDescription = meshapi.StatusUndeliverable, "14", "Not collected by the recipient within 5 days"
				t.StatusTime = d.Add(UndeliveredAfter)
			}
			return t, nil
		}
	}
	// Collected over the MESH API: acknowledged (the message itself, and
	// so its file name, has left the outbox).
	for _, la := range l.all {
		var at time.Time
		var acked bool
		if err := a.DB.View(func(tx *store.Tx) (err error) { at, acked, err = tx.MeshAck(la.MailboxID, id); return err }); err != nil {
			return meshapi.Tracked{}, err
		}
		if acked {
			return meshapi.Tracked{
				Envelope: meshapi.Envelope{ID: id, From: mesh.HubMailbox, To: la.MailboxID, Chunks: 1},
				Status:   meshapi.StatusAcknowledged, StatusCode: "00", StatusEvent: "DOWNLOAD",
				StatusDescription: "Acknowledged by recipient", StatusTime: at, Acknowledged: at, RecipientName: la.Name,
			}, nil
		}
	}
	return meshapi.Tracked{}, fmt.Errorf("message %s: %w", id, meshapi.ErrNotFound)
}

// readControl parses the control file at path.
func readControl(path string) (mesh.Control, error) {
	if path == "" {
		return mesh.Control{}, fs.ErrNotExist
	}
	f, err := os.Open(path)
	if err != nil {
		return mesh.Control{}, err
	}
	defer f.Close()
	return mesh.ParseControl(f)
}

// messageIDTime is the time a message ID was made at (its first 20
// digits, UTC).
func messageIDTime(id string) time.Time {
	t, err := time.Parse("20060102150405.000000", id[:14]+"."+id[14:20])
	if err != nil {
		return time.Time{}
	}
	return t
}

// hubDirectoryName is the hub's name in endpoint lookup.
const hubDirectoryName = "CP-IS hub"

// Lookup implements meshapi.Directory: the mailboxes of organisation ods
// (an LA's code, GSS code or mailbox ID; the hub's mailbox ID) that
// receive workflow.
func (a *MeshAPI) Lookup(_ context.Context, ods, workflow string) ([]meshapi.Mailbox, error) {
	all, err := a.receivers(workflow)
	if err != nil {
		return nil, err
	}
	l, err := a.authorities()
	if err != nil {
		return nil, err
	}
	var out []meshapi.Mailbox
	for _, mb := range all {
		la, isLA := l.byMailbox[mb.ID]
		if strings.EqualFold(ods, mb.ID) || (isLA && (ods == la.Code || strings.EqualFold(ods, la.GSS))) {
			out = append(out, mb)
		}
	}
	return out, nil
}

// Search implements meshapi.Directory: CPISHUB01 receives CPIS_LA_UPLOAD,
// every LA mailbox the hub's outgoing workflows.
func (a *MeshAPI) Search(_ context.Context, workflow string) ([]meshapi.Mailbox, error) {
	return a.receivers(workflow)
}

func (a *MeshAPI) receivers(workflow string) ([]meshapi.Mailbox, error) {
	switch workflow {
	case mesh.WorkflowUpload:
		return []meshapi.Mailbox{{ID: mesh.HubMailbox, Name: hubDirectoryName}}, nil
	case mesh.WorkflowUploadAck, mesh.WorkflowAccess, mesh.WorkflowInactive:
		l, err := a.authorities()
		if err != nil {
			return nil, err
		}
		out := make([]meshapi.Mailbox, 0, len(l.all))
		for _, la := range l.all {
			out = append(out, meshapi.Mailbox{ID: strings.ToUpper(la.MailboxID), Name: la.Name})
		}
		return out, nil
	}
	return nil, nil
}
