package inactive_test

// Tests of the inactive-NHS-number files: plans are held while their
// numbers are current in one reference; a new reference (the fixture's
// testdata/demographics.csv) makes some superseded, unknown or sensitive.

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/hubtest"
	"cpis/batch/inactive"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

var demographicsFile = hubtest.Testdata("demographics.csv")

const (
	chainA    = "9990217742" // superseded by chainB in the fixture
	chainB    = "9991265031" // superseded by chainC
	chainC    = "9992312327" // current
	sensitive = "9997278852" // sensitive in the fixture
	gone      = "9990000018" // not in the fixture
	child     = "9990276579" // current, not sensitive

	header = inactive.Header + "\r\n"
)

var las = []string{"201", "203", "841", "850"}

// reference returns the fixture's demographics reference.
func reference(t testing.TB) string { return string(hubtest.ReadFile(t, demographicsFile)) }

// before is the reference the plans were stored under: the fixture with
// chainA and chainB current, sensitive not yet sensitive, and gone known.
func before(t testing.TB) string {
	s := reference(t)
	for old, new := range map[string]string{
		chainA + ",Elsworth,Aled,2016-11-14," + chainB + ",N,": chainA + ",Elsworth,Aled,2016-11-14,,N,",
		chainB + ",Elsworth,Aled,2016-11-14," + chainC + ",N,": chainB + ",Elsworth,Aled,2016-11-14,,N,",
		sensitive + ",Gashi,Perrin,2017-08-20,,Y,":             sensitive + ",Gashi,Perrin,2017-08-20,,N,",
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("%s no longer has the line %q", demographicsFile, old)
		}
		s = strings.Replace(s, old, new, 1)
	}
	return s + gone + ",Nobody,Known,2015-01-01,,N,\n"
}

func plan(nhs, la string, typ plans.Type, localID string) plans.Plan {
	start, _ := caldate.ParseISO("2026-01-05")
	return plans.Plan{Key: plans.Key{NHS: nhs, LA: la, Type: typ}, Start: start, LocalID: localID}
}

var held = []plans.Plan{
	plan(chainA, "841", plans.CPP, "A-1"),
	plan(chainA, "841", plans.LAC, "A-2"),
	plan(chainB, "201", plans.LAC, "B,1"),
	plan(chainC, "841", plans.LAC, "C-1"),
	plan(sensitive, "841", plans.CPP, "S-1"),
	plan(gone, "850", plans.CPP, "G-1"),
	plan(child, "201", plans.CPP, "H-1"),
}

type hub struct {
	t *testing.T
	*hubtest.Hub
}

// newHub is a hub of the LAs of las made on 1 November 2026 from the
// reference before, holding the plans held.
func newHub(t *testing.T) *hub {
	t.Helper()
	created := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	return &hub{t: t, Hub: hubtest.New(t, hubtest.Options{LAs: las, Created: created, Plans: held,
		Demographics: &hubtest.File{Name: "before.csv", Data: []byte(before(t))}})}
}

// importAndRun imports ref as the reference (as cpis pds import does) and
// runs the inactive-number job.
func (h *hub) importAndRun(ref string, now time.Time) []inactive.Written {
	h.t.Helper()
	h.ImportDemographics(h.t, hubtest.File{Name: "ref.csv", Data: []byte(ref)}, now)
	written, err := inactive.Run(h.Dir, h.DB, now)
	if err != nil {
		h.t.Fatal(err)
	}
	return written
}

var fileName = regexp.MustCompile(`^CPIS_(\d{3})_INACTIVE_(\d{8})_(\d{20}_[0-9A-F]{6})\.csv$`)

// summary checks each written file's name and control file, and returns
// "LA date rows" per file and the files' contents by LA.
func (h *hub) summary(written []inactive.Written) ([]string, map[string]string) {
	h.t.Helper()
	files := h.Outboxes(h.t)
	var got []string
	content := map[string]string{}
	for _, w := range written {
		m := fileName.FindStringSubmatch(w.File)
		if m == nil || m[1] != w.LA {
			h.t.Errorf("file name %q", w.File)
			continue
		}
		got = append(got, fmt.Sprintf("%s %s %d", w.LA, m[2], w.Rows))
		content[w.LA] = files[w.File]
		ctlName := strings.TrimSuffix(w.File, ".csv") + ".ctl"
		ctl, err := mesh.ParseControl(strings.NewReader(files[ctlName]))
		if err != nil {
			h.t.Errorf("%s: %v", ctlName, err)
			continue
		}
		if ctl.WorkflowID != "CPIS_INACTIVE_NHS_NUMBER" || ctl.DTSID != m[3] || ctl.To != mesh.MailboxID(w.LA) ||
			ctl.From != mesh.HubMailbox || ctl.LocalID != w.File {
			h.t.Errorf("%s: %+v", ctlName, ctl)
		}
	}
	return got, content
}

func TestRun(t *testing.T) {
	h := newHub(t)
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	written := h.importAndRun(reference(t), now)
	got, content := h.summary(written)
	if diff := cmp.Diff([]string{"201 20261122 1", "841 20261122 3", "850 20261122 1"}, got); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	want := map[string]string{
		"201": header + chainB + `,"B,1",LAC,SUPERSEDED,` + chainC + "\r\n",
		"841": header +
			chainA + ",A-1,CPP,SUPERSEDED," + chainC + "\r\n" +
			chainA + ",A-2,LAC,SUPERSEDED," + chainC + "\r\n" +
			sensitive + ",S-1,CPP,SENSITIVE,\r\n",
		"850": header + gone + ",G-1,CPP,UNKNOWN,\r\n",
	}
	if diff := cmp.Diff(want, content); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if n := len(h.Outboxes(h.t)); n != 6 {
		t.Errorf("%d files in the outboxes, want 3 and their control files", n)
	}

	// Sent once: the same reference again, or the old one and then the new
	// one again, sends nothing new.
	if w := h.importAndRun(reference(t), now.Add(time.Hour)); len(w) != 0 {
		t.Errorf("the same import again wrote %+v", w)
	}
	if w := h.importAndRun(before(t), now.Add(2*time.Hour)); len(w) != 0 {
		t.Errorf("the old reference wrote %+v", w)
	}
	if w := h.importAndRun(reference(t), now.Add(3*time.Hour)); len(w) != 0 {
		t.Errorf("the new reference again wrote %+v", w)
	}
	if n := len(h.Outboxes(h.t)); n != 6 {
		t.Errorf("%d files in the outboxes, want still 6", n)
	}

	// A new reason is a new row: the current number turns sensitive. The
	// file is dated by London's calendar (23:30 UTC in summer is the next
	// day).
	third := strings.Replace(reference(t), chainC+",Elsworth,Aled,2016-11-14,,N,", chainC+",Elsworth,Aled,2016-11-14,,Y,", 1)
	written = h.importAndRun(third, time.Date(2027, 7, 1, 23, 30, 0, 0, time.UTC))
	got, content = h.summary(written)
	if diff := cmp.Diff([]string{"841 20270702 1"}, got); diff != "" {
		t.Errorf("written after the third import (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"841": header + chainC + ",C-1,LAC,SENSITIVE,\r\n"}, content); diff != "" {
		t.Errorf("files after the third import (-want +got):\n%s", diff)
	}

	// The plans stay as they are.
	var keys []string
	if err := h.DB.View(func(tx *store.Tx) error {
		return tx.AllPlans(func(p plans.Plan) error {
			keys = append(keys, p.Key.String()+" "+p.LocalID)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	var wantKeys []string
	for _, p := range held {
		wantKeys = append(wantKeys, p.Key.String()+" "+p.LocalID)
	}
	sort.Strings(wantKeys)
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}
}

func TestFlushWritesWhatARunLeft(t *testing.T) {
	h := newHub(t)
	at := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	id := mesh.NewMessageID(at)
	f := store.InactiveFile{LA: "841", MessageID: id, File: "CPIS_841_INACTIVE_20261122_" + id + ".csv", DecidedAt: at,
		Rows: []store.InactiveRow{{NHSNumber: chainA, LocalID: "A-1", PlanType: "CPP", Reason: "SUPERSEDED", Current: chainC}}}
	if err := h.DB.Update(func(tx *store.Tx) error { return tx.PutInactiveFile(f) }); err != nil {
		t.Fatal(err)
	}
	written, err := inactive.Flush(h.Dir, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]inactive.Written{{LA: "841", File: f.File, Rows: 1}}, written); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	if got := h.Outboxes(h.t)[f.File]; got != header+chainA+",A-1,CPP,SUPERSEDED,"+chainC+"\r\n" {
		t.Errorf("%s is %q", f.File, got)
	}
	if written, err := inactive.Flush(h.Dir, h.DB); err != nil || len(written) != 0 {
		t.Errorf("second flush: %+v, %v", written, err)
	}
}
