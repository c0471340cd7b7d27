package sftpd

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"

	"cpis/mesh"
)

// The two folders an LA sees.
const (
	inbox  = "inbox"
	outbox = "outbox"
)

// Permissions shown to clients and given to uploads.
const (
	dirMode  = fs.ModeDir | 0o750
	fileMode = 0o640
)

// handler serves the SFTP requests of one connection, bound to its
// authenticated mailbox. Every path is resolved against the virtual tree
// "/", "/inbox", "/outbox" and their plain file names; the disk is reached
// only through root, opened on the mailbox folder.
type handler struct {
	s       *Server
	root    *os.Root
	mailbox string
	session uint64
	remote  string

	upBytes, downBytes atomic.Int64

	mu      sync.Mutex
	uploads map[string]*upload // client path -> upload open on this connection
}

var (
	_ sftp.FileReader           = (*handler)(nil)
	_ sftp.FileWriter           = (*handler)(nil)
	_ sftp.PosixRenameFileCmder = (*handler)(nil)
	_ sftp.NameLookupFileLister = (*handler)(nil)
)

// loc is a client path resolved against the virtual tree.
type loc struct {
	folder string // "" for "/", else inbox or outbox
	name   string // "" for a folder
}

// rel is the path of l below the mailbox folder, for root.
func (l loc) rel() string {
	if l.name == "" {
		return l.folder
	}
	return l.folder + "/" + l.name
}

// resolve maps a client path to the tree; ok is false for anything outside
// it (other folders, deeper paths, other mailboxes). pkg/sftp has already
// made p absolute and cleaned it, so "../" cannot climb above "/"; resolve
// cleans again rather than rely on that.
func resolve(p string) (loc, bool) {
	p = path.Clean("/" + p)
	if p == "/" {
		return loc{}, true
	}
	folder, name, _ := strings.Cut(p[1:], "/")
	if folder != inbox && folder != outbox {
		return loc{}, false
	}
	if name != "" && (!mesh.IsPlainName(name) || strings.ContainsRune(name, '\\')) {
		return loc{}, false
	}
	return loc{folder: folder, name: name}, true
}

// hidden reports a name the hub keeps to itself (its temporary files).
func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// unfinished reports an upload's work-in-progress name (.filepart, .part,
// .tmp): never read by the ingest, so the LA may still rename or delete it.
func unfinished(name string) bool { return !hidden(name) && mesh.IsTempName(name) }

// clientError is what a client is told: an SFTP status code and a short
// message with no host path in it.
type clientError struct {
	code error // one of sftp.ErrSSHFx...
	msg  string
}

func (e *clientError) Error() string { return e.msg }
func (e *clientError) Unwrap() error { return e.code }

var (
	errNoFile = &clientError{sftp.ErrSSHFxNoSuchFile, "no such file"}
	errFailed = &clientError{sftp.ErrSSHFxFailure, "the server could not do that"}
)

func (h *handler) audit(e Event) {
	e.Session, e.MailboxID, e.Remote = h.session, h.mailbox, h.remote
	h.s.audit(e)
}

// refuse audits a refused request and returns the client's error.
func (h *handler) refuse(op, p, target string, code error, reason string) error {
	h.audit(Event{Kind: KindRefusal, Op: op, Path: p, Target: target, Outcome: OutcomeRefused, Reason: reason})
	return &clientError{code, reason}
}

// failed logs err (with host detail, for operators), audits a failure and
// returns the client's generic error. Missing files are "no such file".
func (h *handler) failed(kind, p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errNoFile
	}
	h.s.log.Error(kind, "session", h.session, "mailbox", h.mailbox, "path", p, "err", err)
	h.audit(Event{Kind: kind, Path: p, Outcome: OutcomeFailed, Reason: "server error"})
	return errFailed
}

// file returns the lstat of a regular, visible file of a folder, or an
// error wrapping fs.ErrNotExist (symbolic links, folders and hidden names
// do not exist for clients).
func (h *handler) file(l loc) (fs.FileInfo, error) {
	if l.name == "" || hidden(l.name) {
		return nil, fs.ErrNotExist
	}
	fi, err := h.root.Lstat(l.rel())
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	return fi, nil
}

// openRegular opens the regular file at l for reading without following a
// symbolic link: the lstat before and the fstat after must be one file.
func (h *handler) openRegular(l loc) (*os.File, error) {
	before, err := h.file(l)
	if err != nil {
		return nil, err
	}
	f, err := h.root.Open(l.rel())
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil || !os.SameFile(before, after) {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

// Fileread opens an outbox file for download.
func (h *handler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	l, ok := resolve(r.Filepath)
	switch {
	case !ok:
		return nil, h.refuse("read", r.Filepath, "", sftp.ErrSSHFxNoSuchFile, "no such file")
	case l.folder == inbox:
		return nil, h.refuse("read", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: the inbox cannot be read")
	case l.name == "":
		return nil, h.refuse("read", r.Filepath, "", sftp.ErrSSHFxFailure, "not a file")
	}
	f, err := h.openRegular(l)
	if err != nil {
		return nil, h.failed(KindDownload, r.Filepath, err)
	}
	return &download{h: h, f: f, path: r.Filepath}, nil
}

// download is an outbox file being read.
type download struct {
	h    *handler
	f    *os.File
	path string
	n    atomic.Int64
	lost atomic.Bool
}

func (d *download) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.f.ReadAt(p, off)
	d.n.Add(int64(n))
	if err != nil && err != io.EOF {
		return n, d.h.failed(KindDownload, d.path, err)
	}
	return n, err
}

// TransferError is called by pkg/sftp when the connection ends with the
// file still open.
func (d *download) TransferError(error) { d.lost.Store(true) }

func (d *download) Close() error {
	d.f.Close()
	n := d.n.Load()
	d.h.downBytes.Add(n)
	e := Event{Kind: KindDownload, Path: d.path, Bytes: n, Outcome: OutcomeOK}
	if d.lost.Load() {
		e.Outcome, e.Reason = OutcomeFailed, "connection lost"
	}
	d.h.audit(e)
	return nil
}

// Filewrite starts an upload into the inbox.
func (h *handler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	l, ok := resolve(r.Filepath)
	flags := r.Pflags()
	switch {
	case !ok:
		return nil, h.refuse("write", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: outside the mailbox")
	case l.folder != inbox || l.name == "":
		return nil, h.refuse("write", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: only new files in the inbox can be written")
	case hidden(l.name):
		return nil, h.refuse("write", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: names starting with . are reserved")
	case flags.Append:
		return nil, h.refuse("write", r.Filepath, "", sftp.ErrSSHFxOpUnsupported, "appending is not supported: upload the whole file")
	}
	if err := mesh.CheckName(l.name); err != nil {
		return nil, h.refuse("write", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, err.Error())
	}
	if _, err := h.root.Lstat(l.rel()); err == nil {
		return nil, h.refuse("write", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: a file of that name is already in the inbox")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, h.failed(KindUpload, r.Filepath, err)
	}
	if !h.s.claim(h.mailbox, l.name) {
		return nil, h.refuse("write", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: a file of that name is being uploaded")
	}
	u, err := h.newUpload(l, r.Filepath)
	if err != nil {
		h.s.release(h.mailbox, l.name)
		return nil, h.failed(KindUpload, r.Filepath, err)
	}
	h.mu.Lock()
	h.uploads[r.Filepath] = u
	h.mu.Unlock()
	return u, nil
}

// Filecmd refuses everything but renaming an unfinished upload, deleting
// from the outbox (or an unfinished upload) and setting times on an inbox
// file (which changes nothing).
func (h *handler) Filecmd(r *sftp.Request) error {
	switch r.Method {
	case "Rename":
		return h.rename(r)
	case "Remove":
		return h.remove(r)
	case "Setstat":
		return h.setstat(r)
	case "Mkdir":
		return h.refuse("mkdir", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: folders cannot be made")
	case "Rmdir":
		return h.refuse("rmdir", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: folders cannot be removed")
	case "Symlink":
		// pkg/sftp: Target is the link to make, Filepath what it points to.
		return h.refuse("symlink", r.Target, r.Filepath, sftp.ErrSSHFxPermissionDenied, "permission denied: links cannot be made")
	case "Link":
		return h.refuse("link", r.Target, r.Filepath, sftp.ErrSSHFxPermissionDenied, "permission denied: links cannot be made")
	default:
		return h.refuse(strings.ToLower(r.Method), r.Filepath, "", sftp.ErrSSHFxOpUnsupported, "operation not supported")
	}
}

// PosixRename is Rename: it never replaces an existing file either.
func (h *handler) PosixRename(r *sftp.Request) error { return h.rename(r) }

func (h *handler) rename(r *sftp.Request) error {
	from, ok1 := resolve(r.Filepath)
	to, ok2 := resolve(r.Target)
	deny := func(reason string) error {
		return h.refuse("rename", r.Filepath, r.Target, sftp.ErrSSHFxPermissionDenied, "permission denied: "+reason)
	}
	switch {
	case !ok1 || !ok2:
		return deny("outside the mailbox")
	case from.folder != inbox || to.folder != inbox || from.name == "" || to.name == "":
		return deny("only unfinished uploads in the inbox can be renamed")
	case !unfinished(from.name):
		return deny("only unfinished uploads (.filepart, .part, .tmp) can be renamed")
	case hidden(to.name):
		return deny("names starting with . are reserved")
	}
	if err := mesh.CheckName(to.name); err != nil {
		return h.refuse("rename", r.Filepath, r.Target, sftp.ErrSSHFxPermissionDenied, err.Error())
	}
	if _, err := h.file(from); err != nil {
		return h.failed(KindRename, r.Filepath, err)
	}
	if h.s.claimed(h.mailbox, to.name) || h.s.claimed(h.mailbox, from.name) {
		return deny("a file of that name is being uploaded")
	}
	if err := renameNoReplace(h.root, inbox, from.name, to.name); errors.Is(err, fs.ErrExist) {
		return deny("a file of that name is already in the inbox")
	} else if err != nil {
		return h.failed(KindRename, r.Filepath, err)
	}
	h.audit(Event{Kind: KindRename, Path: r.Filepath, Target: r.Target, Outcome: OutcomeOK})
	return nil
}

func (h *handler) remove(r *sftp.Request) error {
	l, ok := resolve(r.Filepath)
	deny := func(reason string) error {
		return h.refuse("remove", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: "+reason)
	}
	switch {
	case !ok:
		return deny("outside the mailbox")
	case l.name == "":
		return deny("folders cannot be removed")
	case l.folder == inbox && !unfinished(l.name):
		return deny("the inbox keeps what it receives")
	case l.folder == inbox && h.s.claimed(h.mailbox, l.name):
		return deny("a file of that name is being uploaded")
	}
	if _, err := h.file(l); err != nil {
		return h.failed(KindDelete, r.Filepath, err)
	}
	if err := h.root.Remove(l.rel()); err != nil {
		return h.failed(KindDelete, r.Filepath, err)
	}
	collected := l.folder == outbox && !mesh.IsControlName(l.name)
	if collected {
		ctl := loc{folder: outbox, name: mesh.ControlName(l.name)}
		if err := h.root.Remove(ctl.rel()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			h.s.log.Error("remove control file", "session", h.session, "mailbox", h.mailbox, "file", ctl.name, "err", err)
		}
	}
	if err := syncDir(h.root, l.folder); err != nil {
		h.s.log.Error("sync folder", "session", h.session, "mailbox", h.mailbox, "err", err)
	}
	h.audit(Event{Kind: KindDelete, Path: r.Filepath, Outcome: OutcomeOK})
	if collected && h.s.cfg.OnCollected != nil {
		h.s.cfg.OnCollected(h.mailbox, l.name)
	}
	return nil
}

// setstat accepts setting only the times of an inbox file, or of an upload
// open on this connection, and changes nothing; it refuses the rest.
func (h *handler) setstat(r *sftp.Request) error {
	l, ok := resolve(r.Filepath)
	f := r.AttrFlags()
	if ok && l.folder == inbox && l.name != "" && !f.Size && !f.UidGid && !f.Permissions {
		if h.openUpload(r.Filepath) != nil {
			return nil
		}
		if _, err := h.file(l); err == nil {
			return nil
		}
	}
	return h.refuse("setstat", r.Filepath, "", sftp.ErrSSHFxPermissionDenied, "permission denied: attributes cannot be changed")
}

func (h *handler) openUpload(p string) *upload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.uploads[p]
}

// Filelist lists a folder, or stats one name.
func (h *handler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	l, ok := resolve(r.Filepath)
	switch r.Method {
	case "List":
		if !ok {
			return nil, h.refuse("list", r.Filepath, "", sftp.ErrSSHFxNoSuchFile, "no such folder")
		}
		if l.name != "" {
			return nil, &clientError{sftp.ErrSSHFxFailure, "not a folder"}
		}
		return h.list(l)
	case "Stat", "Lstat":
		if !ok {
			// Outside the tree is a refusal, even to look; a name that
			// does not exist in a folder is not (clients look before
			// they upload).
			return nil, h.refuse("stat", r.Filepath, "", sftp.ErrSSHFxNoSuchFile, "no such file")
		}
		fi, err := h.stat(l, r.Filepath)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, errNoFile
			}
			return nil, h.failed("stat", r.Filepath, err)
		}
		return listerAt{fi}, nil
	case "Readlink":
		return nil, h.refuse("readlink", r.Filepath, "", sftp.ErrSSHFxNoSuchFile, "no such link")
	}
	return nil, h.refuse(strings.ToLower(r.Method), r.Filepath, "", sftp.ErrSSHFxOpUnsupported, "operation not supported")
}

func (h *handler) stat(l loc, p string) (fs.FileInfo, error) {
	switch {
	case l.folder == "":
		return info{name: "/", mode: dirMode}, nil
	case l.name == "":
		fi, err := h.root.Stat(l.folder)
		if err != nil {
			return nil, err
		}
		return info{name: l.folder, mode: dirMode, mtime: fi.ModTime()}, nil
	}
	if u := h.openUpload(p); u != nil {
		return u.stat()
	}
	fi, err := h.file(l)
	if err != nil {
		return nil, err
	}
	return visible(fi), nil
}

func (h *handler) list(l loc) (sftp.ListerAt, error) {
	if l.folder == "" {
		var out listerAt
		for _, f := range []string{inbox, outbox} {
			fi, err := h.stat(loc{folder: f}, "")
			if err != nil {
				return nil, h.failed("list", "/", err)
			}
			out = append(out, fi)
		}
		return out, nil
	}
	d, err := h.root.Open(l.folder)
	if err != nil {
		return nil, h.failed("list", "/"+l.folder, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, h.failed("list", "/"+l.folder, err)
	}
	var out listerAt
	for _, n := range names {
		fi, err := h.file(loc{folder: l.folder, name: n})
		if err != nil {
			continue // hidden, not a regular file, or gone since
		}
		out = append(out, visible(fi))
	}
	sortInfos(out)
	return out, nil
}

// LookupUserName shows files as owned by the mailbox.
func (h *handler) LookupUserName(string) string { return h.mailbox }

// LookupGroupName shows files in the hub's group.
func (h *handler) LookupGroupName(string) string { return "cpis" }

// info is what a client sees of a file or folder: no host owner, no
// host permissions.
type info struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.size }
func (i info) Mode() fs.FileMode  { return i.mode }
func (i info) ModTime() time.Time { return i.mtime }
func (i info) IsDir() bool        { return i.mode.IsDir() }
func (i info) Sys() any           { return nil }
func (i info) Uid() uint32        { return 0 }
func (i info) Gid() uint32        { return 0 }

func visible(fi fs.FileInfo) info {
	return info{name: fi.Name(), size: fi.Size(), mode: fileMode, mtime: fi.ModTime()}
}

func sortInfos(infos []fs.FileInfo) {
	slices.SortFunc(infos, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
}

// listerAt serves a listing computed when the folder was opened.
type listerAt []fs.FileInfo

func (l listerAt) ListAt(dst []fs.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}
