package sftpd

import (
	"os"
	"testing"
)

// SetSyncFolder makes fn the folder sync after an upload's rename until t
// ends. It changes the whole package: tests using it must not be parallel.
func SetSyncFolder(t testing.TB, fn func(root *os.Root, folder string) error) {
	t.Helper()
	old := syncFolder
	syncFolder = fn
	t.Cleanup(func() { syncFolder = old })
}
