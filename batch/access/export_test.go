package access

import "time"

// Hooks into the audit queue for the tests of package access_test, which
// observe a group being queued and written rather than time it: timing
// flakes on a busy machine, state does not.

// AuditDelay is how late s's audit queue may commit a record.
func AuditDelay(s *Service) time.Duration {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	return s.audit.delay
}

// HoldAudit makes the groups of s's audit queue wait for FireAudit: their
// timer is set a day ahead. Call it before the first lookup.
func HoldAudit(s *Service) {
	s.audit.mu.Lock()
	s.audit.delay = 24 * time.Hour
	s.audit.mu.Unlock()
}

// AuditQueued returns the number of records queued and whether a timer is
// armed to write them.
func AuditQueued(s *Service) (n int, armed bool) {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	return len(s.audit.pending), s.audit.timer != nil
}

// FireAudit does what the armed timer of s's audit queue would do when it
// fires, and reports whether a timer was armed (and stopped before it
// fired).
func FireAudit(s *Service) bool {
	q := s.audit
	q.mu.Lock()
	t := q.timer
	q.mu.Unlock()
	if t == nil || !t.Stop() {
		return false
	}
	q.flush()
	return true
}

// WaitAudit waits until the group of every timer armed so far is written.
func WaitAudit(s *Service) { s.audit.wg.Wait() }
