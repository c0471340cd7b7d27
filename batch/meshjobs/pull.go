package meshjobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"cpis/mesh"
	"cpis/mesh/durable"
	"cpis/mesh/local"
	"cpis/mesh/meshclient"
	"cpis/store"
)

// Pull brings the messages waiting in the hub's MESH inbox into the LAs'
// inbox folders, as the package documentation says. Without a recorded
// connection it does nothing. A MESH failure is in Result.Failed; the
// error is for what the store could not do.
func Pull(ctx context.Context, cfg Config) (Result, error) {
	var res Result
	if err := cfg.defaults(); err != nil {
		return res, err
	}
	c, ok, err := connect(ctx, &cfg, &res, "pull")
	if err != nil || !ok {
		return res, err
	}
	mbs, err := cfg.Store.Mailboxes()
	if err != nil {
		return res, fmt.Errorf("mesh pull: %w", err)
	}
	p := &puller{cfg: &cfg, c: c, res: &res, byMailbox: map[string]Mailbox{}}
	for _, mb := range mbs {
		p.byMailbox[strings.ToUpper(mb.MailboxID)] = mb
	}
	ids, err := c.Inbox(ctx, meshclient.ListOptions{})
	if err != nil {
		res.fail(fmt.Errorf("list the MESH inbox of %s: %w", c.Mailbox(), err))
		return res, nil
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		err := p.pull(ctx, id)
		var me *meshclient.Error
		switch {
		case err == nil:
		case errors.As(err, &me):
			// MESH itself failed (after the client's retries): the next
			// run goes on from where this one stopped.
			res.fail(fmt.Errorf("MESH mailbox %s: %w", c.Mailbox(), err))
			cfg.Log.Error("mesh pull failed", "mailbox", c.Mailbox(), "message", id, "err", err)
			return res, nil
		default:
			res.fail(fmt.Errorf("mesh pull of %s: %w", id, err))
			cfg.Log.Error("mesh pull failed", "mailbox", c.Mailbox(), "message", id, "err", err)
			return res, nil
		}
	}
	return res, nil
}

type puller struct {
	cfg       *Config
	c         *meshclient.Client
	res       *Result
	byMailbox map[string]Mailbox
}

func (p *puller) problem(id, la, name, format string, args ...any) {
	pr := Problem{MeshID: id, LA: la, Name: name, Reason: fmt.Sprintf(format, args...)}
	p.cfg.Log.Warn("MESH message left in the MESH inbox", "message", id, "la", la, "file", name, "reason", pr.Reason)
	p.res.Problems = append(p.res.Problems, pr)
}

// acknowledge tells MESH message rec is taken and records that.
func (p *puller) acknowledge(ctx context.Context, rec store.MeshPulled) error {
	if err := p.c.Acknowledge(ctx, rec.MessageID); err != nil && !errors.Is(err, meshclient.ErrNotFound) {
		return err
	}
	if err := hook("acknowledged", rec.MessageID); err != nil {
		return err
	}
	rec.Acknowledged = true
	return p.cfg.Store.RecordPulled(rec)
}

func (p *puller) done(rec store.MeshPulled, already bool) {
	m := Message{MeshID: rec.MessageID, LA: rec.LA, Peer: rec.From, Workflow: rec.Workflow, Name: rec.Name, Size: rec.Size,
		Already: already, Unrouted: rec.State == store.MeshPulledUnrouted, Reason: rec.Reason}
	p.cfg.Log.Info("mesh pulled", "message", m.MeshID, "la", m.LA, "from", m.Peer, "file", m.Name, "bytes", m.Size,
		"unrouted", m.Unrouted, "already", m.Already)
	p.res.Messages = append(p.res.Messages, m)
}

// pull takes message id.
func (p *puller) pull(ctx context.Context, id string) error {
	rec, found, err := p.cfg.Store.Pulled(id)
	if err != nil {
		return err
	}
	if found && (rec.State == store.MeshPulledPut || rec.State == store.MeshPulledUnrouted) {
		// Put by a run cut off before (or while) acknowledging.
		if err := p.acknowledge(ctx, rec); err != nil {
			return err
		}
		p.done(rec, true)
		return nil
	}
	dir := filepath.Join(workDir(p.cfg.DataDir), id)
	if !mesh.IsPlainName(id) {
		return fmt.Errorf("MESH message ID %q is not a plain name", id)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, ".download.tmp")
	m, sum, size, err := p.download(ctx, id, tmp)
	if errors.Is(err, mesh.ErrTooLarge) {
		p.problem(id, "", "", "over the size limit of %d bytes: it stays in the MESH inbox", p.cfg.SizeLimit)
		return nil
	}
	if err != nil {
		return err
	}
	if err := hook("downloaded", id); err != nil {
		return err
	}
	rec = store.MeshPulled{MessageID: id, From: strings.ToUpper(m.From), Workflow: m.Workflow, FileName: m.FileName,
		Size: size, SHA256: sum, At: p.cfg.Now()}
	mb, reason := p.route(m)
	if reason != "" {
		return p.unrouted(ctx, rec, m, tmp, reason)
	}
	rec.LA, rec.Name = mb.LA, m.FileName
	box := local.Open(p.cfg.DataDir, mb.MailboxID)
	if err := box.Create(); err != nil {
		return err
	}
	ctl := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: mb.MailboxID, To: mesh.HubMailbox,
		Subject: m.Subject, LocalID: m.LocalID, DTSID: id, WorkflowID: mesh.WorkflowUpload,
		IsCompressed: strings.HasSuffix(strings.ToLower(m.FileName), ".gz")}
	if ctl.LocalID == "" {
		ctl.LocalID = m.FileName
	}
	if ctl.Subject == "" {
		ctl.Subject = "CP-IS return"
	}
	writeData, writeCtl, already := true, true, false
	if found {
		// Recorded, then cut off while putting: it may be in the inbox
		// folder, or taken from it by the ingest since.
		where, err := p.findPut(box, mb, rec)
		if err != nil {
			return err
		}
		switch where {
		case putTaken, putWhole:
			writeData, writeCtl, already = false, false, true
		case putDataOnly:
			writeData = false
		case putClash:
			p.problem(id, mb.LA, m.FileName, "the inbox folder of %s holds another %s: it stays in the MESH inbox", mb.MailboxID, m.FileName)
			return nil
		}
	} else {
		for _, n := range []string{m.FileName, mesh.ControlName(m.FileName)} {
			if _, err := os.Lstat(filepath.Join(box.InboxDir(), n)); err == nil {
				p.problem(id, mb.LA, m.FileName, "the inbox folder of %s holds another %s: it stays in the MESH inbox", mb.MailboxID, n)
				return nil
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		rec.State = store.MeshPulledPutting
		if err := p.cfg.Store.RecordPulled(rec); err != nil {
			return err
		}
		if err := hook("recorded", id); err != nil {
			return err
		}
	}
	if writeData {
		if err := mesh.WriteFileAtomic(box.InboxDir(), m.FileName, copyFrom(tmp), 0o640); err != nil {
			return fmt.Errorf("put %s into the inbox of %s: %w", m.FileName, mb.MailboxID, err)
		}
		if err := hook("data", id); err != nil {
			return err
		}
	}
	if writeCtl {
		if err := mesh.WriteFileAtomic(box.InboxDir(), mesh.ControlName(m.FileName), writeBytes(ctl.Marshal()), 0o640); err != nil {
			return fmt.Errorf("put %s into the inbox of %s: %w", mesh.ControlName(m.FileName), mb.MailboxID, err)
		}
		if err := hook("control", id); err != nil {
			return err
		}
	}
	rec.State, rec.At = store.MeshPulledPut, p.cfg.Now()
	if err := p.cfg.Store.RecordPulled(rec); err != nil {
		return err
	}
	if err := hook("put", id); err != nil {
		return err
	}
	if err := p.acknowledge(ctx, rec); err != nil {
		return err
	}
	p.done(rec, already)
	return nil
}

// route returns the LA mailbox of message m, or why it is not routed.
func (p *puller) route(m meshclient.Message) (Mailbox, string) {
	mb, ok := p.byMailbox[strings.ToUpper(m.From)]
	switch {
	case m.Type != "DATA":
		return Mailbox{}, fmt.Sprintf("a MESH %s message (status %s: %s)", strings.ToLower(m.Type), m.StatusCode, m.StatusDescription)
	case m.Workflow != mesh.WorkflowUpload:
		return Mailbox{}, fmt.Sprintf("workflow %q is not %s", m.Workflow, mesh.WorkflowUpload)
	case !ok:
		return Mailbox{}, fmt.Sprintf("sender %q is not the mailbox of one of the hub's LAs", m.From)
	case !mesh.IsPlainName(m.FileName) || mesh.IsTempName(m.FileName) || mesh.IsControlName(m.FileName) || mesh.CheckName(m.FileName) != nil:
		return Mailbox{}, fmt.Sprintf("file name %s is not one an inbox folder takes", mesh.Printable(strconv.Quote(m.FileName)))
	}
	return mb, ""
}

// Where a message recorded putting is found.
const (
	putNowhere  = iota
	putTaken    // taken by the ingest (by its ID, or archived with its content)
	putWhole    // data and control file in the inbox folder
	putDataOnly // its data file in the inbox folder, no control file yet
	putClash    // another file holds its name
)

// findPut looks for message rec, recorded putting, in LA mb's inbox
// folder, the ingest's records and its archive.
func (p *puller) findPut(box *local.Mailbox, mb Mailbox, rec store.MeshPulled) (int, error) {
	taken, err := p.cfg.Store.Taken(mb.LA, rec.MessageID)
	if err != nil || taken {
		return putTaken, err
	}
	ctlPath := filepath.Join(box.InboxDir(), mesh.ControlName(rec.Name))
	ctlOurs := false
	if f, err := os.Open(ctlPath); err == nil {
		c, perr := mesh.ParseControl(io.LimitReader(f, mesh.MaxControlSize))
		f.Close()
		if perr == nil && c.DTSID == rec.MessageID {
			ctlOurs = true
		} else {
			return putClash, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	dataPath := filepath.Join(box.InboxDir(), rec.Name)
	if _, err := os.Lstat(dataPath); err == nil {
		sum, err := fileSum(dataPath)
		if err != nil {
			return 0, err
		}
		switch {
		case sum != rec.SHA256:
			return putClash, nil
		case ctlOurs:
			return putWhole, nil
		default:
			return putDataOnly, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	if ctlOurs {
		// The control file alone: the data file was taken (the ingest
		// archives the data file first).
		return putTaken, nil
	}
	archived, err := archivedWith(box.ArchiveInDir(), rec.Name, rec.SHA256)
	if err != nil || archived {
		return putTaken, err
	}
	return putNowhere, nil
}

// archivedWith reports whether the ingest's archive folder dir holds the
// inbox file name with that SHA-256 (as <message ID>_<name>, numbered or
// not): the data file was taken alone, under an ID derived from it.
func archivedWith(dir, name, sum string) (bool, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	for _, de := range des {
		n := de.Name()
		if !de.Type().IsRegular() || len(n) <= 28 || n[27] != '_' || !mesh.ValidMessageID(n[:27]) || !strings.HasPrefix(n[28:], stem) {
			continue
		}
		if got, err := fileSum(filepath.Join(dir, n)); err != nil {
			return false, err
		} else if got == sum {
			return true, nil
		}
	}
	return false, nil
}

// download writes message id into tmp (at most the size limit), fsynced,
// and returns its envelope, SHA-256 and size.
func (p *puller) download(ctx context.Context, id, tmp string) (meshclient.Message, string, int64, error) {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return meshclient.Message{}, "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	lw := &limitWriter{w: io.MultiWriter(f, h), limit: p.cfg.SizeLimit}
	m, err := p.c.Download(ctx, id, lw)
	if lw.over {
		return m, "", 0, mesh.ErrTooLarge
	}
	if err != nil {
		return m, "", 0, err
	}
	if err := durable.Sync(f); err != nil {
		return m, "", 0, err
	}
	return m, hex.EncodeToString(h.Sum(nil)), lw.n, f.Close()
}

// unrouted archives message m (content in tmp) for operations, records
// and audits it, then acknowledges it.
func (p *puller) unrouted(ctx context.Context, rec store.MeshPulled, m meshclient.Message, tmp, reason string) error {
	dir := UnroutedDir(p.cfg.DataDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	name := m.FileName
	if !mesh.IsPlainName(name) || mesh.IsTempName(name) || mesh.IsControlName(name) || mesh.CheckName(name) != nil {
		name = "message.dat"
	}
	// Named by the MESH message ID, so a run cut off before recording
	// it writes the same files again rather than new ones.
	base := rec.MessageID + "_" + name
	if err := mesh.WriteFileAtomic(dir, base, copyFrom(tmp), 0o640); err != nil {
		return fmt.Errorf("archive unrouted %s: %w", rec.MessageID, err)
	}
	ctl := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: m.From, To: m.To, Subject: m.Subject,
		LocalID: m.LocalID, DTSID: rec.MessageID, WorkflowID: m.Workflow}
	if err := mesh.WriteFileAtomic(dir, rec.MessageID+mesh.ControlExt, writeBytes(ctl.Marshal()), 0o640); err != nil {
		return fmt.Errorf("archive unrouted %s: %w", rec.MessageID, err)
	}
	if err := hook("archived", rec.MessageID); err != nil {
		return err
	}
	rec.State, rec.Reason = store.MeshPulledUnrouted, reason
	rec.Name = filepath.ToSlash(filepath.Join("archive", "mesh", "unrouted", base))
	if err := p.cfg.Store.RecordPulled(rec); err != nil {
		return err
	}
	p.cfg.Log.Warn("MESH message is no LA's return: archived", "message", rec.MessageID, "from", m.From, "workflow", m.Workflow, "reason", reason)
	if err := hook("put", rec.MessageID); err != nil {
		return err
	}
	if err := p.acknowledge(ctx, rec); err != nil {
		return err
	}
	p.done(rec, false)
	return nil
}

// limitWriter stops writing past limit, remembering that it did.
type limitWriter struct {
	w        io.Writer
	n, limit int64
	over     bool
}

func (l *limitWriter) Write(b []byte) (int, error) {
	if l.n+int64(len(b)) > l.limit {
		l.over = true
		return 0, fmt.Errorf("%w: more than %d bytes", mesh.ErrTooLarge, l.limit)
	}
	n, err := l.w.Write(b)
	l.n += int64(n)
	return n, err
}

func copyFrom(path string) func(io.Writer) error {
	return func(w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}

// fileSum returns the hex SHA-256 of the file at path.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
