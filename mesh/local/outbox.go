package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"cpis/mesh"
)

// ArchiveOutbox moves the outbox message name to the archive's out folder
// (archive/<ID>/out) under its own names: a data file first, then its
// control file (mesh.ControlName) when there is one; a control file name
// moves just that file (one whose data file left first). Nothing in the
// archive is overwritten: a name taken gets .1, .2, ... before its last
// extension, as Archive does. Both folders are fsynced. It returns the new
// paths (ctlPath "" when no control file moved); a data file no longer in
// the outbox is an error wrapping fs.ErrNotExist.
//
// It serves the push job (a message delivered to the LA's remote mailbox
// is archived as collected) and the move of messages left uncollected.
func (m *Mailbox) ArchiveOutbox(name string) (dataPath, ctlPath string, err error) {
	if !mesh.IsPlainName(name) || mesh.IsTempName(name) {
		return "", "", fmt.Errorf("archive outbox %q: not a message file name", name)
	}
	if err := os.MkdirAll(m.ArchiveOutDir(), dirPerm); err != nil {
		return "", "", fmt.Errorf("archive outbox %s: %w", name, err)
	}
	dataPath, err = m.moveOut(name)
	if err != nil {
		return "", "", fmt.Errorf("archive outbox %s: %w", name, err)
	}
	if mesh.IsControlName(name) {
		return dataPath, "", nil
	}
	ctlPath, err = m.moveOut(mesh.ControlName(name))
	if errors.Is(err, fs.ErrNotExist) {
		return dataPath, "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("archive outbox %s: %w", name, err)
	}
	return dataPath, ctlPath, nil
}

// moveOut renames the outbox file name to the first free numbered variant
// of name in the archive's out folder and fsyncs both folders.
func (m *Mailbox) moveOut(name string) (string, error) {
	src := filepath.Join(m.OutboxDir(), name)
	fi, err := os.Lstat(src)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", name)
	}
	dir := m.ArchiveOutDir()
	for i := 0; ; i++ {
		p := filepath.Join(dir, numbered(name, i))
		if _, err := os.Lstat(p); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if err := os.Rename(src, p); err != nil {
			return "", err
		}
		return p, mesh.SyncDir(m.OutboxDir(), dir)
	}
}
