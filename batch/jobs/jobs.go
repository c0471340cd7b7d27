// Package jobs defines the hub's batch jobs once: pull, ingest, expire,
// notify, report and push, and the nightly sequence (ingest, expire,
// notify, report). The commands (`cpis ingest`, `cpis nightly`, ...) and
// the daemon's scheduler run these same definitions: each job returns a
// result the command prints and whose counts are recorded for `cpis jobs`
// (Record for the scheduler's runs, Recorded and Nightly for a command's,
// named by Env.By).
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
	// By names a command running the jobs ("cpis ingest"): its runs made
	// through Recorded, and each stage of Nightly, are recorded for `cpis
	// jobs` as the scheduler's are (Record), with By saying what ran
	// them. "" records nothing here: the scheduler records its own runs.
	By string
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

// Recorded runs job, named name (a schedule job name), and, when e.By is
// set, records its run for `cpis jobs` and the operations pages as Record
// records the scheduler's: start (e's clock), duration, outcome (failed
// when it stopped with an error or some of its parts failed, the first
// part named), counts, and e.By. A failure to record is logged: the job
// ran all the same.
func Recorded[R Result](ctx context.Context, e Env, name string, job func(context.Context, Env) (R, error)) (R, error) {
	if e.By == "" {
		return job(ctx, e)
	}
	start, began := e.now(), time.Now()
	res, err := job(ctx, e)
	e.record(name, start, time.Since(began), res, err)
	return res, err
}

// now is e's clock, the system's when unset.
func (e Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// record stores a command's run of job name (e.By set), whose result is
// res (nil when it could not start) and error err.
func (e Env) record(name string, start time.Time, d time.Duration, res Result, err error) {
	jr := store.JobRun{Job: name, Start: start, Duration: d, Outcome: "ok", By: e.By}
	if res != nil {
		jr.Counts = res.Counts()
		err = outcome(res, err)
	}
	if err != nil {
		if pf := (*PartsFailed)(nil); errors.As(err, &pf) && len(pf.failed) > 0 {
			err = fmt.Errorf("%w; first: %v", err, pf.failed[0])
		}
		jr.Outcome, jr.Error = "failed", err.Error()
	}
	if err := e.DB.Update(func(tx *store.Tx) error { return tx.AddJobRun(jr) }); err != nil {
		e.log().Error("record job run", "job", name, "by", e.By, "err", err)
	}
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
