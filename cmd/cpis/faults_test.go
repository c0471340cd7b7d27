//go:build linux

package main

// Faults (issue 6): a response that cannot be written (the outbox is not a
// folder, or its disk is full), the store locked by another process, a
// mailbox folder removed, a run killed during notify or expire. Each must
// fail cleanly where it has to and resume correctly on the next run.

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
	"cpis/mesh/testenv"
	"cpis/store"
)

const faultHeader = "nhs_number,plan_type,start_date,end_date,due_date,local_id"

// faultReturns are FULL returns dated 2026-11-21 for three LAs, children of
// testdata/demographics.csv.
var faultReturns = map[string][]string{
	"201": {"9990276579,CPP,2026-03-02,,,P-1", "9993765570,LAC,2025-01-10,,,P-2"},
	"202": {"9994812866,CPP,2026-02-01,,,C-1", "9995860155,CPP,2026-04-01,,,C-2"},
	"203": {"9996907449,LAC,2026-01-05,,,G-1", "9997954734,CPP,2026-05-05,,,G-2"},
}

// faultHub is a hub of the first 12 authorities (201-212) with the
// testdata demographics.
func faultHub(t *testing.T, now string) *cliHub {
	t.Helper()
	h := newCLIHub(t)
	h.okAt(now, "init", "--authorities", h.file("authorities.csv", firstAuthorities(t, 12)), "--pds", cliDemographics)
	return h
}

func (h *cliHub) sendFull(now, la, date string, rows []string) {
	h.t.Helper()
	name := fmt.Sprintf("CPIS_%s_FULL_%s.csv", la, date)
	h.okAt(now, "mailbox", "send", "--la", la, h.file(name, crlf(append([]string{faultHeader}, rows...)...)))
}

func (h *cliHub) mailbox(la, folder string) string {
	return filepath.Join(h.data, "mailboxes", mesh.MailboxID(la), folder)
}

// message returns LA la's only message, read from the store.
func (h *cliHub) message(la string) *store.Message {
	h.t.Helper()
	db, err := store.Open(h.data, store.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	var ms []*store.Message
	if err := db.View(func(tx *store.Tx) error {
		return tx.Messages(la, func(m *store.Message) error { ms = append(ms, m); return nil })
	}); err != nil {
		h.t.Fatal(err)
	}
	if len(ms) != 1 {
		h.t.Fatalf("LA %s has %d messages, want 1", la, len(ms))
	}
	return ms[0]
}

// codesOf returns "la file code detail read/applied" for each ingest --json
// line.
func codesOf(t *testing.T, out string) []string {
	t.Helper()
	var got []string
	for _, o := range cliJSONLines(t, out) {
		got = append(got, fmt.Sprintf("%v %v %v%v %v/%v", o["la"], o["file"], o["code"], o["detail_code"], o["read"], o["applied"]))
	}
	return got
}

// TestFaultResponseWrite: the response of an applied return cannot be
// written. The return stays applied and not responded (decided, one
// response pending), ingest exits 1 naming the LA, the other LAs are
// answered; once the outbox is writable, the next run writes only the
// response.
func TestFaultResponseWrite(t *testing.T) {
	t.Run("outbox is not a folder", func(t *testing.T) {
		faultResponseWrite(t, func(t *testing.T, outbox string) func() {
			if err := os.RemoveAll(outbox); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(outbox, []byte("not a folder\n"), 0o640); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := os.Remove(outbox); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(outbox, 0o750); err != nil {
					t.Fatal(err)
				}
			}
		})
	})
	// A real ENOSPC: a tiny file system mounted on the outbox and filled
	// (root only, where mounting is allowed; permissions would not stop
	// root).
	t.Run("disk full", func(t *testing.T) {
		faultResponseWrite(t, func(t *testing.T, outbox string) func() {
			if err := syscall.Mount("tmpfs", outbox, "tmpfs", 0, "size=64k,mode=0750"); err != nil {
				testenv.Unavailable(t, testenv.Tmpfs, fmt.Sprintf("cannot mount a tmpfs (root only): %v", err))
			}
			t.Cleanup(func() { _ = syscall.Unmount(outbox, 0) })
			filler := filepath.Join(outbox, ".filler.tmp") // work in progress: never listed
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 4096)
			for {
				if _, err := f.Write(chunk); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatal(err)
					}
					break
				}
			}
			f.Close()
			return func() {
				if err := os.Remove(filler); err != nil {
					t.Fatal(err)
				}
			}
		})
	})
}

func faultResponseWrite(t *testing.T, breakOutbox func(t *testing.T, outbox string) (restore func())) {
	h := faultHub(t, cliNow)
	for _, la := range []string{"201", "202"} {
		h.sendFull(cliNow, la, "20261121", faultReturns[la])
	}
	outbox := h.mailbox("201", "outbox")
	restore := breakOutbox(t, outbox)

	r := h.run("ingest", "--json")
	if r.code != exitFailure {
		t.Fatalf("ingest: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if want := []string{"202 CPIS_202_FULL_20261121.csv CPF02 2/2"}; !cmp.Equal(codesOf(t, r.stdout), want) {
		t.Errorf("ingest reported %q, want %q", codesOf(t, r.stdout), want)
	}
	if !strings.Contains(r.stderr, "la=201") || !strings.Contains(r.stderr, "write response CPIS_201_RESPONSE_20261122_") ||
		!strings.HasSuffix(r.stderr, "cpis: 1 LA(s) could not be processed; the others were\n") {
		t.Errorf("stderr does not say LA 201 failed writing its response:\n%s", r.stderr)
	}
	t.Logf("the failed run said:\n%s", r.stderr)
	m := h.message("201")
	if m.State != store.Decided || !m.Applied || len(m.Responses) != 1 || len(m.Pending()) != 1 || m.Outcome == nil || m.Outcome.Code != "CPF02" {
		t.Fatalf("LA 201's return after the failed run: state %s, applied %v, %d responses, %d pending, outcome %+v; want decided, applied, 1 pending CPF02",
			m.State, m.Applied, len(m.Responses), len(m.Pending()), m.Outcome)
	}
	plans := h.plansExport()
	for _, row := range faultReturns["201"] {
		if !strings.Contains(plans, strings.SplitN(row, ",", 2)[0]+",201,") {
			t.Errorf("LA 201's return is not applied: plans\n%s", plans)
		}
	}
	archive := listDir(t, filepath.Join(h.data, "archive", "LA201HC001", "in"))

	restore()
	if got := listDir(t, outbox); len(got) != 0 {
		t.Fatalf("the failed run left %v in the outbox", got)
	}
	r = h.run("ingest", "--json")
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("ingest after the restore: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if want := []string{"201 CPIS_201_FULL_20261121.csv CPF02 2/2"}; !cmp.Equal(codesOf(t, r.stdout), want) {
		t.Errorf("ingest after the restore reported %q, want %q", codesOf(t, r.stdout), want)
	}
	if diff := cmp.Diff(plans, h.plansExport()); diff != "" {
		t.Errorf("the next run changed the plans (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(archive, listDir(t, filepath.Join(h.data, "archive", "LA201HC001", "in"))); diff != "" {
		t.Errorf("the next run changed the archive (-before +after):\n%s", diff)
	}
	resp := m.Responses[0].File
	if want := []string{resp, mesh.ControlName(resp)}; !cmp.Equal(listDir(t, outbox), want) {
		t.Errorf("outbox of LA 201 = %v, want only %v", listDir(t, outbox), want)
	}
	got := readCSV(t, filepath.Join(outbox, resp))
	if len(got) != 2 || got[1][0] != m.MessageID || got[1][4] != "CPF02" || !strings.HasPrefix(got[1][6], "read=2 applied=2 rejected=0 warnings=0 withdrawn=0 ") {
		t.Errorf("response %s = %q", resp, got)
	}
	if m := h.message("201"); m.State != store.Responded || len(m.Pending()) != 0 || len(m.Responses) != 1 {
		t.Errorf("LA 201's return after the next run: state %s, %d pending, %d responses; want responded, none, 1", m.State, len(m.Pending()), len(m.Responses))
	}
	if out := h.ok("ingest", "--json"); out != "" {
		t.Errorf("a third run reported %q, want nothing", out)
	}
}

// TestFaultMailboxRemoved: one LA's mailbox folder is gone when ingest
// runs. That LA fails (exit 1, named on stderr), the others are applied
// and answered; with the folder back, the next run takes that LA's return.
func TestFaultMailboxRemoved(t *testing.T) {
	h := faultHub(t, cliNow)
	for _, la := range []string{"201", "202", "203"} {
		h.sendFull(cliNow, la, "20261121", faultReturns[la])
	}
	box := filepath.Join(h.data, "mailboxes", "LA202HC001")
	if err := os.RemoveAll(box); err != nil {
		t.Fatal(err)
	}
	r := h.run("ingest", "--json")
	if r.code != exitFailure {
		t.Fatalf("ingest: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	want := []string{"201 CPIS_201_FULL_20261121.csv CPF02 2/2", "203 CPIS_203_FULL_20261121.csv CPF02 2/2"}
	if got := codesOf(t, r.stdout); !cmp.Equal(got, want) {
		t.Errorf("ingest reported %q, want %q", got, want)
	}
	if !strings.Contains(r.stderr, "la=202") || !strings.Contains(r.stderr, "list inbox") ||
		!strings.HasSuffix(r.stderr, "cpis: 1 LA(s) could not be processed; the others were\n") {
		t.Errorf("stderr does not say LA 202 failed:\n%s", r.stderr)
	}
	// The table output names the LA too.
	if r := h.run("ingest"); r.code != exitFailure || !strings.Contains(r.stdout, "FAILED LA 202: ") {
		t.Errorf("ingest (table): exit %d, stdout:\n%s", r.code, r.stdout)
	}
	plans := h.plansExport()
	if strings.Contains(plans, ",202,") || !strings.Contains(plans, ",201,") || !strings.Contains(plans, ",203,") {
		t.Errorf("plans after the run:\n%s", plans)
	}
	for _, la := range []string{"201", "203"} {
		if got := h.outbox(la); len(got) != 1 {
			t.Errorf("outbox of LA %s: %v, want one response", la, got)
		}
	}

	// The folder comes back (as init --force makes it) and the LA sends
	// again.
	h.ok("init", "--force", "--authorities", h.file("authorities.csv", firstAuthorities(t, 12)), "--pds", cliDemographics)
	if _, err := os.Stat(h.mailbox("202", "inbox")); err != nil {
		t.Fatalf("init --force did not make the mailbox again: %v", err)
	}
	h.sendFull(cliNow, "202", "20261121", faultReturns["202"])
	if got, want := codesOf(t, h.ok("ingest", "--json")), []string{"202 CPIS_202_FULL_20261121.csv CPF02 2/2"}; !cmp.Equal(got, want) {
		t.Errorf("the next run reported %q, want %q", got, want)
	}
	after := h.plansExport()
	if !strings.Contains(after, "9994812866,202,CPP") || !strings.Contains(after, "9995860155,202,CPP") {
		t.Errorf("LA 202's return not applied:\n%s", after)
	}
	for _, la := range []string{"201", "203"} {
		if got := h.outbox(la); len(got) != 1 {
			t.Errorf("outbox of LA %s after the next run: %v, want the one response", la, got)
		}
	}
}

// TestFaultBinary: faults that need the cpis binary: the store locked by
// another process, and runs of notify and expire killed (SIGKILL) at
// random moments.
func TestFaultBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the cpis binary")
	}
	bin := cpisBinary(t)
	t.Run("store locked", func(t *testing.T) { faultStoreLocked(t, bin) })
	t.Run("killed", func(t *testing.T) { faultKilled(t, bin) })
}

// faultStoreLocked holds the store file's lock (flock, as bbolt takes it)
// from this process: every command that needs the store exits 1 at once
// with a clear message, and changes nothing; released, ingest runs.
func faultStoreLocked(t *testing.T, bin string) {
	h := faultHub(t, cliNow)
	h.sendFull(cliNow, "201", "20261121", faultReturns["201"])
	f, err := os.OpenFile(filepath.Join(h.data, store.FileName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	before := faultTree(t, h.data, true)
	for _, args := range [][]string{{"ingest"}, {"ingest", "--json"}, {"notify"}, {"expire"}} {
		r := binRun(t, bin, "", h.data, cliNow, args...)
		if r.code != exitFailure || r.stdout != "" || r.took > 5*time.Second ||
			!strings.Contains(r.stderr, "the store is in use by another cpis process") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("cpis %s with the store locked: exit %d after %v\nstdout: %q\nstderr: %q\nwant exit 1 within 5s, one line saying the store is in use",
				strings.Join(args, " "), r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
		}
	}
	if diff := cmp.Diff(before, faultTree(t, h.data, true)); diff != "" {
		t.Errorf("the data dir changed while the store was locked (-before +after):\n%s", diff)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	out := binOK(t, bin, h.data, cliNow, "ingest", "--json")
	if want := []string{"201 CPIS_201_FULL_20261121.csv CPF02 2/2"}; !cmp.Equal(codesOf(t, out), want) {
		t.Errorf("ingest once the lock is released reported %q, want %q", codesOf(t, out), want)
	}
}

// faultTree describes every file under dir by its content (SHA-256), the
// store's too when withStore; folders by name.
func faultTree(t *testing.T, dir string, withStore bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out[rel+"/"] = ""
		case rel == store.FileName && !withStore:
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		default:
			out[rel] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The kill tests' clock: the store is made on 10 November, returns are
// applied that day, lookups happen on the days after; notify runs on 22
// November (12 days of 12 LAs owed), expire on 25 December (two plans no
// longer visible, every outbox message uncollected for over 30 days).
const (
	faultInit   = "2026-11-10T09:00:00Z"
	faultNotify = "2026-11-22T02:30:00Z"
	faultExpire = "2026-12-25T03:00:00Z"
)

// faultKilled kills notify, then expire, at random moments, and checks
// that the next run ends exactly as a run never killed.
func faultKilled(t *testing.T, bin string) {
	tmp := t.TempDir()
	tmpl := filepath.Join(tmp, "template")
	h := &cliHub{t: t, data: tmpl, files: t.TempDir()}
	h.okAt(faultInit, "init", "--authorities", h.file("authorities.csv", firstAuthorities(t, 12)), "--pds", cliDemographics)
	// Two plans leave visibility before 25 December: ended 2025-11-25 and
	// 2025-12-20.
	h.sendFull(faultInit, "201", "20261109", append(faultReturns["201"], "9990049319,CPP,2025-01-01,2025-11-25,,P-OLD"))
	h.sendFull(faultInit, "202", "20261109", append(faultReturns["202"], "9991096604,LAC,2025-02-01,2025-12-20,,C-OLD"))
	for _, o := range cliJSONLines(t, h.okAt(faultInit, "ingest", "--json")) {
		if o["code"] != "CPF02" {
			t.Fatalf("template ingest: %v", o)
		}
	}
	children := []string{"9990276579", "9994812866", "9993765570", "9990049319", "9995860155"}
	for day := 10; day <= 21; day++ {
		for i := range day % 3 {
			at := fmt.Sprintf("2026-11-%02dT%02d:15:00Z", day, 8+i)
			h.okAt(at, lkLookup(children[(day+i)%len(children)], "ED", fmt.Sprintf("Clinician %d", i))...)
		}
	}

	t.Run("notify", func(t *testing.T) {
		faultKillLoop(t, bin, tmp, tmpl, faultNotify, []string{"notify"}, nil, notifySnapshot)
	})

	// expire's template: the notify reference, every outbox message last
	// modified on 1 November.
	exTmpl := filepath.Join(tmp, "expire-template")
	copyTree(t, tmpl, exTmpl)
	binOK(t, bin, exTmpl, faultNotify, "notify")
	old := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	outboxes, _ := filepath.Glob(filepath.Join(exTmpl, "mailboxes", "*", "outbox", "*"))
	for _, p := range outboxes {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("expire", func(t *testing.T) {
		// Besides the random kills, the one moment a kill can leave a
		// message half moved: its data file archived, its control file
		// still in the outbox.
		halfMoved := func(t *testing.T, dir string) {
			out := filepath.Join(dir, "mailboxes", "LA201HC001", "outbox")
			name := "CPIS_201_ACCESS_20261115.csv"
			if err := os.MkdirAll(filepath.Join(dir, "archive", "LA201HC001", "out"), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(out, name), filepath.Join(dir, "archive", "LA201HC001", "out", name)); err != nil {
				t.Fatal(err)
			}
		}
		faultKillLoop(t, bin, tmp, exTmpl, faultExpire, []string{"expire"}, halfMoved, func(t *testing.T, bin, dir string) faultSnapshot {
			s := notifySnapshot(t, bin, dir)
			s.Plans = binOK(t, bin, dir, faultExpire, "plans", "export")
			return s
		})
	})
}

// faultSnapshot is what a run of notify or expire decides about a data
// dir, comparable across copies (a message ID in a control file is
// random: only its form is kept).
type faultSnapshot struct {
	Files    map[string]string // mailboxes/ and archive/ files: content, control files described
	Plans    string
	Problems []string
}

func notifySnapshot(t *testing.T, bin, dir string) faultSnapshot {
	t.Helper()
	s := faultSnapshot{Files: map[string]string{}}
	for _, top := range []string{"mailboxes", "archive"} {
		root := filepath.Join(dir, top)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			name := d.Name()
			if strings.HasPrefix(name, ".") {
				s.Problems = append(s.Problems, "temporary file left: "+rel)
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if !strings.HasSuffix(name, ".ctl") || strings.Contains(rel, string(filepath.Separator)+"in"+string(filepath.Separator)) {
				s.Files[rel] = string(b)
				return nil
			}
			c, err := mesh.ParseControl(bytes.NewReader(b))
			if err != nil {
				s.Problems = append(s.Problems, rel+": "+err.Error())
				return nil
			}
			if !mesh.ValidMessageID(c.DTSID) {
				s.Problems = append(s.Problems, rel+": DTSId "+c.DTSID)
			}
			data := strings.TrimSuffix(p, ".ctl") + ".csv"
			if _, err := os.Stat(data); err != nil {
				s.Problems = append(s.Problems, rel+": control file without its data file")
			}
			s.Files[rel] = fmt.Sprintf("control %s %s->%s %s %q", c.WorkflowID, c.From, c.To, c.LocalID, c.Subject)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(s.Problems)
	return s
}

// faultKillLoop runs args on copies of tmpl: a reference run never killed,
// its file steps watched, then iterations killed at a moment chosen from
// the reference's steps (killplan_test.go; the first with inject applied
// instead of a kill, when set) and run again to completion; each must end
// as the reference, and a further run must change nothing. Enough kills
// must land mid-run (the data dir neither untouched nor as the reference
// leaves it): see minMidRun. Replay with CPIS_FAULT_SEED=<seed logged>.
func faultKillLoop(t *testing.T, bin, tmp, tmpl, now string, args []string, inject func(*testing.T, string), snap func(*testing.T, string, string) faultSnapshot) {
	ref := filepath.Join(tmp, args[0]+"-ref")
	copyTree(t, tmpl, ref)
	untouched := snap(t, bin, ref)
	copyTree(t, tmpl, ref)
	refRun := runWatched(t, binCommand(bin, ref, now, nil, args...), ref, nil)
	if refRun.err != nil {
		t.Fatalf("reference %s: %v\n%s", args[0], refRun.err, refRun.log)
	}
	want := snap(t, bin, ref)
	if len(want.Problems) > 0 {
		t.Fatalf("reference: %s", strings.Join(want.Problems, "\n"))
	}
	faultIdempotent(t, bin, ref, now, args[0])
	if d := cmp.Diff(want, snap(t, bin, ref)); d != "" {
		t.Fatalf("reference: a second %s changed the data dir (-first +second):\n%s", args[0], d)
	}
	switch args[0] {
	case "notify":
		n := 0
		for rel, content := range want.Files {
			if strings.Contains(rel, "_ACCESS_") && strings.HasSuffix(rel, ".csv") {
				n++
				if strings.Count(content, "\n") > 1 {
					n += 1000
				}
			}
		}
		if n < 144+1000 {
			t.Fatalf("reference: %d access files (+1000 per file with rows), want 144 and some rows", n)
		}
	case "expire":
		if strings.Contains(want.Plans, "P-OLD") || strings.Contains(want.Plans, "C-OLD") {
			t.Fatalf("reference: plans not purged:\n%s", want.Plans)
		}
	}
	steps := refRun.steps()
	if steps < 10 {
		t.Fatalf("reference: %s made %d file steps, want at least 10 to kill between", args[0], steps)
	}

	seed := killSeed(t, "CPIS_FAULT_SEED")
	rng := rand.New(rand.NewPCG(seed, 6))
	const iterations = 6
	kills, killedMid := 0, 0
	for i := range iterations {
		dir := filepath.Join(tmp, fmt.Sprintf("%s-%d", args[0], i))
		copyTree(t, tmpl, dir)
		what := ""
		if i == 0 && inject != nil {
			inject(t, dir)
			what = "injected fault"
		} else {
			kills++
			plan := refRun.plan(rng)
			run := runWatched(t, binCommand(bin, dir, now, nil, args...), dir, &plan)
			switch got := snap(t, bin, dir); {
			case !run.killed:
				if run.err != nil {
					t.Fatalf("iteration %d: %s failed before the kill: %v\n%s", i, args[0], run.err, run.log)
				}
				what = fmt.Sprintf("finished before the kill (%v after step %d of %d)", plan.delay, plan.step, steps)
			case cmp.Equal(got, untouched):
				what = fmt.Sprintf("killed before any step (%v after step %d of %d)", plan.delay, plan.step, steps)
			case cmp.Equal(got, want):
				what = fmt.Sprintf("killed after the last step (%v after step %d of %d)", plan.delay, plan.step, steps)
			default:
				what = fmt.Sprintf("killed mid-run (%v after step %d of %d)", plan.delay, plan.step, steps)
				killedMid++
			}
		}
		binOK(t, bin, dir, now, args...)
		if d := cmp.Diff(want, snap(t, bin, dir)); d != "" {
			t.Errorf("iteration %d (CPIS_FAULT_SEED=%d, %s): after the next %s, the data dir differs from the reference (-want +got):\n%s", i, seed, what, args[0], d)
		} else {
			t.Logf("iteration %d: %s: resumed", i, what)
		}
		faultIdempotent(t, bin, dir, now, args[0])
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	}
	t.Logf("%s: reference made %d file steps in %v; %d of %d kills landed mid-run (CPIS_FAULT_SEED=%d)",
		args[0], steps, refRun.seen[len(refRun.seen)-1].at.Round(time.Millisecond), killedMid, kills, seed)
	if killedMid < minMidRun(kills) {
		t.Errorf("%s: only %d of %d kills landed mid-run, want at least %d: the kills are not following the run's progress", args[0], killedMid, kills, minMidRun(kills))
	}
}

// faultIdempotent runs the job once more: it must do nothing.
func faultIdempotent(t *testing.T, bin, dir, now, job string) {
	t.Helper()
	switch job {
	case "notify":
		if out := binOK(t, bin, dir, now, "notify", "--json"); out != "" {
			t.Errorf("notify again wrote %q, want nothing", out)
		}
		if out := binOK(t, bin, dir, now, "notify", "--day", "2026-11-15", "--json"); out != "" {
			t.Errorf("notify --day 2026-11-15 again wrote %q, want nothing", out)
		}
	case "expire":
		if out := binOK(t, bin, dir, now, "expire", "--json"); !slices.Contains([]string{
			`{"plans_purged":0,"row_outcomes_purged":0,"lookup_audits_purged":0,"sftp_audits_purged":0,"mesh_audits_purged":0,"web_audits_purged":0,"web_sessions_purged":0,"outbox_archived":0}` + "\n",
		}, out) {
			t.Errorf("expire again: %q, want nothing purged or moved", out)
		}
	}
}
