package schedule

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"cpis/store/caldate"
)

// The hub's jobs; the daemon supplies a function for each.
const (
	Pull   = "pull"   // fetch returns from remote mailboxes
	Ingest = "ingest" // take, check, apply and answer waiting returns
	Expire = "expire" // purge plans no longer visible
	Notify = "notify" // write each LA's daily access file
	Report = "report" // the operations report
	Push   = "push"   // deliver outbox messages to remote mailboxes
)

// Jobs returns the names of the hub's jobs, in the order of the night.
func Jobs() []string { return []string{Pull, Ingest, Expire, Notify, Report, Push} }

// Ext is the suffix of schedule files.
const Ext = ".schedule"

// Errors of a schedule set, wrapped in an *Error.
var (
	ErrUnknownJob      = errors.New("unknown job")
	ErrBadSpec         = errors.New("bad schedule")
	ErrDuplicate       = errors.New("job scheduled twice")
	ErrMissingJob      = errors.New("job not scheduled")
	ErrClockChangeHour = errors.New("runs in the 01:00-01:59 London hour")
	ErrNoFiles         = errors.New("no schedule files")
)

// Error is one problem of a schedule set, where a user must fix it.
type Error struct {
	File  string // file name within the set; empty for the set as a whole
	Line  int    // 1-based; 0 when the problem has no line
	Value string // the offending spec or job name
	Err   error  // one of the Err* sentinels, wrapped with detail
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	case e.File != "":
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	default:
		return e.Err.Error()
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Entry schedules one job.
type Entry struct {
	Job  string // one of Jobs (Load checks it)
	Spec string // a 5-field cron spec or a descriptor (@daily, @every 15m)
	File string // where it was read; empty for an Entry built in code
	Line int
}

// Set is a whole set of schedules, one Entry per job, in file and line
// order.
type Set struct {
	Entries []Entry
}

// Entry returns the entry of job.
func (s Set) Entry(job string) (Entry, bool) {
	for _, e := range s.Entries {
		if e.Job == job {
			return e, true
		}
	}
	return Entry{}, false
}

// Next returns the next n run times of job strictly after from, in London
// time; nil when the set has no usable entry for job.
func (s Set) Next(job string, from time.Time, n int) []time.Time {
	e, ok := s.Entry(job)
	if !ok {
		return nil
	}
	sched, err := parseSpec(e.Spec)
	if err != nil {
		return nil
	}
	var out []time.Time
	t := from
	for range n {
		t = sched.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t.In(caldate.London))
	}
	return out
}

// parseSpec parses one spec as the Scheduler runs it, in London time.
func parseSpec(spec string) (cron.Schedule, error) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("no time zone allowed: every job runs in Europe/London time")
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if s, ok := sched.(*cron.SpecSchedule); ok {
		s.Location = caldate.London
	}
	return sched, nil
}

// Load reads every *.schedule file at the top of fsys and checks the whole
// set. The error, if any, joins one *Error per problem (errors.Join), in
// file and line order, then the jobs not scheduled.
func Load(fsys fs.FS) (Set, error) {
	des, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return Set{}, fmt.Errorf("read schedules: %w", err)
	}
	var set Set
	var errs []error
	seen := map[string]Entry{}
	files := 0
	for _, de := range des {
		if !de.Type().IsRegular() || !strings.HasSuffix(de.Name(), Ext) {
			continue
		}
		files++
		es, ferrs, err := loadFile(fsys, de.Name(), seen)
		if err != nil {
			return Set{}, err
		}
		set.Entries = append(set.Entries, es...)
		errs = append(errs, ferrs...)
	}
	if files == 0 {
		return Set{}, &Error{Err: fmt.Errorf("%w: no *%s file", ErrNoFiles, Ext)}
	}
	for _, job := range Jobs() {
		if _, ok := seen[job]; !ok {
			errs = append(errs, &Error{Value: job, Err: fmt.Errorf("%w: %q has no schedule line (every job must be scheduled once)", ErrMissingJob, job)})
		}
	}
	if len(errs) > 0 {
		return Set{}, errors.Join(errs...)
	}
	return set, nil
}

// loadFile parses one file; seen holds the entries read so far, in this
// file and those before it.
func loadFile(fsys fs.FS, name string, seen map[string]Entry) ([]Entry, []error, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("read schedules: %w", err)
	}
	defer f.Close()
	var entries []Entry
	var errs []error
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		e, err := parseLine(fields)
		e.File, e.Line = name, n
		if err != nil {
			err.File, err.Line = name, n
			errs = append(errs, err)
			if _, ok := seen[e.Job]; e.Job != "" && !ok {
				seen[e.Job] = e // reported here, not again as missing
			}
			continue
		}
		if old, ok := seen[e.Job]; ok {
			errs = append(errs, &Error{File: name, Line: n, Value: e.Job,
				Err: fmt.Errorf("%w: %q, already at %s:%d", ErrDuplicate, e.Job, old.File, old.Line)})
			continue
		}
		seen[e.Job] = e
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read schedules: %s: %w", name, err)
	}
	return entries, errs, nil
}

// parseLine checks one line's fields: spec, then job.
func parseLine(fields []string) (Entry, *Error) {
	nspec := 5
	switch {
	case fields[0] == "@every":
		nspec = 2
	case strings.HasPrefix(fields[0], "@"):
		nspec = 1
	case strings.HasPrefix(fields[0], "TZ=") || strings.HasPrefix(fields[0], "CRON_TZ="):
		return Entry{}, &Error{Value: fields[0], Err: fmt.Errorf("%w %q: no time zone allowed, every job runs in Europe/London time", ErrBadSpec, fields[0])}
	}
	if len(fields) < nspec+1 {
		return Entry{}, &Error{Value: strings.Join(fields, " "),
			Err: fmt.Errorf("%w %q: want a 5-field cron spec (or @daily, @every 15m, ...) then a job name", ErrBadSpec, strings.Join(fields, " "))}
	}
	spec, job := strings.Join(fields[:nspec], " "), fields[nspec]
	if len(fields) > nspec+1 {
		return Entry{Job: job}, &Error{Value: strings.Join(fields[nspec+1:], " "),
			Err: fmt.Errorf("%w: unexpected %q after job %q (one spec and one job a line; no flags)", ErrBadSpec, strings.Join(fields[nspec+1:], " "), job)}
	}
	if !slices.Contains(Jobs(), job) {
		return Entry{}, &Error{Value: job, Err: fmt.Errorf("%w %q (jobs: %s)", ErrUnknownJob, job, strings.Join(Jobs(), ", "))}
	}
	sched, err := parseSpec(spec)
	if err != nil {
		return Entry{Job: job}, &Error{Value: spec, Err: fmt.Errorf("%w %q for %s: %v", ErrBadSpec, spec, job, err)}
	}
	if sched.Next(time.Now()).IsZero() {
		return Entry{Job: job}, &Error{Value: spec, Err: fmt.Errorf("%w %q for %s: never runs", ErrBadSpec, spec, job)}
	}
	if s, ok := sched.(*cron.SpecSchedule); ok && s.Hour&(1<<1) != 0 && s.Hour&(1<<24-1) != 1<<24-1 {
		return Entry{Job: job}, &Error{Value: spec, Err: fmt.Errorf("%w: %q for %s; the spring clock change skips that hour and the autumn one repeats it: choose another hour, or run at least hourly", ErrClockChangeHour, spec, job)}
	}
	return Entry{Job: job, Spec: spec}, nil
}
