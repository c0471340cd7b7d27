package sftpd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"cpis/mesh/durable"
)

// upload is a file being written into the inbox under ".<name>.tmp". pkg/sftp
// calls WriteAt from several workers at once (each write carries its
// offset) and Close once they are done.
type upload struct {
	h     *handler
	name  string // the name it gets on Close
	tmp   string // ".<name>.tmp", in the inbox
	path  string // as the client named it
	limit int64

	// mu guards f against being closed under a WriteAt: writes hold it
	// shared, abort and Close exclusively.
	mu      sync.RWMutex
	f       *os.File
	aborted bool  // the temporary file is gone (size limit)
	closed  bool  // Close ran
	lost    error // the connection ended with the file open
}

func (h *handler) newUpload(l loc, clientPath string) (*upload, error) {
	tmp := "." + l.name + ".tmp"
	// A temporary file left by a crash is stale: this server holds the
	// name (claim), so no one else is writing it.
	if err := h.root.Remove(inbox + "/" + tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := h.root.OpenFile(inbox+"/"+tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, err
	}
	return &upload{h: h, name: l.name, tmp: tmp, path: clientPath, limit: h.s.cfg.SizeLimit, f: f}, nil
}

// WriteAt writes p at off straight into the file. A write that would take
// the file past the size limit fails, and removes the file at once.
func (u *upload) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > u.limit {
		u.abort()
		return 0, &clientError{sftp.ErrSSHFxFailure, fmt.Sprintf("file over the size limit of %d bytes", u.limit)}
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.aborted || u.closed {
		return 0, &clientError{sftp.ErrSSHFxFailure, "upload cancelled"}
	}
	n, err := u.f.WriteAt(p, off)
	if err != nil {
		return n, u.h.failed(KindUpload, u.path, err)
	}
	return n, nil
}

// abort removes the temporary file of an upload over the size limit, and
// audits the refusal once.
func (u *upload) abort() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.aborted || u.closed {
		return
	}
	u.aborted = true
	u.discard()
	u.h.refuse("write", u.path, "", sftp.ErrSSHFxFailure, fmt.Sprintf("over the size limit of %d bytes", u.limit))
}

// discard closes and removes the temporary file.
func (u *upload) discard() {
	u.f.Close()
	if err := u.h.root.Remove(inbox + "/" + u.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		u.h.s.log.Error("remove upload", "session", u.h.session, "mailbox", u.h.mailbox, "file", u.tmp, "err", err)
	}
}

// TransferError is called by pkg/sftp when the connection ends with the
// file open; Close follows.
func (u *upload) TransferError(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.lost = err
}

func (u *upload) stat() (fs.FileInfo, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.aborted || u.closed {
		return nil, fs.ErrNotExist
	}
	fi, err := u.f.Stat()
	if err != nil {
		return nil, err
	}
	return info{name: u.name, size: fi.Size(), mode: fileMode, mtime: fi.ModTime()}, nil
}

// Close makes the upload visible under its name: fsync the file, rename
// it without replacing anything, fsync the folder. An upload cut off by
// the connection, or over the limit, is removed instead.
func (u *upload) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	u.closed = true
	defer u.h.forget(u)
	if u.aborted {
		return &clientError{sftp.ErrSSHFxFailure, fmt.Sprintf("file over the size limit of %d bytes", u.limit)}
	}
	if u.lost != nil {
		u.discard()
		u.h.audit(Event{Kind: KindUpload, Path: u.path, Outcome: OutcomeFailed, Reason: "connection lost"})
		return &clientError{sftp.ErrSSHFxConnectionLost, "connection lost"}
	}
	fi, err := u.f.Stat()
	if err == nil {
		err = durable.Sync(u.f)
	}
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		u.discard()
		return u.h.failed(KindUpload, u.path, err)
	}
	err = renameNoReplace(u.h.root, inbox, u.tmp, u.name)
	if errors.Is(err, fs.ErrExist) {
		u.discard()
		return u.h.refuse("write", u.path, "", sftp.ErrSSHFxPermissionDenied, "permission denied: a file of that name is already in the inbox")
	}
	if err != nil {
		u.discard()
		return u.h.failed(KindUpload, u.path, err)
	}
	if err := syncFolder(u.h.root, inbox); err != nil {
		// The upload is in the inbox but may not survive a crash: it is
		// not acknowledged, so the LA's software sends it again (it is
		// refused while this one waits, and taken once either way).
		return u.h.failed(KindUpload, u.path, err)
	}
	u.h.upBytes.Add(fi.Size())
	u.h.audit(Event{Kind: KindUpload, Path: u.path, Bytes: fi.Size(), Outcome: OutcomeOK})
	return nil
}

// forget drops a closed upload from its handler and frees its name.
func (h *handler) forget(u *upload) {
	h.mu.Lock()
	if h.uploads[u.path] == u {
		delete(h.uploads, u.path)
	}
	h.mu.Unlock()
	h.s.release(h.mailbox, u.name)
}

// syncFolder is syncDir (tests replace it to stage a failed sync).
var syncFolder = syncDir

// syncDir makes the renames in folder (below root) durable (package
// durable: uploads finishing at once share the flush).
func syncDir(root *os.Root, folder string) error {
	d, err := root.Open(folder)
	if err != nil {
		return err
	}
	err = durable.Sync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// StaleTempAge is how long a temporary file (".<name>.tmp") may sit in a
// mailbox folder before RemoveStaleTemps takes it for debris: every writer
// of the hub writes its temporary file without pause and renames or
// removes it at the end, so only a killed process leaves one that old.
const StaleTempAge = 24 * time.Hour

// RemoveStaleTemps removes the temporary files (".<name>.tmp") last
// modified more than olderThan before now from the inbox and outbox of
// every mailbox under dataDir, and returns the mailbox-relative paths it
// removed. keep, when set, spares a name (an upload in progress). The
// server runs it at start and every hour with StaleTempAge.
func RemoveStaleTemps(dataDir string, olderThan time.Duration, now time.Time, keep func(mailbox, name string) bool) ([]string, error) {
	top := filepath.Join(dataDir, "mailboxes")
	boxes, err := os.ReadDir(top)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stale temporary files: %w", err)
	}
	var removed []string
	var errs []error
	for _, b := range boxes {
		if !b.IsDir() {
			continue
		}
		for _, folder := range []string{inbox, outbox} {
			dir := filepath.Join(top, b.Name(), folder)
			entries, err := os.ReadDir(dir)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
				continue
			}
			for _, e := range entries {
				n := e.Name()
				if !e.Type().IsRegular() || !hidden(n) || !strings.HasSuffix(n, ".tmp") {
					continue
				}
				if keep != nil && keep(b.Name(), strings.TrimSuffix(n[1:], ".tmp")) {
					continue
				}
				fi, err := e.Info()
				if err != nil || now.Sub(fi.ModTime()) < olderThan {
					continue
				}
				if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
					continue
				}
				removed = append(removed, b.Name()+"/"+folder+"/"+n)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("stale temporary files: %w", err)
	}
	return removed, nil
}

// sweepTemps removes stale temporary files, sparing uploads in progress,
// and logs what it removed.
func (s *Server) sweepTemps(now time.Time) {
	removed, err := RemoveStaleTemps(s.cfg.DataDir, StaleTempAge, now, s.claimed)
	for _, p := range removed {
		s.log.Info("removed a stale temporary file", "file", p, "older_than", StaleTempAge)
	}
	if err != nil {
		s.log.Error("sweep", "err", err)
	}
}
