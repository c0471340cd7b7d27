package sftpd

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames the plain file name from to to in folder (below
// root), failing with an error wrapping fs.ErrExist when to exists, in one
// renameat2(RENAME_NOREPLACE) relative to the folder's descriptor (plain
// names cannot leave it). File systems without that flag get link and
// unlink, which is as safe but not one step.
func renameNoReplace(root *os.Root, folder, from, to string) error {
	d, err := root.Open(folder)
	if err != nil {
		return err
	}
	defer d.Close()
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	if err := rc.Control(func(fd uintptr) {
		rerr = unix.Renameat2(int(fd), from, int(fd), to, unix.RENAME_NOREPLACE)
	}); err != nil {
		return err
	}
	switch {
	case rerr == nil:
		return nil
	case errors.Is(rerr, unix.EEXIST):
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
	case errors.Is(rerr, unix.EINVAL), errors.Is(rerr, unix.ENOSYS), errors.Is(rerr, unix.ENOTSUP):
		return linkUnlink(root, folder, from, to)
	}
	return &os.LinkError{Op: "rename", Old: from, New: to, Err: rerr}
}
