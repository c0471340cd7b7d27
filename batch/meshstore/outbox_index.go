package meshstore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"cpis/mesh"
	"cpis/store"
)

// outboxIndex spares the MESH API a read of every control file of an
// outbox folder on each request. It remembers each control file parsed,
// keyed by its path and checked against its inode, size and modification
// time (a control file is replaced by a rename, which gives it a new
// inode), and where each message ID was last seen. The folders stay the
// truth: a message found through the index is used only once its data
// file and control file are seen there again, unchanged; anything else
// falls back to reading the folder.
type outboxIndex struct {
	mu   sync.Mutex
	ctls map[string]map[string]cachedControl // folder -> control file name -> parsed
	ids  map[string]outRef                   // message ID -> where it was seen
}

// cachedControl is a control file as parsed, and what identified it then.
type cachedControl struct {
	stamp fileStamp
	ctl   mesh.Control
	valid bool // it parsed and its DTSId is a message ID
}

// fileStamp identifies one version of a file.
type fileStamp struct {
	ino  uint64
	size int64
	mod  time.Time
}

// outRef is where a message ID was seen: the LA whose outbox holds it and
// its data file's name.
type outRef struct {
	la   store.Authority
	name string
}

func stampOf(info fs.FileInfo) fileStamp {
	s := fileStamp{size: info.Size(), mod: info.ModTime()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// control returns the control file at dir/name, parsed, from the index
// when its stamp is unchanged: ok is false when it is not a regular file
// or not a well-formed control file with a message ID as DTSId; an error
// wrapping fs.ErrNotExist when it is gone.
func (x *outboxIndex) control(dir, name string) (mesh.Control, fileStamp, bool, error) {
	path := filepath.Join(dir, name)
	info, err := os.Lstat(path)
	if err != nil {
		return mesh.Control{}, fileStamp{}, false, err
	}
	if !info.Mode().IsRegular() {
		return mesh.Control{}, fileStamp{}, false, nil
	}
	st := stampOf(info)
	x.mu.Lock()
	c, hit := x.ctls[dir][name]
	x.mu.Unlock()
	if hit && c.stamp == st {
		return c.ctl, st, c.valid, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return mesh.Control{}, fileStamp{}, false, err
	}
	ctl, perr := mesh.ParseControl(bytes.NewReader(b))
	c = cachedControl{stamp: st, ctl: ctl, valid: perr == nil && mesh.ValidMessageID(ctl.DTSID)}
	// A file rewritten while it was read is read again next time.
	if after, err := os.Lstat(path); err == nil && stampOf(after) == st {
		x.mu.Lock()
		if x.ctls == nil {
			x.ctls = map[string]map[string]cachedControl{}
		}
		if x.ctls[dir] == nil {
			x.ctls[dir] = map[string]cachedControl{}
		}
		x.ctls[dir][name] = c
		x.mu.Unlock()
	}
	return c.ctl, st, c.valid, nil
}

// seen records the complete messages of la's outbox folder dir as just
// read, and forgets the control files and message IDs of dir no longer
// there.
func (x *outboxIndex) seen(dir string, la store.Authority, msgs []outMessage) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ids == nil {
		x.ids = map[string]outRef{}
	}
	keep := map[string]bool{}
	ids := map[string]bool{}
	for _, m := range msgs {
		x.ids[m.ctl.DTSID] = outRef{la: la, name: m.name}
		keep[mesh.ControlName(m.name)] = true
		ids[m.ctl.DTSID] = true
	}
	for name := range x.ctls[dir] {
		if !keep[name] {
			delete(x.ctls[dir], name)
		}
	}
	for id, ref := range x.ids {
		if ref.la.Code == la.Code && !ids[id] {
			delete(x.ids, id)
		}
	}
}

// forget drops message id from the index.
func (x *outboxIndex) forget(id string) {
	x.mu.Lock()
	delete(x.ids, id)
	x.mu.Unlock()
}

// lookup returns message id as last seen, checked against its folder now:
// its data file a regular file, its control file unchanged and still
// naming id. ok is false when the index cannot vouch for it.
func (x *outboxIndex) lookup(a *MeshAPI, id string) (outMessage, bool) {
	x.mu.Lock()
	ref, hit := x.ids[id]
	x.mu.Unlock()
	if !hit {
		return outMessage{}, false
	}
	dir := a.outboxDir(ref.la)
	info, err := os.Lstat(filepath.Join(dir, ref.name))
	if err != nil || !info.Mode().IsRegular() {
		if errors.Is(err, fs.ErrNotExist) {
			x.forget(id)
		}
		return outMessage{}, false
	}
	ctl, _, ok, err := x.control(dir, mesh.ControlName(ref.name))
	if err != nil || !ok || ctl.DTSID != id {
		return outMessage{}, false
	}
	return outMessage{la: ref.la, name: ref.name, path: filepath.Join(dir, ref.name), size: info.Size(), mod: info.ModTime(), ctl: ctl}, true
}
