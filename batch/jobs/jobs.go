// Package jobs names the hub's batch jobs as the scheduler runs them: pull,
// ingest, expire, notify, report and push, each a func(ctx) error over one
// data dir and store. Every job holds the daemon's job lock while it runs,
// so a scheduled job and a command sent to the daemon never work on the
// same mailboxes at once.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"cpis/batch/expire"
	"cpis/batch/inactive"
	"cpis/batch/ingest"
	"cpis/batch/notify"
	"cpis/batch/schedule"
	"cpis/store"
)

// Env is what the jobs work on.
type Env struct {
	DataDir string
	DB      *store.DB
	Now     func() time.Time
	Log     *slog.Logger
	// Lock serialises batch work inside the daemon.
	Lock *sync.Mutex
	// SizeLimit bounds a return (0: the default).
	SizeLimit int64
	// Extra adds jobs provided elsewhere (pull, push, report), by name.
	Extra map[string]func(ctx context.Context, env Env) error
}

// ErrNotAvailable marks a job this build cannot run.
var ErrNotAvailable = errors.New("job not available")

// Funcs returns the job functions for the scheduler, each under the lock.
func (e Env) Funcs() map[string]func(context.Context) error {
	all := map[string]func(context.Context, Env) error{
		schedule.Ingest: runIngest,
		schedule.Expire: runExpire,
		schedule.Notify: runNotify,
	}
	for name, f := range e.Extra {
		all[name] = f
	}
	out := map[string]func(context.Context) error{}
	for _, name := range schedule.Jobs() {
		f, ok := all[name]
		if !ok {
			name := name
			out[name] = func(context.Context) error { return fmt.Errorf("%s: %w", name, ErrNotAvailable) }
			continue
		}
		out[name] = func(ctx context.Context) error {
			e.Lock.Lock()
			defer e.Lock.Unlock()
			return f(ctx, e)
		}
	}
	return out
}

func runIngest(ctx context.Context, e Env) error {
	rep, err := ingest.Run(ctx, ingest.Config{DataDir: e.DataDir, DB: e.DB, Now: e.Now, Log: e.Log, SizeLimit: e.SizeLimit})
	if rep != nil {
		schedule.AddCount(ctx, "messages", len(rep.Results))
		schedule.AddCount(ctx, "failed_las", len(rep.Failed))
		if err == nil && len(rep.Failed) > 0 {
			err = fmt.Errorf("%d LA(s) could not be processed: %w", len(rep.Failed), rep.Failed[0])
		}
	}
	return err
}

func runExpire(ctx context.Context, e Env) error {
	res, err := expire.Run(e.DB, e.Now())
	schedule.AddCount(ctx, "plans_purged", res.Plans)
	if err != nil {
		return err
	}
	n, err := expire.ArchiveUncollected(e.DataDir, e.DB, e.Now())
	schedule.AddCount(ctx, "outbox_archived", n)
	return err
}

func runNotify(ctx context.Context, e Env) error {
	if _, err := inactive.Flush(e.DataDir, e.DB); err != nil {
		return err
	}
	written, err := notify.Run(notify.Config{DataDir: e.DataDir, DB: e.DB, Now: e.Now()})
	schedule.AddCount(ctx, "files", len(written))
	return err
}

// Record persists a scheduler run for `cpis jobs`.
func Record(db *store.DB, log *slog.Logger) func(schedule.Run) {
	return func(r schedule.Run) {
		jr := store.JobRun{Job: r.Job, Start: r.Start, Duration: r.Duration, Outcome: "ok", Counts: r.Counts}
		switch {
		case r.Skipped:
			jr.Outcome = "skipped"
		case r.Err != nil:
			jr.Outcome, jr.Error = "failed", r.Err.Error()
		}
		if err := db.Update(func(tx *store.Tx) error { return tx.AddJobRun(jr) }); err != nil {
			log.Error("record job run", "job", r.Job, "err", err)
		}
	}
}
