package store

import (
	"fmt"
	"time"
)

// bJobRuns holds the daemon's recent job runs (doc.go).
var bJobRuns = bucket("job_runs")

// JobRunsKept is how many job runs the store keeps.
const JobRunsKept = 1000

// JobRun is one run of a job, for `cpis jobs` and the operations pages:
// a run of the daemon's scheduler, or of a batch command (cpis ingest,
// cpis nightly, ...) run directly or through the daemon's control socket.
type JobRun struct {
	Job      string         `json:"job"`
	Start    time.Time      `json:"start"`
	Duration time.Duration  `json:"duration_ns"`
	Outcome  string         `json:"outcome"` // ok, failed, skipped
	Error    string         `json:"error,omitempty"`
	Counts   map[string]int `json:"counts,omitempty"`
	// By is what ran the job: "" for the daemon's scheduler (and every
	// record made before commands were recorded), else the command, as
	// "cpis nightly" or "cpis nightly (through the daemon)".
	By string `json:"by,omitempty"`
}

// AddJobRun records a job run and keeps only the newest JobRunsKept.
func (t *Tx) AddJobRun(r JobRun) error {
	b := t.b(bJobRuns)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	r.Start = r.Start.UTC()
	if err := putJSON(b, u64(seq), r); err != nil {
		return fmt.Errorf("record job run: %w", err)
	}
	if seq > JobRunsKept {
		return b.Delete(u64(seq - JobRunsKept))
	}
	return nil
}

// JobRuns returns up to n most recent job runs, newest first.
func (t *Tx) JobRuns(n int) ([]JobRun, error) {
	var out []JobRun
	c := t.b(bJobRuns).Cursor()
	for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
		var r JobRun
		if err := jsonUnmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("decode job run %x: %w", k, err)
		}
		out = append(out, r)
	}
	return out, nil
}
