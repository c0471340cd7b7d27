// Package ingest is the nightly ingest job: it takes every waiting return
// from every LA's inbox, checks it (batch/returns/returns.md, "Checks, in order"),
// reconciles its rows against demographics, applies it to the store in one
// transaction, and answers the LA with a response in its outbox.
//
// Each message moves through the states of store.State. Every step is
// recorded before the next begins, so a run that crashes anywhere is
// finished by the next one: the return is applied once, archived once and
// answered once.
//
// Check is a dry run of the same code for one file, for pages that let an
// LA check a return before sending it: it reads and decides as a run
// would, and records nothing.
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"cpis/batch/returns"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
)

// DefaultSizeLimit is the largest return accepted, as stored and again
// after decompression (mesh/mailboxes.md, "Size limit").
const DefaultSizeLimit int64 = 512 << 20

// DefaultMaxRows is the most rows one return may have (F006 beyond). The
// largest LA holds about 8,000 plans; a return's checked rows are held
// while it is evaluated, so a file of millions of tiny rows must be refused
// before it can exhaust memory (and fail again on every run).
const DefaultMaxRows = 500_000

// DefaultParallel is how many LAs a run processes at once by default:
// more than England has, so every LA's returns move through their steps
// together. An LA waits on disk syncs and on the single writer most of the
// time, and the writer commits what the LAs ask for together (applier.go:
// their decisions' plans once no LA is still at work, their other steps
// as they come): with all of them in flight, a night of small DELTA
// returns takes a few commits instead of four per return.
// Memory and CPU do not grow with it: the returns evaluated at once are
// bounded by the memory budget (Config.MemoryBudget) and by twice as many
// CPU slots as there are processors (slots, budget.go).
const DefaultParallel = 256

// Config is what a run needs.
type Config struct {
	DataDir string
	DB      *store.DB
	// Now is the clock of every date rule, message ID and audit time
	// (replaced by --now for replays and tests).
	Now func() time.Time
	// RealNow is the wall clock, used only for the settle check of files
	// without a control file.
	RealNow func() time.Time
	// SizeLimit bounds a return; 0 means DefaultSizeLimit.
	SizeLimit int64
	// MaxRows bounds the rows of one return; 0 means DefaultMaxRows.
	MaxRows int
	// Parallel bounds how many LAs are processed at once; 0 means
	// DefaultParallel.
	Parallel int
	// MemoryBudget bounds the memory that the returns being evaluated at
	// once hold between them (LAs in parallel then wait for their turn);
	// 0 means DefaultMemoryBudget.
	MemoryBudget int64
	// MemoryLimit is the Go runtime's soft memory limit while Run runs,
	// unless the process already has one (GOMEMLIMIT, or the cpis
	// binary's); 0 means DefaultMemoryLimit, negative sets none. Runs in
	// one process at the same time share the first one's MemoryLimit and
	// HeapFloor (pace).
	MemoryLimit int64
	// HeapFloor is the heap below which the Go collector does not run
	// while Run runs (the memory limit is lowered to it meanwhile),
	// unless GOGC is other than 100; 0 means DefaultHeapFloor, negative
	// keeps no floor.
	HeapFloor int64
	// LAs limits the run to these LA codes; empty means every LA.
	LAs []string
	Log *slog.Logger
}

func (c *Config) defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RealNow == nil {
		c.RealNow = time.Now
	}
	if c.SizeLimit == 0 {
		c.SizeLimit = DefaultSizeLimit
	}
	if c.MaxRows == 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.Parallel <= 0 {
		c.Parallel = DefaultParallel
	}
	if c.MemoryBudget <= 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.HeapFloor == 0 {
		c.HeapFloor = DefaultHeapFloor
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Result is the outcome of one message handled by a run: the ingest report
// line of batch/returns/returns.md.
type Result struct {
	LA        string       `json:"la"`
	MessageID string       `json:"message_id"`
	File      string       `json:"file"`
	Code      codes.Code   `json:"code"`
	Detail    codes.Detail `json:"detail_code"`
	store.Counts
	// Response is the outbox path of the response written.
	Response string `json:"-"`
}

// Report is what a run did.
type Report struct {
	Results []Result
	Failed  []*mesh.LAError // the LAs that could not be processed; the others still were
}

// Run ingests every waiting return of every LA: LAs in parallel (bounded),
// each LA's returns in extract-date order. An LA that fails is reported in
// Report.Failed and the others go on; the error is for the run as a whole.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	var las []store.Authority
	if err := cfg.DB.View(func(tx *store.Tx) error {
		var err error
		las, err = tx.Authorities()
		return err
	}); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if len(cfg.LAs) > 0 {
		want := map[string]bool{}
		for _, c := range cfg.LAs {
			want[c] = true
		}
		var kept []store.Authority
		for _, a := range las {
			if want[a.Code] {
				kept = append(kept, a)
			}
		}
		las = kept
	}

	defer pace(cfg.MemoryLimit, cfg.HeapFloor)()
	rep := &Report{}
	ap := newApplier(cfg.DB, holdFor)
	defer ap.close()
	mem := newBudget(cfg.MemoryBudget)
	cpu := make(slots, 2*runtime.GOMAXPROCS(0))
	var mu sync.Mutex
	sem := make(chan struct{}, cfg.Parallel)
	var wg sync.WaitGroup
	for _, a := range las {
		wg.Add(1)
		sem <- struct{}{}
		ap.working()
		go func(a store.Authority) {
			defer wg.Done()
			defer func() { <-sem }()
			defer ap.pause()
			l := &laRun{cfg: &cfg, la: a, mb: local.Open(cfg.DataDir, a.MailboxID), today: caldate.InLondon(cfg.Now()), applier: ap, budget: mem, cpu: cpu}
			results, err := l.run(ctx)
			mu.Lock()
			defer mu.Unlock()
			rep.Results = append(rep.Results, results...)
			if err != nil {
				cfg.Log.Error("ingest LA failed", "la", a.Code, "err", err)
				rep.Failed = append(rep.Failed, &mesh.LAError{LA: a.Code, Err: err})
			}
		}(a)
	}
	wg.Wait()
	sort.Slice(rep.Results, func(i, j int) bool {
		if rep.Results[i].LA != rep.Results[j].LA {
			return rep.Results[i].LA < rep.Results[j].LA
		}
		return rep.Results[i].MessageID < rep.Results[j].MessageID
	})
	sort.Slice(rep.Failed, func(i, j int) bool { return rep.Failed[i].LA < rep.Failed[j].LA })
	return rep, ctx.Err()
}

// laRun is one LA's part of a run; it touches only that LA's mailbox and
// messages, so LAs run in parallel safely.
type laRun struct {
	cfg     *Config
	la      store.Authority
	mb      *local.Mailbox
	today   caldate.Date
	results []Result
	applier *applier // nil outside Run: transactions of their own
	budget  *budget  // nil outside Run: no limit
	cpu     slots    // nil outside Run: no limit
	// rows holds the spilled row outcomes of decisions whose responses are
	// not written yet, by response message ID.
	rows map[string]*spill
	// seps are the separators counted in the content of returns taken in
	// this run, by content hash, until they are decided (rowBound).
	seps map[string]separators
}

// keptInMemory is the most memory a decided return's row outcomes may keep
// until its response is written (keepRows).
const keptInMemory = 64 << 10

// keepRows keeps the row outcomes of the response id until it is written,
// unless they hold more than keptInMemory of memory.
func (l *laRun) keepRows(id string, s *spill) {
	if s.f == nil && cap(s.mem) > keptInMemory {
		// The return's memory charge ends with its decision, and every LA
		// of a run may be between its decision and its response at once:
		// large outcomes held in memory are let go, and the response reads
		// them from the store, where the decision put them.
		s.close()
		return
	}
	if l.rows == nil {
		l.rows = map[string]*spill{}
	}
	l.rows[id] = s
}

// dropRows removes the spilled row outcomes of the response id, or of every
// response when id is "".
func (l *laRun) dropRows(id string) {
	for k, s := range l.rows {
		if id == "" || k == id {
			s.close()
			delete(l.rows, k)
		}
	}
}

func (l *laRun) run(ctx context.Context) ([]Result, error) {
	defer l.dropRows("")
	if err := l.recover(ctx); err != nil {
		return l.results, err
	}
	if err := l.retryWaiting(ctx); err != nil {
		return l.results, err
	}
	if err := l.takeNew(ctx); err != nil {
		return l.results, err
	}
	if err := l.archiveStaleControls(); err != nil {
		return l.results, err
	}
	return l.results, nil
}

// recover finishes what an earlier run left half done.
func (l *laRun) recover(ctx context.Context) error {
	open, err := l.openMessages()
	if err != nil {
		return err
	}
	for _, m := range open {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch m.State {
		case store.Taken, store.Archived:
			if err := l.process(ctx, m); err != nil {
				return err
			}
		default:
			if len(m.Pending()) > 0 {
				if err := l.respond(m); err != nil {
					return err
				}
				l.addResult(m)
			}
		}
	}
	return nil
}

func (l *laRun) openMessages() ([]*store.Message, error) {
	var open []*store.Message
	err := l.cfg.DB.View(func(tx *store.Tx) error {
		var err error
		open, err = tx.OpenMessages(l.la.Code)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open messages: %w", err)
	}
	return open, nil
}

// retryWaiting evaluates returns that waited for a demographics reference,
// once there is one.
func (l *laRun) retryWaiting(ctx context.Context) error {
	var have bool
	if err := l.cfg.DB.View(func(tx *store.Tx) error { have = tx.HasDemographics(); return nil }); err != nil {
		return err
	}
	if !have {
		return nil
	}
	open, err := l.openMessages()
	if err != nil {
		return err
	}
	sortMessages(open)
	for _, m := range open {
		if m.State != store.Waiting {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.process(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// process drives m through the remaining steps of its lifecycle.
func (l *laRun) process(ctx context.Context, m *store.Message) error {
	if m.State == store.Taken {
		if err := l.archive(m); err != nil {
			return err
		}
	}
	if m.State == store.Archived || m.State == store.Waiting {
		if err := l.decide(ctx, m, true); err != nil {
			return err
		}
	}
	if len(m.Pending()) > 0 {
		if err := l.respond(m); err != nil {
			return err
		}
	}
	l.addResult(m)
	// Deciding m may owe responses to other messages (a held return
	// superseded by m gets F011): write them now, not on the next run.
	return l.respondOthers(m)
}

// respondOthers writes the responses owed by the LA's other open messages.
func (l *laRun) respondOthers(m *store.Message) error {
	open, err := l.openMessages()
	if err != nil {
		return err
	}
	for _, o := range open {
		if string(o.Key) == string(m.Key) || len(o.Pending()) == 0 || o.State == store.Taken || o.State == store.Archived {
			continue
		}
		if err := l.respond(o); err != nil {
			return err
		}
		l.addResult(o)
	}
	return nil
}

func (l *laRun) addResult(m *store.Message) {
	r := Result{LA: l.la.Code, MessageID: m.MessageID, File: m.File}
	if m.Outcome != nil {
		r.Code, r.Detail, r.Counts = m.Outcome.Code, m.Outcome.Detail, m.Outcome.Counts
	}
	if n := len(m.Responses); n > 0 {
		r.Response = filepath.Join(l.mb.OutboxDir(), m.Responses[n-1].File)
	}
	// A message handled twice in one run (recovered, then re-evaluated)
	// reports its last outcome once.
	for i := range l.results {
		if l.results[i].MessageID == r.MessageID && l.results[i].File == r.File {
			l.results[i] = r
			return
		}
	}
	l.results = append(l.results, r)
}

func (l *laRun) archiveStaleControls() error {
	stale, err := l.mb.StaleControls(l.cfg.RealNow())
	if err != nil {
		return fmt.Errorf("stale control files: %w", err)
	}
	for _, name := range stale {
		id, err := controlMessageID(filepath.Join(l.mb.InboxDir(), name))
		if err != nil {
			return fmt.Errorf("stale control file %s: %w", name, err)
		}
		if err := l.mb.ArchiveStaleControl(name, id); err != nil {
			return fmt.Errorf("archive stale control file %s: %w", name, err)
		}
		if err := l.write(func(tx *store.Tx) error {
			return tx.Audit(store.AuditEvent{At: l.cfg.Now(), Action: "control.archived_alone", LA: l.la.Code, MessageID: id, Note: name})
		}); err != nil {
			return err
		}
	}
	return nil
}

// controlMessageID names a control file archived alone: its DTSId when it
// is a message ID, else one derived from the file (modification time and
// content), as for a data file that comes without a usable control file.
func controlMessageID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if c, err := mesh.ParseControl(bytes.NewReader(b)); err == nil && mesh.ValidMessageID(c.DTSID) {
		return c.DTSID, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return mesh.DerivedMessageID(st.ModTime(), sha256.Sum256(b)), nil
}

// sortMessages puts messages of one LA in application order: extract date,
// FULL before DELTA, then message ID.
func sortMessages(ms []*store.Message) {
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		return appliedBefore(a.Extract, a.Kind, a.MessageID, b.Extract, b.Kind, b.MessageID)
	})
}

// appliedBefore is the order of one LA's returns (batch/returns/returns.md): extract
// date, FULL before DELTA on a date, then message ID.
func appliedBefore(ea caldate.Date, ka, ida string, eb caldate.Date, kb, idb string) bool {
	if c := ea.Compare(eb); c != 0 {
		return c < 0
	}
	if ka != kb {
		return ka == string(returns.Full)
	}
	return ida < idb
}
