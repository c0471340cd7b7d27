package meshjobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/mesh/meshclient"
	"cpis/store"
)

// Push sends the outbox messages of the LAs served over MESH to their
// MESH mailboxes and archives them as collected, as the package
// documentation says. Without a recorded connection it does nothing. A
// MESH failure is in Result.Failed; the error is for what the store could
// not do.
func Push(ctx context.Context, cfg Config) (Result, error) {
	var res Result
	if err := cfg.defaults(); err != nil {
		return res, err
	}
	conn, _, ok, err := cfg.Store.Conn()
	if err != nil {
		return res, fmt.Errorf("mesh push: %w", err)
	}
	if !ok {
		return res, nil
	}
	codes, all := conn.PushLAs()
	if !all && len(codes) == 0 {
		res.Connected, res.Mailbox = true, conn.Mailbox
		return res, nil // MESH for pulling only
	}
	mbs, err := cfg.Store.Mailboxes()
	if err != nil {
		return res, fmt.Errorf("mesh push: %w", err)
	}
	var serve []Mailbox
	for _, mb := range mbs {
		if !mb.Remote && (all || slices.Contains(codes, mb.LA)) {
			serve = append(serve, mb)
		}
	}
	// Connect (and handshake) only when there is something to send.
	var todo []outMessage
	for _, mb := range serve {
		msgs, err := outbox(cfg.DataDir, mb)
		if err != nil {
			return res, err
		}
		todo = append(todo, msgs...)
	}
	res.Connected, res.Mailbox = true, conn.Mailbox
	if len(todo) == 0 {
		return res, nil
	}
	c, ok, err := connect(ctx, &cfg, &res, "push")
	if err != nil || !ok {
		return res, err
	}
	p := &pusher{cfg: &cfg, c: c, res: &res}
	for _, m := range todo {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := p.push(ctx, m); err != nil {
			res.fail(fmt.Errorf("mesh push of %s (LA %s): %w", m.name, m.mb.LA, err))
			cfg.Log.Error("mesh push failed", "mailbox", c.Mailbox(), "la", m.mb.LA, "file", m.name, "err", err)
			return res, nil
		}
	}
	return res, nil
}

// outMessage is an outbox data file whose control file is there.
type outMessage struct {
	mb        Mailbox
	name, ctl string
}

// outbox lists LA mb's outbox messages ready to go, by name.
func outbox(dataDir string, mb Mailbox) ([]outMessage, error) {
	box := local.Open(dataDir, mb.MailboxID)
	des, err := os.ReadDir(box.OutboxDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list outbox %s: %w", mb.MailboxID, err)
	}
	var files []mesh.FolderFile
	for _, de := range des {
		if n := de.Name(); !mesh.IsTempName(n) && de.Type().IsRegular() {
			files = append(files, mesh.FolderFile{Name: n})
		}
	}
	msgs, lone := mesh.Pair(files)
	var out []outMessage
	for _, c := range lone {
		// A control file whose data file is gone: archived by a run cut
		// off between its two files when it was sent (push checks).
		out = append(out, outMessage{mb: mb, ctl: c.Name})
	}
	for _, m := range msgs {
		if m.Control == nil {
			continue // the hub writes the control file last
		}
		for _, d := range m.Data {
			out = append(out, outMessage{mb: mb, name: d.Name, ctl: m.Control.Name})
		}
	}
	slices.SortFunc(out, func(a, b outMessage) int { return strings.Compare(a.name+"/"+a.ctl, b.name+"/"+b.ctl) })
	return out, nil
}

type pusher struct {
	cfg *Config
	c   *meshclient.Client
	res *Result
}

func (p *pusher) problem(m outMessage, format string, args ...any) {
	pr := Problem{LA: m.mb.LA, Name: m.name, Reason: fmt.Sprintf(format, args...)}
	p.cfg.Log.Warn("outbox message not sent over MESH", "la", m.mb.LA, "file", m.name, "reason", pr.Reason)
	p.res.Problems = append(p.res.Problems, pr)
}

// push sends outbox message m (unless recorded sent), records it sent and
// archives it.
func (p *pusher) push(ctx context.Context, m outMessage) error {
	box := local.Open(p.cfg.DataDir, m.mb.MailboxID)
	if m.name == "" {
		return p.orphan(box, m)
	}
	dataPath := filepath.Join(box.OutboxDir(), m.name)
	ctl, err := readControl(filepath.Join(box.OutboxDir(), m.ctl))
	if err != nil {
		p.problem(m, "its control file %s cannot be read: %v", m.ctl, err)
		return nil
	}
	if !mesh.ValidMessageID(ctl.DTSID) || ctl.WorkflowID == "" {
		p.problem(m, "its control file %s has no message ID or workflow", m.ctl)
		return nil
	}
	f, err := os.Open(dataPath)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	sum, err := fileSum(dataPath)
	if err != nil {
		return err
	}
	out := meshclient.Outgoing{To: m.mb.MailboxID, Workflow: ctl.WorkflowID, FileName: m.name, LocalID: ctl.DTSID,
		Subject: ctl.Subject, Content: f, Size: fi.Size(), MinChunks: 2}
	rec, found, err := p.cfg.Store.Pushed(m.mb.LA, ctl.DTSID)
	if err != nil {
		return err
	}
	already := found && rec.State == store.MeshPushSent
	if !already {
		sent := false
		if found && rec.State == store.MeshPushStarted && rec.SHA256 == sum {
			if sent, err = p.resume(ctx, rec, out); err != nil {
				return err
			}
			already = sent
		}
		if !sent {
			up, err := p.c.Start(ctx, out)
			if err != nil {
				return err
			}
			if err := hook("started", ctl.DTSID); err != nil {
				return err
			}
			rec = store.MeshPushed{LA: m.mb.LA, MessageID: ctl.DTSID, Name: m.name, Size: fi.Size(), SHA256: sum,
				MeshID: up.ID, To: m.mb.MailboxID, State: store.MeshPushStarted, At: p.cfg.Now()}
			if err := p.cfg.Store.RecordPushed(rec); err != nil {
				return err
			}
			if err := hook("recorded", ctl.DTSID); err != nil {
				return err
			}
			if err := up.Finish(ctx); err != nil {
				return err
			}
		}
		if err := hook("sent", ctl.DTSID); err != nil {
			return err
		}
		rec.State, rec.At = store.MeshPushSent, p.cfg.Now()
		if err := p.cfg.Store.RecordPushed(rec); err != nil {
			return err
		}
		if err := hook("collected", ctl.DTSID); err != nil {
			return err
		}
	}
	f.Close()
	if _, _, err := box.ArchiveOutbox(m.name); err != nil {
		return err
	}
	if err := hook("archived", ctl.DTSID); err != nil {
		return err
	}
	p.cfg.Log.Info("mesh pushed", "la", m.mb.LA, "file", m.name, "mesh_id", rec.MeshID, "bytes", rec.Size, "already", already)
	p.res.Messages = append(p.res.Messages, Message{MeshID: rec.MeshID, LA: m.mb.LA, Peer: m.mb.MailboxID,
		Workflow: ctl.WorkflowID, Name: m.name, Size: rec.Size, Already: already})
	return nil
}

// resume finishes the send rec started (with the same content): MESH
// tracking it means it was delivered; otherwise its chunks 2..n are sent
// again. sent is false when MESH has forgotten the upload (it must be
// sent afresh).
func (p *pusher) resume(ctx context.Context, rec store.MeshPushed, out meshclient.Outgoing) (sent bool, err error) {
	if _, err := p.c.Track(ctx, rec.MeshID); err == nil {
		return true, nil
	} else if !errors.Is(err, meshclient.ErrNotFound) {
		return false, err
	}
	err = p.c.Resume(rec.MeshID, out).Finish(ctx)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, meshclient.ErrNotFound):
		p.cfg.Log.Info("MESH forgot an unfinished upload: sending afresh", "la", rec.LA, "file", rec.Name, "mesh_id", rec.MeshID)
		return false, nil
	}
	return false, err
}

// readControl parses the control file at path.
func readControl(path string) (mesh.Control, error) {
	f, err := os.Open(path)
	if err != nil {
		return mesh.Control{}, err
	}
	defer f.Close()
	return mesh.ParseControl(io.LimitReader(f, mesh.MaxControlSize))
}

// orphan archives the outbox control file m.ctl whose data file is gone
// when its message is recorded sent.
func (p *pusher) orphan(box *local.Mailbox, m outMessage) error {
	ctl, err := readControl(filepath.Join(box.OutboxDir(), m.ctl))
	if err != nil || !mesh.ValidMessageID(ctl.DTSID) {
		return nil // not one of the push's; the expiry deals with it
	}
	rec, found, err := p.cfg.Store.Pushed(m.mb.LA, ctl.DTSID)
	if err != nil || !found || rec.State != store.MeshPushSent {
		return err
	}
	_, _, err = box.ArchiveOutbox(m.ctl)
	return err
}
