package ingest

import (
	"fmt"
	"sort"
	"strings"

	"cpis/store/demographics"

	"cpis/batch/pds"
	"cpis/batch/returns"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

// Safety hold thresholds (returns.md): a FULL return is held when it would
// withdraw at least HoldMinimum visible plans and more than HoldPercent of
// the LA's visible plans, or every one of them.
const (
	HoldMinimum = 20
	HoldPercent = 10
)

// evaluation is what one return would do to the store.
type evaluation struct {
	outcome  store.Outcome
	rows     []store.RowOutcome
	upserts  []plans.Plan // new or changed plans only: unchanged ones are not rewritten
	removals []plans.Key  // withdrawals, DELETEs and W001 removals
	apply    bool
	hold     bool
}

// rowResult is one row after every check.
type rowResult struct {
	*returns.Checked // not copied: a big return's rows are held once
	reject           *codes.Problem
	warnings         []codes.Problem
	notStore         bool // W001
}

// evaluate decides what a parsed return does, reading the store through tx
// and changing nothing. allowHold is false when operations release a held
// return.
func evaluate(tx *store.Tx, la string, name returns.Name, checked []returns.Checked, today caldate.Date, allowHold bool) (evaluation, error) {
	rows := make([]rowResult, len(checked))
	for i := range checked {
		c := &checked[i]
		rows[i] = rowResult{Checked: c, reject: c.Reject, warnings: append([]codes.Problem(nil), c.Warnings...)}
	}
	markDuplicates(rows)

	look := func(nhs string) (demographics.Record, bool) { return tx.Demographic(nhs) }
	for i := range rows {
		r := &rows[i]
		if r.reject != nil || r.Action == returns.Delete {
			continue
		}
		out := pds.Reconcile(r.NHS, pds.Fields{FamilyName: r.Row.FamilyName, GivenName: r.Row.GivenName, DOB: r.DOB}, look)
		if out.Reject != nil {
			r.reject = out.Reject
			continue
		}
		r.warnings = append(r.warnings, out.Warnings...)
		dob := tx.DateOfBirth(r.NHS)
		if !r.Plan.VisibleOn(name.Extract, dob) {
			r.notStore = true
			r.warnings = append(r.warnings, codes.Problem{Detail: codes.W001,
				Text: fmt.Sprintf("the %s plan %s is not visible on the extract date %s (%s): not stored", r.Plan.Type, quote(r.Row.LocalID), name.Extract, notVisibleReason(r.Plan, dob, name.Extract))})
		}
	}

	var ev evaluation
	c := &ev.outcome.Counts
	c.Read = len(rows)

	// A FULL return compares with every plan the LA holds; a DELTA looks
	// up the plans its rows name.
	var held map[plans.Key]plans.Plan
	if name.Kind == returns.Full {
		held = map[plans.Key]plans.Plan{}
		if err := tx.PlansOfLA(la, func(p plans.Plan) error { held[p.Key] = p; return nil }); err != nil {
			return ev, fmt.Errorf("plans of LA %s: %w", la, err)
		}
	}
	current := func(k plans.Key) (plans.Plan, bool, error) {
		if held != nil {
			p, ok := held[k]
			return p, ok, nil
		}
		return tx.Plan(k)
	}

	// DELETE rows and the W003 warning need the store.
	for i := range rows {
		r := &rows[i]
		if r.reject != nil {
			continue
		}
		key := plans.Key{NHS: r.NHS, LA: la, Type: r.Plan.Type}
		switch {
		case r.Action == returns.Delete:
			_, ok, err := current(key)
			if err != nil {
				return ev, err
			}
			if ok {
				ev.removals = append(ev.removals, key)
				c.Withdrawn++
			} else {
				r.warnings = append(r.warnings, codes.Problem{Detail: codes.W003,
					Text: fmt.Sprintf("DELETE of the %s plan of NHS number %s: no such plan is held for this LA", key.Type, key.NHS)})
			}
		case r.notStore:
			ev.removals = append(ev.removals, key)
		default:
			p := r.Plan
			p.Key = key
			old, ok, err := current(key)
			if err != nil {
				return ev, err
			}
			if !ok || old != p {
				ev.upserts = append(ev.upserts, p)
			}
		}
	}

	var withdrawVisible, visible int
	if name.Kind == returns.Full {
		named := map[plans.Key]bool{}
		protectNHS := map[string]bool{}
		protectLocal := map[string]bool{}
		for _, r := range rows {
			switch {
			case r.reject == nil:
				named[plans.Key{NHS: r.NHS, LA: la, Type: r.Plan.Type}] = true
			case codes.RowCode(r.reject.Detail) == codes.RowNHSFormat:
				if id := strings.TrimSpace(r.Row.LocalID); id != "" {
					protectLocal[id] = true
				}
			default:
				protectNHS[r.NHS] = true
			}
		}
		for _, p := range sortedPlans(held) {
			vis := p.VisibleOn(today, tx.DateOfBirth(p.NHS))
			if vis {
				visible++
			}
			if named[p.Key] || protectNHS[p.NHS] || protectLocal[strings.TrimSpace(p.LocalID)] {
				continue
			}
			ev.removals = append(ev.removals, p.Key)
			c.Withdrawn++
			if vis {
				withdrawVisible++
			}
		}
	}

	for _, r := range rows {
		if r.reject != nil {
			c.Rejected++
			ev.rows = append(ev.rows, rowOutcome(r.Row, codes.RowCode(r.reject.Detail), *r.reject))
			continue
		}
		c.Applied++
		sort.SliceStable(r.warnings, func(i, j int) bool { return r.warnings[i].Detail < r.warnings[j].Detail })
		for _, w := range r.warnings {
			c.Warnings++
			ev.rows = append(ev.rows, rowOutcome(r.Row, codes.RowWarning, w))
		}
	}

	o := &ev.outcome
	o.WithRows = true
	switch {
	case c.Rejected*2 > c.Read:
		o.Code, o.Detail = codes.FileNotUsed, codes.F010
		o.Text = fmt.Sprintf("%s More than half the rows were rejected (%d of %d): nothing was applied. Correct the rejected rows and send the whole return again.", c.String(), c.Rejected, c.Read)
	case allowHold && name.Kind == returns.Full && holds(withdrawVisible, visible):
		ev.hold = true
		o.Code, o.Detail = codes.FileNotUsed, codes.F009
		o.Text = fmt.Sprintf("%s The return is held: it would withdraw %d of the %d plans visible today, which looks like a truncated file. Nothing was applied; the CP-IS operations team will release or discard it.", c.String(), withdrawVisible, visible)
	case c.Rejected > 0:
		ev.apply = true
		o.Code = codes.FilePartial
		o.Text = fmt.Sprintf("%s %s applied and %d rejected: correct the rejected rows and send them again.", c.String(), rowsWere(c.Applied), c.Rejected)
	default:
		ev.apply = true
		o.Code = codes.FileApplied
		o.Text = fmt.Sprintf("%s Every row was applied.", c.String())
	}
	return ev, nil
}

// rowsWere says "1 row was" or "N rows were".
func rowsWere(n int) string {
	if n == 1 {
		return "1 row was"
	}
	return fmt.Sprintf("%d rows were", n)
}

// holds is the safety-hold rule of returns.md.
func holds(w, v int) bool {
	return (w >= HoldMinimum && w*100 > HoldPercent*v) || (w == v && v > 0)
}

// markDuplicates rejects every row whose (NHS number, plan type) appears
// more than once among the rows that passed so far (R009).
func markDuplicates(rows []rowResult) {
	type k struct {
		nhs string
		t   plans.Type
	}
	lines := map[k][]int{}
	for i, r := range rows {
		if r.reject == nil {
			key := k{r.NHS, r.Plan.Type}
			lines[key] = append(lines[key], i)
		}
	}
	for key, idx := range lines {
		if len(idx) < 2 {
			continue
		}
		// One shared detail naming the first lines only: a file of one row
		// repeated must not make every row carry every line number.
		var at []string
		for _, i := range idx[:min(len(idx), 5)] {
			at = append(at, fmt.Sprint(rows[i].Row.Line))
		}
		lines := strings.Join(at, ", ")
		if len(idx) > 5 {
			lines += ", ..."
		}
		p := &codes.Problem{Detail: codes.R009,
			Text: fmt.Sprintf("NHS number %s with plan type %s appears %d times in the file (lines %s): every such row is rejected", key.nhs, key.t, len(idx), lines)}
		for _, i := range idx {
			rows[i].reject = p
		}
	}
}

func notVisibleReason(p plans.Plan, dob, day caldate.Date) string {
	if p.Type == plans.UCPP && !p.Due.IsZero() && day.After(p.Due.AddDays(plans.VisibleAfterDue)) {
		return fmt.Sprintf("more than %d days after the due date %s", plans.VisibleAfterDue, p.Due)
	}
	if p.Type != plans.UCPP && !dob.IsZero() {
		if adult := dob.AddYears(18); (p.End.IsZero() || adult.Before(p.End)) && day.After(adult.AddDays(plans.VisibleAfterEnd)) {
			return fmt.Sprintf("more than %d days after the 18th birthday", plans.VisibleAfterEnd)
		}
	}
	return fmt.Sprintf("ended %s, more than %d days before", p.End, plans.VisibleAfterEnd)
}

func rowOutcome(r returns.Row, code codes.Code, p codes.Problem) store.RowOutcome {
	return store.RowOutcome{Line: r.Line, LocalID: r.LocalID, NHSNumber: r.NHSNumber, Code: code, Detail: p.Detail, Text: p.Text}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// sortedPlans returns the plans of m in key order (NHS number, type), so
// that removals are applied in a stable order.
func sortedPlans(m map[plans.Key]plans.Plan) []plans.Plan {
	out := make([]plans.Plan, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].NHS != out[j].NHS {
			return out[i].NHS < out[j].NHS
		}
		return out[i].Type < out[j].Type
	})
	return out
}
