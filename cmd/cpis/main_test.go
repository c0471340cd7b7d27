package main

// Helpers shared by the tests of this package: the cpis binary (built once
// per test run), processes started from it, golden files, buffers, data
// directory copies and listings.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store/nhsnumber"
)

// binDir holds the cpis binary, built by the first test that needs it and
// removed when the tests end.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	if addr := os.Getenv("CPIS_FLOOD_ATTACK"); addr != "" {
		os.Exit(runFloodAttacker(addr)) // this binary is a bench's attacker
	}
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// cpisBinary returns the path of the cpis binary, built once per test run.
// It is built without the race detector, even when the tests have it: it
// makes each run ten times slower, and the tests that run the binary are
// about what it leaves on disk. CPIS_BIN_RACE=1 builds it with -race all
// the same (when the tests have it).
func cpisBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cpis-bin-")
		if err != nil {
			binError = err
			return
		}
		binDir = dir
		args := []string{"build", "-o", filepath.Join(dir, "cpis")}
		if raceEnabled() && os.Getenv("CPIS_BIN_RACE") == "1" {
			args = append(args, "-race")
		}
		start := time.Now()
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		binPath = filepath.Join(dir, "cpis")
		t.Logf("built the cpis binary in %v", time.Since(start).Round(time.Millisecond))
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// binCommand is cpis args on data at now (CPIS_DATA cleared), extra
// environment added.
func binCommand(bin, data, now string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"--data", data, "--now", now}, args...)...)
	cmd.Env = append(append(os.Environ(), "CPIS_DATA="), env...)
	return cmd
}

// binResult is what one run of the binary printed and how it ended.
type binResult struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// binRun runs cpis args on data at now to completion (killed after 60 s)
// in the folder dir ("" for the test's).
func binRun(t testing.TB, bin, dir, data, now string, args ...string) binResult {
	t.Helper()
	cmd := binCommand(bin, data, now, nil, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	start := time.Now()
	err := cmd.Run()
	r := binResult{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("cpis %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// binOK runs cpis args on data at now; it must exit 0. It returns stdout.
func binOK(t testing.TB, bin, data, now string, args ...string) string {
	t.Helper()
	r := binRun(t, bin, "", data, now, args...)
	if r.code != 0 {
		t.Fatalf("cpis %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// proc is a cpis process started by a test, its stdout and stderr in log.
type proc struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's, once done is closed
}

// startProc starts cmd; the test's cleanup kills it if it still runs.
func startProc(t testing.TB, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// wait waits up to timeout for the process to end; ok is false if it did not.
func (p *proc) wait(timeout time.Duration) (err error, ok bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// kill sends SIGKILL (if the process still runs) and waits for its end.
func (p *proc) kill() error {
	_ = p.cmd.Process.Kill()
	<-p.done
	return p.err
}

// syncBuffer is a bytes.Buffer a running process writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// golden compares got with testdata/<area>/<name> at the top of the
// module, rewriting it under -update.
func golden(t *testing.T, area, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", area, name)
	if cliUpdate() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// copyTree copies the data dir src to dst, replacing dst: folders and
// regular files, with their modes and modification times (a daemon's
// control socket is left out).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(out, info.Mode().Perm())
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(out, b, info.Mode().Perm()); err != nil {
			return err
		}
		return os.Chtimes(out, info.ModTime(), info.ModTime())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// listDir returns the names in dir, sorted; nil when dir is absent.
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// nhsFrom returns the valid NHS number made of the 9 digits base and a
// check digit, or "" when no check digit makes one.
func nhsFrom(base string) string {
	for c := '0'; c <= '9'; c++ {
		if nhsnumber.Valid(base + string(c)) {
			return base + string(c)
		}
	}
	return ""
}

// testNHS returns n valid NHS numbers of the 999 test range, in order from
// 9990000000.
func testNHS(n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if num := nhsFrom(fmt.Sprintf("999%06d", i)); num != "" {
			out = append(out, num)
		}
	}
	return out
}

// pdsCSV is a demographics reference of the people nhs, all born on
// 2015-01-01, nothing else known.
func pdsCSV(nhs []string) string {
	var b strings.Builder
	b.WriteString("nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n")
	for _, n := range nhs {
		fmt.Fprintf(&b, "%s,,,2015-01-01,,,\n", n)
	}
	return b.String()
}

// firstAuthorities is testdata/authorities.csv cut to its header and first
// n authorities.
func firstAuthorities(t testing.TB, n int) string {
	t.Helper()
	all, err := os.ReadFile(cliAuthorities)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(all), "\n")
	return strings.Join(lines[:min(n+1, len(lines))], "")
}
