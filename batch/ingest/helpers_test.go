package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/hubtest"
	"cpis/batch/ingest"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
	"cpis/store/plans"
)

// The fixed clocks of every case: the run happens at 02:30 on 22 November
// 2026 (London is on GMT then, so today is 2026-11-22 and a response is
// dated 20261122); every inbox file was last modified at sentAt unless a
// case says otherwise, so derived message IDs are fixed too.
var (
	runAt  = time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	sentAt = time.Date(2026, 11, 21, 1, 30, 0, 123456000, time.UTC)
)

const (
	mb841 = "LA841HC001" // Darlington
	mb202 = "LA202HC001" // Camden
)

// Fixtures shared by the cases.
var (
	ingestTestdata = hubtest.Testdata("ingest")
	// sharedPDS is the small demographics reference of most cases
	// (testdata/ingest/README.md says who is who).
	sharedPDS = filepath.Join(ingestTestdata, "demographics.csv")
)

// input is one file an LA puts into its inbox.
type input struct {
	file string // source in the case folder; also the inbox name unless name is set
	name string // inbox name; "" means the base name of file
	mb   string // mailbox; "" means LA841HC001
	// ctl, when set, is the DTSId of a well-formed control file written
	// beside the data file (From_DTS the mailbox, To_DTS CPISHUB01,
	// WorkflowId CPIS_LA_UPLOAD, IsCompressed as the name says).
	ctl string
	// ctlFile is a control file of the case folder put beside the data
	// file as it is (a bad one, typically).
	ctlFile string
	// data, when set, makes the content instead of reading file; it is
	// given the path of file in the case folder.
	data func(t *testing.T, path string) []byte
	gzip bool      // compress the content on the way in
	at   time.Time // modification time; zero means sentAt
	// fresh gives the file the real time as its modification time: it
	// has not settled.
	fresh bool
}

func (in input) inboxName() string {
	if in.name != "" {
		return in.name
	}
	return filepath.Base(in.file)
}

func (in input) mailbox() string {
	if in.mb != "" {
		return in.mb
	}
	return mb841
}

// step is one thing that happens to the hub: files arrive and ingest runs
// (the default), or operations release or discard a held return, or a
// demographics reference is imported and ingest runs.
type step struct {
	send      []input
	importPDS string // demographics file of the case folder to import before the run
	release   string // message ID: ingest.Release instead of a run
	discard   string // message ID: ingest.Discard instead of a run
	// unchanged says the store's plans must be the same after the step as
	// before (a bad return never changes the store); checked as well for
	// any run in which no return was applied.
	unchanged bool
}

// hubCase is one acceptance case: a fresh data dir, the steps, then the
// goldens under testdata/ingest/<name>/: the response files in the order
// they were written (response.golden.csv when there is one, else
// response-1.golden.csv, ...), and transcript.golden.txt, which records
// for each step the report lines (as cpis ingest --json prints them), which
// response answers which return, what stays in the inboxes, the messages
// still open and the plans held afterwards.
type hubCase struct {
	name string
	// pds is the demographics file of the case folder; "" means the shared
	// testdata/ingest/demographics.csv, "-" means none.
	pds string
	// pdsData, when set, makes the demographics reference instead.
	pdsData func() []byte
	// seed, when set, makes the plans held before the first step, as CSV
	// with the header of seedHeader; without it, seed.csv of the case
	// folder is used when there is one.
	seed      func() []byte
	sizeLimit int64
	maxRows   int
	steps     []step
	// want is what the hub answers, written out from returns.md: one
	// answer per return reported, in the order of the reports (step by
	// step; within a run, LA then message ID). It is checked against each
	// run's results and the responses answering them, besides the goldens;
	// -update rewrites the goldens, never this.
	want []answer
}

// answer is the outcome of one return: its file code and detail code (as
// the run reports them) and the row codes of its response.
type answer struct {
	file   string       // the return's name in the inbox
	code   codes.Code   // CPF01 ...
	detail codes.Detail // F001 ..., "" for none
	rows   rows
}

// rows are the row outcomes of a response: line -> its codes in response
// order, each code/detail, separated by spaces ("CPR06/P005 CPR06/W002").
type rows map[int]string

const seedHeader = "nhs_number,la,plan_type,start_date,end_date,due_date,local_id"

// hub is a data dir made for one case.
type hub struct {
	t       *testing.T
	fixture *hubtest.Hub
	dir     string
	caseDir string
	db      *store.DB
	cfg     ingest.Config
	mbs     []string // the mailboxes of the data dir
	out     strings.Builder
	resps   []response // every response written, in order
	answers []answer   // every result reported, with its response's rows
	// lastPlans are the plans the transcript last listed.
	lastPlans []string
	described bool
}

// response is a response file found in an outbox after a step.
type response struct {
	mailbox, file string
	content       []byte
	messageID     string // of the return it answers
	returnFile    string
	code, detail  string
}

// newHub makes the data dir of a case: the 153 authorities, the
// demographics reference and the plans the case starts from. Making 153
// mailboxes costs more than the rest of a case on slow file systems, so a
// case has the mailboxes of Darlington and Camden only, and its runs are
// limited to those two LAs; with whole (TestIngestReport, TestExactlyOnce)
// the data dir has every mailbox and every LA runs.
func newHub(t *testing.T, c hubCase, whole bool) *hub {
	t.Helper()
	h := &hub{t: t, caseDir: filepath.Join(ingestTestdata, c.name)}
	opts := hubtest.Options{Created: runAt}
	switch {
	case c.pdsData != nil:
		opts.Demographics = &hubtest.File{Name: "demographics.csv", Data: c.pdsData()}
	case c.pds == "":
		opts.Demographics = &hubtest.File{Name: "demographics.csv", Data: hubtest.ReadFile(t, sharedPDS)}
	case c.pds == "-":
		opts.NoDemographics = true
	default:
		opts.Demographics = &hubtest.File{Name: c.pds, Data: hubtest.ReadFile(t, filepath.Join(h.caseDir, c.pds))}
	}
	var las []string
	if !whole {
		las = []string{"202", "841"}
		opts.Mailboxes = las
	}
	h.fixture = hubtest.New(t, opts)
	h.dir, h.db = h.fixture.Dir, h.fixture.DB
	h.cfg = ingest.Config{DataDir: h.dir, DB: h.db, Now: func() time.Time { return runAt }, RealNow: time.Now, SizeLimit: c.sizeLimit, MaxRows: c.maxRows, LAs: las}
	if err := h.db.View(func(tx *store.Tx) error {
		all, err := tx.Authorities()
		for _, a := range all {
			if whole || slices.Contains(las, a.Code) {
				h.mbs = append(h.mbs, a.MailboxID)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var seed []byte
	if c.seed != nil {
		seed = c.seed()
	} else if b, err := os.ReadFile(filepath.Join(h.caseDir, "seed.csv")); err == nil {
		seed = b
	}
	if seed != nil {
		h.seedPlans(seed)
	}
	return h
}

// seedPlans puts plans straight into the store: the state the hub was in
// before the case.
func (h *hub) seedPlans(b []byte) {
	t := h.t
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != seedHeader {
		t.Fatalf("seed: header must be %s", seedHeader)
	}
	date := func(s string) caldate.Date {
		if s == "" {
			return caldate.Date{}
		}
		d, err := caldate.ParseISO(s)
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		return d
	}
	var ps []plans.Plan
	for _, r := range recs[1:] {
		ps = append(ps, plans.Plan{Key: plans.Key{NHS: r[0], LA: r[1], Type: plans.Type(r[2])},
			Start: date(r[3]), End: date(r[4]), Due: date(r[5]), LocalID: r[6]})
	}
	h.fixture.PutPlans(t, ps...)
}

// plansCSV returns every plan held, one seed-format line each.
func (h *hub) plansCSV() []string {
	var out []string
	err := h.db.View(func(tx *store.Tx) error {
		return tx.AllPlans(func(p plans.Plan) error {
			out = append(out, strings.Join([]string{p.NHS, p.LA, string(p.Type), dateText(p.Start), dateText(p.End), dateText(p.Due), p.LocalID}, ","))
			return nil
		})
	})
	if err != nil {
		h.t.Fatalf("plans: %v", err)
	}
	return out
}

func dateText(d caldate.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// put writes in into its inbox: the data file, then its control file, each
// with the modification time in.at (sentAt when zero).
func (h *hub) put(in input) {
	t := h.t
	t.Helper()
	var data []byte
	if in.data != nil {
		data = in.data(t, filepath.Join(h.caseDir, in.file))
	} else {
		data = hubtest.ReadFile(t, filepath.Join(h.caseDir, in.file))
	}
	if in.gzip {
		data = gzipped(t, data)
	}
	at := in.at
	switch {
	case in.fresh:
		at = time.Now()
	case at.IsZero():
		at = sentAt
	}
	mb := local.Open(h.dir, in.mailbox())
	name := in.inboxName()
	write := func(name string, b []byte) {
		p := filepath.Join(mb.InboxDir(), name)
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	write(name, data)
	fmt.Fprintf(&h.out, "sent %s/inbox/%s (%d bytes)\n", mb.ID(), name, len(data))
	switch {
	case in.ctl != "":
		write(mesh.ControlName(name), hubtest.Control(mb.ID(), name, in.ctl).Marshal())
		fmt.Fprintf(&h.out, "sent %s/inbox/%s (DTSId %s)\n", mb.ID(), mesh.ControlName(name), in.ctl)
	case in.ctlFile != "":
		write(mesh.ControlName(name), hubtest.ReadFile(t, filepath.Join(h.caseDir, in.ctlFile)))
		fmt.Fprintf(&h.out, "sent %s/inbox/%s (from %s)\n", mb.ID(), mesh.ControlName(name), in.ctlFile)
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.ModTime = time.Time{}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// outboxes lists the data files of every outbox.
func (h *hub) outboxes() map[string]bool {
	seen := map[string]bool{}
	for _, id := range h.mbs {
		files, err := local.Open(h.dir, id).Outbox()
		if err != nil {
			h.t.Fatal(err)
		}
		for _, f := range files {
			seen[id+"/"+f.Name] = true
		}
	}
	return seen
}

var responseName = regexp.MustCompile(`^CPIS_([0-9]{3})_RESPONSE_20261122_([0-9]{20}_[0-9A-F]{6})\.csv$`)

// do runs one step and records it in the transcript.
func (h *hub) do(ctx context.Context, n int, s step) []ingest.Result {
	t := h.t
	t.Helper()
	before := h.outboxes()
	plansBefore := h.plansCSV()
	switch {
	case s.release != "":
		fmt.Fprintf(&h.out, "== step %d: release %s\n", n, s.release)
	case s.discard != "":
		fmt.Fprintf(&h.out, "== step %d: discard %s\n", n, s.discard)
	case s.importPDS != "":
		fmt.Fprintf(&h.out, "== step %d: import %s, then ingest\n", n, s.importPDS)
	default:
		fmt.Fprintf(&h.out, "== step %d: ingest\n", n)
	}
	for _, in := range s.send {
		h.put(in)
	}
	var results []ingest.Result
	switch {
	case s.release != "":
		r, err := ingest.Release(ctx, h.cfg, s.release)
		if err != nil {
			t.Fatalf("step %d: release: %v", n, err)
		}
		results = []ingest.Result{r}
	case s.discard != "":
		r, err := ingest.Discard(ctx, h.cfg, s.discard)
		if err != nil {
			t.Fatalf("step %d: discard: %v", n, err)
		}
		results = []ingest.Result{r}
	default:
		if s.importPDS != "" {
			h.fixture.ImportDemographics(t, hubtest.File{Name: s.importPDS, Data: hubtest.ReadFile(t, filepath.Join(h.caseDir, s.importPDS))}, runAt)
		}
		rep, err := ingest.Run(ctx, h.cfg)
		if err != nil {
			t.Fatalf("step %d: run: %v", n, err)
		}
		for _, f := range rep.Failed {
			t.Errorf("step %d: LA %s failed: %v", n, f.LA, f.Err)
		}
		results = rep.Results
	}
	for _, r := range results {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&h.out, "report %s\n", b)
	}
	h.checkResponses(n, before, results)
	h.checkArchived(n, results)
	h.describeState()

	applied := false
	for _, r := range results {
		if r.Code == "CPF02" || r.Code == "CPF03" {
			applied = true
		}
	}
	if s.unchanged || !applied {
		if diff := cmp.Diff(plansBefore, h.plansCSV()); diff != "" {
			t.Errorf("step %d applied nothing but the plans changed (-before +after):\n%s", n, diff)
		}
	}
	return results
}

// checkResponses finds the responses written by a step and checks what
// every response must be: one per message in the report, named
// CPIS_<LA>_RESPONSE_<date>_<id>.csv with its .ctl beside it, UTF-8
// without BOM, CRLF, the exact header, the summary first with the
// report's code and counts.
func (h *hub) checkResponses(n int, before map[string]bool, results []ingest.Result) {
	t := h.t
	t.Helper()
	var fresh []response
	for key := range h.outboxes() {
		if before[key] {
			continue
		}
		mbID, file, _ := strings.Cut(key, "/")
		m := responseName.FindStringSubmatch(file)
		if m == nil {
			t.Errorf("step %d: outbox %s: %s is not named CPIS_<LA>_RESPONSE_20261122_<message ID>.csv", n, mbID, file)
			continue
		}
		if want := mesh.MailboxID(m[1]); want != mbID {
			t.Errorf("step %d: %s is in the outbox of %s, want %s", n, file, mbID, want)
		}
		box := local.Open(h.dir, mbID).OutboxDir()
		if _, err := os.Stat(filepath.Join(box, mesh.ControlName(file))); err != nil {
			t.Errorf("step %d: %s has no control file: %v", n, file, err)
		}
		r := response{mailbox: mbID, file: file, content: hubtest.ReadFile(t, filepath.Join(box, file))}
		h.parseResponse(n, &r)
		fresh = append(fresh, r)
	}
	// Order: the report's order (LA, then message ID), then responses to
	// returns not in the report.
	rank := func(r response) int {
		for i, res := range results {
			if mesh.MailboxID(res.LA) == r.mailbox && res.MessageID == r.messageID && res.File == r.returnFile {
				return i
			}
		}
		return len(results)
	}
	sort.SliceStable(fresh, func(i, j int) bool {
		a, b := fresh[i], fresh[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if a.mailbox != b.mailbox {
			return a.mailbox < b.mailbox
		}
		if a.messageID != b.messageID {
			return a.messageID < b.messageID
		}
		return a.returnFile < b.returnFile
	})
	for _, res := range results {
		var got []response
		for _, r := range fresh {
			if r.mailbox == mesh.MailboxID(res.LA) && r.messageID == res.MessageID && r.returnFile == res.File {
				got = append(got, r)
			}
		}
		if len(got) != 1 {
			t.Errorf("step %d: %d new responses to %s (%s), want exactly 1", n, len(got), res.MessageID, res.File)
			continue
		}
		r := got[0]
		h.answers = append(h.answers, answer{file: res.File, code: res.Code, detail: res.Detail, rows: rowCodes(r.content)})
		if res.Response != filepath.Join(local.Open(h.dir, r.mailbox).OutboxDir(), r.file) {
			t.Errorf("step %d: Result.Response = %s, want the new response %s", n, res.Response, r.file)
		}
		if r.code != string(res.Code) || r.detail != string(res.Detail) {
			t.Errorf("step %d: response to %s says %s %s, report says %s %s", n, res.MessageID, r.code, r.detail, res.Code, res.Detail)
		}
		counts := fmt.Sprintf("read=%d applied=%d rejected=%d warnings=%d withdrawn=%d", res.Read, res.Applied, res.Rejected, res.Warnings, res.Withdrawn)
		if summary := h.summary(r); !strings.HasPrefix(summary, counts+" ") {
			t.Errorf("step %d: summary of %s is %q, want it to begin %q", n, r.file, summary, counts)
		}
	}
	for _, r := range fresh {
		h.resps = append(h.resps, r)
		fmt.Fprintf(&h.out, "response #%d %s/outbox: %s %s to %s %s\n", len(h.resps), r.mailbox, r.code, r.detail, r.messageID, r.returnFile)
	}
}

// rowCodes returns the row outcomes of a response (its rows after the
// summary), nil when it has none.
func rowCodes(content []byte) rows {
	recs, _ := csv.NewReader(bytes.NewReader(content)).ReadAll()
	var out rows
	for _, rec := range recs[min(2, len(recs)):] {
		line, _ := strconv.Atoi(rec[1])
		if out == nil {
			out = rows{}
		}
		out[line] = strings.TrimSpace(out[line] + " " + rec[4] + "/" + rec[5])
	}
	return out
}

func (h *hub) summary(r response) string {
	recs, err := csv.NewReader(bytes.NewReader(r.content)).ReadAll()
	if err != nil || len(recs) < 2 {
		return ""
	}
	return recs[1][6]
}

// parseResponse checks the form of a response and reads what it answers.
func (h *hub) parseResponse(n int, r *response) {
	t := h.t
	t.Helper()
	b := r.content
	if bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		t.Errorf("step %d: %s starts with a BOM", n, r.file)
	}
	if !bytes.HasSuffix(b, []byte("\r\n")) || bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) {
		t.Errorf("step %d: %s: every line must end CRLF", n, r.file)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Errorf("step %d: %s is not CSV: %v", n, r.file, err)
		return
	}
	if got := strings.Join(recs[0], ","); got != "message_id,line,local_id,nhs_number,code,detail_code,detail" {
		t.Errorf("step %d: %s header = %q", n, r.file, got)
	}
	if len(recs) < 2 || recs[1][1] != "0" || recs[1][2] != "" || recs[1][3] != "" {
		t.Errorf("step %d: %s: the first row must be the summary (line 0)", n, r.file)
		return
	}
	r.messageID, r.code, r.detail = recs[1][0], recs[1][4], recs[1][5]
	if !regexp.MustCompile(`^read=\d+ applied=\d+ rejected=\d+ warnings=\d+ withdrawn=\d+ \S`).MatchString(recs[1][6]) {
		t.Errorf("step %d: %s: summary detail %q must begin with the counts, then a sentence", n, r.file, recs[1][6])
	}
	last := 0
	for _, rec := range recs[2:] {
		if rec[0] != r.messageID {
			t.Errorf("step %d: %s: row for message %s, want %s", n, r.file, rec[0], r.messageID)
		}
		line, err := strconv.Atoi(rec[1])
		if err != nil || line < last || line < 1 {
			t.Errorf("step %d: %s: row lines must be in order and from 1: %v", n, r.file, rec)
		}
		last = line
		if !strings.HasPrefix(rec[4], "CPR") || rec[5] == "" || rec[6] == "" {
			t.Errorf("step %d: %s: row outcome %v must have a CPR code, a detail code and a detail", n, r.file, rec)
		}
	}
	// The store says which message each response file answers.
	found := false
	err = h.db.View(func(tx *store.Tx) error {
		la := strings.TrimSuffix(strings.TrimPrefix(r.mailbox, "LA"), "HC001")
		return tx.Messages(la, func(m *store.Message) error {
			for _, resp := range m.Responses {
				if resp.File == r.file {
					found = true
					r.returnFile = m.File
					if m.MessageID != r.messageID {
						t.Errorf("step %d: %s answers %s but names message %s", n, r.file, m.MessageID, r.messageID)
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Errorf("step %d: no message in the store has the response %s", n, r.file)
	}
}

// checkArchived checks that every message reported is archived under
// archive/<MAILBOX>/in/<message ID>_<name>, with its control file when it
// had one, and is no longer in the inbox.
func (h *hub) checkArchived(n int, results []ingest.Result) {
	t := h.t
	t.Helper()
	for _, res := range results {
		mb := local.Open(h.dir, mesh.MailboxID(res.LA))
		var m *store.Message
		err := h.db.View(func(tx *store.Tx) error {
			return tx.Messages(res.LA, func(x *store.Message) error {
				if x.MessageID == res.MessageID && x.File == res.File {
					m = x
				}
				return nil
			})
		})
		if err != nil || m == nil {
			t.Errorf("step %d: message %s (%s) not in the store: %v", n, res.MessageID, res.File, err)
			continue
		}
		if want := filepath.Join(mb.ArchiveInDir(), res.MessageID+"_"+res.File); m.ArchivePath != want || !exists(want) {
			t.Errorf("step %d: %s archived at %q, want %q (exists: %v)", n, res.File, m.ArchivePath, want, exists(want))
		}
		if m.Control != "" {
			if want := filepath.Join(mb.ArchiveInDir(), res.MessageID+"_"+m.Control); m.ControlPath != want || !exists(want) {
				t.Errorf("step %d: control file %s archived at %q, want %q", n, m.Control, m.ControlPath, want)
			}
		}
		if exists(filepath.Join(mb.InboxDir(), res.File)) {
			t.Errorf("step %d: %s is still in the inbox after it was taken", n, res.File)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// describeState records what the inboxes still hold, the open messages and
// the plans.
func (h *hub) describeState() {
	for _, id := range h.mbs {
		des, err := os.ReadDir(local.Open(h.dir, id).InboxDir())
		if err != nil {
			h.t.Fatal(err)
		}
		for _, de := range des {
			fmt.Fprintf(&h.out, "inbox %s: %s\n", id, de.Name())
		}
	}
	open, err := ingest.Open(h.db)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, m := range open {
		fmt.Fprintf(&h.out, "open %s %s %s %s\n", m.LA, m.MessageID, m.File, m.State)
	}
	ps := h.plansCSV()
	if h.described && cmp.Equal(ps, h.lastPlans) {
		fmt.Fprintf(&h.out, "plans: unchanged (%d)\n", len(ps))
		return
	}
	h.described, h.lastPlans = true, ps
	if len(ps) > 40 {
		perLA := map[string]int{}
		for _, p := range ps {
			perLA[strings.Split(p, ",")[1]]++
		}
		fmt.Fprintf(&h.out, "plans: %d (per LA: %v)\n", len(ps), perLA)
		return
	}
	fmt.Fprintf(&h.out, "plans: %d\n", len(ps))
	for _, p := range ps {
		fmt.Fprintf(&h.out, "  %s\n", p)
	}
}

// runCase runs every step of c, then ingest once more (which must find
// nothing to do: exactly once), and compares the responses and the
// transcript with the goldens.
func runCase(t *testing.T, c hubCase) {
	ctx := context.Background()
	h := newHub(t, c, false)
	fmt.Fprintf(&h.out, "# case %s (run at %s; plans columns %s)\n", c.name, runAt.Format(time.RFC3339), seedHeader)
	h.describeState()
	for i, s := range c.steps {
		h.do(ctx, i+1, s)
	}

	// Exactly once: another run takes nothing, writes nothing, changes
	// nothing.
	before, plansBefore := h.outboxes(), h.plansCSV()
	rep, err := ingest.Run(ctx, h.cfg)
	if err != nil {
		t.Fatalf("run again: %v", err)
	}
	if len(rep.Results) != 0 || len(rep.Failed) != 0 {
		t.Errorf("a run after the last step reported %+v, want nothing", rep)
	}
	if diff := cmp.Diff(before, h.outboxes()); diff != "" {
		t.Errorf("a run after the last step changed the outboxes (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(plansBefore, h.plansCSV()); diff != "" {
		t.Errorf("a run after the last step changed the plans (-before +after):\n%s", diff)
	}

	// What the case states, whatever the goldens say.
	if c.want == nil {
		t.Errorf("case %s states no answers (want)", c.name)
	}
	if diff := cmp.Diff(c.want, h.answers, cmp.AllowUnexported(answer{})); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}

	golden := map[string][]byte{"transcript.golden.txt": []byte(h.out.String())}
	for i, r := range h.resps {
		name := fmt.Sprintf("response-%d.golden.csv", i+1)
		if len(h.resps) == 1 {
			name = "response.golden.csv"
		}
		golden[name] = r.content
	}
	hubtest.GoldenDir(t, h.caseDir, goldenName, golden)
}

// goldenName matches the golden files of a case.
var goldenName = regexp.MustCompile(`^(response(-[0-9]+)?\.golden\.csv|transcript\.golden\.txt)$`)

// validNHS returns the i-th valid NHS number (from 0) of the range that
// starts at 999 + start: the test range, with the modulus 11 check digit.
func validNHS(start, i int) string {
	for n := start; ; n++ {
		s := fmt.Sprintf("999%06d", n)
		sum := 0
		for k := range 9 {
			sum += int(s[k]-'0') * (10 - k)
		}
		check := 11 - sum%11
		if check == 11 {
			check = 0
		}
		if check == 10 {
			continue
		}
		if i == 0 {
			return s + strconv.Itoa(check)
		}
		i--
	}
}
