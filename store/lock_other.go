//go:build !unix

package store

import (
	"os"
	"time"
)

// lockShared does nothing where flock is missing: bbolt's own lock still
// keeps a second writer out.
func lockShared(*os.File, time.Time) error { return nil }
