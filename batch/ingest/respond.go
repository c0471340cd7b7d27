package ingest

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"cpis/mesh"
	"cpis/store"
	"cpis/store/caldate"
)

// ResponseHeader is the header of every response file (batch/returns/returns.md, "The response").
const ResponseHeader = "message_id,line,local_id,nhs_number,code,detail_code,detail"

// commit records an outcome that changes no plan.
func (l *laRun) commit(m *store.Message, out *store.Outcome, rows []store.RowOutcome, state store.State) error {
	now := l.cfg.Now()
	return l.updateMessage(m, 0, func(tx *store.Tx, m *store.Message) error {
		if out.WithRows {
			if err := tx.PutOutcomes(m, rows); err != nil {
				return err
			}
		}
		return record(tx, m, out, state, now)
	}, nil)
}

// record sets m's outcome and state, owes the LA a response for it, and
// audits the change, all inside tx.
func record(tx *store.Tx, m *store.Message, out *store.Outcome, state store.State, now time.Time) error {
	id := mesh.NewMessageID(now)
	m.Outcome, m.State = out, state
	m.Responses = append(m.Responses, store.Response{
		MessageID: id,
		File:      fmt.Sprintf("CPIS_%s_RESPONSE_%s_%s.csv", m.LA, caldate.InLondon(now).Compact(), id),
		DecidedAt: now.UTC(),
		Outcome:   *out,
	})
	if err := tx.PutMessage(m); err != nil {
		return err
	}
	return tx.Audit(store.AuditEvent{At: now, Action: "message." + string(state), LA: m.LA, MessageID: m.MessageID,
		Note: strings.TrimSpace(string(out.Code) + " " + string(out.Detail)), Counts: out.Counts.Map()})
}

// respond writes every response m still owes into the outbox, data file
// then control file, and records each as written.
func (l *laRun) respond(m *store.Message) error {
	return writeResponses(l.cfg.DB, l.write, l.mb, m, l.cfg.Now(), l.rows, l.dropRows)
}

type deliverer interface {
	ID() string
	Deliver(name string, write func(io.Writer) error, ctl mesh.Control) error
}

// writeResponses writes m's pending responses, recording each through
// update. A response whose row outcomes are in spilled (by response message
// ID) is written from there, else read from db; done is told when it has
// been.
func writeResponses(db *store.DB, update func(func(*store.Tx) error) error, mb deliverer, m *store.Message, now time.Time, spilled map[string]*spill, done func(id string)) error {
	for i := range m.Responses {
		r := &m.Responses[i]
		if !r.WrittenAt.IsZero() {
			continue
		}
		ctl := mesh.OutgoingControl(mb.ID(), mesh.WorkflowUploadAck, r.MessageID, r.File,
			fmt.Sprintf("CP-IS response to %s", m.File), r.DecidedAt)
		write := func(w io.Writer) error {
			if s := spilled[r.MessageID]; s != nil {
				return writeResponse(w, m, r.Outcome, func(fn func(store.RowOutcome) error) error { return eachOutcome(s, fn) })
			}
			return db.View(func(tx *store.Tx) error {
				return writeResponse(w, m, r.Outcome, func(fn func(store.RowOutcome) error) error { return tx.Outcomes(m.Key, fn) })
			})
		}
		if err := mb.Deliver(r.File, write, ctl); err != nil {
			return fmt.Errorf("write response %s: %w", r.File, err)
		}
		done(r.MessageID)
		r.WrittenAt = now.UTC()
		if len(m.Pending()) == 0 && m.State == store.Decided {
			m.State = store.Responded
		}
		if err := update(func(tx *store.Tx) error {
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			return tx.Audit(store.AuditEvent{At: now, Action: "response.written", LA: m.LA, MessageID: r.MessageID, Note: "response to " + m.MessageID})
		}); err != nil {
			return fmt.Errorf("record response %s: %w", r.File, err)
		}
	}
	return nil
}

// writeResponse writes a response file: the summary row, then the row
// outcomes (as rows gives them, in line order) when the outcome lists them.
func writeResponse(w io.Writer, m *store.Message, out store.Outcome, rows func(func(store.RowOutcome) error) error) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(strings.Split(ResponseHeader, ",")); err != nil {
		return err
	}
	if err := cw.Write([]string{m.MessageID, "0", "", "", string(out.Code), string(out.Detail), out.Text}); err != nil {
		return err
	}
	if out.WithRows {
		err := rows(func(r store.RowOutcome) error {
			return cw.Write([]string{m.MessageID, strconv.Itoa(r.Line), r.LocalID, r.NHSNumber, string(r.Code), string(r.Detail), r.Text})
		})
		if err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
