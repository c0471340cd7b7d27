package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"cpis/mesh"
	"cpis/mesh/durable"
)

// receiveMu serialises the last step of Receive (the check, the control
// file, the rename), so that two messages given the same file name at
// once cannot both take it.
var receiveMu sync.Mutex

// receiveState is what the inbox holds of a message Receive is given.
type receiveState int

const (
	nameFree  receiveState = iota // neither the data file nor its control file
	ownCtl                        // its control file (DTSId the message's), no data file yet
	received                      // the whole message
	nameTaken                     // another message holds the name or its control file
)

// Receive puts a message that arrived whole (the MESH API's sends) into
// the inbox as the data file name, filled from r, with the control file
// ctl (mesh.ControlName(name)), the same files `cpis mailbox send` writes.
// A reader of the inbox sees the whole message or nothing, even across a
// crash: the data file is written and fsynced under a hidden name
// (".<message ID>.mesh"), the control file likewise (".<message
// ID>.ctl.tmp") and renamed to its name, the folder fsynced, then the data
// file is renamed to name and the folder fsynced again. A control file
// without its data file is never taken (mailboxes.md), and the data file
// appears with its control file already there and durable. The flushes
// are shared with concurrent writers (package durable): when Receive
// returns nil the message is on disk.
//
// It is idempotent on ctl.DTSID: a message whose data and control files
// are in the inbox already, or whose data file is archived under its
// message ID (ingest took it), returns nil without reading r, and one cut
// off by a crash after its control file is finished. A name (or control
// name) held by another message is refused with an error wrapping
// ErrExists (an *ExistsError saying which). If reading r fails, nothing new is in the inbox and the error
// wraps r's.
func (m *Mailbox) Receive(name string, r io.Reader, ctl mesh.Control) error {
	if !mesh.IsPlainName(name) || mesh.IsTempName(name) || mesh.IsControlName(name) {
		return fmt.Errorf("receive %q: not a data file name", name)
	}
	if !mesh.ValidMessageID(ctl.DTSID) {
		return fmt.Errorf("receive %s: %q is not a message ID", name, ctl.DTSID)
	}
	ctlName := mesh.ControlName(name)
	st, err := m.receiveState(name, ctlName, ctl.DTSID)
	if err != nil {
		return err
	}
	switch st {
	case received:
		return nil
	case nameTaken:
		return m.heldError(name, ctlName)
	}
	dir := m.InboxDir()
	hidden := filepath.Join(dir, "."+ctl.DTSID+".mesh")
	copyAll := func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	}
	if err := writeSynced(hidden, copyAll); err != nil {
		return fmt.Errorf("receive into %s: %w", m.id, err)
	}
	// The control file too is written and fsynced before the lock, so
	// that concurrent receives fsync their files at once.
	ctlTmp := filepath.Join(dir, "."+ctl.DTSID+".ctl.tmp")
	if err := writeSynced(ctlTmp, writeBytes(ctl.Marshal())); err != nil {
		_ = os.Remove(hidden)
		return fmt.Errorf("receive into %s: %w", m.id, err)
	}
	if err := m.placeControl(name, ctlName, ctlTmp, ctl.DTSID); err != nil {
		_ = os.Remove(hidden)
		_ = os.Remove(ctlTmp)
		if errors.Is(err, errReceived) {
			return nil
		}
		return err
	}
	// The control file (and the hidden data file) durable before the
	// data file takes its name.
	if err := mesh.SyncDir(dir); err != nil {
		return fmt.Errorf("receive into %s: %w", m.id, err)
	}
	if err := os.Rename(hidden, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("receive into %s: %w", m.id, err)
	}
	if err := mesh.SyncDir(dir); err != nil {
		return fmt.Errorf("receive into %s: %w", m.id, err)
	}
	return nil
}

// heldError is Receive's ExistsError: the data file name is held when it
// is there, its control file otherwise.
func (m *Mailbox) heldError(name, ctlName string) error {
	held := ctlName
	if _, err := os.Lstat(filepath.Join(m.InboxDir(), name)); err == nil {
		held = name
	}
	return m.existsError("receive", name, held)
}

// errReceived reports a message found whole in the inbox meanwhile.
var errReceived = errors.New("received already")

// placeControl takes the inbox's state of message id again, under
// receiveMu, and gives the control file written at ctlTmp the name
// ctlName when neither name is held; its own control file there already
// is kept. A message whole meanwhile returns errReceived, a name held by
// another message an error wrapping ErrExists.
func (m *Mailbox) placeControl(name, ctlName, ctlTmp, id string) error {
	receiveMu.Lock()
	defer receiveMu.Unlock()
	st, err := m.receiveState(name, ctlName, id)
	switch {
	case err != nil:
		return err
	case st == received:
		return errReceived
	case st == nameTaken:
		return m.heldError(name, ctlName)
	case st == ownCtl:
		_ = os.Remove(ctlTmp)
		return nil
	}
	if err := os.Rename(ctlTmp, filepath.Join(m.InboxDir(), ctlName)); err != nil {
		return fmt.Errorf("receive into %s: %w", m.id, err)
	}
	return nil
}

// writeSynced fills the file at path with write (through a buffer),
// flushes, fsyncs and closes it; on any failure the file is removed. Its
// folder is not fsynced.
func writeSynced(path string, write func(io.Writer) error) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	if err := mesh.WriteBuffered(f, write); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := durable.Sync(f); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return f.Close()
}

// receiveState tells what the inbox (and the archive) hold of message id
// sent as name with the control file ctlName.
func (m *Mailbox) receiveState(name, ctlName, id string) (receiveState, error) {
	exists := func(path string) (bool, error) {
		_, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	// Taken by ingest already (it archives the data file first, under its
	// message ID): the message is in, whatever the inbox still holds of it.
	if archived, err := exists(m.ArchivedPath(id, name)); err != nil {
		return 0, fmt.Errorf("receive %s: %w", name, err)
	} else if archived {
		return received, nil
	}
	dataThere, err := exists(filepath.Join(m.InboxDir(), name))
	if err != nil {
		return 0, fmt.Errorf("receive %s: %w", name, err)
	}
	b, err := os.ReadFile(filepath.Join(m.InboxDir(), ctlName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if dataThere {
			return nameTaken, nil
		}
		return nameFree, nil
	case err != nil:
		return 0, fmt.Errorf("receive %s: %w", name, err)
	}
	if c, err := mesh.ParseControl(bytes.NewReader(b)); err != nil || c.DTSID != id {
		return nameTaken, nil
	}
	if dataThere {
		return received, nil
	}
	return ownCtl, nil
}
