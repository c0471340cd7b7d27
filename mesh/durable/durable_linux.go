package durable

import (
	"fmt"
	"os"
	"sync"
	"syscall"

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

// syncFiles makes files durable. When every one is on a single file
// system that syncfs serves, they share a flush with every other caller
// on it: the caller whose flush runs passes its own descriptor, which is
// on that file system, to syncfs and then to fsync. syncfs writes back
// everything dirty and waits for it, but on ext2 and on ext4 without a
// journal it flushes the disk's cache before the last of its writes (the
// folders' blocks) have ended; the fsync after it flushes the cache again
// once they have, which makes every write before it durable, whatever the
// file system. syncfs reports the file system's write-back errors seen
// since that descriptor was opened; each file is then asked for the
// errors seen since it was opened (sync_file_range waiting on pages
// already written, which flushes nothing), so no caller misses an error
// of its own file. Files on several file systems, or on one syncfs does
// not serve, are synced one by one (syncAlone).
//
// A file system that is read-only once the flush is over (btrfs forced
// read-only by an aborted transaction) is not answered by syncfs: the
// kernel skips a read-only file system and returns 0 without asking it,
// so a rename that never reached the disk would pass for durable. The
// file's own fsync answers instead, as before (a healthy read-only mount
// costs nothing: there is nothing to flush).
func syncFiles(files []*os.File) error {
	if len(files) == 0 {
		return nil
	}
	ps := make([]probed, len(files))
	shared := syncfsReports()
	for i, f := range files {
		ps[i] = probe(f)
		if !ps[i].served || ps[i].st.Dev != ps[0].st.Dev {
			shared = false
		}
	}
	if !shared {
		for _, p := range ps {
			if err := p.syncAlone(); err != nil {
				return err
			}
		}
		return nil
	}
	lead := ps[0]
	err := sharedFlusher(lead.st.Dev).wait(func() error {
		var err error
		if cerr := lead.rc.Control(func(fd uintptr) {
			if err = unix.Syncfs(int(fd)); err == nil {
				err = unix.Fsync(int(fd))
			}
		}); cerr != nil {
			return cerr
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sync %s: %w", lead.f.Name(), err)
	}
	for _, p := range ps {
		if err := p.checkShared(); err != nil {
			return fmt.Errorf("sync %s: %w", p.f.Name(), err)
		}
	}
	return nil
}

// probed is a file to sync and what syncFiles found out about it.
type probed struct {
	f      *os.File
	rc     syscall.RawConn
	st     unix.Stat_t
	served bool // on a file system that syncfs serves
}

// probe stats f and its file system.
func probe(f *os.File) probed {
	p := probed{f: f}
	rc, err := f.SyscallConn()
	if err != nil {
		return p
	}
	p.rc = rc
	var fs unix.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = unix.Fstat(int(fd), &p.st); serr == nil {
			serr = fstatfs(int(fd), &fs)
		}
	}); err == nil && serr == nil {
		p.served = syncfsServes(uint32(fs.Type))
	}
	return p
}

// syncAlone makes p's file durable without sharing a flush with files of
// other file systems: through its own file system's shared flush when
// syncfs serves it, else by its own fsync. Its error names the file.
func (p probed) syncAlone() error {
	if !p.served || !syncfsReports() {
		if err := fsync(p.f); err != nil {
			return fmt.Errorf("sync %s: %w", p.f.Name(), err)
		}
		return nil
	}
	return syncFiles([]*os.File{p.f})
}

// checkShared asks p's file, after a shared flush, for what the flush
// cannot tell: whether its file system went read-only (its own fsync then
// answers), and the write-back errors of its pages.
func (p probed) checkShared() error {
	var fs unix.Statfs_t
	var serr error
	if cerr := p.rc.Control(func(fd uintptr) { serr = fstatfs(int(fd), &fs) }); cerr != nil || serr != nil || fs.Flags&unix.ST_RDONLY != 0 {
		return fsync(p.f)
	}
	if p.st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	var err error
	if cerr := p.rc.Control(func(fd uintptr) {
		err = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WAIT_AFTER)
	}); cerr != nil {
		return cerr
	}
	return err
}

// fsync and fstatfs are the system calls syncFiles asks of a file and its
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
