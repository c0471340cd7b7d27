package jobs

import (
	"context"
	"errors"
	"fmt"

	"cpis/batch/expire"
	"cpis/batch/inactive"
	"cpis/batch/notify"
	"cpis/store/caldate"
)

// ExpireResult is what an expire run purged and moved.
type ExpireResult struct {
	expire.Result
}

// Counts returns the plans purged and the outbox messages archived.
func (r ExpireResult) Counts() map[string]int {
	return map[string]int{"plans_purged": r.Plans, "outbox_archived": r.Archived}
}

// Failure is always nil: expire has no parts that fail alone.
func (r ExpireResult) Failure() error { return nil }

// Expire purges what is no longer visible (plans, row outcomes, lookup
// audit) and archives outbox messages left uncollected for 30 days.
func Expire(_ context.Context, e Env) (ExpireResult, error) {
	res, err := expire.Run(e.DB, e.Now())
	if err != nil {
		return ExpireResult{res}, err
	}
	res.Archived, err = expire.ArchiveUncollected(e.DataDir, e.DB, e.Now())
	return ExpireResult{res}, err
}

// NotifyOptions narrow a notify run.
type NotifyOptions struct {
	// Day, when set, writes that London day only; otherwise every finished
	// day not yet written.
	Day caldate.Date
}

// NotifyResult is what a notify run wrote.
type NotifyResult struct {
	// Written are the access files written (also when the run then failed).
	Written []notify.Written
	// Inactive are the inactive-number files an interrupted run had
	// decided and this one wrote first.
	Inactive []inactive.Written
}

// Counts returns the access files written.
func (r NotifyResult) Counts() map[string]int { return map[string]int{"files": len(r.Written)} }

// Failure is always nil: a day that fails stops the run.
func (r NotifyResult) Failure() error { return nil }

// Notify writes the inactive-number files left unwritten by an interrupted
// run, then the access-notification files due (of opts.Day only, when
// set). The access files are written even when the inactive files fail.
func Notify(_ context.Context, e Env, opts NotifyOptions) (NotifyResult, error) {
	var res NotifyResult
	var ierr, nerr error
	if res.Inactive, ierr = inactive.Flush(e.DataDir, e.DB); ierr != nil {
		ierr = fmt.Errorf("inactive-number files: %w", ierr)
	}
	res.Written, nerr = notify.Run(notify.Config{DataDir: e.DataDir, DB: e.DB, Now: e.Now(), Day: opts.Day})
	return res, errors.Join(ierr, nerr)
}
