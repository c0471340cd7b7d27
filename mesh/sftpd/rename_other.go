//go:build !linux

package sftpd

import "os"

// renameNoReplace renames the plain file name from to to in folder (below
// root), failing with an error wrapping fs.ErrExist when to exists.
func renameNoReplace(root *os.Root, folder, from, to string) error {
	return linkUnlink(root, folder, from, to)
}
