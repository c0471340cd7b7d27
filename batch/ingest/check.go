package ingest

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"cpis/batch/returns"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
)

// CheckResult is what the nightly ingest would decide about a return taken
// now from an LA's inbox: the response it would write, written nowhere.
type CheckResult struct {
	File   string       // the data file's name, as checked
	Code   codes.Code   // the file outcome: the response's summary row
	Detail codes.Detail // its detail code; "" for CPF02, CPF03 and CPF05
	// Text is the summary row's detail: the counts, then a sentence.
	Text   string
	Counts store.Counts
	// Rows are the rejected and warned rows, in response order, for
	// CPF02, CPF03, F009 and F010 (the outcomes whose response lists
	// rows); nil for every other outcome.
	Rows []store.RowOutcome
	// WaitsBehind, for a DELTA return, is the message ID of the LA's held
	// FULL return it would wait behind, untaken, until operations release
	// or discard that one; "" when it would be taken at once. The outcome
	// is still what taking it now would give.
	WaitsBehind string
}

// Check is a dry run of the nightly ingest for one return: the data file
// named file (a base name, as it would be sent), content data, as if it
// arrived now without a control file in the inbox of LA la. It runs the
// ingest's own checks, reading and evaluation, in order (batch/returns/
// returns.md, "Checks, in order": size, name, LA, repeat, date order,
// demographics reference, the file as read, its rows, F010, the safety
// hold) against the store and demographics as they are now, and keeps and
// changes nothing: no message, outcome, audit event or plan is recorded,
// no response written, and the temporary copy of data (in the system's
// temporary folder, at most SizeLimit+1 bytes: data is read to its end,
// the rest only counted, so bound it before) and every spill are gone when
// it returns. cfg is as for Run (DataDir, DB, Now, SizeLimit and MaxRows
// are used). It is safe while a run or the daemon works on the same store. An error means the check could not be made (an
// unknown LA, a failure to read data or the store), not that the return
// is bad: that is the result's Code.
func Check(ctx context.Context, cfg Config, la, file string, data io.Reader) (CheckResult, error) {
	cfg.defaults()
	res := CheckResult{File: file}
	if file == "" || file != filepath.Base(file) || strings.ContainsAny(file, `/\`) {
		return res, fmt.Errorf("check: %q is not a file name", file)
	}
	var a store.Authority
	if err := cfg.DB.View(func(tx *store.Tx) error {
		var ok bool
		var err error
		if a, ok, err = tx.Authority(la); err == nil && !ok {
			err = fmt.Errorf("LA %q is not one of the hub's authorities", la)
		}
		return err
	}); err != nil {
		return res, fmt.Errorf("check: %w", err)
	}
	l := &laRun{cfg: &cfg, la: a, mb: local.Open(cfg.DataDir, a.MailboxID), today: caldate.InLondon(cfg.Now())}

	dir, err := os.MkdirTemp("", "cpis-check-")
	if err != nil {
		return res, fmt.Errorf("check: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "return")
	size, err := copyUpTo(path, data, cfg.SizeLimit)
	if err != nil {
		return res, fmt.Errorf("check %s: %w", file, err)
	}

	name, nameErr := returns.ParseName(file)
	gz := strings.HasSuffix(strings.ToLower(file), ".gz")
	if nameErr == nil {
		gz = name.Gzip
	}
	m := &store.Message{LA: a.Code, MailboxID: a.MailboxID, File: file, ArchivePath: path, Size: size,
		Kind: string(name.Kind), Extract: name.Extract, State: store.Archived}
	m.Problem = l.refusal(file, size, name, nameErr, "", "")
	if m.Problem == nil {
		sum, _, err := l.hash(path, gz)
		if err != nil {
			return res, err
		}
		if err := cfg.DB.View(func(tx *store.Tx) error {
			prev, found, err := tx.MessageByContent(a.Code, file, hex.EncodeToString(sum[:]))
			if found {
				m.Problem = repeatProblem(file, prev)
			}
			return err
		}); err != nil {
			return res, fmt.Errorf("check %s: %w", file, err)
		}
	}
	out := &store.Outcome{}
	if m.Problem != nil {
		out = fileOutcome(*m.Problem)
	} else {
		held, err := l.heldReturn()
		if err != nil {
			return res, err
		}
		if waitsBehind(name, held) {
			res.WaitsBehind = held.MessageID
		}
		j, err := l.judge(ctx, m, true)
		if err != nil {
			return res, fmt.Errorf("check %s: %w", file, err)
		}
		defer j.release()
		out = j.outcome
		if j.ev != nil {
			defer j.ev.close()
			out = &j.ev.outcome
			if err := eachOutcome(j.ev.rows, func(o store.RowOutcome) error { res.Rows = append(res.Rows, o); return nil }); err != nil {
				return res, fmt.Errorf("check %s: %w", file, err)
			}
		}
	}
	res.Code, res.Detail, res.Text, res.Counts = out.Code, out.Detail, out.Text, out.Counts
	return res, nil
}

// copyUpTo copies r into a new file at path, at most limit+1 bytes of it,
// and returns the size of r: counted on past the limit without keeping
// more, so that an oversize return is refused with its real size.
func copyUpTo(path string, r io.Reader, limit int64) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if n > limit {
		more, err := io.Copy(io.Discard, r)
		return n + more, err
	}
	return n, nil
}
