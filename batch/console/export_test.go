package console

import "time"

// SetLockWait sets how long a release or discard waits for the job lock,
// until the test ends (restore).
func SetLockWait(d time.Duration) (restore func()) {
	old := lockWait
	lockWait = d
	return func() { lockWait = old }
}
