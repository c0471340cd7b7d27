// Command cpis is the CP-IS batch file-exchange hub: LA mailboxes, the
// nightly ingest of returns, and the operations commands around them.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT says
// otherwise: the collector works harder near it instead of letting the heap
// grow to twice what is live, which keeps a night of a million plans under
// 500 MiB resident (bbolt's mapped file included).
const defaultMemoryLimit = 160 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
