package ingest

import (
	"os"

	"golang.org/x/sys/unix"
)

// createUnnamed makes a file in dir that has no name (O_TMPFILE), and
// reports false for named; file systems without O_TMPFILE get a named one.
func createUnnamed(dir string) (*os.File, bool, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return createNamed(dir)
	}
	return os.NewFile(uintptr(fd), dir), false, nil
}
