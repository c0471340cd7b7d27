package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	j, err := l.judge(ctx, m, allowHold)
	if err != nil {
		return err
	}
	defer j.release()
	switch {
	case j.ev != nil:
		return l.commitEvaluation(m, j.name, *j.ev)
	case j.state == store.Waiting && m.State == store.Waiting:
		return nil // already answered; waits on
	}
	return l.commit(m, j.outcome, nil, j.state)
}

// judgement is what the checks after taking decide about a return, against
// the store as it is now: a file outcome, or the evaluation of its rows.
type judgement struct {
	name    returns.Name
	outcome *store.Outcome // when ev is nil
	state   store.State    // with outcome: Decided, or Waiting for CPF05
	ev      *evaluation    // to be committed or closed by the caller
	took    int64          // of the run's memory budget
	l       *laRun
}

// release gives back the memory budget the return was charged.
func (j *judgement) release() { j.l.budget.release(j.took) }

// judge runs the checks that follow taking on the return m (date order,
// demographics reference, reading, rows, F010, the safety hold), reading
// the store and changing nothing: decide commits what it finds, Check
// reports it. The caller releases the judgement, and commits or closes its
// evaluation.
func (l *laRun) judge(ctx context.Context, m *store.Message, allowHold bool) (judgement, error) {
	j := judgement{l: l, state: store.Decided}
	name, err := returns.ParseName(m.File)
	if err != nil {
		return j, fmt.Errorf("message %s: %w", m.MessageID, err) // cannot happen: checked when taken
	}
	j.name = name
	var st store.LAState
	var haveRef bool
	if err := l.cfg.DB.View(func(tx *store.Tx) error {
		haveRef = tx.HasDemographics()
		st, err = tx.LAState(l.la.Code)
		return err
	}); err != nil {
		return j, err
	}
	switch {
	case name.Extract.After(l.today):
		j.outcome = fileOutcome(codes.Problem{Detail: codes.F008,
			Text: fmt.Sprintf("the extract date %s in %s is after today (%s): nothing was applied.", name.Extract, m.File, l.today)})
		return j, nil
	case name.Extract.Before(st.LastApplied):
		j.outcome = fileOutcome(codes.Problem{Detail: codes.F008,
			Text: fmt.Sprintf("the extract date %s in %s is before the newest applied return (%s, %s): nothing was applied.", name.Extract, m.File, st.LastApplied, st.LastAppliedID)})
		return j, nil
	case !haveRef:
		j.outcome, j.state = &store.Outcome{Code: codes.FileAwaitsPDS,
			Text: store.Counts{}.String() + " The hub has no demographics reference yet: the return is kept and its result will follow in a new response."}, store.Waiting
		return j, nil
	}

	// The return is charged against the run's memory budget from before it
	// is read until it is committed. Memory is freed by the commits of
	// other returns: the writer may not wait for this LA meanwhile.
	charge := l.charge(m, name)
	l.applier.waiting(func() { j.took, err = l.budget.acquire(ctx, charge) })
	if err != nil {
		return j, err
	}
	// Reading and evaluating returns is most of a run's CPU: at most a
	// few run at once (laRun.cpu), whatever the LAs in flight.
	if err := l.cpu.take(ctx); err != nil {
		j.release()
		return j, err
	}
	defer l.cpu.give()
	in, err := l.read(ctx, m, name)
	var fe *codes.Error
	switch {
	case errors.As(err, &fe):
		text := fe.Text
		if fe.Line > 0 {
			text = fmt.Sprintf("line %d: %s", fe.Line, fe.Text)
		}
		j.outcome = fileOutcome(codes.Problem{Detail: fe.Detail, Text: fmt.Sprintf("%s: %s: nothing was applied.", m.File, text)})
		return j, nil
	case err != nil:
		j.release()
		return j, err
	}
	ev, err := l.evaluateParsed(m, name, in, allowHold)
	if err != nil {
		j.release()
		return j, err
	}
	j.ev = &ev
	return j, nil
}

// charge is the memory the return m is charged against the run's budget
// while it is read, evaluated and committed: its fixed part (fixedCharge),
// rowBytes per row it can hold, and for a workbook, twice the shared
// strings it may hold while it is read (their text and a string header
// each).
func (l *laRun) charge(m *store.Message, name returns.Name) int64 {
	if name.Format == returns.XLSX {
		delete(l.seps, m.SHA256) // counted separators mean nothing in a zip
		rows, held := xlsxBounds(m.ArchivePath, int64(l.cfg.MaxRows)+1)
		return returnBytes + rowBytes*rows + 2*held
	}
	rows, size := l.rowBound(m, name)
	return fixedCharge(size) + rowBytes*rows
}

// fixedCharge is the part of a CSV or XML return's charge that does not
// grow with its rows: its read buffers, and the spills it keeps in memory,
// which never hold more than 16 times its content of size bytes (a
// row outcome's text can be that much longer than its row). A
// return of a few rows is charged little, so that the many small DELTA
// returns of a night are evaluated together; none is charged more than
// returnBytes. A size below 0 (not known) charges returnBytes.
func fixedCharge(size int64) int64 {
	if size < 0 {
		return returnBytes
	}
	return min(returnBytes, smallReturnBytes+16*size)
}

// rowBound returns at most how many rows the archived return m can hold:
// one more than its line ends (CSV) or tags (XML), and no more than one
// over the row limit; and the size of its content in bytes. A file that
// cannot be read counts as the limit, of unknown size (-1); the read that
// follows reports why.
func (l *laRun) rowBound(m *store.Message, name returns.Name) (rows, size int64) {
	limit := int64(l.cfg.MaxRows) + 1
	s, counted := l.seps[m.SHA256]
	delete(l.seps, m.SHA256)
	count := func() int64 {
		if name.Format == returns.XML {
			return s.tags
		}
		return s.lines
	}
	if !counted {
		// Not counted when the content was hashed in this run: count now,
		// no further than the row limit (the charge is the most then).
		f, err := local.OpenData(m.ArchivePath, name.Gzip, l.cfg.SizeLimit)
		if err != nil {
			return limit, -1
		}
		defer f.Close()
		buf := make([]byte, 64<<10)
		for count() < limit {
			k, err := f.Read(buf)
			s.Write(buf[:k])
			if err == io.EOF {
				break
			}
			if err != nil {
				return limit, -1
			}
		}
		if count() >= limit {
			return limit, -1
		}
	}
	return min(1+count(), limit), s.bytes
}

// read streams the archived data file through the parser and the row
// checks into a parsed return, to be closed by the caller. File problems
// come back as *codes.Error.
func (l *laRun) read(ctx context.Context, m *store.Message, name returns.Name) (_ *parsed, err error) {
	rd, closer, err := openReturn(m.ArchivePath, name, l.cfg.SizeLimit)
	if err != nil {
		return nil, fileReadError(m, err)
	}
	defer closer.Close()
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

// openReturn opens the data file at path for reading its rows: a CSV or
// XML file streamed (gunzipped when its name says so), a workbook read in
// place. Both are bounded by limit.
func openReturn(path string, name returns.Name, limit int64) (returns.Reader, io.Closer, error) {
	if name.Format == returns.XLSX {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("open data file: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("open data file: %w", err)
		}
		rd, err := returns.NewXLSXReader(f, st.Size(), name, limit)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		return rd, f, nil
	}
	f, err := local.OpenData(path, name.Gzip, limit)
	if err != nil {
		return nil, nil, err
	}
	rd, err := returns.NewReader(f, name)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return rd, f, nil
}

// xlsxBounds returns returns.XLSXBounds of the workbook at path, its
// rows at most limit; a file that cannot be read counts as limit rows and
// no shared strings (the read that follows reports why).
func xlsxBounds(path string, limit int64) (rows, held int64) {
	rows, held = limit, 0
	f, err := os.Open(path)
	if err != nil {
		return rows, held
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return rows, held
	}
	if r, h := returns.XLSXBounds(f, st.Size()); r >= 0 {
		rows, held = min(r, limit), h
	}
	return rows, held
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

// evaluateParsed evaluates the rows of in against the store as it is now,
// in a read transaction of its own, and closes in.
//
// The evaluation reads in its own read transaction, so LAs evaluate in
// parallel and the single writer only applies. That is safe because only
// this LA's run changes this LA's plans (runs of one data dir are
// serialised by the store's file lock, and inside the daemon by its job
// lock), and the demographics reference does not change during a run.
// Within a run it reads while no group commit begins (applier.evaluating).
func (l *laRun) evaluateParsed(m *store.Message, name returns.Name, in *parsed, allowHold bool) (evaluation, error) {
	var ev evaluation
	err := l.applier.evaluating(func() error {
		return l.cfg.DB.View(func(tx *store.Tx) error {
			var err error
			ev, err = evaluate(tx, l.la.Code, name, in, l.today, allowHold)
			return err
		})
	})
	// Only the evaluation is needed from here: the rows can go while the
	// return waits for its commit.
	in.close()
	in.facts = nil
	if err != nil {
		return ev, fmt.Errorf("evaluate %s: %w", m.File, err)
	}
	return ev, nil
}

// commitEvaluation stores the row outcomes of an evaluation, then commits
// the outcome, the plan changes (when applied), the LA's progress and the
// audit in one transaction. It takes ev over.
//
// The row outcomes (up to one per row and warning: hundreds of megabytes
// for a wide return) are stored in that transaction when they fit in one
// chunk, else before it, a chunk per transaction, because a write
// transaction holds everything it writes in memory. Until the decision commits they belong to no decision: a run
// that stops between the two leaves the message in its earlier state, and
// whatever decides it next (the next run for an archived return, a release
// or discard for a held one) replaces or deletes them.
func (l *laRun) commitEvaluation(m *store.Message, name returns.Name, ev evaluation) error {
	now := l.cfg.Now()
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
	// group commit in key order (applier.go). A decision that changes no
	// plan puts none, and does not wait for other returns' plans.
	var puts planSource
	if ev.apply && (ev.upserts.n > 0 || len(ev.removals) > 0) {
		puts = func(put func(plans.Plan, bool) error) error { return eachPlan(ev.upserts, l.la.Code, put) }
	}
	err := l.updateMessage(m, len(ev.removals)+ev.upserts.n+len(few), func(tx *store.Tx, m *store.Message) error {
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
		return record(tx, m, &ev.outcome, state, now)
	}, puts)
	if err != nil {
		return err
	}
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
		err := l.update(len(chunk), func(tx *store.Tx) error {
			if first {
				if err := tx.DeleteOutcomes(m.Key); err != nil {
					return err
				}
			}
			return tx.AppendOutcomes(m, stored, chunk)
		}, nil)
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

// write runs fn in a write transaction: through the run's applier when
// there is one (group commit), else on its own. fn may run more than once
// (the applier retries a failed group's members alone), so it must leave
// nothing changed outside tx until it succeeds.
func (l *laRun) write(fn func(*store.Tx) error) error { return l.update(0, fn, nil) }

// updateMessage is update for a step that changes the message m: fn
// changes a copy of m, so that a rolled-back attempt (the applier retries
// a failed group's members alone) leaves m as it was, and m becomes the
// copy once the transaction has committed.
func (l *laRun) updateMessage(m *store.Message, rows int, fn func(*store.Tx, *store.Message) error, puts planSource) error {
	var done *store.Message
	err := l.update(rows, func(tx *store.Tx) error {
		c := m.Clone()
		if err := fn(tx, c); err != nil {
			return err
		}
		done = c
		return nil
	}, puts)
	if err != nil {
		return err
	}
	*m = *done
	return nil
}

// update runs fn, then puts the plans of puts, in a write transaction:
// through the run's applier when there is one (group commit), else on its
// own. rows is how many records fn and puts change between them.
func (l *laRun) update(rows int, fn func(*store.Tx) error, puts planSource) error {
	if l.applier != nil {
		return l.applier.apply(rows, fn, puts)
	}
	return l.cfg.DB.Update(func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return putPlans(tx, &planBufs{}, puts)
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
