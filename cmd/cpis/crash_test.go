//go:build linux

package main

// Kill tests of the lifecycle (mesh/mailboxes.md, "Lifecycle"): a crash or kill -9
// at any moment, followed by the next run, ends exactly as if nothing had
// happened. The test drops the same returns into fresh data directories,
// SIGKILLs `cpis ingest` (or `cpis nightly`) at a moment chosen from the
// run's observed progress (killplan_test.go), runs it again to
// completion, and compares the data directory with a reference run that
// was never killed. Enough kills must land mid-run (after the first file
// step, before the end), or the test fails: see minMidRun.
//
// Each iteration logs its seed; replay a failure with
//
//	CPIS_CRASH_SEED=<seed> CPIS_CRASH_ITER=1 go test -run Crash/ingest ./cmd/cpis
//
// (a kill's moment between two steps still depends on the machine's
// speed).

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/ingest"
	"cpis/mesh"
)

// crashNow is the --now of every run: London date 2026-11-22.
const crashNow = "2026-11-22T02:30:00Z"

// crashMTime is the modification time given to every file dropped into an
// inbox, so derived message IDs are the same in every data directory, and
// old enough by the real clock for a file without control file to settle.
var crashMTime = time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kill tests build and run the cpis binary")
	}
	start := time.Now()
	fx := newCrashFixture(t)
	t.Logf("setup (build, template) took %v", time.Since(start).Round(time.Millisecond))

	t.Run("ingest", func(t *testing.T) {
		fx.killLoop(t, "ingest", crashIterations(10))
	})
	t.Run("nightly", func(t *testing.T) {
		fx.killLoop(t, "nightly", crashIterations(5))
	})
	t.Run("shared-control", fx.sharedControl)
	t.Logf("TestCrash took %v", time.Since(start).Round(time.Millisecond))
}

func crashIterations(def int) int {
	if s := os.Getenv("CPIS_CRASH_ITER"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// crashFixture is the binary and a template data directory (initialised,
// returns in the inboxes) that each iteration copies.
type crashFixture struct {
	bin      string
	template string
	tmp      string
	// shared are two data files sharing one control file, left out of
	// the template: see TestCrash/shared-control.
	shared []crashFile
}

func newCrashFixture(t *testing.T) *crashFixture {
	t.Helper()
	tmp := t.TempDir()
	fx := &crashFixture{bin: cpisBinary(t), template: filepath.Join(tmp, "template"), tmp: tmp}

	// The first 12 authorities of testdata/authorities.csv (201-212): each
	// iteration copies the data dir, and 153 mailboxes' folders would take
	// most of its time.
	authorities := filepath.Join(tmp, "authorities.csv")
	if err := os.WriteFile(authorities, []byte(firstAuthorities(t, 12)), 0o600); err != nil {
		t.Fatal(err)
	}
	people := crashPeople(4000)
	pds := filepath.Join(tmp, "demographics.csv")
	if err := os.WriteFile(pds, crashDemographics(people), 0o600); err != nil {
		t.Fatal(err)
	}
	fx.mustRun(t, fx.template, "init", "--authorities", authorities, "--pds", pds)
	for _, f := range crashReturns(people) {
		if f.shared {
			fx.shared = append(fx.shared, f)
			continue
		}
		fx.drop(t, fx.template, f)
	}
	return fx
}

// drop puts f into its inbox in dir, with the fixed modification time.
func (fx *crashFixture) drop(t *testing.T, dir string, f crashFile) {
	t.Helper()
	inbox := filepath.Join(dir, "mailboxes", f.mailbox, "inbox")
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(inbox, name), b, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(inbox, name), crashMTime, crashMTime); err != nil {
			t.Fatal(err)
		}
	}
	if f.data != nil {
		write(f.name, f.data)
	}
	if f.ctl != nil {
		write(mesh.ControlName(f.name), f.ctl)
	}
}

func (fx *crashFixture) command(dir string, args ...string) *exec.Cmd {
	return binCommand(fx.bin, dir, crashNow, nil, args...)
}

// mustRun runs cpis to completion and fails the test unless it exits 0.
func (fx *crashFixture) mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return binOK(t, fx.bin, dir, crashNow, args...)
}

// fresh copies the template into a new data directory.
func (fx *crashFixture) fresh(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(fx.tmp, name)
	copyTree(t, fx.template, dst)
	return dst
}

// killLoop is one variant: reference runs, then iterations of kill and
// recover, each compared with the reference.
func (fx *crashFixture) killLoop(t *testing.T, job string, iterations int) {
	begin := time.Now()

	// The reference: never killed, its file steps watched. The job runs
	// twice, because some work only happens on a later run by design (a
	// DELTA that waited behind a held FULL), and a third run must change
	// nothing.
	ref := fx.fresh(t, job+"-ref")
	refRun := runWatched(t, fx.command(ref, job), ref, nil)
	if refRun.err != nil {
		t.Fatalf("reference %s: %v\n%s", job, refRun.err, refRun.log)
	}
	refOne := fx.snap(t, ref)
	fx.mustRun(t, ref, job)
	want := fx.snap(t, ref)
	fx.mustRun(t, ref, job)
	if d := cmp.Diff(want, fx.snap(t, ref)); d != "" {
		t.Fatalf("reference: a third %s changed the data directory (-second +third):\n%s", job, d)
	}
	if len(want.Problems) > 0 {
		t.Fatalf("reference: %s", strings.Join(want.Problems, "\n"))
	}
	if d := cmp.Diff(refOne, want); d != "" {
		// One uninterrupted run must leave every response written (a held
		// FULL superseded by a later FULL gets its F011 in the same run).
		t.Errorf("reference: the second %s still changed the data directory (-first +second):\n%s", job, d)
	}
	crashCheckReference(t, want)
	steps := refRun.steps()
	if steps < 10 {
		t.Fatalf("reference: %s made %d file steps, want at least 10 to kill between", job, steps)
	}
	t.Logf("reference %s: %d file steps in %v; %d plans, %d responses", job, steps, refRun.seen[len(refRun.seen)-1].at.Round(time.Millisecond),
		strings.Count(want.Plans, "\n")-1, want.responseCount())

	seed := killSeed(t, "CPIS_CRASH_SEED")
	var before, mid, after, unkilled int
	for i := range iterations {
		s := seed + uint64(i)
		plan := refRun.plan(rand.New(rand.NewPCG(s, 0x6370697363726173)))
		dir := fx.fresh(t, fmt.Sprintf("%s-%d", job, i))
		run := runWatched(t, fx.command(dir, job), dir, &plan)
		if !run.killed && run.err != nil {
			t.Fatalf("iteration %d: %s failed before the kill: %v\n%s", i, job, run.err, run.log)
		}

		killed := fx.snap(t, dir)
		where := "killed mid-run"
		switch {
		case !run.killed:
			where = "not killed: it finished first"
			unkilled++
		case killed.untouched():
			where = "killed before any step"
			before++
		case cmp.Equal(killed, refOne) || cmp.Equal(killed, want):
			where = "killed after the last step"
			after++
		default:
			mid++
		}
		replay := fmt.Sprintf("replay: CPIS_CRASH_SEED=%d CPIS_CRASH_ITER=1; kill %v after step %d of %d; %s", s, plan.delay, plan.step, steps, where)
		t.Logf("iteration %d (%s)", i, replay)

		// The next run finishes the work: it ends as the reference's first
		// run did, or as its second (a superseded held FULL's F011
		// response is only written by a later run, see the reference).
		fx.mustRun(t, dir, job)
		if got := fx.snap(t, dir); !cmp.Equal(got, refOne) && !cmp.Equal(got, want) {
			t.Errorf("iteration %d (%s): after the next %s, the data directory differs from the reference (-want +got):\n%s\nkilled run's output:\n%s",
				i, replay, job, cmp.Diff(refOne, got), run.log)
		}
		fx.mustRun(t, dir, job)
		if d := cmp.Diff(want, fx.snap(t, dir)); d != "" {
			t.Errorf("iteration %d (%s): after two more runs, the data directory differs from the reference (-want +got):\n%s\nkilled run's output:\n%s",
				i, replay, d, run.log)
		}
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	}
	t.Logf("%s: %d iterations: %d killed before any step, %d mid-run, %d after the last step, %d finished first, %v",
		job, iterations, before, mid, after, unkilled, time.Since(begin).Round(time.Millisecond))
	if mid < minMidRun(iterations) {
		t.Errorf("%s: only %d of %d kills landed mid-run (between the first file step and the end), want at least %d: the kills are not following the run's progress",
			job, mid, iterations, minMidRun(iterations))
	}
}

// sharedControl kills ingest right after the first of two data files that
// share one control file has left the inbox, before the second is taken:
// at that exact step, through the fault hook mesh.EnvFaultKillSync (the
// run kills itself after its Nth durable file step; the test tries N = 1,
// 2, ... until the first file has left).
//
// Uninterrupted, both files are CPF01/F002 ("share one control file") and
// the control file is archived as stale. The files are taken in one
// transaction, so a kill can never leave the second alone with the control
// file to be paired with it and applied.
func (fx *crashFixture) sharedControl(t *testing.T) {
	// The template's inboxes emptied, the two files dropped: the steps
	// before theirs are few.
	setup := func(name string) string {
		dir := fx.fresh(t, name)
		inboxes, err := filepath.Glob(filepath.Join(dir, "mailboxes", "*", "inbox", "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range inboxes {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range fx.shared {
			fx.drop(t, dir, f)
		}
		return dir
	}
	ref := setup("shared-ref")
	fx.mustRun(t, ref, "ingest")
	fx.mustRun(t, ref, "ingest")
	want := fx.snap(t, ref)
	box := fx.shared[0].mailbox
	for _, f := range fx.shared {
		if slices.Contains(want.Inboxes[box], f.name) {
			t.Fatalf("reference: %s not taken", f.name)
		}
	}

	inbox := func(dir, name string) bool {
		_, err := os.Lstat(filepath.Join(dir, "mailboxes", box, "inbox", name))
		return err == nil
	}
	a, b := fx.shared[0].name, fx.shared[1].name
	for n := 1; n <= 50; n++ {
		dir := setup(fmt.Sprintf("shared-%d", n))
		cmd := fx.command(dir, "ingest")
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", mesh.EnvFaultKillSync, n))
		out, err := cmd.CombinedOutput()
		if !killedBySignal(err) {
			t.Fatalf("ingest with %s=%d was not killed at that step (%v): it made fewer steps, and %s and %s never left the inbox one at a time\n%s",
				mesh.EnvFaultKillSync, n, err, a, b, out)
		}
		inA, inB := inbox(dir, a), inbox(dir, b)
		if inA && inB {
			_ = os.RemoveAll(dir)
			continue
		}
		if !inA && !inB {
			t.Fatalf("killed after file step %d, both %s and %s have left the inbox, after step %d neither: no kill can land between them", n, a, b, n-1)
		}
		gone, left := a, b
		if inA {
			gone, left = b, a
		}
		t.Logf("killed after file step %d: %s has left the inbox, %s not", n, gone, left)
		fx.mustRun(t, dir, "ingest")
		fx.mustRun(t, dir, "ingest")
		if d := cmp.Diff(want, fx.snap(t, dir)); d != "" {
			t.Errorf("killed after %s left the inbox (file step %d), before %s: after two more runs, the data directory differs from the reference (-want +got):\n%s", gone, n, left, d)
		}
		return
	}
	t.Fatalf("after 50 file steps of ingest, %s and %s are still in the inbox", a, b)
}

// crashSnapshot is what the Lifecycle contract fixes about a data
// directory, in a form comparable across directories (response file names
// carry a random message ID, so responses are keyed by the return's ID).
type crashSnapshot struct {
	Plans   string              // plans export
	Returns []string            // returns list --json, one line each
	Inboxes map[string][]string // mailbox -> inbox files
	Archive map[string][]string // mailbox -> archive/<mailbox>/in files
	// Responses: mailbox -> return message ID -> response contents
	// (sorted), each followed by its control file's workflow and subject.
	Responses map[string]map[string][]string
	Problems  []string // temporary files, unpaired control files, .N duplicates
}

func (s crashSnapshot) untouched() bool {
	return len(s.Archive) == 0 && len(s.Responses) == 0 && len(s.Returns) == 0 && strings.Count(s.Plans, "\n") <= 1
}

func (s crashSnapshot) responseCount() int {
	n := 0
	for _, byID := range s.Responses {
		for _, rs := range byID {
			n += len(rs)
		}
	}
	return n
}

func (fx *crashFixture) snap(t *testing.T, dir string) crashSnapshot {
	t.Helper()
	s := crashSnapshot{Inboxes: map[string][]string{}, Archive: map[string][]string{}, Responses: map[string]map[string][]string{}}

	// Through the binary, as operations would (and faster than the
	// race-instrumented store in this process).
	s.Plans = fx.mustRun(t, dir, "plans", "export")
	if out := strings.TrimSpace(fx.mustRun(t, dir, "returns", "list", "--json")); out != "" {
		s.Returns = strings.Split(out, "\n")
	}

	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp") {
			rel, _ := filepath.Rel(dir, p)
			s.Problems = append(s.Problems, "temporary file left: "+rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	boxes, err := os.ReadDir(filepath.Join(dir, "mailboxes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, box := range boxes {
		mb := box.Name()
		if names := listDir(t, filepath.Join(dir, "mailboxes", mb, "inbox")); len(names) > 0 {
			s.Inboxes[mb] = names
		}
		if names := listDir(t, filepath.Join(dir, "archive", mb, "in")); len(names) > 0 {
			s.Archive[mb] = names
			for _, n := range names {
				if crashNumbered(n) {
					s.Problems = append(s.Problems, fmt.Sprintf("archive/%s/in/%s: archived twice", mb, n))
				}
			}
		}
		outbox := filepath.Join(dir, "mailboxes", mb, "outbox")
		names := listDir(t, outbox)
		have := map[string]bool{}
		for _, n := range names {
			have[n] = true
		}
		for _, n := range names {
			switch {
			case strings.HasSuffix(n, ".ctl"):
				if !have[strings.TrimSuffix(n, ".ctl")+".csv"] {
					s.Problems = append(s.Problems, fmt.Sprintf("outbox %s: control file %s without data file", mb, n))
				}
				continue
			case !strings.HasSuffix(n, ".csv"):
				s.Problems = append(s.Problems, fmt.Sprintf("outbox %s: unexpected file %s", mb, n))
				continue
			}
			id, content, ctl, problem := crashResponse(filepath.Join(outbox, n))
			if problem != "" {
				s.Problems = append(s.Problems, fmt.Sprintf("outbox %s: %s: %s", mb, n, problem))
			}
			if s.Responses[mb] == nil {
				s.Responses[mb] = map[string][]string{}
			}
			s.Responses[mb][id] = append(s.Responses[mb][id], content+"--- control: "+ctl)
		}
		for id := range s.Responses[mb] {
			sort.Strings(s.Responses[mb][id])
		}
	}
	sort.Strings(s.Problems)
	return s
}

// crashNumbered reports a name with a ".N" part before its extension, the
// mark of a second archiving under the same name.
func crashNumbered(name string) bool {
	parts := strings.Split(name, ".")
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err == nil {
			return true
		}
	}
	return false
}

// crashResponse reads an outbox response: the return's message ID (first
// column), its content, a description of its control file, and any
// problem (no control file, control file not naming it).
func crashResponse(path string) (id, content, ctl, problem string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", "", err.Error()
	}
	content = string(b)
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) < 2 || strings.Join(recs[0], ",") != ingest.ResponseHeader {
		return "", content, "", fmt.Sprintf("not a response: %v", err)
	}
	id = recs[1][0]
	name := filepath.Base(path)
	cb, err := os.ReadFile(strings.TrimSuffix(path, ".csv") + ".ctl")
	if err != nil {
		return id, content, "", "no control file"
	}
	c, err := mesh.ParseControl(bytes.NewReader(cb))
	switch {
	case err != nil:
		problem = "control file: " + err.Error()
	case c.LocalID != name:
		problem = fmt.Sprintf("control file names %s", c.LocalID)
	case !strings.HasSuffix(strings.TrimSuffix(name, ".csv"), "_"+c.DTSID):
		problem = fmt.Sprintf("control file's DTSId %s is not the response's", c.DTSID)
	}
	return id, content, c.WorkflowID + " " + c.From + " " + c.To + " " + c.Subject, problem
}

// crashCheckReference checks that the reference exercises what the kill
// test is about, so a change of the inputs cannot make it vacuous.
func crashCheckReference(t *testing.T, s crashSnapshot) {
	t.Helper()
	all := ""
	for _, byID := range s.Responses {
		for _, rs := range byID {
			all += strings.Join(rs, "\n")
		}
	}
	for _, code := range []string{",0,,,CPF02,", ",0,,,CPF03,", "CPF04,F009", "CPF04,F011", "CPF04,F007", "CPF04,F003", "CPF04,F008", "CPF04,F010", "CPF01,F002", ",CPR01,P001,", ",CPR07,R005,"} {
		if !strings.Contains(all, code) {
			t.Errorf("reference: no response with %s", code)
		}
	}
	// A control file archived alone is named <message ID>_<name> too.
	if !slices.ContainsFunc(s.Archive["LA205HC001"], func(n string) bool {
		id, name, ok := strings.Cut(n, "_CPIS_")
		return ok && len(id) == 27 && name == "205_FULL_20261101_lost.ctl"
	}) {
		t.Errorf("reference: CPIS_205_FULL_20261101_lost.ctl not archived as a stale control file: %v", s.Archive["LA205HC001"])
	}
	if len(s.Inboxes) == 0 {
		t.Errorf("reference: no DELTA waits behind a held FULL")
	}
	if len(s.Returns) == 0 {
		t.Errorf("reference: no held return")
	}
}

// ---- inputs ----

type crashPerson struct {
	nhs, family, given string
	dob                time.Time
}

// crashUnknownNHS is a valid NHS number that no crashPeople has.
var crashUnknownNHS = nhsFrom("999900001")

// crashPeople makes n people with valid NHS numbers in the 999 test range.
func crashPeople(n int) []crashPerson {
	var out []crashPerson
	for i := 0; len(out) < n; i++ {
		nhs := nhsFrom(fmt.Sprintf("999%06d", 100000+i*7))
		if nhs == "" {
			continue
		}
		j := len(out)
		out = append(out, crashPerson{
			nhs:    nhs,
			family: "Fam" + crashLetters(j),
			given:  "Giv" + crashLetters(j*7+3),
			dob:    time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, (j*37)%2900),
		})
	}
	return out
}

func crashLetters(n int) string {
	s := ""
	for k := 0; k < 4; k++ {
		s += string(rune('a' + n%26))
		n /= 26
	}
	return s
}

func crashDemographics(people []crashPerson) []byte {
	var b bytes.Buffer
	b.WriteString("nhs_number,family_name,given_name,date_of_birth,superseded_by,sensitive,date_of_death\n")
	for _, p := range people {
		fmt.Fprintf(&b, "%s,%s,%s,%s,,N,\n", p.nhs, p.family, p.given, p.dob.Format("2006-01-02"))
	}
	return b.Bytes()
}

// crashRow is one row of a return.
type crashRow struct {
	nhs, typ, start, end, due, local, action string
}

// crashFile is a return dropped into an inbox; ctl nil means no control
// file (the message ID is then derived from the file), data nil a control
// file alone.
type crashFile struct {
	mailbox, name string
	data, ctl     []byte
	shared        bool // shares its control file with another data file
}

func crashCtl(mailbox, name string, id int, from string) []byte {
	t := time.Date(2026, 11, 21, 1, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Second)
	dts := fmt.Sprintf("%s%06d_%06X", t.Format("20060102150405"), id, 0xC0000+id)
	return mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: from, To: mesh.HubMailbox,
		Subject: "return", LocalID: name, DTSID: dts, WorkflowID: mesh.WorkflowUpload,
		IsCompressed: strings.HasSuffix(name, ".gz")}.Marshal()
}

func crashCSV(rows []crashRow, delta bool) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := []string{"nhs_number", "plan_type", "start_date", "end_date", "due_date", "local_id"}
	if delta {
		head = append(head, "action")
	}
	_ = w.Write(head)
	for _, r := range rows {
		rec := []string{r.nhs, r.typ, r.start, r.end, r.due, r.local}
		if delta {
			rec = append(rec, r.action)
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return b.Bytes()
}

func crashXML(la, kind, extract string, rows []crashRow) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CPISReturn xmlns=\"urn:cpis:return:1\" la=%q kind=%q extractDate=%q>\n", la, kind, extract)
	for _, r := range rows {
		fmt.Fprintf(&b, "  <Plan><NHSNumber>%s</NHSNumber><PlanType>%s</PlanType><StartDate>%s</StartDate><EndDate>%s</EndDate><DueDate>%s</DueDate><LocalId>%s</LocalId>", r.nhs, r.typ, r.start, r.end, r.due, r.local)
		if kind == "DELTA" {
			fmt.Fprintf(&b, "<Action>%s</Action>", r.action)
		}
		b.WriteString("</Plan>\n")
	}
	b.WriteString("</CPISReturn>\n")
	return b.Bytes()
}

func crashGzip(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

// crashFull is the FULL return of LA la for its people: a CPP for each, a
// LAC for every third (one in ten of them ended a year before today, so
// it is stored but expires by today), a UCPP for every fifth, and a few
// rows demographics rejects (CPR01: unknown numbers).
func crashFull(la string, people []crashPerson, version int) []crashRow {
	var rows []crashRow
	for i, p := range people {
		if version > 1 && i%40 == 7 {
			continue // withdrawn by the later FULL (2.5%: no hold)
		}
		end := ""
		if version > 1 && i%25 == 3 {
			end = "2026-11-01"
		}
		rows = append(rows, crashRow{nhs: p.nhs, typ: "CPP", start: fmt.Sprintf("2025-%02d-%02d", 1+i%12, 1+i%28), end: end, local: fmt.Sprintf("%s-C-%d", la, i)})
		if i%3 == 0 {
			end := ""
			if i%30 == 0 {
				end = "2025-11-20"
			}
			rows = append(rows, crashRow{nhs: p.nhs, typ: "LAC", start: "2024-06-15", end: end, local: fmt.Sprintf("%s-L-%d", la, i)})
		}
		if i%5 == 0 {
			rows = append(rows, crashRow{nhs: p.nhs, typ: "UCPP", start: "2026-09-01", due: "2027-03-01", local: fmt.Sprintf("%s-U-%d", la, i)})
		}
		if i%97 == 0 {
			rows = append(rows, crashRow{nhs: crashUnknownNHS, typ: "CPP", start: "2026-01-01", local: fmt.Sprintf("%s-X-%d", la, i)})
		}
	}
	return rows
}

// crashDelta changes plans of every step-th person: ends CPPs, deletes
// LACs, adds UCPPs.
func crashDelta(la string, people []crashPerson, step, offset int) []crashRow {
	var rows []crashRow
	for i := offset; i < len(people); i += step {
		p := people[i]
		switch i % 3 {
		case 0:
			rows = append(rows, crashRow{nhs: p.nhs, typ: "LAC", local: fmt.Sprintf("%s-L-%d", la, i), action: "DELETE"})
		case 1:
			rows = append(rows, crashRow{nhs: p.nhs, typ: "CPP", start: "2025-02-02", end: "2026-11-15", local: fmt.Sprintf("%s-C-%d", la, i), action: "UPSERT"})
		default:
			rows = append(rows, crashRow{nhs: p.nhs, typ: "UCPP", start: "2026-10-10", due: "2027-01-20", local: fmt.Sprintf("%s-U2-%d", la, i)})
		}
	}
	return rows
}

// crashReturns are the returns of five LAs, covering every path of a
// message's lifecycle: applied FULL and DELTA (CSV, gzip, XML, no control
// file), a held FULL superseded by a later one (F009, F011), a held FULL
// with a DELTA waiting behind it, a repeat (F007), a bad control file
// (F002), another LA's file (F003), a date after today (F008), more than
// half the rows rejected (F010).
func crashReturns(people []crashPerson) []crashFile {
	share := func(k int) []crashPerson {
		var out []crashPerson
		for i := k; i < len(people); i += 5 {
			out = append(out, people[i])
		}
		return out
	}
	id := 0
	var files []crashFile
	add := func(la, name string, data []byte, ctl bool, from string) {
		mb := mesh.MailboxID(la)
		f := crashFile{mailbox: mb, name: name, data: data}
		if ctl {
			id++
			if from == "" {
				from = mb
			}
			f.ctl = crashCtl(mb, name, id, from)
		}
		files = append(files, f)
	}

	// 201: FULL, DELTA, DELTA without control file, later FULL (gzip),
	// DELTA in XML.
	p := share(0)
	add("201", "CPIS_201_FULL_20261118.csv", crashCSV(crashFull("201", p, 1), false), true, "")
	add("201", "CPIS_201_DELTA_20261119.csv", crashCSV(crashDelta("201", p, 7, 1), true), true, "")
	add("201", "CPIS_201_DELTA_20261120_noctl.csv", crashCSV(crashDelta("201", p, 11, 2), true), false, "")
	add("201", "CPIS_201_FULL_20261121.csv.gz", crashGzip(crashCSV(crashFull("201", p, 2), false)), true, "")
	add("201", "CPIS_201_DELTA_20261122.xml", crashXML("201", "DELTA", "2026-11-22", crashDelta("201", p, 13, 5)), true, "")

	// 202: FULL, a truncated FULL (held), a later FULL that supersedes it.
	p = share(1)
	full := crashFull("202", p, 1)
	add("202", "CPIS_202_FULL_20261118.csv", crashCSV(full, false), true, "")
	add("202", "CPIS_202_FULL_20261119_cut.csv", crashCSV(full[:25], false), true, "")
	add("202", "CPIS_202_FULL_20261121.csv", crashCSV(crashFull("202", p, 2), false), true, "")

	// 203: FULL in XML, a truncated FULL (held), a DELTA that waits.
	p = share(2)
	full = crashFull("203", p, 1)
	add("203", "CPIS_203_FULL_20261118.xml", crashXML("203", "FULL", "2026-11-18", full), true, "")
	add("203", "CPIS_203_FULL_20261119_cut.csv", crashCSV(full[:30], false), true, "")
	add("203", "CPIS_203_DELTA_20261120.csv", crashCSV(crashDelta("203", p, 9, 0), true), true, "")

	// 204: FULL, DELTA, the same DELTA again under another name with the
	// same message ID (F007), a bad control file (F002), another LA's
	// file (F003), a date after today (F008), mostly rejected (F010).
	p = share(3)
	add("204", "CPIS_204_FULL_20261119.csv", crashCSV(crashFull("204", p, 1), false), true, "")
	delta := crashCSV(crashDelta("204", p, 5, 4), true)
	add("204", "CPIS_204_DELTA_20261120_a.csv", delta, true, "")
	id-- // same DTSId as the previous message
	add("204", "CPIS_204_DELTA_20261120_b.csv", delta, true, "")
	add("204", "CPIS_204_FULL_20261121_badctl.csv", crashCSV(crashFull("204", p, 2), false), true, "LA999HC001")
	add("204", "CPIS_205_DELTA_20261121.csv", crashCSV(crashDelta("205", p, 50, 0), true), true, "")
	add("204", "CPIS_204_DELTA_20261123.csv", crashCSV(crashDelta("204", p, 50, 0), true), true, "")
	bad := []crashRow{
		{nhs: crashUnknownNHS, typ: "CPP", start: "2026-01-01", local: "b1"},
		{nhs: "12345", typ: "CPP", start: "2026-01-01", local: "b2"},
		{nhs: p[0].nhs, typ: "XYZ", start: "2026-01-01", local: "b3"},
		{nhs: p[1].nhs, typ: "CPP", start: "2026-01-01", local: "b4"},
	}
	add("204", "CPIS_204_DELTA_20261122_bad.csv", crashCSV(bad, true), true, "")

	// 205: FULL (gzip) with some rejected rows, then a DELTA.
	p = share(4)
	full = crashFull("205", p, 1)
	for i := 0; i < len(full); i += 20 {
		full[i].start = "not a date"
	}
	add("205", "CPIS_205_FULL_20261120.csv.gz", crashGzip(crashCSV(full, false)), true, "")
	add("205", "CPIS_205_DELTA_20261121.csv", crashCSV(crashDelta("205", p, 3, 1), true), true, "")
	// Two data files sharing one control file (F002 each; the control
	// file, old by the real clock, is archived as stale), and a control
	// file with no data file.
	add("205", "CPIS_205_DELTA_20261122_pair.csv", crashCSV(crashDelta("205", p, 60, 2), true), true, "")
	add("205", "CPIS_205_DELTA_20261122_pair.xml", crashXML("205", "DELTA", "2026-11-22", crashDelta("205", p, 70, 2)), false, "")
	files[len(files)-2].shared, files[len(files)-1].shared = true, true
	add("205", "CPIS_205_FULL_20261101_lost.csv", nil, true, "")
	return files
}
