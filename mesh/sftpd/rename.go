package sftpd

import (
	"errors"
	"io/fs"
	"os"
)

// linkUnlink renames without replacing through a hard link (which fails
// when the new name exists) and the removal of the old name.
func linkUnlink(root *os.Root, folder, from, to string) error {
	if err := root.Link(folder+"/"+from, folder+"/"+to); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
		}
		return err
	}
	return root.Remove(folder + "/" + from)
}
