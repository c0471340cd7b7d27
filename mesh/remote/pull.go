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
	"strings"

	"cpis/mesh"
	"cpis/mesh/durable"
)

// Pull brings the new returns of every LA with a remote mailbox (or of
// cfg.LAs) into their local inboxes, as the package documentation says.
// An LA that fails is in Result.Failed and the others go on; the error is
// for the run as a whole (the store could not be read, ctx ended).
func Pull(ctx context.Context, cfg Config) (Result, error) {
	return run(ctx, cfg, "pull", pullLA)
}

// errChanged: a remote file changed or went away while it was pulled; the
// next run takes it as it is then.
var errChanged = errors.New("changed while it was pulled")

func pullLA(ctx context.Context, r *laRun) error {
	if err := r.mb.Create(); err != nil {
		return err
	}
	s, err := dial(ctx, r.cfg, r.remote)
	if err != nil {
		return err
	}
	defer s.Close()
	infos, err := s.sftp.ReadDir(r.remote.Inbox)
	if err != nil {
		return fmt.Errorf("list %s on %s: %w", r.remote.Inbox, r.remote.Addr, err)
	}
	var files []mesh.FolderFile
	for _, fi := range infos {
		name := fi.Name()
		if mesh.IsTempName(name) || !mesh.IsPlainName(name) || !fi.Mode().IsRegular() {
			continue
		}
		if err := mesh.CheckName(name); err != nil {
			r.problem(mesh.Printable(name), "the name is refused (%v): it stays in the remote inbox", err)
			continue
		}
		files = append(files, mesh.FolderFile{Name: name, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	msgs, lone := mesh.Pair(files)
	for _, m := range msgs {
		if !m.Ready(r.cfg.RealNow()) {
			continue
		}
		if err := r.pullGroup(ctx, s, m.Data, m.Control); err != nil {
			return err
		}
	}
	// Control files without a data file: pulled once settled, so the
	// remote inbox drains; the local ingest archives them after an hour if
	// no data file comes.
	for _, c := range lone {
		if !mesh.Settled(c.ModTime, r.cfg.RealNow()) {
			continue
		}
		if err := r.pullGroup(ctx, s, nil, &c); err != nil {
			return err
		}
	}
	return nil
}

// pullGroup pulls the data files that share one control file, then the
// control file, then deletes them remotely in that order. A problem with
// one file leaves the control file (and the files after it) remotely.
func (r *laRun) pullGroup(ctx context.Context, s *session, data []mesh.FolderFile, ctl *mesh.FolderFile) error {
	all := data
	if ctl != nil {
		all = append(all[:len(all):len(all)], *ctl)
	}
	for _, e := range all {
		if e.Size > r.cfg.SizeLimit {
			r.problem(e.Name, "%d bytes is over the size limit of %d bytes: it stays in the remote inbox", e.Size, r.cfg.SizeLimit)
			return nil
		}
	}
	var pulled []File
	for _, e := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, ok, err := r.pullFile(s, e)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		pulled = append(pulled, f)
	}
	for _, f := range pulled {
		if err := hook("delivered", f.Name); err != nil {
			return err
		}
		if err := s.sftp.Remove(f.Remote); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s on %s (pulled and recorded; the next run deletes it): %w", f.Remote, r.remote.Addr, err)
		}
		r.cfg.Log.Info("pulled", "la", f.LA, "file", f.Name, "bytes", f.Size, "already", f.Already)
		r.files = append(r.files, f)
	}
	return nil
}

// pullFile brings the remote file e into the local inbox unless it is
// there already, and reports whether it is (ok), so that it may be
// deleted remotely. ok false with a nil error: a problem was reported, or
// the file changed while it was read.
func (r *laRun) pullFile(s *session, e mesh.FolderFile) (File, bool, error) {
	rpath := path.Join(r.remote.Inbox, e.Name)
	inbox := r.mb.InboxDir()
	tmp := filepath.Join(inbox, "."+e.Name+".tmp")
	sum, err := download(s, rpath, tmp, e, r.cfg.SizeLimit)
	switch {
	case errors.Is(err, mesh.ErrTooLarge):
		r.problem(e.Name, "over the size limit of %d bytes: it stays in the remote inbox", r.cfg.SizeLimit)
		return File{}, false, nil
	case errors.Is(err, errChanged):
		r.cfg.Log.Info("remote file changed while pulled: the next run takes it", "la", r.remote.LA, "file", rpath)
		return File{}, false, nil
	case err != nil:
		return File{}, false, err
	}
	defer os.Remove(tmp) // gone once linked into place
	f := File{LA: r.remote.LA, MailboxID: r.mb.ID(), Name: e.Name, Remote: rpath, Size: e.Size, SHA256: sum}
	rec := PulledFile{LA: r.remote.LA, Path: rpath, Size: e.Size, ModTime: e.ModTime, SHA256: sum, Name: e.Name, At: r.cfg.Now()}
	old, found, err := r.cfg.Store.Pulled(rec)
	if err != nil {
		return File{}, false, err
	}
	if found && old.Delivered {
		f.Already = true
		return f, true, nil
	}
	dst := filepath.Join(inbox, e.Name)
	if _, err := os.Lstat(dst); err == nil {
		same, err := hasSum(dst, sum)
		if err != nil {
			return File{}, false, err
		}
		if !same {
			r.problem(e.Name, "the local inbox already holds a different %s: the remote file stays", e.Name)
			return File{}, false, nil
		}
		f.Already = true
		return f, true, r.delivered(rec)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return File{}, false, err
	}
	if found {
		// Recorded, then cut off before it was marked delivered: it may
		// have been renamed into the inbox and taken by the ingest since.
		taken, err := archived(r.mb.ArchiveInDir(), e.Name, sum)
		if err != nil {
			return File{}, false, err
		}
		if taken {
			f.Already = true
			return f, true, r.delivered(rec)
		}
	} else if err := r.cfg.Store.RecordPulled(rec); err != nil {
		return File{}, false, err
	}
	if err := hook("recorded", e.Name); err != nil {
		return File{}, false, err
	}
	if err := linkNoReplace(tmp, dst); err != nil {
		return File{}, false, fmt.Errorf("pull %s into the inbox: %w", e.Name, err)
	}
	if err := mesh.SyncDir(inbox); err != nil {
		return File{}, false, err
	}
	if err := hook("renamed", e.Name); err != nil {
		return File{}, false, err
	}
	return f, true, r.delivered(rec)
}

// delivered marks rec delivered, with an audit entry.
func (r *laRun) delivered(rec PulledFile) error {
	rec.Delivered = true
	return r.cfg.Store.RecordDelivered(rec, r.cfg.Now())
}

// download copies the remote file rpath into tmp (created or truncated),
// at most limit bytes, fsyncs it, gives it the remote modification time
// and returns its hex SHA-256. It fails with errChanged when the remote
// file is gone or its size is not e.Size any more. On any error tmp is
// removed.
func download(s *session, rpath, tmp string, e mesh.FolderFile, limit int64) (sum string, err error) {
	src, err := s.sftp.Open(rpath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errChanged
	}
	if err != nil {
		return "", fmt.Errorf("open %s: %w", rpath, err)
	}
	defer src.Close()
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", e.Name, err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	// io.Copy uses the sftp file's WriteTo, which reads ahead in parallel.
	n, err := io.Copy(&limitWriter{w: io.MultiWriter(out, h), limit: limit}, src)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", rpath, err)
	}
	if n != e.Size {
		return "", errChanged
	}
	if err = durable.Sync(out); err != nil {
		return "", fmt.Errorf("pull %s: %w", e.Name, err)
	}
	if err = out.Close(); err != nil {
		return "", fmt.Errorf("pull %s: %w", e.Name, err)
	}
	if err = os.Chtimes(tmp, e.ModTime, e.ModTime); err != nil {
		return "", fmt.Errorf("pull %s: %w", e.Name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// limitWriter fails with mesh.ErrTooLarge instead of writing past limit.
type limitWriter struct {
	w        io.Writer
	n, limit int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n+int64(len(p)) > l.limit {
		return 0, fmt.Errorf("%w: more than %d bytes", mesh.ErrTooLarge, l.limit)
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

// linkNoReplace puts tmp at dst without ever replacing a file there: a
// hard link, then tmp removed (a rename after a check where the file
// system has no hard links).
func linkNoReplace(tmp, dst string) error {
	err := os.Link(tmp, dst)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(dst); serr == nil {
		return fmt.Errorf("%s: %w", dst, fs.ErrExist)
	}
	return os.Rename(tmp, dst)
}

// fileSum returns the hex SHA-256 of the file at p.
func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hasSum(p, sum string) (bool, error) {
	got, err := fileSum(p)
	return got == sum, err
}

// archived reports whether the ingest's archive folder dir holds the
// inbox file name with that SHA-256: as <message ID>_<name>, or under its
// own name (a stale control file), numbered or not.
func archived(dir, name, sum string) (bool, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, de := range des {
		if !de.Type().IsRegular() || !archivedAs(de.Name(), name) {
			continue
		}
		if ok, err := hasSum(filepath.Join(dir, de.Name()), sum); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// archivedAs reports whether the archive name a is the inbox name name
// archived (mesh/local.Archive and ArchiveStaleControl).
func archivedAs(a, name string) bool {
	cands := []string{a}
	if len(a) > 28 && a[27] == '_' && mesh.ValidMessageID(a[:27]) {
		cands = append(cands, a[28:])
	}
	for _, c := range cands {
		if c == name || unnumbered(c) == name {
			return true
		}
	}
	return false
}

// unnumbered undoes mesh/local's numbering of a name taken: x.csv.2.gz
// gives x.csv.gz, x.1 gives x.
func unnumbered(c string) string {
	ext := filepath.Ext(c)
	stem := c[:len(c)-len(ext)]
	if digits(strings.TrimPrefix(ext, ".")) {
		return stem
	}
	if i := strings.LastIndexByte(stem, '.'); i >= 0 && digits(stem[i+1:]) {
		return stem[:i] + ext
	}
	return c
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
