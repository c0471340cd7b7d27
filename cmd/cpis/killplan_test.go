//go:build linux

package main

// How the kill tests time their kills: from the progress a run is seen to
// make, not from a clock. A run's file steps (a return leaving an inbox for
// the archive, a response or notification appearing in an outbox, a
// report written) are watched while it runs (inotify wakes the watcher on
// each change in the data dir's folders); a reference run never killed
// gives the moments its progress was seen; each killed run is then
// SIGKILLed once it has made as many steps as the reference had at one of
// those moments, after a random part of the time the reference took to the
// next. Kills so land before the first step, between steps (in the store's
// transactions between them too) and after the last, spread over the
// moments the run makes progress rather than over its wall time.

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fileSteps counts the file steps made in a data dir since it was
// created: the regular files under mailboxes/, archive/ and reports/
// (temporary dot files aside) that appeared or went away. Every folder it
// has seen is watched for changes.
type fileSteps struct {
	dir     string
	start   map[string]bool
	inotify int      // the inotify descriptor
	events  *os.File // the same, for reads with a deadline
	watched map[string]bool
}

func newFileSteps(t testing.TB, dir string) *fileSteps {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	p := &fileSteps{dir: dir, inotify: fd, events: os.NewFile(uintptr(fd), "inotify"), watched: map[string]bool{}}
	t.Cleanup(func() { p.events.Close() })
	p.start = p.files(t)
	return p
}

// files lists the files, watching every folder on the way.
func (p *fileSteps) files(t testing.TB) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	p.watch(t, p.dir)
	for _, top := range []string{"mailboxes", "archive", "reports"} {
		_ = filepath.WalkDir(filepath.Join(p.dir, top), func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				// A folder made or removed while listed, or absent.
			case d.IsDir():
				p.watch(t, path)
			case d.Type().IsRegular() && !strings.HasPrefix(d.Name(), "."):
				out[path] = true
			}
			return nil
		})
	}
	return out
}

func (p *fileSteps) watch(t testing.TB, dir string) {
	if p.watched[dir] {
		return
	}
	const mask = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO | syscall.IN_ONLYDIR
	if _, err := syscall.InotifyAddWatch(p.inotify, dir, mask); err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) {
			return // gone since listed
		}
		t.Fatalf("inotify watch %s: %v", dir, err)
	}
	p.watched[dir] = true
}

// steps returns the number of file steps made so far.
func (p *fileSteps) steps(t testing.TB) int {
	now := p.files(t)
	n := 0
	for f := range now {
		if !p.start[f] {
			n++
		}
	}
	for f := range p.start {
		if !now[f] {
			n++
		}
	}
	return n
}

// wait returns after a change in a watched folder, or after d.
func (p *fileSteps) wait(d time.Duration) {
	_ = p.events.SetReadDeadline(time.Now().Add(d))
	var buf [64 << 10]byte
	_, _ = p.events.Read(buf[:])
}

// killMoment is when to kill a run: once it has made step file steps,
// after delay, or as soon as it has made until steps.
type killMoment struct {
	step, until int
	delay       time.Duration
}

// progressSeen is a moment a run was seen to have made steps file steps.
type progressSeen struct {
	at    time.Duration // since the start
	steps int
}

// watchedRun is how a run started by runWatched ended.
type watchedRun struct {
	killed bool   // SIGKILLed as planned (not finished first)
	err    error  // the process's exit
	log    string // its stdout and stderr
	seen   []progressSeen
}

// runWatched runs cmd on the data dir dir, watching its steps, and kills
// it as plan says (nil: never). A run that outlives 60 s is killed and
// fails the test.
func runWatched(t testing.TB, cmd *exec.Cmd, dir string, plan *killMoment) watchedRun {
	t.Helper()
	files := newFileSteps(t, dir)
	p := startProc(t, cmd)
	start := time.Now()
	var w watchedRun
	look := func() int {
		n := files.steps(t)
		if len(w.seen) == 0 && n > 0 || len(w.seen) > 0 && n != w.seen[len(w.seen)-1].steps {
			w.seen = append(w.seen, progressSeen{at: time.Since(start), steps: n})
		}
		return n
	}
	var armed time.Time // when the run made plan.step steps
	for {
		if done, _ := p.exited(); done {
			break
		}
		wait := 10 * time.Millisecond
		if n := look(); plan != nil && n >= plan.step {
			if armed.IsZero() {
				armed = time.Now()
			}
			left := plan.delay - time.Since(armed)
			if n >= plan.until || left <= 0 {
				_ = p.cmd.Process.Kill()
				break
			}
			wait = min(wait, left)
		}
		if time.Since(start) > 60*time.Second {
			p.kill()
			t.Fatalf("%s still runs after 60 s:\n%s", strings.Join(cmd.Args, " "), p.log)
		}
		files.wait(wait)
	}
	w.err = p.kill()
	w.killed = plan != nil && killedBySignal(w.err)
	w.log = p.log.String()
	if !w.killed {
		look() // the steps of the end of the run
	}
	return w
}

// steps is the number of file steps the run was last seen to have made.
func (w watchedRun) steps() int {
	if len(w.seen) == 0 {
		return 0
	}
	return w.seen[len(w.seen)-1].steps
}

// plan picks a kill from a reference run: once the steps of one of the
// moments its progress was seen (or none: before the first step) are
// made, after a random part of the time the reference took to the next
// moment, or at once when that next moment's steps are made.
func (w watchedRun) plan(rng *rand.Rand) killMoment {
	o := rng.IntN(len(w.seen))
	m := killMoment{until: w.seen[o].steps}
	var from time.Duration
	if o > 0 {
		m.step, from = w.seen[o-1].steps, w.seen[o-1].at
	}
	if gap := w.seen[o].at - from; gap > 0 {
		m.delay = time.Duration(rng.Int64N(int64(gap)))
	}
	return m
}

// killedBySignal reports whether err is the exit of a process ended by
// SIGKILL.
func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// minMidRun is how many of n kills timed by plan must land mid-run: a
// third, at least one. About nine in ten do (a kill meant for the last
// moments may find the run finished), so fewer means the kills no longer
// follow the run's progress.
func minMidRun(n int) int {
	return max(1, (n+2)/3)
}

// killSeed is the seed of a kill loop's random choices: $env when set (to
// replay a run), else the clock.
func killSeed(t testing.TB, env string) uint64 {
	t.Helper()
	if s := os.Getenv(env); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}
