//go:build !linux

package ingest

import "os"

// createUnnamed makes a named temporary file: unnamed files are Linux's.
func createUnnamed(dir string) (*os.File, bool, error) { return createNamed(dir) }
