// Package bench runs the hub's whole night on generated national data in
// a temporary data dir and measures each stage: rows per second, wall time,
// peak resident memory (bbolt's mapped file counts there) and the peak Go
// heap beside it. `cpis bench` prints it; the package's Go benchmarks run
// the same stages.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"cpis/batch/datadir"
	"cpis/batch/expire"
	"cpis/batch/generate"
	"cpis/batch/ingest"
	"cpis/batch/notify"
	"cpis/batch/report"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/caldate"
)

// Options say what to run.
type Options struct {
	// Dir is an empty directory to work in (generated files, data dir).
	Dir string
	// Plans is the national number of plans; 0 means 250,000.
	Plans int
	// Authorities is how many LAs (of 153); 0 means all.
	Authorities int
	Seed        uint64
	// Start is the moment of the first night (its London date is the day
	// after the FULL returns' extract date).
	Start time.Time
	// Progress receives a line as each stage ends (nil: none).
	Progress io.Writer
	// SQLite is the sqlite3 command to compare with ("": none): after the
	// hub's stages it imports the same demographics and FULL returns into
	// a database of keyed tables (sqlite.go) and adds those two stages.
	SQLite string
}

// Names of the stages the comparison with sqlite3 sets side by side.
const (
	StageInit               = "init + demographics import"
	StageIngestFull         = "night 1: ingest FULL"
	StageSQLiteDemographics = "sqlite3: demographics .import"
	StageSQLiteFull         = "sqlite3: FULL .import"
)

// Stage is one measured stage.
type Stage struct {
	Name     string        `json:"stage"`
	Rows     int           `json:"rows"`
	Wall     time.Duration `json:"wall_ns"`
	CPU      time.Duration `json:"cpu_ns"`          // user and system time of the process (of sqlite3 for its stages)
	PeakRSS  uint64        `json:"peak_rss_bytes"`  // whole process, bbolt's map included
	PeakHeap uint64        `json:"peak_heap_bytes"` // Go heap in use (0 for sqlite3)
	Bytes    int64         `json:"file_bytes"`      // the store file in use after the stage (store.DB.Size; sqlite3's database for its stages)
}

// RowsPerSecond is Rows over Wall.
func (s Stage) RowsPerSecond() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.Rows) / s.Wall.Seconds()
}

// Run generates the data and runs every stage in order: generate, init
// with the demographics import, the first night (ingest of every LA's FULL
// return, expire, notify, report) and the second night (ingest of every
// LA's DELTA return: about 1% of plans change).
func Run(ctx context.Context, opts Options) ([]Stage, error) {
	if opts.Plans == 0 {
		opts.Plans = generate.DefaultPlans
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	night1 := opts.Start
	day1 := caldate.InLondon(night1)
	night2 := night1.Add(24 * time.Hour)
	gen := filepath.Join(opts.Dir, "generated")
	data := filepath.Join(opts.Dir, "data")

	var stages []Stage
	var res *generate.Result
	var db *store.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	measure := func(name string, rows func() int, f func() error) error {
		st, err := measured(name, f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		st.Rows = rows()
		if db != nil {
			st.Bytes, _ = db.Size()
		}
		stages = append(stages, st)
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "%-28s %9d rows  %8.2fs\n", st.Name, st.Rows, st.Wall.Seconds())
		}
		return nil
	}
	// A step's before runs first, unmeasured: dropping the returns into
	// the inboxes is the LAs' MESH clients' work, not the hub's (and
	// sqlite3's import reads the generated files where they are). Then
	// what is dirty is written back (settle), as it would be long before
	// a night's run.
	steps := []struct {
		name   string
		rows   func() int
		f      func() error
		before func() error
	}{
		{"generate", func() int { return res.Plans }, func() error {
			var err error
			res, err = generate.Generate(generate.Options{Out: gen, Plans: opts.Plans, Authorities: opts.Authorities,
				Seed: opts.Seed, Extract: day1.AddDays(-1), Accesses: -1})
			return err
		}, nil},
		{StageInit, func() int { return res.People }, func() error {
			a, err := os.Open(filepath.Join(gen, generate.AuthoritiesFile))
			if err != nil {
				return err
			}
			defer a.Close()
			p, err := os.Open(filepath.Join(gen, generate.DemographicsFile))
			if err != nil {
				return err
			}
			defer p.Close()
			if err := datadir.Init(data, datadir.InitOptions{Authorities: datadir.Source{Name: a.Name(), R: a},
				Demographics: &datadir.Source{Name: p.Name(), R: p}, Now: night1.Add(-time.Hour)}); err != nil {
				return err
			}
			db, err = store.Open(data, store.Options{})
			return err
		}, nil},
		{StageIngestFull, func() int { return res.Plans }, func() error {
			return runIngest(ctx, data, db, night1)
		}, func() error {
			return drop(res, data, func(r generate.LAReturns) string { return r.Full })
		}},
		{"night 1: expire", func() int { return res.Plans }, func() error {
			_, err := expire.Run(db, night1)
			return err
		}, nil},
		{"night 1: notify", func() int { return len(res.Returns) }, func() error {
			_, err := notify.Run(notify.Config{DataDir: data, DB: db, Now: night2})
			return err
		}, nil},
		{"night 1: report", func() int { return res.Plans }, func() error {
			_, err := report.Nightly(data, db, night1)
			return err
		}, nil},
		{"night 2: ingest DELTA (1%)", func() int { return res.DeltaRows }, func() error {
			return runIngest(ctx, data, db, night2)
		}, func() error {
			return drop(res, data, func(r generate.LAReturns) string { return r.Delta })
		}},
	}
	for _, s := range steps {
		if s.before != nil {
			if err := s.before(); err != nil {
				return stages, fmt.Errorf("%s: %w", s.name, err)
			}
		}
		settle()
		if err := measure(s.name, s.rows, s.f); err != nil {
			return stages, err
		}
	}
	if opts.SQLite != "" {
		sq, err := sqliteStages(ctx, opts.SQLite, res, opts.Dir)
		for _, st := range sq {
			stages = append(stages, st)
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "%-28s %9d rows  %8.2fs\n", st.Name, st.Rows, st.Wall.Seconds())
			}
		}
		if err != nil {
			return stages, err
		}
	}
	return stages, nil
}

// drop copies each LA's return into its inbox with a control file, as its
// MESH client would.
func drop(res *generate.Result, data string, which func(generate.LAReturns) string) error {
	for _, r := range res.Returns {
		rel := which(r)
		if rel == "" {
			continue
		}
		src := filepath.Join(res.Dir, filepath.FromSlash(rel))
		name := filepath.Base(src)
		box := mesh.MailboxID(r.LA)
		inbox := filepath.Join(data, "mailboxes", box, "inbox")
		body, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(inbox, name), body, 0o640); err != nil {
			return err
		}
		ctl := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: box, To: mesh.HubMailbox,
			Subject: "bench", LocalID: name, WorkflowID: mesh.WorkflowUpload,
			DTSID: mesh.NewMessageID(time.Now())}
		if err := os.WriteFile(filepath.Join(inbox, mesh.ControlName(name)), ctl.Marshal(), 0o640); err != nil {
			return err
		}
	}
	return nil
}

func runIngest(ctx context.Context, data string, db *store.DB, now time.Time) error {
	rep, err := ingest.Run(ctx, ingest.Config{DataDir: data, DB: db, Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	if len(rep.Failed) > 0 {
		return rep.Failed[0]
	}
	for _, r := range rep.Results {
		if r.Code != "CPF02" && r.Code != "CPF03" {
			return fmt.Errorf("%s: %s %s", r.File, r.Code, r.Detail)
		}
	}
	return nil
}

// measured runs f and reports its wall time, the peak resident memory of
// the process while it ran (Linux: VmHWM, reset first) and the peak Go
// heap in use (sampled every 10 ms).
func measured(name string, f func() error) (Stage, error) {
	runtime.GC()
	resetPeakRSS()
	var peakHeap uint64
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peakHeap = max(peakHeap, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	cpu0 := cpuTime()
	start := time.Now()
	var err error
	// A CPU profile can be cut by stage: go tool pprof -tagfocus stage=...
	pprof.Do(context.Background(), pprof.Labels("stage", name), func(context.Context) { err = f() })
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	return Stage{Name: name, Wall: wall, CPU: cpu, PeakRSS: peakRSS(), PeakHeap: peakHeap}, err
}

// Compare returns the ratios of the hub's stage a to sqlite3's stage b
// of the same rows (a over b), in wall time and in CPU time; ok is false
// when stages lacks either.
func Compare(stages []Stage, a, b string) (wall, cpu float64, ok bool) {
	var sa, sb *Stage
	for i := range stages {
		switch stages[i].Name {
		case a:
			sa = &stages[i]
		case b:
			sb = &stages[i]
		}
	}
	if sa == nil || sb == nil || sb.Wall <= 0 || sb.CPU <= 0 {
		return 0, 0, false
	}
	return sa.Wall.Seconds() / sb.Wall.Seconds(), sa.CPU.Seconds() / sb.CPU.Seconds(), true
}

// resetPeakRSS resets the kernel's high-water mark of resident memory
// (Linux 4.0+); elsewhere peaks are for the whole run so far.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the process's peak resident memory (VmHWM), or 0.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
