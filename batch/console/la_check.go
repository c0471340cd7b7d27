package console

import (
	"errors"
	"fmt"
	"net/http"

	"cpis/batch/ingest"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/codes"
)

// checkResult is what tonight's ingest would decide of a return.
type checkResult struct {
	ingest.CheckResult
	// Rows are the rejected and warned rows, in response order, at most
	// maxCheckRows of them, with what to fix.
	Rows []checkRow
	// Truncated says Rows stop before the end.
	Truncated bool
}

// checkRow is one rejected or warned row, with what the LA should do.
type checkRow struct {
	store.RowOutcome
	Fix string
}

// Rejected reports whether the row is rejected (not only warned).
func (r checkRow) Rejected() bool { return r.Code != codes.RowWarning }

// Outcome is the result's file outcome, for the template's sentence.
func (r checkResult) Outcome() store.Outcome {
	return store.Outcome{Code: r.Code, Detail: r.Detail, Text: r.Text, Counts: r.Counts}
}

// FileFix is what the LA should do about the file's outcome ("" when the
// outcome is not about the file as a whole).
func (r checkResult) FileFix() string {
	if r.Detail == "" {
		return ""
	}
	return codes.Fix(r.Detail)
}

// Refused reports whether tonight's ingest would refuse the file as a
// whole: corrupt or malformed (CPF01: F001, F002, F004, F005, F006), or
// not used (CPF04: F003 another LA's, F007 a repeat, F008 out of date
// order, F010 most rows rejected). Nothing of it would be applied, so the
// page does not offer to send it; the Send page still takes it (the LA
// gets the same response overnight). A FULL return the safety rule would
// hold (F009) is not refused: operations review it.
func (r checkResult) Refused() bool {
	return r.Code == codes.FileCorrupt || r.Code == codes.FileNotUsed && r.Detail != codes.F009
}

// maxCheckRows bounds the rows a Check page lists: a file of a million
// bad rows must not make a page of a million rows.
const maxCheckRows = 5000

// laCheckData is the Check page's own data.
type laCheckData struct {
	Result *checkResult
}

func (s *Server) laCheckForm(c *Ctx) error {
	return c.Render("la_check", "Check a return", "check", laCheckData{})
}

// laCheck runs the upload through tonight's ingest as a dry run
// (ingest.Check: the ingest's own checks and evaluation, against the store
// and demographics as they are now) and shows its decision. Nothing is
// kept: the upload streams into the check's temporary copy, under the data
// dir (ingest.CheckTempDir, emptied when the console starts), gone when it
// returns.
func (s *Server) laCheck(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	again := func(status int, msg string) error {
		return c.RenderStatus(status, "la_check", view{Title: "Check a return", Section: "check",
			Errors: []FieldError{{Field: "file", Message: msg}}, Data: laCheckData{}})
	}
	up, ok, err := s.receiveReturn(c, "check", again)
	if !ok {
		return err
	}
	// One check at a time per slot: the hub's few cores also answer
	// lookups and run the night.
	select {
	case s.checks <- struct{}{}:
		defer func() { <-s.checks }()
	case <-c.R.Context().Done():
		return c.R.Context().Err()
	}
	cfg := ingest.Config{DataDir: s.opts.DataDir, DB: s.opts.DB, Now: s.opts.Now, SizeLimit: s.opts.SizeLimit, Log: s.log}
	res, err := ingest.Check(c.R.Context(), cfg, a.Code, up.Name, up.Body)
	if err != nil {
		if errors.Is(uploadError(err), errTooLarge) {
			return again(http.StatusRequestEntityTooLarge, tooLargeMessage(s.opts.SizeLimit))
		}
		return fmt.Errorf("check %s: %w", mesh.Printable(up.Name), err)
	}
	out := checkResult{CheckResult: res}
	for i, r := range res.Rows {
		if i == maxCheckRows {
			out.Truncated = true
			break
		}
		out.Rows = append(out.Rows, checkRow{RowOutcome: r, Fix: codes.FixFor(r.Detail, r.Text)})
	}
	out.CheckResult.Rows = nil
	if err := c.Audit("la.check", fmt.Sprintf("la=%s file=%s outcome=%s%s %s", a.Code, mesh.Printable(up.Name), res.Code, detailSuffix(res.Detail), res.Counts)); err != nil {
		return err
	}
	return c.Render("la_check", "Check a return", "check", laCheckData{Result: &out})
}

func detailSuffix(d codes.Detail) string {
	if d == "" {
		return ""
	}
	return "/" + string(d)
}
