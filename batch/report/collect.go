package report

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"cpis/store/demographics"

	"cpis/batch/expire"
	"cpis/batch/inactive"
	"cpis/batch/pds"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

// pageSize is how many plans (or lookups, or findings) one read
// transaction reads: a few milliseconds of work each.
const pageSize = 5000

// laSummary is one row of the Summary sheet.
type laSummary struct {
	a store.Authority

	recvAt                         time.Time
	recvKind, recvID, recvOutcome  string
	appliedAt                      time.Time
	appliedKind, appliedID         string
	appliedExtract                 caldate.Date
	received                       int
	read, applied, rejected, warns int
	withdrawn, held                int
	visible                        [3]int // CPP, LAC, UCPP
	accesses, notifications        int
	uncollected, undelivered       int
}

// rejection is one rejected or warned row of a return taken in the period.
type rejection struct {
	la      string
	takenAt time.Time
	msgID   string
	file    string
	row     store.RowOutcome
}

// nhsProblem is one row of the NHS numbers sheet: a CPR01-CPR05 row still
// awaiting a correction, or an inactive number (inactive is set).
type nhsProblem struct {
	la          string
	first, last time.Time
	times       int
	msgID, file string
	row         store.RowOutcome
	inactive    string // reason of an inactive-number finding
	planType    string
	current     string // current number of a superseded one
}

// crossLA is a person with visible plans from more than one LA.
type crossLA struct {
	nhs     string
	aliases []string // superseded numbers holding some of the plans
	plans   []plans.Plan
}

// expiringPlan is a plan leaving visibility within ExpiringDays.
type expiringPlan struct {
	p     plans.Plan
	until caldate.Date
	why   string
}

// pending is a row of the Undelivered and held sheet.
type pending struct {
	what      string // "undelivered" or "held"
	la        string
	mailbox   string
	file      string
	msgID     string
	since     time.Time
	withdrawn int // held: plans the return would withdraw
	detail    string
}

// Collect reads the snapshot a report renders: the store in short read
// transactions, and the outbox folders.
func Collect(cfg Config) (*Report, error) {
	r := &Report{Now: cfg.Now, Today: caldate.InLondon(cfg.Now), Since: cfg.Since,
		Store: cfg.DB.Path(), Mailboxes: filepath.Join(cfg.DataDir, "mailboxes")}
	if r.Since.IsZero() {
		r.Since = r.Today.AddDays(-DefaultDays)
	}
	if r.Since.After(r.Today) {
		return nil, fmt.Errorf("report since %s: %w (today is %s in London)", r.Since, ErrSinceAfterToday, r.Today)
	}
	steps := []struct {
		what string
		fn   func(Config) error
	}{
		{"authorities", r.readAuthorities},
		{"messages", r.readMessages},
		{"outboxes", r.readOutboxes},
		{"lookups", r.readLookups},
		{"notifications", r.readNotifications},
		{"plans", r.readPlans},
		{"inactive numbers", r.readInactive},
	}
	for _, s := range steps {
		if err := s.fn(cfg); err != nil {
			return nil, fmt.Errorf("report: read %s: %w", s.what, err)
		}
	}
	r.sortRows()
	return r, nil
}

func (r *Report) readAuthorities(cfg Config) error {
	return cfg.DB.View(func(tx *store.Tx) error {
		r.Demographics = tx.DemographicsImported()
		all, err := tx.Authorities()
		r.laByCode = make(map[string]*laSummary, len(all))
		for _, a := range all {
			s := &laSummary{a: a}
			r.las = append(r.las, s)
			r.laByCode[a.Code] = s
		}
		return err
	})
}

// la returns the summary row of code (nil for an LA no longer known).
func (r *Report) la(code string) *laSummary {
	return r.laByCode[code]
}

// readMessages reads each LA's messages and row outcomes in a read
// transaction of its own.
func (r *Report) readMessages(cfg Config) error {
	start := r.PeriodStart()
	for _, s := range r.las {
		if err := cfg.DB.View(func(tx *store.Tx) error { return r.readLA(tx, s, start) }); err != nil {
			return fmt.Errorf("LA %s: %w", s.a.Code, err)
		}
	}
	return nil
}

// problemKey identifies a CPR01-CPR05 row across returns.
type problemKey struct{ localID, nhs string }

func (r *Report) readLA(tx *store.Tx, s *laSummary, start time.Time) error {
	open := map[problemKey]*nhsProblem{}
	var order []problemKey
	err := tx.Messages(s.a.Code, func(m *store.Message) error {
		if m.TakenAt.After(r.Now) {
			return nil // a report made as of an earlier --now
		}
		s.recvAt, s.recvKind, s.recvID, s.recvOutcome = m.TakenAt, m.Kind, m.MessageID, outcomeCode(m)
		if m.Applied && !m.AppliedAt.Before(s.appliedAt) {
			s.appliedAt, s.appliedKind, s.appliedID, s.appliedExtract = m.AppliedAt, m.Kind, m.MessageID, m.Extract
		}
		inPeriod := !m.TakenAt.Before(start)
		if inPeriod {
			s.received++
			// A held return's rows were read and checked; only what it
			// would withdraw waits for operations.
			if m.Outcome != nil {
				c := m.Outcome.Counts
				s.read += c.Read
				s.rejected += c.Rejected
				s.warns += c.Warnings
				if m.Applied {
					s.applied += c.Applied
					s.withdrawn += c.Withdrawn
				}
			}
		}
		if m.State == store.Held {
			s.held++
			p := pending{what: "held", la: s.a.Code, mailbox: s.a.MailboxID, file: m.File, msgID: m.MessageID, since: m.TakenAt,
				detail: "F009: FULL return held by the safety rule; release or discard it (cpis returns)"}
			if m.Outcome != nil {
				p.withdrawn = m.Outcome.Counts.Withdrawn
			}
			r.undelivered = append(r.undelivered, p)
		}
		seen := map[problemKey]bool{}
		err := tx.Outcomes(m.Key, func(o store.RowOutcome) error {
			if inPeriod {
				r.rejections = append(r.rejections, rejection{la: s.a.Code, takenAt: m.TakenAt, msgID: m.MessageID, file: m.File, row: o})
			}
			if o.Code < codes.RowUnknown || o.Code > codes.RowSuperseded {
				return nil
			}
			k := problemKey{o.LocalID, o.NHSNumber}
			seen[k] = true
			p := open[k]
			if p == nil {
				p = &nhsProblem{la: s.a.Code, first: m.TakenAt}
				open[k] = p
				order = append(order, k)
			}
			if p.msgID != m.MessageID {
				p.times++
			}
			p.last, p.msgID, p.file, p.row = m.TakenAt, m.MessageID, m.File, o
			return nil
		})
		if err != nil {
			return err
		}
		// A FULL return names every plan the LA holds: once one is applied
		// without a problem row, that problem was put right.
		if m.Applied && m.Kind == "FULL" {
			for k := range open {
				if !seen[k] {
					delete(open, k)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range order {
		if p, ok := open[k]; ok {
			r.nhs = append(r.nhs, *p)
			delete(open, k) // a key reopened later is listed once
		}
	}
	return nil
}

func outcomeCode(m *store.Message) string {
	if m.Outcome == nil {
		return string(m.State)
	}
	if m.Outcome.Detail != "" {
		return string(m.Outcome.Code) + " " + string(m.Outcome.Detail)
	}
	return string(m.Outcome.Code)
}

// readOutboxes lists every LA's outbox: what is there is uncollected, and
// what has waited more than UndeliveredAfter is undelivered
// (expire.OutboxAt, the rule's one home).
func (r *Report) readOutboxes(cfg Config) error {
	for _, s := range r.las {
		n, late, err := expire.OutboxAt(cfg.DataDir, s.a, r.Now)
		if err != nil {
			return err
		}
		s.uncollected, s.undelivered = n, len(late)
		for _, u := range late {
			r.undelivered = append(r.undelivered, pending{what: "undelivered", la: s.a.Code, mailbox: s.a.MailboxID, file: u.File, since: u.Since,
				msgID: u.MessageID, detail: "MESH 14: not collected within 5 days"})
		}
	}
	return nil
}

// readLookups counts the alert lookups of the period for every LA holding a
// plan under the number looked up (or a number superseded into it), a
// page of lookups per read transaction.
func (r *Report) readLookups(cfg Config) error {
	start := r.PeriodStart()
	var from []byte
	for {
		err := cfg.DB.View(func(tx *store.Tx) error {
			holders := map[string][]string{}
			var err error
			from, err = tx.LookupAuditsPage(start, from, pageSize, func(a store.LookupAudit) error {
				if a.Outcome != "alert" || a.At.After(r.Now) {
					return nil
				}
				las, ok := holders[a.NHSNumber]
				if !ok {
					var herr error
					if las, herr = holdingLAs(tx, a.NHSNumber); herr != nil {
						return herr
					}
					holders[a.NHSNumber] = las
				}
				for _, la := range las {
					if s := r.la(la); s != nil {
						s.accesses++
					}
				}
				return nil
			})
			return err
		})
		if err != nil || from == nil {
			return err
		}
	}
}

// holdingLAs returns the LAs holding a plan under nhs or a number
// superseded into it, each once, in code order.
func holdingLAs(tx *store.Tx, nhs string) ([]string, error) {
	var out []string
	for _, n := range append([]string{nhs}, tx.Prior(nhs)...) {
		ps, err := tx.PlansOf(n)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			out = append(out, p.LA)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// readNotifications counts the access-file rows of each day of the period,
// a day per read transaction: the rows of the file when it was decided,
// else the rows still owed.
func (r *Report) readNotifications(cfg Config) error {
	for day := r.Since; !day.After(r.Today); day = day.AddDays(1) {
		err := cfg.DB.View(func(tx *store.Tx) error {
			for _, s := range r.las {
				f, ok, err := tx.DayFile(day, s.a.Code)
				if err != nil {
					return err
				}
				if ok {
					s.notifications += f.Rows
				} else {
					s.notifications += tx.CountOwed(day, s.a.Code)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", day, err)
		}
	}
	return nil
}

// person is the plans held under one NHS number, read in a page of plans.
type person struct {
	nhs     string
	dob     caldate.Date
	current string // the current number when nhs is superseded
	plans   []plans.Plan
}

// readPlans reads every plan once, a page per read transaction, in NHS
// number order: visible plans per LA and type, plans expiring soon, and
// people with visible plans from more than one LA.
func (r *Report) readPlans(cfg Config) error {
	var cur *person
	aliases := map[string][]*person{} // current number -> superseded numbers' plans
	cross := map[string]crossLA{}
	horizon := r.Today.AddDays(ExpiringDays)
	var vis []plans.Plan // scratch: cloned when kept
	finish := func(p *person) {
		if p == nil {
			return
		}
		vis = r.visible(vis[:0], p, horizon)
		switch {
		case len(vis) == 0:
		case p.current != "":
			aliases[p.current] = append(aliases[p.current], &person{nhs: p.nhs, plans: slices.Clone(vis)})
		case manyLAs(vis):
			cross[p.nhs] = crossLA{nhs: p.nhs, plans: slices.Clone(vis)}
		}
	}
	var from []byte
	for {
		err := cfg.DB.View(func(tx *store.Tx) error {
			var err error
			facts := tx.FactsWalk() // plans come in NHS-number order
			from, err = tx.PlansPage(from, pageSize, func(p plans.Plan) error {
				if cur == nil || cur.nhs != p.NHS {
					finish(cur)
					var buf []plans.Plan
					if cur != nil {
						buf = cur.plans[:0] // finish keeps no plan of cur's
					}
					if cur, err = newPerson(tx, facts, p.NHS); err != nil {
						return err
					}
					cur.plans = buf
				}
				cur.plans = append(cur.plans, p)
				return nil
			})
			return err
		})
		if err != nil {
			return err
		}
		if from == nil {
			break
		}
	}
	finish(cur)
	// A person whose plans are held under a superseded number too: join
	// them with the plans of the current number.
	currents := make([]string, 0, len(aliases))
	for c := range aliases {
		currents = append(currents, c)
	}
	sort.Strings(currents)
	err := cfg.DB.View(func(tx *store.Tx) error {
		for _, c := range currents {
			ps, err := tx.PlansOf(c)
			if err != nil {
				return err
			}
			dob, err := tx.DateOfBirth(c)
			if err != nil {
				return err
			}
			var all []plans.Plan
			for _, p := range ps {
				if p.VisibleOn(r.Today, dob) {
					all = append(all, p)
				}
			}
			x := crossLA{nhs: c}
			for _, a := range aliases[c] {
				x.aliases = append(x.aliases, a.nhs)
				all = append(all, a.plans...)
			}
			if manyLAs(all) {
				x.plans = all
				cross[c] = x
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, x := range cross {
		r.cross = append(r.cross, x)
	}
	return nil
}

func newPerson(tx *store.Tx, facts *store.FactsWalk, nhs string) (*person, error) {
	p := &person{nhs: nhs}
	f, ok, err := facts.Facts(nhs)
	if err != nil || !ok {
		return p, err
	}
	p.dob = f.DOB
	if f.Superseded {
		p.current, err = currentNumber(tx, nhs)
	}
	return p, err
}

// currentNumber is pds.Current over the reference in tx; a reference
// record on the way that does not decode is its error, never an end of
// the chain.
func currentNumber(tx *store.Tx, nhs string) (string, error) {
	var lookErr error
	cur, _ := pds.Current(nhs, func(n string) (demographics.Record, bool) {
		r, ok, err := tx.Demographic(n)
		if err != nil && lookErr == nil {
			lookErr = err
		}
		return r, ok
	})
	return cur, lookErr
}

// visible counts p's plans visible today, notes those leaving visibility
// before horizon, and returns vis with the visible ones appended.
func (r *Report) visible(vis []plans.Plan, p *person, horizon caldate.Date) []plans.Plan {
	for _, pl := range p.plans {
		until, bounded := pl.VisibleUntil(p.dob)
		if bounded && until.Before(r.Today) {
			continue
		}
		vis = append(vis, pl)
		if s := r.la(pl.LA); s != nil {
			if i := slices.Index(plans.Types, pl.Type); i >= 0 {
				s.visible[i]++
			}
		}
		if bounded && until.Before(horizon) {
			r.expiring = append(r.expiring, expiringPlan{p: pl, until: until, why: why(pl, p.dob)})
		}
	}
	return vis
}

// why says which rule ends a plan's visibility.
func why(p plans.Plan, dob caldate.Date) string {
	if p.Type == plans.UCPP {
		if !p.Due.IsZero() {
			byDue := p.Due.AddDays(plans.VisibleAfterDue)
			if p.End.IsZero() || !p.End.AddDays(plans.VisibleAfterEnd).Before(byDue) {
				return "28 days after the due date"
			}
		}
		return "365 days after the end"
	}
	if !dob.IsZero() && p.EffectiveEnd(dob) == dob.AddYears(18) && (p.End.IsZero() || dob.AddYears(18).Before(p.End)) {
		return "365 days after the 18th birthday"
	}
	return "365 days after the end"
}

// manyLAs says whether ps are plans of more than one LA.
func manyLAs(ps []plans.Plan) bool {
	for _, p := range ps {
		if p.LA != ps[0].LA {
			return true
		}
	}
	return false
}

// readInactive lists the inactive numbers reported to LAs that still await
// a correction: the plan is still held and the demographics reference still
// gives the same reason.
func (r *Report) readInactive(cfg Config) error {
	var from []byte
	for {
		err := cfg.DB.View(func(tx *store.Tx) error {
			if !tx.HasDemographics() {
				return nil
			}
			var err error
			from, err = tx.InactiveFindingsPage(from, pageSize, func(k plans.Key, reason string, at time.Time) error {
				p, ok, err := tx.Plan(k)
				if err != nil || !ok {
					return err
				}
				now, current, err := inactiveReason(tx, k.NHS)
				if err != nil {
					return err
				}
				if now != reason {
					return nil
				}
				code := map[string]codes.Detail{inactive.Unknown: codes.P001, inactive.Sensitive: codes.P002, inactive.Superseded: codes.P004}[reason]
				r.nhs = append(r.nhs, nhsProblem{la: k.LA, inactive: reason, planType: string(k.Type), current: current,
					first: at, last: at, times: 1,
					row: store.RowOutcome{LocalID: p.LocalID, NHSNumber: k.NHS, Code: codes.RowCode(code), Detail: code,
						Text: inactiveText(reason, current)}})
				return nil
			})
			return err
		})
		if err != nil || from == nil {
			return err
		}
	}
}

// inactiveReason is the reason batch/inactive gives for nhs today ("" when
// the number is current and usable).
func inactiveReason(tx *store.Tx, nhs string) (reason, current string, err error) {
	f, known, err := tx.DemographicFacts(nhs)
	switch {
	case err != nil:
		return "", "", err
	case !known:
		return inactive.Unknown, "", nil
	case f.Superseded:
		current, err = currentNumber(tx, nhs)
		return inactive.Superseded, current, err
	case f.Sensitive:
		return inactive.Sensitive, "", nil
	}
	return "", "", nil
}

func inactiveText(reason, current string) string {
	switch reason {
	case inactive.Unknown:
		return "inactive number: not known to the demographics reference"
	case inactive.Superseded:
		return "inactive number: superseded by " + current
	}
	return "inactive number: sensitive record"
}

// sortRows puts every sheet's rows in the order people read them.
func (r *Report) sortRows() {
	sort.SliceStable(r.rejections, func(i, j int) bool {
		a, b := r.rejections[i], r.rejections[j]
		if a.la != b.la {
			return a.la < b.la
		}
		if !a.takenAt.Equal(b.takenAt) {
			return a.takenAt.Before(b.takenAt)
		}
		return a.row.Line < b.row.Line
	})
	// Oldest first (an inactive number by when it was reported; one without
	// a date after the others), by LA and number.
	sort.SliceStable(r.nhs, func(i, j int) bool {
		a, b := r.nhs[i], r.nhs[j]
		if a.first.IsZero() != b.first.IsZero() {
			return !a.first.IsZero()
		}
		if !a.first.Equal(b.first) {
			return a.first.Before(b.first)
		}
		if a.la != b.la {
			return a.la < b.la
		}
		if a.msgID != b.msgID {
			return a.msgID < b.msgID
		}
		if a.row.Line != b.row.Line {
			return a.row.Line < b.row.Line
		}
		if a.row.NHSNumber != b.row.NHSNumber {
			return a.row.NHSNumber < b.row.NHSNumber
		}
		return a.planType < b.planType
	})
	sort.Slice(r.cross, func(i, j int) bool { return r.cross[i].nhs < r.cross[j].nhs })
	for _, x := range r.cross {
		sort.Slice(x.plans, func(i, j int) bool {
			a, b := x.plans[i], x.plans[j]
			if a.LA != b.LA {
				return a.LA < b.LA
			}
			if a.Type != b.Type {
				return a.Type < b.Type
			}
			return a.NHS < b.NHS
		})
		sort.Strings(x.aliases)
	}
	sort.Slice(r.expiring, func(i, j int) bool {
		a, b := r.expiring[i], r.expiring[j]
		if a.until != b.until {
			return a.until.Before(b.until)
		}
		if a.p.LA != b.p.LA {
			return a.p.LA < b.p.LA
		}
		if a.p.NHS != b.p.NHS {
			return a.p.NHS < b.p.NHS
		}
		return a.p.Type < b.p.Type
	})
	// Undelivered first, then held; each oldest first.
	sort.SliceStable(r.undelivered, func(i, j int) bool {
		a, b := r.undelivered[i], r.undelivered[j]
		if a.what != b.what {
			return a.what == "undelivered"
		}
		if !a.since.Equal(b.since) {
			return a.since.Before(b.since)
		}
		if a.la != b.la {
			return a.la < b.la
		}
		return a.file < b.file
	})
}
