package jobs

import (
	"context"
	"fmt"
	"strings"

	"cpis/batch/schedule"
)

// NightlyStages are the stages of the nightly sequence, in order: ingest,
// expire, notify (with the inactive-number files an interrupted run left),
// report. Each is the job of that name with its default options.
var NightlyStages = []string{schedule.Ingest, schedule.Expire, schedule.Notify, schedule.Report}

// Stage is one stage of the nightly sequence, as it ended.
type Stage struct {
	Name   string
	Result Result
	// Err says the stage could not run to its end (Result then holds what
	// it did before).
	Err error
	// Failed is Err, or else the failure of some of the stage's parts (an
	// LA); nil when the stage succeeded.
	Failed error
}

// NightlyError lists every stage of a nightly run that failed.
type NightlyError struct {
	Failed []Stage
}

func (e *NightlyError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, s := range e.Failed {
		parts[i] = fmt.Sprintf("%s: %v", s.Name, s.Failed)
	}
	return "nightly: " + strings.Join(parts, "; ")
}

// Unwrap returns each failed stage's error.
func (e *NightlyError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, s := range e.Failed {
		errs[i] = s.Failed
	}
	return errs
}

// Nightly runs the nightly sequence. Every stage runs, whatever an earlier
// one did: a failed ingest must not keep plans past their visibility, nor
// LAs without their access files. done, when set, is called as each stage
// ends. Once ctx ends, the stages not yet begun do not run and fail with
// ctx's error. With e.By set, each stage that runs is recorded as a run of
// its job (Recorded), as the scheduler records its runs. It returns a
// *NightlyError when any stage failed.
func Nightly(ctx context.Context, e Env, done func(Stage)) error {
	all := All()
	var failed []Stage
	for _, name := range NightlyStages {
		s := Stage{Name: name}
		if err := ctx.Err(); err != nil {
			s.Err, s.Failed = err, err
		} else {
			s.Result, s.Err = Recorded(ctx, e, name, all[name])
			s.Failed = outcome(s.Result, s.Err)
		}
		if done != nil {
			done(s)
		}
		if s.Failed != nil {
			failed = append(failed, s)
		}
	}
	if len(failed) > 0 {
		return &NightlyError{Failed: failed}
	}
	return nil
}
