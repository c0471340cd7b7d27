package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"cpis/batch/returns"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

// decide runs the checks that follow taking (date order, demographics
// reference, reading, rows, F010, the safety hold) and commits the outcome
// in one transaction with everything it changes. allowHold is false when
// operations release a held return.
func (l *laRun) decide(ctx context.Context, m *store.Message, allowHold bool) error {
	if m.Problem != nil {
		return l.commit(m, fileOutcome(*m.Problem), nil, store.Decided)
	}
	name, err := returns.ParseName(m.File)
	if err != nil {
		return fmt.Errorf("message %s: %w", m.MessageID, err) // cannot happen: checked when taken
	}
	var st store.LAState
	var haveRef bool
	if err := l.cfg.DB.View(func(tx *store.Tx) error {
		haveRef = tx.HasDemographics()
		st, err = tx.LAState(l.la.Code)
		return err
	}); err != nil {
		return err
	}
	switch {
	case name.Extract.After(l.today):
		return l.commit(m, fileOutcome(codes.Problem{Detail: codes.F008,
			Text: fmt.Sprintf("the extract date %s in %s is after today (%s): nothing was applied.", name.Extract, m.File, l.today)}), nil, store.Decided)
	case name.Extract.Before(st.LastApplied):
		return l.commit(m, fileOutcome(codes.Problem{Detail: codes.F008,
			Text: fmt.Sprintf("the extract date %s in %s is before the newest applied return (%s, %s): nothing was applied.", name.Extract, m.File, st.LastApplied, st.LastAppliedID)}), nil, store.Decided)
	case !haveRef:
		if m.State == store.Waiting {
			return nil // already answered; waits on
		}
		return l.commit(m, &store.Outcome{Code: codes.FileAwaitsPDS,
			Text: store.Counts{}.String() + " The hub has no demographics reference yet: the return is kept and its result will follow in a new response."}, nil, store.Waiting)
	}

	// The return is charged against the run's memory budget from before it
	// is read until it is committed.
	took, err := l.budget.acquire(ctx, returnBytes+rowBytes*l.rowBound(m, name))
	if err != nil {
		return err
	}
	defer l.budget.release(took)
	in, err := l.read(ctx, m, name)
	var fe *codes.Error
	switch {
	case errors.As(err, &fe):
		text := fe.Text
		if fe.Line > 0 {
			text = fmt.Sprintf("line %d: %s", fe.Line, fe.Text)
		}
		return l.commit(m, fileOutcome(codes.Problem{Detail: fe.Detail, Text: fmt.Sprintf("%s: %s: nothing was applied.", m.File, text)}), nil, store.Decided)
	case err != nil:
		return err
	}
	return l.commitEvaluation(m, name, in, allowHold)
}

// rowBound returns at most how many rows the archived return m can hold:
// one more than its line ends (CSV) or tags (XML), and no more than one
// over the row limit. A file that cannot be read counts as the limit (the
// read that follows reports why).
func (l *laRun) rowBound(m *store.Message, name returns.Name) int64 {
	limit := int64(l.cfg.MaxRows) + 1
	if s, ok := l.seps[m.SHA256]; ok {
		// Counted when the content was hashed, in this run.
		delete(l.seps, m.SHA256)
		n := s.lines
		if name.Format == returns.XML {
			n = s.tags
		}
		return min(1+n, limit)
	}
	f, err := local.OpenData(m.ArchivePath, name.Gzip, l.cfg.SizeLimit)
	if err != nil {
		return limit
	}
	defer f.Close()
	sep := []byte{'\n'}
	if name.Format == returns.XML {
		sep = []byte{'<'}
	}
	buf := make([]byte, 64<<10)
	n := int64(1)
	for n < limit {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], sep))
		if err != nil {
			if err != io.EOF {
				return limit
			}
			break
		}
	}
	return min(n, limit)
}

// read streams the archived data file through the parser and the row
// checks into a parsed return, to be closed by the caller. File problems
// come back as *codes.Error.
func (l *laRun) read(ctx context.Context, m *store.Message, name returns.Name) (_ *parsed, err error) {
	f, err := local.OpenData(m.ArchivePath, name.Gzip, l.cfg.SizeLimit)
	if err != nil {
		return nil, fileReadError(m, err)
	}
	defer f.Close()
	rd, err := returns.NewReader(f, name)
	if err != nil {
		return nil, fileReadError(m, err)
	}
	dir := ""
	if m.ArchivePath != "" {
		dir = filepath.Dir(m.ArchivePath)
	}
	rows, err := newSpill(dir)
	if err != nil {
		return nil, err
	}
	out := &parsed{rows: rows, dir: dir}
	defer func() {
		if err != nil {
			out.close()
		}
	}()
	for {
		row, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fileReadError(m, err)
		}
		if len(out.facts)%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if len(out.facts) == l.cfg.MaxRows {
			return nil, &codes.Error{Detail: codes.F006, Text: fmt.Sprintf("the file has more than %d rows, over the size limit", l.cfg.MaxRows)}
		}
		c := returns.Check(row, name)
		c.Key.LA = l.la.Code
		if err := out.add(c); err != nil {
			return nil, err
		}
	}
}

func fileReadError(m *store.Message, err error) error {
	var fe *codes.Error
	switch {
	case errors.As(err, &fe):
		return fe
	case errors.Is(err, mesh.ErrTooLarge):
		return &codes.Error{Detail: codes.F006, Text: "the content is over the size limit once decompressed"}
	case errors.Is(err, mesh.ErrNotGzip):
		return &codes.Error{Detail: codes.F001, Text: "the file is not valid gzip"}
	}
	return fmt.Errorf("read %s: %w", m.File, err)
}

func fileOutcome(p codes.Problem) *store.Outcome {
	code := codes.FileNotUsed
	switch p.Detail {
	case codes.F001, codes.F002, codes.F004, codes.F005, codes.F006:
		code = codes.FileCorrupt
	}
	return &store.Outcome{Code: code, Detail: p.Detail, Text: store.Counts{}.String() + " " + capitalise(p.Text)}
}

// commitEvaluation evaluates the rows against the store, stores the row
// outcomes, then commits the outcome, the plan changes (when applied), the
// LA's progress and the audit in one transaction.
//
// The evaluation reads in its own read transaction, so LAs evaluate in
// parallel and the single writer only applies. That is safe because only
// this LA's run changes this LA's plans (runs of one data dir are
// serialised by the store's file lock, and inside the daemon by its job
// lock), and the demographics reference does not change during a run.
//
// The row outcomes (up to one per row and warning: hundreds of megabytes
// for a wide return) are stored in that transaction when they fit in one
// chunk, else before it, a chunk per transaction, because a write
// transaction holds everything it writes in memory. Until the decision commits they belong to no decision: a run
// that stops between the two leaves the message in its earlier state, and
// whatever decides it next (the next run for an archived return, a release
// or discard for a held one) replaces or deletes them.
func (l *laRun) commitEvaluation(m *store.Message, name returns.Name, in *parsed, allowHold bool) error {
	now := l.cfg.Now()
	var ev evaluation
	err := l.cfg.DB.View(func(tx *store.Tx) error {
		var err error
		ev, err = evaluate(tx, l.la.Code, name, in, l.today, allowHold)
		return err
	})
	// Only the evaluation is needed from here: the rows can go while the
	// return waits for its commit.
	in.close()
	in.facts = nil
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", m.File, err)
	}
	kept := false
	defer func() {
		if !kept {
			ev.close()
		}
	}()
	// Row outcomes that fit in one chunk (most returns have a few, or
	// none) are stored in the decision's own transaction; more are stored
	// before it, a chunk per transaction.
	var few []store.RowOutcome
	if ev.rows.n <= outcomeChunk {
		few = make([]store.RowOutcome, 0, ev.rows.n)
		if err := eachOutcome(ev.rows, func(o store.RowOutcome) error { few = append(few, o); return nil }); err != nil {
			return fmt.Errorf("row outcomes of %s: %w", m.File, err)
		}
	} else if err := l.storeOutcomes(m, ev.rows); err != nil {
		return fmt.Errorf("store row outcomes of %s: %w", m.File, err)
	}
	// The plans to put go last, merged with the other returns' of a
	// group commit in key order (applier.go).
	var puts planSource
	if ev.apply {
		puts = func(put func(plans.Plan) error) error { return eachPlan(ev.upserts, l.la.Code, put) }
	}
	var done *store.Message
	err = l.update(len(ev.removals)+ev.upserts.n+len(few), func(tx *store.Tx) error {
		// A copy, so that a rolled-back attempt leaves m as it was.
		m := m.Clone()
		if few != nil {
			if err := tx.PutOutcomes(m, few); err != nil {
				return err
			}
		}
		state := store.Decided
		if ev.hold {
			state = store.Held
		}
		if ev.apply {
			for _, k := range ev.removals {
				if _, err := tx.DeletePlan(k); err != nil {
					return err
				}
			}
			if err := tx.PurgeHistories(ev.removals); err != nil {
				return err
			}
			st, err := tx.LAState(l.la.Code)
			if err != nil {
				return err
			}
			if !name.Extract.Before(st.LastApplied) {
				st.LastApplied, st.LastAppliedID = name.Extract, m.MessageID
			}
			if err := tx.PutLAState(l.la.Code, st); err != nil {
				return err
			}
			m.Applied, m.AppliedAt = true, now.UTC()
		}
		if (ev.apply || ev.hold) && name.Kind == returns.Full {
			if err := l.supersedeHeld(tx, m, name.Extract, now); err != nil {
				return err
			}
		}
		if err := record(tx, m, &ev.outcome, state, now); err != nil {
			return err
		}
		done = m
		return nil
	}, puts)
	if err != nil {
		return err
	}
	*m = *done
	// The response to this decision is written from the spilled outcomes,
	// not read back through the store's map.
	ev.upserts.close()
	l.keepRows(m.Responses[len(m.Responses)-1].MessageID, ev.rows)
	kept = true
	return nil
}

// outcomeChunk is how many row outcomes one transaction stores.
const outcomeChunk = 8192

// storeOutcomes replaces m's stored row outcomes with those spilled in s,
// in transactions of outcomeChunk rows.
func (l *laRun) storeOutcomes(m *store.Message, s *spill) error {
	chunk := make([]store.RowOutcome, 0, outcomeChunk)
	stored := 0
	first := true
	flush := func() error {
		err := l.cfg.DB.Update(func(tx *store.Tx) error {
			if first {
				if err := tx.DeleteOutcomes(m.Key); err != nil {
					return err
				}
			}
			return tx.AppendOutcomes(m, stored, chunk)
		})
		first = false
		stored += len(chunk)
		chunk = chunk[:0]
		return err
	}
	err := eachOutcome(s, func(o store.RowOutcome) error {
		chunk = append(chunk, o)
		if len(chunk) == outcomeChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(chunk) > 0 || first {
		return flush()
	}
	return nil
}

// update runs fn, then puts the plans of puts, in a write transaction:
// through the run's applier when there is one (group commit), else on its
// own.
func (l *laRun) update(rows int, fn func(*store.Tx) error, puts planSource) error {
	if l.applier != nil {
		return l.applier.apply(rows, fn, puts)
	}
	return l.cfg.DB.Update(func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := putPlans(tx, nil, puts)
		return err
	})
}

// supersedeHeld discards (F011) any held FULL return of the LA dated before
// a FULL return that is now applied or held.
func (l *laRun) supersedeHeld(tx *store.Tx, by *store.Message, extract caldate.Date, now time.Time) error {
	open, err := tx.OpenMessages(l.la.Code)
	if err != nil {
		return err
	}
	for _, h := range open {
		if h.State != store.Held || string(h.Key) == string(by.Key) || !h.Extract.Before(extract) {
			continue
		}
		out := fileOutcome(codes.Problem{Detail: codes.F011, Text: fmt.Sprintf(
			"the held return %s (%s) is superseded by the later FULL return %s (%s): it will never be applied.", h.File, h.MessageID, by.File, by.MessageID)})
		if err := tx.DeleteOutcomes(h.Key); err != nil {
			return err
		}
		if err := record(tx, h, out, store.Decided, now); err != nil {
			return err
		}
	}
	return nil
}
