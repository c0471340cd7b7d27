package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cpis/batch/ingest"
	"cpis/batch/overview"
	"cpis/mesh"
	"cpis/store"
)

// lockWait is how long a release or discard waits for the job lock (a
// scheduled job, or a batch command sent to the daemon) before the page
// says what runs and asks to try again: well inside the listener's write
// timeout.
var lockWait = 10 * time.Second

// maxReason bounds the reason given for a release or discard, in
// characters; quoted, it must also fit the web audit's detail.
const maxReason = 500

// opsHeldData is the held returns page's own data.
type opsHeldData struct {
	// Held are the held FULL returns; Others the returns otherwise
	// unfinished (waiting for demographics or behind a held return,
	// interrupted).
	Held, Others []ingest.Unfinished
	// Done is the message ID just released or discarded.
	Done string
}

func (s *Server) opsHeld(c *Ctx) error {
	held, others, err := overview.Held(s.opts.DataDir, s.opts.DB)
	if err != nil {
		return err
	}
	d := opsHeldData{Held: held, Others: others}
	var notice string
	q := c.R.URL.Query()
	if id := q.Get("id"); mesh.ValidMessageID(id) {
		switch q.Get("done") {
		case "released":
			d.Done, notice = id, "The return "+id+" was released: it was applied as the store is now, and the LA has a new response."
		case "discarded":
			d.Done, notice = id, "The return "+id+" was discarded: it will never be applied, and the LA has a new response (CPF04 F012)."
		}
	}
	return c.RenderStatus(http.StatusOK, "ops_held", view{Title: "Held returns", Section: "held", Notice: notice, Data: d})
}

// opsReviewData is the page of one held return: what it is, and the form
// that releases or discards it.
type opsReviewData struct {
	Return ingest.Unfinished
	LA     store.Authority
	// Behind are the DELTA returns waiting in the LA's inbox behind it.
	Behind []ingest.Unfinished
	// Action and Reason are the form's values sent back with its errors.
	Action, Reason string
}

// heldReturn returns the held return with message ID id and its LA;
// ErrNotFound when no return with that ID is held.
func (s *Server) heldReturn(id string) (opsReviewData, error) {
	held, others, err := overview.Held(s.opts.DataDir, s.opts.DB)
	if err != nil {
		return opsReviewData{}, err
	}
	for _, u := range held {
		if u.MessageID != id {
			continue
		}
		d := opsReviewData{Return: u}
		for _, o := range others {
			if o.Behind == id {
				d.Behind = append(d.Behind, o)
			}
		}
		err := s.opts.DB.View(func(tx *store.Tx) error {
			var ok bool
			var err error
			d.LA, ok, err = tx.Authority(u.LA)
			if err == nil && !ok {
				err = fmt.Errorf("held return %s: LA %s is not known", id, u.LA)
			}
			return err
		})
		return d, err
	}
	return opsReviewData{}, ErrNotFound
}

func (s *Server) opsHeldReview(c *Ctx) error {
	d, err := s.heldReturn(c.R.PathValue("id"))
	if err != nil {
		return err
	}
	return c.Render("ops_held_review", "Held return "+d.Return.MessageID, "held", d)
}

// heldOp is an operation on a held return: the function `cpis returns
// release` or `cpis returns discard` calls, and its name once done.
type heldOp struct {
	do   func(context.Context, ingest.Config, string) (ingest.Result, error)
	done string
}

// heldOps are the operations on a held return, by the form's action.
var heldOps = map[string]heldOp{
	"release": {ingest.Release, "released"},
	"discard": {ingest.Discard, "discarded"},
}

// opsHeldDecide releases or discards a held return. The action and a
// reason are required; the reason is audited with the action before
// anything is done, and the outcome after. The operation takes the job
// lock, as the command does inside the daemon, waiting at most lockWait.
func (s *Server) opsHeldDecide(c *Ctx) error {
	d, err := s.heldReturn(c.R.PathValue("id"))
	if err != nil {
		return err
	}
	d.Action = c.R.PostFormValue("action")
	d.Reason = strings.TrimSpace(c.R.PostFormValue("reason"))
	op, ok := heldOps[d.Action]
	var errs []FieldError
	if !ok {
		d.Action = ""
		errs = append(errs, FieldError{"action-release", "Select whether to release or discard the return"})
	}
	switch {
	case d.Reason == "":
		errs = append(errs, FieldError{"reason", "Enter why the return is released or discarded"})
	case utf8.RuneCountInString(d.Reason) > maxReason || len(strconv.Quote(d.Reason)) > 2*maxReason:
		errs = append(errs, FieldError{"reason", fmt.Sprintf("The reason must be %d characters or fewer", maxReason)})
	}
	review := func(status int, errs []FieldError) error {
		return c.RenderStatus(status, "ops_held_review", view{Title: "Held return " + d.Return.MessageID, Section: "held", Errors: errs, Data: d})
	}
	if len(errs) > 0 {
		return review(http.StatusOK, errs)
	}

	u := d.Return
	what := fmt.Sprintf("la=%s message=%s file=%s", u.LA, u.MessageID, mesh.Printable(u.File))
	if err := c.Audit("return."+d.Action, fmt.Sprintf("%s reason=%q", what, d.Reason)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.R.Context(), lockWait)
	defer cancel()
	release, err := s.opts.Jobs.Acquire(ctx, "operations page "+d.Action, nil)
	if err != nil {
		running := s.opts.Jobs.Holder()
		if running == "" {
			running = "other batch work"
		}
		if aerr := c.Audit("return."+d.Action+".busy", fmt.Sprintf("%s running=%q", what, running)); aerr != nil {
			return aerr
		}
		return review(http.StatusConflict, []FieldError{{"", fmt.Sprintf("Nothing was done: the %s is running. Try again when it has finished.", running)}})
	}
	defer release()
	res, err := op.do(c.R.Context(), ingest.Config{DataDir: s.opts.DataDir, DB: s.opts.DB, Now: s.opts.Now, Log: s.log, SizeLimit: s.opts.SizeLimit}, u.MessageID)
	if err != nil {
		if aerr := c.Audit("return."+d.Action+".failed", what); aerr != nil {
			return aerr
		}
		if errors.Is(err, ingest.ErrNotHeld) {
			return &PageError{Status: http.StatusConflict, Message: "The return " + u.MessageID + " is no longer held: it was released or discarded meanwhile."}
		}
		return err
	}
	if err := c.Audit("return."+op.done, fmt.Sprintf("%s outcome=%s%s %s response=%s", what, res.Code, detailSuffix(res.Detail), res.Counts, mesh.Printable(filepath.Base(res.Response)))); err != nil {
		return err
	}
	return c.Redirect("/ops/held?done=" + op.done + "&id=" + u.MessageID)
}
