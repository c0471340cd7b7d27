package mesh

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

// EnvFaultKillSync names the kill tests' fault hook: with
// CPIS_FAULT_KILL_SYNC=N in its environment, a process kills itself
// (SIGKILL) right after its Nth SyncDir, the durable end of a file step (a
// return moved to the archive, a file written to an outbox), so a test can
// crash a run at an exact step. Unset, as in production, it does nothing.
const EnvFaultKillSync = "CPIS_FAULT_KILL_SYNC"

var (
	faultKillAt = sync.OnceValue(func() int64 {
		n, err := strconv.ParseInt(os.Getenv(EnvFaultKillSync), 10, 64)
		if err != nil || n < 1 {
			return 0
		}
		return n
	})
	syncCount atomic.Int64
)

// faultKillSync is called after each SyncDir: see EnvFaultKillSync.
func faultKillSync() {
	if at := faultKillAt(); at > 0 && syncCount.Add(1) == at {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Kill()
		}
		panic("fault hook " + EnvFaultKillSync + ": the process survived its kill")
	}
}
