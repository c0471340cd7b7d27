package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"cpis/store/caldate"
)

// ErrPanic marks the Err of a Run whose job panicked.
var ErrPanic = errors.New("job panicked")

// Run is one run of a job, or one skipped because the job was still
// running.
type Run struct {
	Job      string
	Start    time.Time // London time
	Duration time.Duration
	Err      error // nil on success; wraps ErrPanic after a panic
	Skipped  bool  // not run: the previous run was still going
	// Counts are what the job reported with AddCount (nil if nothing).
	Counts map[string]int
}

// NextRun is a job's next run, for the daemon's start-up log.
type NextRun struct {
	Job  string
	Spec string
	Next time.Time // London time; zero if the spec never fires again
}

// Option configures a Scheduler.
type Option func(*Scheduler)

// WithOnRun calls f after each run and each skipped run, from the job's
// goroutine (so jobs finishing together call it concurrently). The daemon
// persists runs there for `cpis jobs`; f should not block for long.
func WithOnRun(f func(Run)) Option { return func(s *Scheduler) { s.onRun = f } }

// WithHistory keeps the last n runs for Recent (default 100).
func WithHistory(n int) Option { return func(s *Scheduler) { s.keep = max(n, 0) } }

// Scheduler runs jobs on a Set's schedules in London time.
type Scheduler struct {
	log   *slog.Logger
	onRun func(Run)
	keep  int
	jobs  map[string]func(context.Context) error
	// guards stop a job's runs overlapping across a Reload, which replaces
	// its cron (and so the SkipIfStillRunning token) while a run may go on.
	guards map[string]*sync.Mutex

	mu       sync.Mutex
	set      Set
	crons    map[string]*jobCron
	ctx      context.Context // the jobs' context, from Start
	state    int
	draining []context.Context // Stop contexts of crons replaced by Reload
	recent   []Run
}

const (
	stateNew = iota
	stateStarted
	stateStopped
)

type jobCron struct {
	spec string
	c    *cron.Cron
}

// New returns a Scheduler for set, not yet started. jobs must hold a
// function for every job of set. New and Reload trust set's policy (Load
// checks it) but parse every spec again. log may be nil.
func New(set Set, jobs map[string]func(ctx context.Context) error, log *slog.Logger, opts ...Option) (*Scheduler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{log: log, keep: 100, jobs: jobs, guards: map[string]*sync.Mutex{}}
	for _, o := range opts {
		o(s)
	}
	crons, err := s.build(set)
	if err != nil {
		return nil, err
	}
	s.set, s.crons = set, crons
	return s, nil
}

// build makes one cron per entry of set, or fails on the first unusable
// one without side effects.
func (s *Scheduler) build(set Set) (map[string]*jobCron, error) {
	crons := map[string]*jobCron{}
	for _, e := range set.Entries {
		fn := s.jobs[e.Job]
		if fn == nil {
			return nil, fmt.Errorf("schedule job %q: no such job in the daemon", e.Job)
		}
		if _, dup := crons[e.Job]; dup {
			return nil, fmt.Errorf("schedule job %q: %w", e.Job, ErrDuplicate)
		}
		sched, err := parseSpec(e.Spec)
		if err != nil {
			return nil, fmt.Errorf("schedule job %q: %w %q: %v", e.Job, ErrBadSpec, e.Spec, err)
		}
		l := cronLogger{s: s, job: e.Job}
		// One cron per job, so the logger knows which job robfig's
		// wrappers speak of. The order of the chain matters on v3.0.1:
		// SkipIfStillRunning outside, Recover inside. Recover outside would
		// let a panic unwind through SkipIfStillRunning before it puts its
		// token back, and every later run of the job would be skipped.
		c := cron.New(cron.WithLocation(caldate.London),
			cron.WithChain(cron.SkipIfStillRunning(l), cron.Recover(l)),
			cron.WithLogger(l))
		job, guard := e.Job, s.guard(e.Job)
		c.Schedule(sched, cron.FuncJob(func() { s.runJob(job, fn, guard) }))
		crons[e.Job] = &jobCron{spec: e.Spec, c: c}
	}
	return crons, nil
}

func (s *Scheduler) guard(job string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guards[job]
	if g == nil {
		g = new(sync.Mutex)
		s.guards[job] = g
	}
	return g
}

// Start starts running the jobs on their schedules. ctx is the context
// every run gets: cancelling it asks running jobs to stop. To let a running
// job finish on SIGTERM, pass a context the signal does not cancel, call
// Stop, wait (bounded) on its Done, and only then cancel ctx.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return errors.New("scheduler already started")
	}
	s.ctx, s.state = ctx, stateStarted
	for _, jc := range s.crons {
		jc.c.Start()
	}
	return nil
}

// Stop stops new runs and returns a context that is done once every
// running job has returned. It does not cancel the jobs' context.
func (s *Scheduler) Stop() context.Context {
	s.mu.Lock()
	waits := s.draining
	s.draining = nil
	for _, jc := range s.crons {
		waits = append(waits, jc.c.Stop())
	}
	s.state = stateStopped
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for _, w := range waits {
			<-w.Done()
		}
		cancel()
	}()
	return ctx
}

// Reload replaces the schedules with set's, only if every entry of set is
// usable; otherwise nothing changes. Jobs whose spec is unchanged keep
// their timing; a job still running under its old schedule finishes, and a
// run of the new one due meanwhile is skipped.
func (s *Scheduler) Reload(set Set) error {
	fresh, err := s.build(set)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateStopped {
		return errors.New("scheduler stopped")
	}
	for job, old := range s.crons {
		if nc, ok := fresh[job]; ok && nc.spec == old.spec {
			fresh[job] = old
			continue
		}
		s.draining = append(s.draining, old.c.Stop())
		s.log.Info("job schedule changed", "job", job, "old", old.spec)
	}
	if s.state == stateStarted {
		for job, jc := range fresh {
			if s.crons[job] != jc {
				jc.c.Start()
			}
		}
	}
	s.set, s.crons = set, fresh
	// Forget the Stop contexts of replaced crons that have drained.
	s.draining = dropDone(s.draining)
	return nil
}

func dropDone(cs []context.Context) []context.Context {
	out := cs[:0]
	for _, c := range cs {
		if c.Err() == nil {
			out = append(out, c)
		}
	}
	return out
}

// Set returns the schedules in force.
func (s *Scheduler) Set() Set {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set
}

// NextRuns returns each job's next run, in the set's order: as cron has it
// once started, else computed from now.
func (s *Scheduler) NextRuns() []NextRun {
	s.mu.Lock()
	set, crons, started := s.set, s.crons, s.state == stateStarted
	s.mu.Unlock()
	now := time.Now()
	var out []NextRun
	for _, e := range set.Entries {
		nr := NextRun{Job: e.Job, Spec: e.Spec}
		if jc := crons[e.Job]; started && jc != nil {
			if es := jc.c.Entries(); len(es) == 1 && !es[0].Next.IsZero() {
				nr.Next = es[0].Next.In(caldate.London)
			}
		}
		if nr.Next.IsZero() {
			if ts := set.Next(e.Job, now, 1); len(ts) == 1 {
				nr.Next = ts[0]
			}
		}
		out = append(out, nr)
	}
	return out
}

// Recent returns the last runs kept (WithHistory), oldest first.
func (s *Scheduler) Recent() []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Run(nil), s.recent...)
}

func (s *Scheduler) record(r Run) {
	s.mu.Lock()
	if s.keep > 0 {
		if len(s.recent) == s.keep {
			s.recent = append(s.recent[:0], s.recent[1:]...)
		}
		s.recent = append(s.recent, r)
	}
	onRun := s.onRun
	s.mu.Unlock()
	if onRun != nil {
		onRun(r)
	}
}

// runJob is what cron runs, inside SkipIfStillRunning and Recover.
func (s *Scheduler) runJob(job string, fn func(context.Context) error, guard *sync.Mutex) {
	start := time.Now()
	if !guard.TryLock() {
		s.skipped(job, start)
		return
	}
	defer guard.Unlock()
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	counts := &counter{}
	ctx = context.WithValue(ctx, countsKey{}, counts)
	s.log.Info("job start", "job", job)
	var err error
	defer func() {
		r := recover()
		if r != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
		run := Run{Job: job, Start: start.In(caldate.London), Duration: time.Since(start), Err: err, Counts: counts.snapshot()}
		if err != nil {
			s.log.Error("job failed", "job", job, "duration", run.Duration, "err", err)
		} else {
			s.log.Info("job done", "job", job, "duration", run.Duration)
		}
		s.record(run)
		if r != nil {
			panic(r) // for cron.Recover, the next wrapper out, to log with the stack
		}
	}()
	err = fn(ctx)
}

func (s *Scheduler) skipped(job string, at time.Time) {
	s.log.Warn("job skipped: its previous run is still going", "job", job)
	s.record(Run{Job: job, Start: at.In(caldate.London), Skipped: true})
}

// cronLogger is robfig's logger for one job's cron, onto slog.
type cronLogger struct {
	s   *Scheduler
	job string
}

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" { // SkipIfStillRunning's only message, v3.0.1
		l.s.skipped(l.job, time.Now())
		return
	}
	l.s.log.Debug("cron "+msg, append([]any{"job", l.job}, kv...)...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.s.log.Error("cron "+msg, append([]any{"job", l.job, "err", err}, kv...)...)
}

type countsKey struct{}

type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 {
		return nil
	}
	return maps.Clone(c.m)
}

// AddCount adds n to the count name of the run whose context is ctx (for
// Run.Counts: "applied", "files", ...). Safe from several goroutines; does
// nothing outside a scheduled run.
func AddCount(ctx context.Context, name string, n int) {
	c, ok := ctx.Value(countsKey{}).(*counter)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[name] += n
}
