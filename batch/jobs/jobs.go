// Package jobs defines the hub's batch jobs once: pull, ingest, expire,
// notify, report and push, and the nightly sequence (ingest, expire,
// notify, report). The commands (`cpis ingest`, `cpis nightly`, ...) and
// the daemon's scheduler run these same definitions: each job returns a
// result the command prints and whose counts the scheduler records.
//
// A job does not take the job lock itself: the scheduler's functions
// (Env.Funcs) take it around each job, and a batch command sent to the
// daemon takes it around the whole command, so a scheduled job and a
// command never work on the same mailboxes at once.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"cpis/batch/schedule"
	"cpis/store"
)

// Env is what the jobs work on.
type Env struct {
	DataDir string
	DB      *store.DB
	// Now is the clock of every date rule, message ID and audit time.
	Now func() time.Time
	Log *slog.Logger
	// Lock serialises batch work inside the daemon (Funcs takes it).
	Lock *Lock
	// SizeLimit bounds a return (0: the default).
	SizeLimit int64
}

func (e Env) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// Result is what every job returns besides its error.
type Result interface {
	// Counts are what the scheduler records of a run (`cpis jobs`).
	Counts() map[string]int
	// Failure is the failure of some parts of the job (LAs, remote
	// mailboxes) while the others were still served; nil when none failed.
	Failure() error
}

// PartsFailed is a Result's Failure: some parts of a job failed, and
// Unwrap gives each one's error (each a *mesh.LAError).
type PartsFailed struct {
	msg    string
	failed []error
}

func (e *PartsFailed) Error() string { return e.msg }

// Unwrap returns the error of each part that failed.
func (e *PartsFailed) Unwrap() []error { return e.failed }

func partsFailed[E error](msg string, failed []E) *PartsFailed {
	errs := make([]error, len(failed))
	for i, f := range failed {
		errs[i] = f
	}
	return &PartsFailed{msg: msg, failed: errs}
}

// Job runs one of the hub's jobs with its default options, as the
// scheduler and the nightly sequence run it.
type Job func(ctx context.Context, e Env) (Result, error)

// All returns every job, by its schedule name (schedule.Jobs).
func All() map[string]Job {
	return map[string]Job{
		schedule.Pull:   func(ctx context.Context, e Env) (Result, error) { return Pull(ctx, e) },
		schedule.Ingest: func(ctx context.Context, e Env) (Result, error) { return Ingest(ctx, e, IngestOptions{}) },
		schedule.Expire: func(ctx context.Context, e Env) (Result, error) { return Expire(ctx, e) },
		schedule.Notify: func(ctx context.Context, e Env) (Result, error) { return Notify(ctx, e, NotifyOptions{}) },
		schedule.Report: func(ctx context.Context, e Env) (Result, error) { return Report(ctx, e, ReportOptions{}) },
		schedule.Push:   func(ctx context.Context, e Env) (Result, error) { return Push(ctx, e) },
	}
}

// outcome is a job's failure: the error that stopped it, else the failure
// of its parts.
func outcome(res Result, err error) error {
	if err != nil {
		return err
	}
	return res.Failure()
}

// Funcs returns the job functions for the scheduler. Each takes the job
// lock (waiting, and logging what for, while other batch work runs),
// records the job's counts and fails when any part of the job failed; the
// record names the first part that failed.
func (e Env) Funcs() map[string]func(context.Context) error {
	if e.Lock == nil {
		e.Lock = &Lock{}
	}
	out := map[string]func(context.Context) error{}
	for name, job := range All() {
		out[name] = func(ctx context.Context) error {
			release, err := e.Lock.Acquire(ctx, name+" job", func(holder string) {
				e.log().Info("job waits for the running batch work", "job", name, "running", holder)
			})
			if err != nil {
				return err
			}
			defer release()
			res, err := job(ctx, e)
			for k, v := range res.Counts() {
				schedule.AddCount(ctx, k, v)
			}
			err = outcome(res, err)
			if pf := (*PartsFailed)(nil); errors.As(err, &pf) && len(pf.failed) > 0 {
				err = fmt.Errorf("%w; first: %v", err, pf.failed[0])
			}
			return err
		}
	}
	return out
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
