//go:build !linux

package durable

import (
	"fmt"
	"os"
)

// syncFiles makes each of files durable with an fsync of its own; callers
// syncing the same folder at once share one.
func syncFiles(files []*os.File) error {
	for _, f := range files {
		var err error
		if fi, serr := f.Stat(); serr == nil && fi.IsDir() {
			err = sharedFlusher(f.Name()).wait(f.Sync)
		} else {
			err = f.Sync()
		}
		if err != nil {
			return fmt.Errorf("sync %s: %w", f.Name(), err)
		}
	}
	return nil
}
