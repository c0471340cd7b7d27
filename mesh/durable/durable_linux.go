package durable

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Magic numbers (statfs f_type) of the local file systems whose syncfs
// writes back every dirty file and folder and waits for the writes.
const (
	ext4Magic  = 0xEF53 // ext2, ext3 and ext4
	xfsMagic   = 0x58465342
	btrfsMagic = 0x9123683E
	tmpfsMagic = 0x01021994 // nothing to flush
)

// syncFile makes f durable. On a file system that syncfs serves, callers
// on the same one share a flush: the caller whose flush runs passes its
// own descriptor, which is on that file system, to syncfs and then to
// fsync. syncfs writes back everything dirty and waits for it, but on ext2
// and on ext4 without a journal it flushes the disk's cache before the
// last of its writes (the folders' blocks) have ended; the fsync after it
// flushes the cache again once they have, which makes every write before
// it durable, whatever the file system. syncfs reports the file system's
// write-back errors seen since that descriptor was opened; each caller
// then asks its own file for the errors seen since it opened it
// (sync_file_range waiting on pages already written, which flushes
// nothing), so no caller misses an error of its own file.
//
// A file system that is read-only once the flush is over (btrfs forced
// read-only by an aborted transaction) is not answered by syncfs: the
// kernel skips a read-only file system and returns 0 without asking it,
// so a rename that never reached the disk would pass for durable. The
// file's own fsync answers instead, as before (a healthy read-only mount
// costs nothing: there is nothing to flush).
func syncFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fsync(f)
	}
	var st unix.Stat_t
	var fs unix.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = unix.Fstat(int(fd), &st); serr == nil {
			serr = fstatfs(int(fd), &fs)
		}
	}); err != nil || serr != nil || !syncfsServes(uint32(fs.Type)) || !syncfsReports() {
		return fsync(f)
	}
	err = sharedFlusher(st.Dev).wait(func() error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			if err = unix.Syncfs(int(fd)); err == nil {
				err = unix.Fsync(int(fd))
			}
		}); cerr != nil {
			return cerr
		}
		return err
	})
	if err != nil {
		return err
	}
	if cerr := rc.Control(func(fd uintptr) { serr = fstatfs(int(fd), &fs) }); cerr != nil || serr != nil || fs.Flags&unix.ST_RDONLY != 0 {
		return fsync(f)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WAIT_AFTER)
	}); cerr != nil {
		return cerr
	}
	return err
}

// fsync and fstatfs are the system calls syncFile asks of a file and its
// file system (tests replace them to stage a failed one).
var (
	fsync   = (*os.File).Sync
	fstatfs = unix.Fstatfs
)

// syncfsMinKernel is the first Linux release whose syncfs reports every
// failure that fsync would on the file systems it serves: before 5.17 it
// dropped the file system's own errors (a journal commit that failed), and
// before 6.13 ext4 answered 0 once shut down, which is what an error does
// to it on 6.12 and on the stable releases given that change (before, an
// error made it read-only).
var syncfsMinKernel = [2]int{6, 13}

// syncfsReports reports whether the running kernel is syncfsMinKernel or
// later (tests replace it).
var syncfsReports = sync.OnceValue(func() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	return releaseAtLeast(unix.ByteSliceToString(u.Release[:]), syncfsMinKernel)
})

// releaseAtLeast reports whether the kernel release ("6.18.4-amd64")
// is min (major, minor) or later; a release it cannot read is not.
func releaseAtLeast(release string, min [2]int) bool {
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > min[0] || major == min[0] && minor >= min[1]
}

// syncfsServes reports whether syncfs, followed by an fsync, makes files
// on a file system of type magic as durable as an fsync of each does.
func syncfsServes(magic uint32) bool {
	switch magic {
	case ext4Magic, xfsMagic, btrfsMagic, tmpfsMagic:
		return true
	}
	return false
}
