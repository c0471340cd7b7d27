package jobs

import (
	"context"
	"fmt"
	"slices"

	"cpis/batch/ingest"
	"cpis/store"
)

// IngestOptions narrow an ingest run.
type IngestOptions struct {
	// LAs limits the run to these LA codes; empty means every LA.
	LAs []string
}

// IngestResult is what an ingest run did. Report is never nil.
type IngestResult struct {
	*ingest.Report
	// LAs is how many LAs the run covered (counted when some failed).
	LAs int
	// Waiting is, when the run took nothing, every DELTA return left in an
	// inbox behind a held FULL return: why nothing was taken.
	Waiting []ingest.Waiting
}

// Counts returns the messages handled and the LAs that failed.
func (r IngestResult) Counts() map[string]int {
	return map[string]int{"messages": len(r.Results), "failed_las": len(r.Failed)}
}

// AllFailed reports whether every LA of the run failed.
func (r IngestResult) AllFailed() bool { return len(r.Failed) > 0 && len(r.Failed) >= r.LAs }

// Failure says how many LAs could not be processed, and whether any was.
func (r IngestResult) Failure() error {
	switch {
	case len(r.Failed) == 0:
		return nil
	case r.AllFailed():
		return partsFailed(fmt.Sprintf("every LA failed: none of the %d LA(s) could be processed", len(r.Failed)), r.Failed)
	default:
		return partsFailed(fmt.Sprintf("%d LA(s) could not be processed; the others were", len(r.Failed)), r.Failed)
	}
}

// Ingest takes, checks, applies and answers every waiting return of every
// LA (or of opts.LAs). An LA that fails is in the result's Failed (and its
// Failure); the error is for the run as a whole.
func Ingest(ctx context.Context, e Env, opts IngestOptions) (IngestResult, error) {
	rep, err := ingest.Run(ctx, ingest.Config{DataDir: e.DataDir, DB: e.DB, Now: e.Now, LAs: opts.LAs, Log: e.log(), SizeLimit: e.SizeLimit})
	res := IngestResult{Report: rep}
	if rep == nil {
		res.Report = &ingest.Report{}
	}
	if err != nil {
		return res, err
	}
	if len(rep.Failed) > 0 {
		if res.LAs, err = countLAs(e.DB, opts.LAs); err != nil {
			return res, err
		}
	}
	if len(rep.Results) == 0 {
		if res.Waiting, err = waiting(e, opts.LAs); err != nil {
			return res, err
		}
	}
	return res, nil
}

// countLAs counts the LAs a run limited to las covers (every LA when las
// is empty), as ingest.Run chooses them.
func countLAs(db *store.DB, las []string) (int, error) {
	n := 0
	err := db.View(func(tx *store.Tx) error {
		all, err := tx.Authorities()
		for _, a := range all {
			if len(las) == 0 || slices.Contains(las, a.Code) {
				n++
			}
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ingest: count LAs: %w", err)
	}
	return n, nil
}

// waiting lists the DELTA returns that wait behind a held FULL return, of
// las only when set.
func waiting(e Env, las []string) ([]ingest.Waiting, error) {
	open, err := ingest.Open(e.DB)
	if err != nil {
		return nil, fmt.Errorf("ingest: held returns: %w", err)
	}
	if len(las) > 0 {
		open = slices.DeleteFunc(open, func(m *store.Message) bool { return !slices.Contains(las, m.LA) })
	}
	w, err := ingest.WaitingBehindHeld(e.DataDir, open)
	if err != nil {
		return nil, fmt.Errorf("ingest: returns waiting behind a held return: %w", err)
	}
	return w, nil
}
