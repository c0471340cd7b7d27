package local

import (
	"sync"

	"cpis/mesh"
)

// dirSyncs holds a dirSync for each folder synced through SyncDirShared.
var dirSyncs sync.Map // folder -> *dirSync

// dirSync shares the fsyncs of one folder among concurrent callers.
type dirSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	started uint64 // the fsyncs started so far (the one running included)
	done    uint64 // the last fsync finished
	err     error  // its error
}

// SyncDirShared fsyncs the folder dir (mesh.SyncDir) so that everything
// done in it before the call is durable when it returns nil, sharing one
// fsync with concurrent callers: a caller that arrives while an fsync of
// dir runs waits for it to end, then one fsync serves every caller that
// arrived meanwhile (group commit). An fsync started before a caller
// arrived never answers for it.
func SyncDirShared(dir string) error {
	v, ok := dirSyncs.Load(dir)
	if !ok {
		d := &dirSync{}
		d.cond = sync.NewCond(&d.mu)
		v, _ = dirSyncs.LoadOrStore(dir, d)
	}
	d := v.(*dirSync)
	d.mu.Lock()
	defer d.mu.Unlock()
	need := d.started + 1 // the first fsync to start after this call
	for d.done < need {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		gen := d.started
		d.mu.Unlock()
		err := mesh.SyncDir(dir)
		d.mu.Lock()
		d.running = false
		d.done, d.err = gen, err
		d.cond.Broadcast()
	}
	// d.err is that of the latest fsync, which started after this call:
	// a success covers this caller's changes, a failure is reported.
	return d.err
}
