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
// (".<message ID>.mesh"), then the control file is written atomically,
// then the data file is renamed to name and the folder fsynced. A control
// file without its data file is never taken (mailboxes.md), and the data
// file appears with its control file already there.
//
// It is idempotent on ctl.DTSID: a message whose data and control files
// are in the inbox already, or whose data file is archived under its
// message ID (ingest took it), returns nil without reading r, and one cut
// off by a crash after its control file is finished. A name (or control
// name) held by another message is refused with an error wrapping
// ErrExists. If reading r fails, nothing new is in the inbox and the error
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
		return fmt.Errorf("receive %s: %w", name, ErrExists)
	}
	hidden := "." + ctl.DTSID + ".mesh"
	copyAll := func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	}
	if err := mesh.WriteFileAtomic(m.InboxDir(), hidden, copyAll, filePerm); err != nil {
		return fmt.Errorf("receive into %s: %w", m.id, err)
	}
	hiddenPath := filepath.Join(m.InboxDir(), hidden)
	receiveMu.Lock()
	defer receiveMu.Unlock()
	if st, err = m.receiveState(name, ctlName, ctl.DTSID); err != nil || st == received || st == nameTaken {
		_ = os.Remove(hiddenPath)
		if err == nil && st == nameTaken {
			err = fmt.Errorf("receive %s: %w", name, ErrExists)
		}
		return err
	}
	if st == nameFree {
		if err := mesh.WriteFileAtomic(m.InboxDir(), ctlName, writeBytes(ctl.Marshal()), filePerm); err != nil {
			_ = os.Remove(hiddenPath)
			return fmt.Errorf("receive into %s: %w", m.id, err)
		}
	}
	if err := os.Rename(hiddenPath, filepath.Join(m.InboxDir(), name)); err != nil {
		return fmt.Errorf("receive into %s: %w", m.id, err)
	}
	if err := mesh.SyncDir(m.InboxDir()); err != nil {
		return fmt.Errorf("receive into %s: %w", m.id, err)
	}
	return nil
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
