package access

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/nhsnumber"
	"cpis/store/plans"
)

// Via names the channel a lookup came through; it decides the names of
// fields in refusals.
type Via string

// Channels.
const (
	HTTP Via = "http"
	CLI  Via = "cli"
)

// Request is one lookup: who asks, from where, about whom.
type Request struct {
	NHSNumber string
	OrgCode   string
	OrgName   string
	Setting   string
	UserName  string
	UserRole  string
	RBAC      string // comma-separated codes
	Via       Via
}

// Refusal is a lookup refused, as access.md's error body.
type Refusal struct {
	Status int    `json:"-"`
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
}

// Answer is the body of a successful lookup (access.md).
type Answer struct {
	NHSNumber     string         `json:"nhs_number"`
	Alert         bool           `json:"alert"`
	Plans         []PlanView     `json:"plans"`
	AccessHistory []HistoryEntry `json:"access_history"`
}

// PlanView is what health staff see of a plan: nothing more.
type PlanView struct {
	PlanType       string  `json:"plan_type"`
	StartDate      string  `json:"start_date"`
	EndDate        *string `json:"end_date"`
	DueDate        *string `json:"due_date"`
	LocalAuthority LAView  `json:"local_authority"`
}

// LAView is the LA of a plan with its contacts.
type LAView struct {
	Code           string  `json:"code"`
	Name           string  `json:"name"`
	EmergencyPhone string  `json:"emergency_phone"`
	OfficePhone    *string `json:"office_phone"`
}

// HistoryEntry is an access-history entry as shown: UTC, whole seconds.
type HistoryEntry struct {
	AccessedAt string `json:"accessed_at"`
	OrgCode    string `json:"org_code"`
	OrgName    string `json:"org_name"`
	Setting    string `json:"setting"`
	UserName   string `json:"user_name"`
	UserRole   string `json:"user_role"`
}

// Service answers lookups against a store.
type Service struct {
	db    *store.DB
	clock func() time.Time
	audit *auditQueue

	mu  sync.RWMutex
	las map[string]store.Authority
}

// New returns a service over db; clock is the time of every lookup.
func New(db *store.DB, clock func() time.Time) (*Service, error) {
	if clock == nil {
		clock = time.Now
	}
	s := &Service{db: db, clock: clock, audit: newAuditQueue(db, 100*time.Millisecond)}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the authorities again (after init --force).
func (s *Service) Reload() error {
	las := map[string]store.Authority{}
	err := s.db.View(func(tx *store.Tx) error {
		all, err := tx.Authorities()
		for _, a := range all {
			las[a.Code] = a
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("load authorities: %w", err)
	}
	s.mu.Lock()
	s.las = las
	s.mu.Unlock()
	return nil
}

// Close writes the audit records still queued.
func (s *Service) Close() error { return s.audit.close() }

// Refuse records a refusal decided outside the service (e.g. a missing API
// token) and returns it.
func (s *Service) Refuse(req Request, r *Refusal) *Refusal {
	s.audit.add(auditOf(req, s.clock(), "refused", r.Status, r.Field))
	return r
}

var (
	odsCode  = regexp.MustCompile(`^[A-Za-z0-9]{3,10}$`)
	rbacCode = regexp.MustCompile(`^[A-Z][0-9]{4}$`)
)

// field names the request fields per channel (access.md).
func field(via Via, name string) string {
	if via == CLI {
		return map[string]string{"org": "--org", "org-name": "--org-name", "setting": "--setting",
			"user": "--user", "role": "--role", "rbac": "--rbac", "nhs": "nhs_number"}[name]
	}
	return map[string]string{"setting": "X-Setting", "user": "X-User-Name", "role": "X-User-Role",
		"rbac": "X-RBAC", "nhs": "nhs_number", "org": "org", "org-name": "org-name"}[name]
}

// check validates req in access.md's order and returns the first refusal.
func check(req Request) (string, *Refusal) {
	bad := func(status int, name, msg string) (string, *Refusal) {
		return "", &Refusal{Status: status, Error: msg, Field: field(req.Via, name)}
	}
	if req.Via == CLI {
		if !odsCode.MatchString(req.OrgCode) {
			return bad(http.StatusBadRequest, "org", fmt.Sprintf("organisation ODS code %q must be 3-10 letters or digits", req.OrgCode))
		}
		if msg := freeText("organisation name", req.OrgName); msg != "" {
			return bad(http.StatusBadRequest, "org-name", msg)
		}
	}
	if req.Setting == "" {
		return bad(http.StatusBadRequest, "setting", "the care setting is missing")
	}
	if _, ok := Settings[req.Setting]; !ok {
		return bad(http.StatusBadRequest, "setting", fmt.Sprintf("care setting %q is not one of the CP-IS setting codes", req.Setting))
	}
	if msg := freeText("user name", req.UserName); msg != "" {
		return bad(http.StatusBadRequest, "user", msg)
	}
	if msg := freeText("user role", req.UserRole); msg != "" {
		return bad(http.StatusBadRequest, "role", msg)
	}
	codes := map[string]bool{}
	if strings.TrimSpace(req.RBAC) == "" {
		return bad(http.StatusBadRequest, "rbac", "the RBAC codes are missing")
	}
	for _, c := range strings.Split(req.RBAC, ",") {
		c = strings.TrimSpace(c)
		if !rbacCode.MatchString(c) {
			return bad(http.StatusBadRequest, "rbac", fmt.Sprintf("RBAC code %q is not a code such as B0264", c))
		}
		codes[c] = true
	}
	if !codes[RBACTrace] || !codes[RBACViewPlan] {
		return bad(http.StatusForbidden, "rbac", "viewing a Child Care Alert needs the RBAC codes B0264 (perform patient trace) and B0107 (view child protection plan)")
	}
	if n := utf8.RuneCountInString(req.NHSNumber); n > MaxNHSNumberInput {
		return bad(http.StatusBadRequest, "nhs", fmt.Sprintf("an NHS number is 10 digits: this one has %d characters", n))
	}
	nhs, problem := nhsnumber.Normalize(req.NHSNumber)
	if problem != nhsnumber.OK {
		return bad(http.StatusBadRequest, "nhs", fmt.Sprintf("%s: %q", problem.Describe(), req.NHSNumber))
	}
	return nhs, nil
}

// MaxNHSNumberInput is the longest NHS number input looked at: ten digits
// with spaces or hyphens fit many times over. A longer one is refused
// without being read, and the audit keeps only its first characters, so a
// hostile caller cannot grow the audit with kilobytes per request.
const MaxNHSNumberInput = 32

// clip cuts s to at most n characters, marking the cut with "...".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "..."
}

// CheckFreeText checks a name or role that ends up in files LAs open in
// spreadsheets (access.md): it returns why s is refused, or "".
func CheckFreeText(what, s string) string { return freeText(what, s) }

// freeText checks names and roles: 1-100 characters, no control
// characters, not beginning with = + - @ (they end up in spreadsheets).
func freeText(what, s string) string {
	n := utf8.RuneCountInString(s)
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Sprintf("the %s is missing", what)
	case !utf8.ValidString(s):
		return fmt.Sprintf("the %s is not UTF-8 text", what)
	case n > 100:
		return fmt.Sprintf("the %s is longer than 100 characters", what)
	case strings.ContainsAny(s[:1], "=+-@"):
		return fmt.Sprintf("the %s may not begin with =, +, - or @", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("the %s contains a control character", what)
		}
	}
	return ""
}

// Lookup answers req. A refusal is a normal outcome (audited); the error is
// for a failure of the hub itself.
func (s *Service) Lookup(ctx context.Context, req Request) (*Answer, *Refusal, error) {
	now := s.clock()
	nhs, ref := check(req)
	if ref != nil {
		s.audit.add(auditOf(req, now, "refused", ref.Status, ref.Field))
		return nil, ref, nil
	}
	req.NHSNumber = nhs
	today := caldate.InLondon(now)

	silent := Settings[req.Setting] == Scheduled
	var visible []plans.Plan
	var history []store.HistoryEntry
	if err := s.db.View(func(tx *store.Tx) error {
		var err error
		visible, err = visiblePlans(tx, nhs, today)
		if err != nil || len(visible) == 0 || !silent {
			return err // an unscheduled access reads the history in its write
		}
		history, err = tx.History(nhs)
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("lookup: %w", err)
	}

	ans := &Answer{NHSNumber: nhs, Plans: []PlanView{}, AccessHistory: []HistoryEntry{}}
	if len(visible) == 0 {
		s.audit.add(auditOf(req, now, "no-alert", http.StatusOK, ""))
		return ans, nil, nil
	}
	ans.Alert = true

	if silent {
		a := auditOf(req, now, "alert", http.StatusOK, "")
		a.Silent, a.Plans = true, len(visible)
		s.audit.add(a)
		ans.Plans = s.views(visible)
		ans.AccessHistory = historyViews(history)
		return ans, nil, nil
	}

	// Unscheduled: durable before the answer (group commit).
	entry := store.HistoryEntry{AccessedAt: now.UTC().Truncate(time.Second), OrgCode: req.OrgCode, OrgName: req.OrgName,
		Setting: req.Setting, UserName: req.UserName, UserRole: req.UserRole}
	err := s.db.Batch(func(tx *store.Tx) error {
		// Plans and history are read again inside the write: what is owed
		// is what is visible at the moment the access is committed.
		current, err := visiblePlans(tx, nhs, today)
		if err != nil {
			return err
		}
		hist, err := tx.History(nhs)
		if err != nil {
			return err
		}
		if len(current) > 0 {
			visible = current
		}
		if !repeatBySameUser(hist, entry) {
			if err := tx.AddHistory(nhs, entry); err != nil {
				return err
			}
			hist = withEntry(hist, entry)
		}
		history = hist
		for _, p := range visible {
			if err := tx.Owe(p.LA, store.Notification{AccessedAt: entry.AccessedAt, NHSNumber: p.NHS, LocalID: p.LocalID,
				PlanType: string(p.Type), OrgCode: req.OrgCode, OrgName: req.OrgName, Setting: req.Setting,
				UserName: req.UserName, UserRole: req.UserRole}); err != nil {
				return err
			}
		}
		a := auditOf(req, now, "alert", http.StatusOK, "")
		a.Plans, a.Notified = len(visible), len(visible)
		return tx.AddLookupAudit(a)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("record access: %w", err)
	}
	ans.Plans = s.views(visible)
	ans.AccessHistory = historyViews(history)
	return ans, nil, nil
}

// repeatBySameUser: a view by the same user (org code and user name)
// within 24 hours of that user's newest entry adds no entry.
func repeatBySameUser(hist []store.HistoryEntry, e store.HistoryEntry) bool {
	for _, h := range hist { // newest first
		if h.OrgCode == e.OrgCode && h.UserName == e.UserName {
			return e.AccessedAt.Sub(h.AccessedAt) < 24*time.Hour
		}
	}
	return false
}

// withEntry returns hist (newest first) with e added as AddHistory stores
// it: after every entry of a later instant, before those of the same or an
// earlier one (it is the latest added), at most HistoryLimit entries.
func withEntry(hist []store.HistoryEntry, e store.HistoryEntry) []store.HistoryEntry {
	i := 0
	for i < len(hist) && hist[i].AccessedAt.After(e.AccessedAt) {
		i++
	}
	out := make([]store.HistoryEntry, 0, len(hist)+1)
	out = append(append(append(out, hist[:i]...), e), hist[i:]...)
	if len(out) > store.HistoryLimit {
		out = out[:store.HistoryLimit]
	}
	return out
}

// visiblePlans returns the plans visible on today under nhs and every
// number superseded into it, ordered by LA code, plan type, NHS number.
func visiblePlans(tx *store.Tx, nhs string, today caldate.Date) ([]plans.Plan, error) {
	var out []plans.Plan
	for _, n := range append([]string{nhs}, tx.Prior(nhs)...) {
		ps, err := tx.PlansOf(n)
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			continue
		}
		dob, err := tx.DateOfBirth(n)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if p.VisibleOn(today, dob) {
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.LA != b.LA {
			return a.LA < b.LA
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.NHS < b.NHS
	})
	return out, nil
}

func (s *Service) views(ps []plans.Plan) []PlanView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]PlanView, 0, len(ps))
	for _, p := range ps {
		a := s.las[p.LA]
		v := PlanView{PlanType: string(p.Type), StartDate: p.Start.String(), EndDate: optDate(p.End), DueDate: optDate(p.Due),
			LocalAuthority: LAView{Code: p.LA, Name: a.Name, EmergencyPhone: a.EmergencyPhone}}
		if a.OfficePhone != "" {
			phone := a.OfficePhone
			v.LocalAuthority.OfficePhone = &phone
		}
		out = append(out, v)
	}
	return out
}

func optDate(d caldate.Date) *string {
	if d.IsZero() {
		return nil
	}
	s := d.String()
	return &s
}

func historyViews(h []store.HistoryEntry) []HistoryEntry {
	out := make([]HistoryEntry, 0, len(h))
	for _, e := range h {
		out = append(out, HistoryEntry{AccessedAt: e.AccessedAt.UTC().Format(time.RFC3339), OrgCode: e.OrgCode,
			OrgName: e.OrgName, Setting: e.Setting, UserName: e.UserName, UserRole: e.UserRole})
	}
	return out
}

func auditOf(req Request, now time.Time, outcome string, status int, field string) store.LookupAudit {
	return store.LookupAudit{At: now, OrgCode: req.OrgCode, OrgName: req.OrgName, Setting: req.Setting,
		UserName: req.UserName, UserRole: req.UserRole, NHSNumber: clip(req.NHSNumber, MaxNHSNumberInput), Via: string(req.Via),
		Outcome: outcome, Status: status, Field: field}
}
