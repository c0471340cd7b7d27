package durable

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// stage makes syncFiles see every file system as ext4 on a kernel whose
// syncfs reports (read-only when readOnly), and counts the fsyncs it asks
// for, which fail with fsyncErr.
func stage(t *testing.T, reports, readOnly bool, fsyncErr error) *int {
	t.Helper()
	oldFsync, oldFstatfs, oldReports := fsync, fstatfs, syncfsReports
	t.Cleanup(func() { fsync, fstatfs, syncfsReports = oldFsync, oldFstatfs, oldReports })
	fsyncs := new(int)
	fsync = func(*os.File) error { *fsyncs++; return fsyncErr }
	fstatfs = func(fd int, fs *unix.Statfs_t) error {
		if err := unix.Fstatfs(fd, fs); err != nil {
			return err
		}
		fs.Type = ext4Magic
		if readOnly {
			fs.Flags |= unix.ST_RDONLY
		}
		return nil
	}
	syncfsReports = func() bool { return reports }
	return fsyncs
}

// A file system found read-only after the shared flush is answered by the
// file's own fsync: the kernel's syncfs returns 0 for a read-only file
// system without asking it (btrfs after an aborted transaction), where
// fsync reports the failure. On a kernel whose syncfs does not report
// every failure, each call is an fsync of its own.
func TestSyncAsksFsync(t *testing.T) {
	refused := unix.EROFS
	for _, tc := range []struct {
		name       string
		reports    bool
		readOnly   bool
		want       error
		wantFsyncs int
	}{
		{"writable: the shared syncfs answers", true, false, nil, 0},
		{"read-only after the flush: fsync answers", true, true, refused, 1},
		{"kernel whose syncfs drops failures: fsync answers", false, false, refused, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := os.Create(filepath.Join(dir, "return.csv"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("9990000018,synthetic\n"); err != nil {
				t.Fatal(err)
			}
			for _, sync := range []struct {
				what string
				do   func() error
			}{
				{"Sync", func() error { return Sync(f) }},
				{"SyncDir", func() error { return SyncDir(dir) }},
			} {
				fsyncs := stage(t, tc.reports, tc.readOnly, refused)
				if err := sync.do(); !errors.Is(err, tc.want) {
					t.Errorf("%s: %v, want %v", sync.what, err, tc.want)
				}
				if *fsyncs != tc.wantFsyncs {
					t.Errorf("%s: %d fsyncs, want %d", sync.what, *fsyncs, tc.wantFsyncs)
				}
			}
		})
	}
}

// Only a kernel release from syncfsMinKernel on is served by syncfs.
func TestReleaseAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"6.13.0", true},
		{"6.18.4-amd64", true},
		{"7.0.1-arch1-1", true},
		{"6.12.9-amd64", false},
		{"6.1.0-28-amd64", false},
		{"5.14.0-427.13.1.el9_4.x86_64", false},
		{"4.18.0-553.el8_10.x86_64", false},
		{"", false},
		{"unknown", false},
	} {
		if got := releaseAtLeast(tc.release, syncfsMinKernel); got != tc.want {
			t.Errorf("releaseAtLeast(%q) = %v, want %v", tc.release, got, tc.want)
		}
	}
}

// Files and folders synced in one call on one file system share a single
// flush, however many there are.
func TestSyncShares(t *testing.T) {
	dir := t.TempDir()
	var files []*os.File
	var dirs []string
	for _, name := range []string{"a", "b", "c"} {
		sub := filepath.Join(dir, name)
		if err := os.Mkdir(sub, 0o750); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, sub)
		f, err := os.Create(filepath.Join(sub, "return.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	fl := sharedFlusher(st.Dev)
	flushes := func() uint64 { fl.mu.Lock(); defer fl.mu.Unlock(); return fl.flushes }
	for _, tc := range []struct {
		what string
		do   func() error
	}{
		{"Sync of 3 files", func() error { return Sync(files...) }},
		{"SyncDir of 3 folders", func() error { return SyncDir(dirs...) }},
	} {
		fsyncs := stage(t, true, false, nil)
		before := flushes()
		if err := tc.do(); err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		if n := flushes() - before; n != 1 {
			t.Errorf("%s: %d flushes, want 1", tc.what, n)
		}
		if *fsyncs != 0 {
			t.Errorf("%s: %d fsyncs of their own, want 0", tc.what, *fsyncs)
		}
	}
	if err := Sync(); err != nil {
		t.Errorf("Sync of nothing: %v", err)
	}
}
