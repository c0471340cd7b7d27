// Package durable makes files and folders durable on disk, the last step
// of every atomic write in the hub (temp file, sync, rename, sync the
// folder), and lets writers that need it at the same moment share the
// flush.
//
// A night's ingest answers 153 returns at once, each with a data file and
// a control file written atomically: about a thousand fsyncs, each of
// which flushes the disk's write cache, one after the other. On Linux,
// callers that wait together are served by one syncfs(2) of their file
// system instead, which writes back everything dirty on it, and one fsync
// to flush the cache after it (PostgreSQL offers syncfs for its data
// directory too); on other systems, on file systems where syncfs is not
// known to be as good as fsync (network file systems), and on kernels
// whose syncfs reports less than fsync (before 6.13), each call is an
// fsync of its own.
//
// The contract does not change with the method: when Sync or SyncDir
// returns nil, what was written to the file, or renamed and created in the
// folder, before the call is on disk. A flush that started before a caller
// arrived never answers for it.
package durable

import (
	"fmt"
	"os"
	"sync"
)

// Sync makes the content and metadata of each of files durable, as an
// fsync of each would. Files on one file system share a flush.
func Sync(files ...*os.File) error { return syncFiles(files) }

// SyncDir makes the names in each of the folders dirs durable: the files
// renamed into it, created in it and removed from it. Folders on one file
// system share a flush.
func SyncDir(dirs ...string) error {
	ds := make([]*os.File, 0, len(dirs))
	defer func() {
		for _, d := range ds {
			d.Close()
		}
	}()
	for _, dir := range dirs {
		d, err := os.Open(dir)
		if err != nil {
			return fmt.Errorf("sync dir: %w", err)
		}
		ds = append(ds, d)
	}
	if err := syncFiles(ds); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// flusher shares a flush among the callers that wait for one at the same
// time (group commit): a caller that arrives while a flush runs waits for
// it to end, then one flush serves every caller that arrived meanwhile.
type flusher struct {
	mu      sync.Mutex
	cond    sync.Cond
	running bool
	started uint64 // the flushes started so far (the one running included)
	done    uint64 // the last flush finished
	failed  uint64 // the last flush that failed (0: none)
	err     error  // its error
	waiting int    // callers waiting for a flush to end (tests)
	flushes uint64 // how many flushes ran (tests)
}

// flushers holds a flusher for each key given to sharedFlusher.
var flushers sync.Map // key -> *flusher

// sharedFlusher returns the flusher of key (a file system, or a folder).
func sharedFlusher(key any) *flusher {
	if v, ok := flushers.Load(key); ok {
		return v.(*flusher)
	}
	fl := &flusher{}
	fl.cond.L = &fl.mu
	v, _ := flushers.LoadOrStore(key, fl)
	return v.(*flusher)
}

// wait returns once a flush that started after the call has finished,
// running flush itself when none is running. It reports the error of any
// flush that failed since the call: one that cannot be told apart from
// the caller's own is never taken for a success.
func (fl *flusher) wait(flush func() error) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	need := fl.started + 1 // the first flush to start after this call
	for fl.done < need {
		if fl.running {
			fl.waiting++
			fl.cond.Wait()
			fl.waiting--
			continue
		}
		fl.running = true
		fl.started++
		gen := fl.started
		fl.mu.Unlock()
		err := flush()
		fl.mu.Lock()
		fl.running = false
		fl.done = gen
		fl.flushes++
		if err != nil {
			fl.failed, fl.err = gen, err
		}
		fl.cond.Broadcast()
	}
	if fl.failed >= need {
		return fl.err
	}
	return nil
}
