package ingest

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"cpis/batch/pds"
	"cpis/batch/returns"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/demographics"
	"cpis/store/plans"
)

// Safety hold thresholds (batch/returns/returns.md, "Safety hold"): a FULL return is held when it would
// withdraw at least HoldMinimum visible plans and more than HoldPercent of
// the LA's visible plans, or every one of them.
const (
	HoldMinimum = 20
	HoldPercent = 10
)

// evaluation is what one return would do to the store. Its row outcomes
// and plans to write are in spills, read back when it is committed and
// answered; close removes them.
type evaluation struct {
	outcome  store.Outcome
	rows     *spill      // row outcomes, in response order
	upserts  *spill      // new or changed plans only: unchanged ones are not rewritten
	removals []plans.Key // withdrawals, DELETEs and W001 removals
	apply    bool
	hold     bool
}

func (ev *evaluation) close() {
	ev.rows.close()
	ev.upserts.close()
}

// evaluate decides what a parsed return does, reading the store through tx
// and changing nothing. allowHold is false when operations release a held
// return. It reads the rows back from their spill once, in line order,
// keeping in memory only what the FULL return's withdrawals need.
func evaluate(tx *store.Tx, la string, name returns.Name, in *parsed, today caldate.Date, allowHold bool) (ev evaluation, err error) {
	defer func() {
		if err != nil {
			ev.close()
		}
	}()
	if ev.rows, err = newSpill(in.dir); err != nil {
		return ev, err
	}
	if ev.upserts, err = newSpill(in.dir); err != nil {
		return ev, err
	}
	dups := markDuplicates(in.facts)

	c := &ev.outcome.Counts
	c.Read = len(in.facts)
	full := name.Kind == returns.Full
	// What a FULL return's rows name and protect (returns.md, "Kinds").
	var named []namedPlan
	var protectNHS []uint64
	var protectLocal []string

	// The row's own reference record is looked up once: Reconcile's first
	// look, and the date of birth of the visibility rule, both use it.
	var own demographics.Record
	var ownOK bool
	var ownNHS string
	// lookErr is the first reference record that did not decode: the
	// return is then refused whole, never decided on a damaged reference.
	var lookErr error
	look := func(nhs string) (demographics.Record, bool) {
		if nhs == ownNHS {
			return own, ownOK
		}
		rec, ok, err := tx.Demographic(nhs)
		if err != nil && lookErr == nil {
			lookErr = err
		}
		return rec, ok
	}
	// A FULL return reads its LA's plans once, for its rows and its
	// withdrawals; a DELTA looks up the few it names.
	var held laPlans = storePlans{tx, la}
	if full {
		if held, err = readPlans(tx, la, int64(len(in.facts)+heldSlack)*heldPlanBytes); err != nil {
			return ev, fmt.Errorf("plans of LA %s: %w", la, err)
		}
	}
	sr, err := in.rows.reader()
	if err != nil {
		return ev, err
	}
	var r row
	warned := 0 // accepted rows with a warning
	for i := range in.facts {
		if !sr.next() {
			return ev, fmt.Errorf("spill file: %d rows of %d", i, len(in.facts))
		}
		readRow(sr, in.facts[i], &r)
		if err := sr.err(); err != nil {
			return ev, err
		}
		reject := r.reject
		if reject == nil && r.dup > 0 {
			reject = dups[r.dup-1]
		}
		typ := typeAt(r.typ)
		var nhs string
		if r.flags&checkRejected == 0 || codes.RowCode(r.reject.Detail) != codes.RowNHSFormat {
			nhs = nhsString(r.nhs)
		}
		plan := plans.Plan{Key: plans.Key{NHS: nhs, LA: la, Type: typ}, LocalID: r.localID, Start: r.start, End: r.end, Due: r.due}
		del := r.flags&isDelete != 0
		notStore := false
		var dob caldate.Date
		dobKnown := false
		if reject == nil && !del {
			if own, ownOK, err = tx.Demographic(nhs); err != nil {
				return ev, err
			}
			ownNHS = nhs
			out := pds.Reconcile(nhs, pds.Fields{FamilyName: r.family, GivenName: r.given, DOB: r.dob}, look)
			ownNHS = ""
			if lookErr != nil {
				return ev, lookErr
			}
			if out.Reject != nil {
				reject = out.Reject
			} else {
				r.warnings = append(r.warnings, out.Warnings...)
				dob, dobKnown = own.DOB, true
				if !plan.VisibleOn(name.Extract, dob) {
					notStore = true
					r.warnings = append(r.warnings, codes.Problem{Detail: codes.W001,
						Text: fmt.Sprintf("the %s plan %s is not visible on the extract date %s (%s): not stored", typ, quote(r.localID), name.Extract, notVisibleReason(plan, dob, name.Extract))})
				}
			}
		}

		// DELETE rows and the W003 warning need the store.
		if reject == nil {
			key := plan.Key
			switch {
			case del:
				_, ok, err := held.find(key)
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
			case notStore:
				ev.removals = append(ev.removals, key)
			default:
				old, ok, err := held.find(key)
				if err != nil {
					return ev, err
				}
				if !ok || old != plan {
					if err := putPlan(ev.upserts, plan, ok); err != nil {
						return ev, err
					}
				}
			}
		}

		if full {
			switch {
			case reject == nil:
				named = append(named, namedPlan{planKey{r.nhs, r.typ}, dob, dobKnown})
			case codes.RowCode(reject.Detail) == codes.RowNHSFormat:
				// Only a local_id a plan could hold can protect one.
				if id := strings.TrimSpace(r.localID); id != "" && utf8.RuneCountInString(id) <= maxLocalID {
					protectLocal = append(protectLocal, id)
				}
			default:
				protectNHS = append(protectNHS, r.nhs)
			}
		}

		if reject != nil {
			c.Rejected++
			if err := putOutcome(ev.rows, r.line, r.localID, r.nhsSent, codes.RowCode(reject.Detail), *reject); err != nil {
				return ev, err
			}
			continue
		}
		c.Applied++
		if len(r.warnings) > 0 {
			warned++
		}
		sort.SliceStable(r.warnings, func(i, j int) bool { return r.warnings[i].Detail < r.warnings[j].Detail })
		for _, w := range r.warnings {
			c.Warnings++
			if err := putOutcome(ev.rows, r.line, r.localID, r.nhsSent, codes.RowWarning, w); err != nil {
				return ev, err
			}
		}
	}
	if err := sr.err(); err != nil {
		return ev, err
	}

	var withdrawVisible, visible int
	if full {
		slices.SortFunc(named, compareNamed)
		slices.Sort(protectNHS)
		slices.Sort(protectLocal)
		err := held.each(func(p plans.Plan) error {
			n, err := strconv.ParseUint(p.NHS, 10, 64)
			if err != nil {
				return fmt.Errorf("plan %s: %w", p.Key, err)
			}
			i, isNamed := slices.BinarySearchFunc(named, planKey{n, typeIndex(p.Type)}, func(a namedPlan, k planKey) int { return comparePlanKeys(a.key, k) })
			// A UCPP's visibility does not depend on the date of birth; a
			// named plan's row looked it up already.
			var dob caldate.Date
			switch {
			case p.Type == plans.UCPP:
			case isNamed && named[i].dobKnown:
				dob = named[i].dob
			default:
				if dob, err = tx.DateOfBirth(p.NHS); err != nil {
					return err
				}
			}
			vis := p.VisibleOn(today, dob)
			if vis {
				visible++
			}
			if isNamed {
				return nil
			}
			if _, ok := slices.BinarySearch(protectNHS, n); ok {
				return nil
			}
			if _, ok := slices.BinarySearch(protectLocal, strings.TrimSpace(p.LocalID)); ok {
				return nil
			}
			ev.removals = append(ev.removals, p.Key)
			c.Withdrawn++
			if vis {
				withdrawVisible++
			}
			return nil
		})
		if err != nil {
			return ev, fmt.Errorf("plans of LA %s: %w", la, err)
		}
	}

	o := &ev.outcome
	o.WithRows = true
	switch {
	case c.Rejected*2 > c.Read:
		o.Code, o.Detail = codes.FileNotUsed, codes.F010
		o.Text = fmt.Sprintf("%s More than half the rows were rejected (%d of %d): nothing was applied. Correct the rejected rows and send the whole return again.", c.String(), c.Rejected, c.Read)
	case allowHold && full && holds(withdrawVisible, visible):
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
		if warned > 0 {
			// "Every row was applied." alone would hide the warnings.
			o.Text = fmt.Sprintf("%s Every row was applied; %s with warnings.", c.String(), rowCount(warned))
		}
	}
	return ev, nil
}

// maxLocalID is the longest local_id a stored plan can have, in
// characters (returns.md).
const maxLocalID = 64

// planKey is a plan key of one LA, as a FULL return's rows name it.
type planKey struct {
	nhs uint64
	typ uint8
}

// namedPlan is a plan key a FULL return's row names, with the date of
// birth its row found in the demographics reference (when it looked).
type namedPlan struct {
	key      planKey
	dob      caldate.Date
	dobKnown bool
}

func compareNamed(a, b namedPlan) int { return comparePlanKeys(a.key, b.key) }

func comparePlanKeys(a, b planKey) int {
	if c := cmp.Compare(a.nhs, b.nhs); c != 0 {
		return c
	}
	return cmp.Compare(a.typ, b.typ)
}

// putPlan spills a plan to write, and whether it replaces a plan held.
func putPlan(s *spill, p plans.Plan, held bool) error {
	s.putBool(held)
	s.putString(p.NHS)
	s.putString(string(p.Type))
	s.putString(p.LocalID)
	s.putDate(p.Start)
	s.putDate(p.End)
	s.putDate(p.Due)
	return s.end()
}

// eachPlan calls fn for every plan spilled by putPlan, with la as their
// LA, and whether it replaces a plan held.
func eachPlan(s *spill, la string, fn func(p plans.Plan, held bool) error) error {
	sr, err := s.reader()
	if err != nil {
		return err
	}
	for sr.next() {
		held := sr.bool()
		p := plans.Plan{Key: plans.Key{NHS: sr.string(), LA: la, Type: plans.Type(sr.string())}, LocalID: sr.string()}
		p.Start, p.End, p.Due = sr.date(), sr.date(), sr.date()
		if err := sr.err(); err != nil {
			return err
		}
		if err := fn(p, held); err != nil {
			return err
		}
	}
	return sr.err()
}

// putOutcome spills a row outcome.
func putOutcome(s *spill, line int32, localID, nhsSent string, code codes.Code, p codes.Problem) error {
	s.putInt(int(line))
	s.putString(localID)
	s.putString(nhsSent)
	s.putString(string(code))
	s.putString(string(p.Detail))
	s.putString(p.Text)
	return s.end()
}

// eachOutcome calls fn for every row outcome spilled by putOutcome.
func eachOutcome(s *spill, fn func(store.RowOutcome) error) error {
	sr, err := s.reader()
	if err != nil {
		return err
	}
	for sr.next() {
		o := store.RowOutcome{Line: sr.int(), LocalID: sr.string(), NHSNumber: sr.string()}
		o.Code, o.Detail, o.Text = codes.Code(sr.string()), codes.Detail(sr.string()), sr.string()
		if err := sr.err(); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return sr.err()
}

// rowsWere says "1 row was" or "N rows were".
func rowsWere(n int) string {
	if n == 1 {
		return "1 row was"
	}
	return fmt.Sprintf("%d rows were", n)
}

// rowCount says "1 row" or "N rows".
func rowCount(n int) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

// holds is the safety-hold rule of batch/returns/returns.md.
func holds(w, v int) bool {
	return (w >= HoldMinimum && w*100 > HoldPercent*v) || (w == v && v > 0)
}

// markDuplicates rejects every row whose (NHS number, plan type) appears
// more than once among the rows that passed so far (R009): it sets the
// rows' dup and returns the problems dup indexes. It sorts row indexes, so
// a file of one row repeated costs no more than any other.
func markDuplicates(facts []fact) []*codes.Problem {
	idx := make([]int32, 0, len(facts))
	for i := range facts {
		if facts[i].flags&checkRejected == 0 {
			idx = append(idx, int32(i))
		}
	}
	key := func(i int32) planKey { return planKey{facts[i].nhs, facts[i].typ} }
	slices.SortFunc(idx, func(a, b int32) int {
		if c := comparePlanKeys(key(a), key(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var probs []*codes.Problem
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && key(idx[j]) == key(idx[i]) {
			j++
		}
		group := idx[i:j]
		i = j
		if len(group) < 2 {
			continue
		}
		// One shared detail naming the first lines only: a file of one row
		// repeated must not make every row carry every line number.
		var at []string
		for _, k := range group[:min(len(group), 5)] {
			at = append(at, fmt.Sprint(facts[k].line))
		}
		lines := strings.Join(at, ", ")
		if len(group) > 5 {
			lines += ", ..."
		}
		k := key(group[0])
		probs = append(probs, &codes.Problem{Detail: codes.R009,
			Text: fmt.Sprintf("NHS number %s with plan type %s appears %d times in the file (lines %s): every such row is rejected", nhsString(k.nhs), typeAt(k.typ), len(group), lines)})
		for _, k := range group {
			facts[k].dup = int32(len(probs))
		}
	}
	return probs
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

func quote(s string) string { return fmt.Sprintf("%q", s) }
