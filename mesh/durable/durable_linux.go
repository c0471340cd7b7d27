package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// Magic numbers (statfs f_type) of the local file systems whose syncfs
// writes back every dirty file and folder and then flushes the disk's
// cache, making them durable as fsync would.
const (
	ext4Magic  = 0xEF53 // ext2, ext3 and ext4
	xfsMagic   = 0x58465342
	btrfsMagic = 0x9123683E
	tmpfsMagic = 0x01021994 // nothing to flush
)

// syncFile makes f durable. On a file system that syncfs serves, callers
// on the same one share a syncfs: the caller whose flush runs passes its
// own descriptor, which is on that file system. syncfs reports the file
// system's write-back errors seen since that descriptor was opened; each
// caller then asks its own file for the errors seen since it opened it
// (sync_file_range waiting on pages already written, which flushes
// nothing), so no caller misses an error of its own file.
func syncFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return f.Sync()
	}
	var st unix.Stat_t
	var fs unix.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = unix.Fstat(int(fd), &st); serr == nil {
			serr = unix.Fstatfs(int(fd), &fs)
		}
	}); err != nil || serr != nil || !syncfsServes(int64(fs.Type)) {
		return f.Sync()
	}
	err = sharedFlusher(st.Dev).wait(func() error {
		var err error
		if cerr := rc.Control(func(fd uintptr) { err = unix.Syncfs(int(fd)) }); cerr != nil {
			return cerr
		}
		return err
	})
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return err
	}
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WAIT_AFTER)
	}); cerr != nil {
		return cerr
	}
	return err
}

// syncfsServes reports whether syncfs makes files on a file system of
// type magic as durable as fsync does.
func syncfsServes(magic int64) bool {
	switch magic {
	case ext4Magic, xfsMagic, btrfsMagic, tmpfsMagic:
		return true
	}
	return false
}
