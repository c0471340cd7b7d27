package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"cpis/mesh"
	"cpis/store"
	"cpis/store/codes"
)

// checkResult is what tonight's ingest would decide of a return.
type checkResult struct {
	File string
	// Outcome is the file outcome: code, detail and counts.
	Outcome store.Outcome
	// Rows are the rejected and warned rows, in line order.
	Rows []checkRow
	// Truncated says Rows stop before the end (more than maxCheckRows).
	Truncated bool
}

// checkRow is one rejected or warned row, with what the LA should do.
type checkRow struct {
	store.RowOutcome
	Fix string
}

// Rejected reports whether the row is rejected (not only warned).
func (r checkRow) Rejected() bool { return r.Code != codes.RowWarning }

// maxCheckRows bounds the rows a Check page lists (a file of a million
// bad rows must not make a page of a million rows).
const maxCheckRows = 5000

// laCheckData is the Check page's own data.
type laCheckData struct {
	Result *checkResult
}

func (s *Server) laCheckForm(c *Ctx) error {
	return c.Render("la_check", "Check a return", "check", laCheckData{})
}

// laCheck runs the upload through tonight's ingest as a dry run and shows
// its decision. The file is kept in a temporary file only while it is
// checked; nothing is stored.
func (s *Server) laCheck(c *Ctx) error {
	a, err := c.authority()
	if err != nil {
		return err
	}
	again := func(status int, msg string) error {
		return c.RenderStatus(status, "la_check", view{Title: "Check a return", Section: "check",
			Errors: []FieldError{{Field: "file", Message: msg}}, Data: laCheckData{}})
	}
	up, ok, err := c.nextUpload("file")
	if errors.Is(err, errTooLarge) {
		return again(http.StatusRequestEntityTooLarge, tooLargeMessage(s.opts.SizeLimit))
	}
	if err != nil {
		return err
	}
	if !ok {
		return again(http.StatusBadRequest, "Select a return to check")
	}
	if err := checkUploadName(up.Name); err != nil {
		return again(http.StatusBadRequest, capital(err.Error()))
	}
	tmp, err := os.CreateTemp("", "cpis-check-*")
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, up.Body); err != nil {
		if errors.Is(uploadError(err), errTooLarge) {
			return again(http.StatusRequestEntityTooLarge, tooLargeMessage(s.opts.SizeLimit))
		}
		return uploadError(err)
	}
	res, err := s.runCheck(c.R.Context(), a, up.Name, tmp.Name())
	if err != nil {
		return fmt.Errorf("check %s: %w", mesh.Printable(up.Name), err)
	}
	if err := c.Audit("check", fmt.Sprintf("la=%s file=%s outcome=%s %s", a.Code, mesh.Printable(up.Name), res.Outcome.Code, res.Outcome.Counts)); err != nil {
		return err
	}
	return c.Render("la_check", "Check a return", "check", laCheckData{Result: &res})
}

// errCheckUnavailable is a hub built without the dry run of the ingest.
var errCheckUnavailable = errors.New("the dry run of the ingest is not available")

// runCheck is the ingest's dry run of the return name at path, as LA a's.
func (s *Server) runCheck(ctx context.Context, a store.Authority, name, path string) (checkResult, error) {
	return checkResult{}, errCheckUnavailable
}
