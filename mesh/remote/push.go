package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"cpis/mesh"
)

// Push delivers the outbox messages of every LA with a remote mailbox (or
// of cfg.LAs) to their remote outboxes and archives them as collected, as
// the package documentation says. An LA that fails is in Result.Failed
// and the others go on; the error is for the run as a whole.
func Push(ctx context.Context, cfg Config) (Result, error) {
	return run(ctx, cfg, "push", pushLA)
}

func pushLA(ctx context.Context, r *laRun) error {
	data, orphans, err := outboxFiles(r.mb.OutboxDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no outbox yet: nothing to push
	}
	if err != nil {
		return fmt.Errorf("list outbox %s: %w", r.mb.ID(), err)
	}
	// A control file whose data file is gone was delivered with it by a
	// run cut off between archiving the two: archive it now.
	for _, c := range orphans {
		p, ok, err := r.cfg.Store.Pushed(r.remote.LA, c)
		if err != nil {
			return err
		}
		if ok {
			if sum, err := fileSum(filepath.Join(r.mb.OutboxDir(), c)); err != nil {
				return err
			} else if sum == p.SHA256 {
				if _, _, err := r.mb.ArchiveOutbox(c); err != nil {
					return err
				}
			}
		}
	}
	if len(data) == 0 {
		return nil
	}
	s, err := dial(ctx, r.cfg, r.remote)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, m := range data {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.pushMessage(s, m.name, m.ctl); err != nil {
			return err
		}
	}
	return nil
}

// outboxFiles returns the data files of the outbox whose control file is
// there (mesh.Pair), each with its control file's name, and the control
// files without a data file, each sorted by name.
func outboxFiles(dir string) (data []outMessage, orphans []string, err error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var files []mesh.FolderFile
	for _, de := range des {
		if n := de.Name(); !mesh.IsTempName(n) && de.Type().IsRegular() {
			files = append(files, mesh.FolderFile{Name: n})
		}
	}
	msgs, lone := mesh.Pair(files)
	for _, m := range msgs {
		if m.Control == nil {
			continue // the hub writes the control file last
		}
		for _, d := range m.Data {
			data = append(data, outMessage{name: d.Name, ctl: m.Control.Name})
		}
	}
	sort.Slice(data, func(i, j int) bool { return data[i].name < data[j].name })
	for _, c := range lone {
		orphans = append(orphans, c.Name)
	}
	return data, orphans, nil
}

// outMessage is an outbox data file and its control file.
type outMessage struct{ name, ctl string }

// pushMessage delivers the outbox data file name and then its control
// file ctlName, records the delivery and the collection, and archives both.
func (r *laRun) pushMessage(s *session, name, ctlName string) error {
	df, ok, err := r.pushFile(s, name)
	if err != nil || !ok {
		return err
	}
	cf, ok, err := r.pushFile(s, ctlName)
	if err != nil || !ok {
		return err
	}
	if err := hook("pushed", name); err != nil {
		return err
	}
	now := r.cfg.Now()
	pushed := func(f File) PushedFile {
		return PushedFile{LA: f.LA, Name: f.Name, Path: f.Remote, Size: f.Size, SHA256: f.SHA256, At: now}
	}
	if err := r.cfg.Store.RecordPushed(PushedMessage{LA: r.remote.LA, MailboxID: r.mb.ID(),
		Data: pushed(df), Control: pushed(cf), At: now}); err != nil {
		return err
	}
	if err := hook("recorded", name); err != nil {
		return err
	}
	if _, _, err := r.mb.ArchiveOutbox(name); err != nil {
		return err
	}
	for _, f := range []File{df, cf} {
		r.cfg.Log.Info("pushed", "la", f.LA, "file", f.Name, "bytes", f.Size, "already", f.Already)
		r.files = append(r.files, f)
	}
	return nil
}

// pushFile uploads the outbox file name to the remote outbox as
// "<name>.part", checks its size there and renames it to name. A remote
// file of that name and size counts as delivered (Already); one of
// another size is a problem (ok false), and both stay as they are.
func (r *laRun) pushFile(s *session, name string) (File, bool, error) {
	src, err := os.Open(filepath.Join(r.mb.OutboxDir(), name))
	if err != nil {
		return File{}, false, fmt.Errorf("push %s: %w", name, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return File{}, false, fmt.Errorf("push %s: %w", name, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, src); err != nil {
		return File{}, false, fmt.Errorf("push %s: %w", name, err)
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return File{}, false, fmt.Errorf("push %s: %w", name, err)
	}
	rpath := path.Join(r.remote.Outbox, name)
	f := File{LA: r.remote.LA, MailboxID: r.mb.ID(), Name: name, Remote: rpath, Size: fi.Size(), SHA256: hex.EncodeToString(h.Sum(nil))}

	if rfi, err := s.sftp.Stat(rpath); err == nil {
		if rfi.Size() == f.Size {
			f.Already = true
			return f, true, nil
		}
		r.problem(name, "the remote outbox already holds a different %s (%d bytes; this one has %d): it stays in the local outbox", rpath, rfi.Size(), f.Size)
		return File{}, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return File{}, false, fmt.Errorf("stat %s on %s: %w", rpath, r.remote.Addr, err)
	}
	part := rpath + ".part"
	_ = s.sftp.Remove(part) // left by a run cut off; OpenFile reports what matters
	dst, err := s.sftp.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return File{}, false, fmt.Errorf("upload %s to %s: %w", part, r.remote.Addr, err)
	}
	// ReadFrom on the sftp file writes ahead in parallel.
	n, err := io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = s.sftp.Remove(part)
		return File{}, false, fmt.Errorf("upload %s to %s: %w", part, r.remote.Addr, err)
	}
	pfi, err := s.sftp.Stat(part)
	if err != nil {
		return File{}, false, fmt.Errorf("stat %s on %s: %w", part, r.remote.Addr, err)
	}
	if n != f.Size || pfi.Size() != f.Size {
		_ = s.sftp.Remove(part)
		return File{}, false, fmt.Errorf("upload %s to %s: the server holds %d bytes of %d", part, r.remote.Addr, pfi.Size(), f.Size)
	}
	if err := hook("uploaded", name); err != nil {
		return File{}, false, err
	}
	if err := s.sftp.Rename(part, rpath); err != nil {
		return File{}, false, fmt.Errorf("rename %s to %s on %s: %w", part, rpath, r.remote.Addr, err)
	}
	return f, true, nil
}
