//go:build unix

package bench

import "syscall"

// settle writes every dirty page of the system to disk (sync(2)) before a
// stage is timed: the files the LAs' clients dropped, and the generated
// ones, arrive hours before the night's run and are long on disk by then.
// Without it the first syncs of the stage would write them back too.
func settle() { syscall.Sync() }
