//go:build !linux

package durable

import "os"

// syncFile makes f durable with an fsync of its own; callers syncing the
// same folder at once share one.
func syncFile(f *os.File) error {
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return sharedFlusher(f.Name()).wait(f.Sync)
	}
	return f.Sync()
}
