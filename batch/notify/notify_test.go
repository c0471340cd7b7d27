package notify_test

// Tests of the daily access-notification files: accesses are made through
// access.Service (as a lookup makes them), then notify.Run writes the
// files into a data directory with four LAs (hubtest, as cpis init makes it).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/access"
	"cpis/batch/expire"
	"cpis/batch/hubtest"
	"cpis/batch/notify"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

// dateCmp compares calendar dates (their fields are unexported).
var dateCmp = cmp.Comparer(func(a, b caldate.Date) bool { return a.Compare(b) == 0 })

var goldenDir = hubtest.Testdata("notify")

const (
	child  = "9990276579" // born 2016-05-12
	sister = "9993765570" // born 2016-03-05
	mother = "9994238477" // born 1987

	header = notify.Header + "\r\n"
)

// las are the hub's LAs in these tests: 203 never has an access.
var las = []string{"201", "203", "841", "850"}

func date(s string) caldate.Date {
	d, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return d
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	child841CPP  = plans.Plan{Key: plans.Key{NHS: child, LA: "841", Type: plans.CPP}, Start: date("2026-01-05"), LocalID: "C-10442"}
	child201LAC  = plans.Plan{Key: plans.Key{NHS: child, LA: "201", Type: plans.LAC}, Start: date("2025-01-10"), LocalID: "L-77"}
	child201CPP  = plans.Plan{Key: plans.Key{NHS: child, LA: "201", Type: plans.CPP}, Start: date("2024-05-01"), LocalID: "P,1"}
	sister841CPP = plans.Plan{Key: plans.Key{NHS: sister, LA: "841", Type: plans.CPP}, Start: date("2026-01-05"), LocalID: "C-10443"}
	mother850UCP = plans.Plan{Key: plans.Key{NHS: mother, LA: "850", Type: plans.UCPP}, Start: date("2026-09-01"), Due: date("2027-01-15"), LocalID: "U-5"}
)

type hub struct {
	t     *testing.T
	dir   string
	db    *store.DB
	fix   *hubtest.Hub
	clock *hubtest.Clock
	svc   *access.Service
}

// newHub makes a data directory at created with the LAs of las, the
// fixture's demographics and ps.
func newHub(t *testing.T, created time.Time, ps ...plans.Plan) *hub {
	t.Helper()
	hb := hubtest.New(t, hubtest.Options{LAs: las, Created: created, Plans: ps})
	c := hubtest.NewClock(created)
	svc, err := access.New(hb.DB, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &hub{t: t, dir: hb.Dir, db: hb.DB, fix: hb, clock: c, svc: svc}
}

// access looks nhs up at instant at as user of org, in setting.
func (h *hub) access(at time.Time, nhs, org, user, setting string) {
	h.t.Helper()
	h.clock.Set(at)
	_, ref, err := h.svc.Lookup(h.t.Context(), access.Request{NHSNumber: nhs, OrgCode: org, OrgName: "Org " + org,
		Setting: setting, UserName: user, UserRole: "Staff Nurse", RBAC: "B0264,B0107", Via: access.HTTP})
	if err != nil || ref != nil {
		h.t.Fatalf("lookup: refusal %+v, error %v", ref, err)
	}
}

func (h *hub) run(now time.Time, day string) ([]notify.Written, error) {
	h.t.Helper()
	cfg := notify.Config{DataDir: h.dir, DB: h.db, Now: now}
	if day != "" {
		cfg.Day = date(day)
	}
	return notify.Run(cfg)
}

func (h *hub) outbox(la string) string {
	return filepath.Join(h.dir, "mailboxes", mesh.MailboxID(la), "outbox")
}

// dataFiles returns the names of the data files among files, sorted.
func dataFiles(files map[string]string) []string {
	var out []string
	for name := range files {
		if strings.HasSuffix(name, ".csv") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	hubtest.Golden(t, filepath.Join(goldenDir, name), []byte(got))
}

func TestWriteFile(t *testing.T) {
	rows := []store.Notification{
		{AccessedAt: utc("2026-12-01T23:30:00.999Z"), NHSNumber: child, LocalID: "C-10442", PlanType: "CPP", OrgCode: "RXX01",
			OrgName: "St Mary's, Paddington", Setting: "ED", UserName: `A "Doc" Clinician`, UserRole: "Staff Nurse"},
		{AccessedAt: utc("2026-07-01T23:30:00Z"), NHSNumber: child, LocalID: "=local, as sent", PlanType: "LAC", OrgCode: "RXX01",
			OrgName: "Example\nHospital", Setting: "111", UserName: "Zoë Ó Briain", UserRole: "Call handler"},
	}
	var b bytes.Buffer
	if err := notify.WriteFile(&b, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "writefile.golden.csv", b.String())
	for i, line := range strings.SplitAfter(strings.TrimSuffix(b.String(), "\r\n"), "\r\n") {
		if strings.Contains(strings.TrimSuffix(line, "\r\n"), "\r") {
			t.Errorf("line %d %q has a bare CR", i+1, line)
		}
	}

	b.Reset()
	if err := notify.WriteFile(&b, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != header {
		t.Errorf("an empty file is %q, want the header %q", b.String(), header)
	}
}

func TestRun(t *testing.T) {
	h := newHub(t, utc("2026-11-20T09:00:00Z"), child841CPP, child201LAC, child201CPP, sister841CPP, mother850UCP)
	// 2026-11-21, a winter day: London is UTC.
	same := utc("2026-11-21T14:00:00Z")
	h.access(utc("2026-11-21T00:00:00Z"), child, "RXX01", "First Of Day", "ED")
	h.access(same, sister, "RXX01", "B User", "ED") // same instant: by NHS number, then
	h.access(same, child, "RYY02", "B User", "AMB") // plan type, org code and user name
	h.access(same, child, "RXX01", "B User", "MIU")
	h.access(same, child, "RXX01", "A User", "WIC")
	h.access(utc("2026-11-21T14:00:10Z"), child, "RXX01", "A User", "WIC") // a repeat: owed too
	h.access(utc("2026-11-21T15:00:00Z"), child, "RXX01", "Silent Reader", "GP")
	h.access(utc("2026-11-21T16:00:00Z"), mother, "RXX01", "Midwife, Senior", "MAT")
	h.access(utc("2026-11-21T23:59:59Z"), child, "RXX01", "Last Of Day", "OOH")
	h.access(utc("2026-11-22T00:00:00Z"), child, "RXX01", "Next Day", "ED") // not in the 21st

	written, err := h.run(utc("2026-11-22T02:30:00Z"), "2026-11-21")
	if err != nil {
		t.Fatal(err)
	}
	wantWritten := []notify.Written{
		{Day: date("2026-11-21"), LA: "201", File: "CPIS_201_ACCESS_20261121.csv", Rows: 12},
		{Day: date("2026-11-21"), LA: "203", File: "CPIS_203_ACCESS_20261121.csv", Rows: 0},
		{Day: date("2026-11-21"), LA: "841", File: "CPIS_841_ACCESS_20261121.csv", Rows: 7},
		{Day: date("2026-11-21"), LA: "850", File: "CPIS_850_ACCESS_20261121.csv", Rows: 1},
	}
	if diff := cmp.Diff(wantWritten, written, dateCmp); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	files := h.fix.Outboxes(h.t)
	for _, w := range wantWritten {
		if w.Rows == 0 {
			if files[w.File] != header {
				t.Errorf("%s is %q, want the header only", w.File, files[w.File])
			}
			continue
		}
		golden(t, w.File, files[w.File])
	}
	// Control files: CPIS_ACCESS_NOTIFICATION, to the LA's mailbox.
	for _, la := range las {
		name := fmt.Sprintf("CPIS_%s_ACCESS_20261121.ctl", la)
		ctl, err := mesh.ParseControl(strings.NewReader(files[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !mesh.ValidMessageID(ctl.DTSID) || !strings.HasPrefix(ctl.DTSID, "20261122023000") {
			t.Errorf("%s: DTSId %q", name, ctl.DTSID)
		}
		ctl.DTSID, ctl.Status = "", nil
		want := mesh.Control{Version: "1.0", AddressType: "DTS", MessageType: "Data", From: mesh.HubMailbox, To: mesh.MailboxID(la),
			Subject: "CP-IS accesses on 2026-11-21", LocalID: fmt.Sprintf("CPIS_%s_ACCESS_20261121.csv", la), WorkflowID: "CPIS_ACCESS_NOTIFICATION"}
		if diff := cmp.Diff(want, ctl); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}

	// Exactly once: again, later, after the LA collected its file, and
	// through the default run.
	os.Remove(filepath.Join(h.outbox("841"), "CPIS_841_ACCESS_20261121.csv"))
	os.Remove(filepath.Join(h.outbox("841"), "CPIS_841_ACCESS_20261121.ctl"))
	delete(files, "CPIS_841_ACCESS_20261121.csv")
	delete(files, "CPIS_841_ACCESS_20261121.ctl")
	for _, now := range []string{"2026-11-22T02:30:00Z", "2026-11-23T02:30:00Z"} {
		written, err := h.run(utc(now), "2026-11-21")
		if err != nil || len(written) != 0 {
			t.Errorf("run again at %s: wrote %+v, error %v; want nothing", now, written, err)
		}
	}
	if diff := cmp.Diff(files, h.fix.Outboxes(h.t)); diff != "" {
		t.Errorf("outboxes after running again (-want +got):\n%s", diff)
	}
	// The default run writes the 20th (the store was made then), not the
	// 21st again.
	written, err = h.run(utc("2026-11-22T02:30:00Z"), "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range written {
		names = append(names, fmt.Sprintf("%s %d", w.File, w.Rows))
	}
	want := []string{"CPIS_201_ACCESS_20261120.csv 0", "CPIS_203_ACCESS_20261120.csv 0", "CPIS_841_ACCESS_20261120.csv 0", "CPIS_850_ACCESS_20261120.csv 0"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("default run (-want +got):\n%s", diff)
	}
}

func TestRunRefusesADayNotOver(t *testing.T) {
	h := newHub(t, utc("2026-11-20T09:00:00Z"), child841CPP)
	h.access(utc("2026-11-22T00:00:10Z"), child, "RXX01", "A User", "ED")
	tests := []struct {
		now, day string
	}{
		{now: "2026-11-22T10:00:00Z", day: "2026-11-22"},     // today
		{now: "2026-11-22T10:00:00Z", day: "2026-11-23"},     // tomorrow
		{now: "2026-11-22T23:59:59Z", day: "2026-11-22"},     // a second before it ends
		{now: "2026-07-01T23:30:00Z", day: "2026-07-02"},     // summer: already the 2nd in London
		{now: "2026-11-22T00:00:30Z", day: "2026-12-25"},     // far ahead
		{now: "2026-11-21T23:59:59.999Z", day: "2026-11-21"}, // the last instant of the day
	}
	for _, tt := range tests {
		written, err := h.run(utc(tt.now), tt.day)
		if !errors.Is(err, notify.ErrDayNotOver) || len(written) != 0 {
			t.Errorf("--day %s at %s: wrote %+v, error %v; want %v", tt.day, tt.now, written, err, notify.ErrDayNotOver)
		}
	}
	if got := dataFiles(h.fix.Outboxes(h.t)); len(got) != 0 {
		t.Errorf("files written: %v", got)
	}
	// Once the day is over it is written, with the access.
	written, err := h.run(utc("2026-11-23T00:00:00Z"), "2026-11-22")
	if err != nil || len(written) != 4 || written[2].Rows != 1 {
		t.Errorf("--day 2026-11-22 at midnight: wrote %+v, error %v", written, err)
	}
}

func TestRunFillsMissedNights(t *testing.T) {
	h := newHub(t, utc("2026-11-20T09:00:00Z"), child841CPP)
	h.access(utc("2026-11-20T10:00:00Z"), child, "RXX01", "A User", "ED")
	h.access(utc("2026-11-21T10:00:00Z"), child, "RXX01", "A User", "ED")
	h.access(utc("2026-11-22T10:00:00Z"), child, "RXX01", "A User", "ED")
	// Nothing ran on the nights of the 21st and 22nd.
	written, err := h.run(utc("2026-11-23T02:30:00Z"), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range written {
		got = append(got, fmt.Sprintf("%s %d", w.File, w.Rows))
	}
	var want []string
	for _, d := range []string{"20261120", "20261121", "20261122"} {
		for _, la := range las {
			rows := 0
			if la == "841" {
				rows = 1
			}
			want = append(want, fmt.Sprintf("CPIS_%s_ACCESS_%s.csv %d", la, d, rows))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	files := h.fix.Outboxes(h.t)
	for i, d := range []string{"2026-11-20", "2026-11-21", "2026-11-22"} {
		name := "CPIS_841_ACCESS_" + strings.ReplaceAll(d, "-", "") + ".csv"
		want := header + d + "T10:00:00+00:00," + child + ",C-10442,CPP,RXX01,Org RXX01,ED,A User,Staff Nurse\r\n"
		if files[name] != want {
			t.Errorf("access %d: %s is %q, want %q", i, name, files[name], want)
		}
	}
	// Then nothing more the same night, and the next night only the 23rd.
	if written, err := h.run(utc("2026-11-23T03:30:00Z"), ""); err != nil || len(written) != 0 {
		t.Errorf("second run: wrote %+v, error %v", written, err)
	}
	written, err = h.run(utc("2026-11-24T02:30:00Z"), "")
	if err != nil || len(written) != 4 || written[0].Day != date("2026-11-23") {
		t.Errorf("next night: wrote %+v, error %v", written, err)
	}
}

func TestRunDefaultWaitsForTheDayToEnd(t *testing.T) {
	h := newHub(t, utc("2026-07-01T09:00:00Z"), child841CPP)
	h.access(utc("2026-07-01T22:59:59Z"), child, "RXX01", "A User", "ED") // 23:59:59 BST
	// 00:00:00 BST on the 2nd is 23:00:00Z on the 1st: the 1st has just ended.
	if written, err := h.run(utc("2026-07-01T22:59:59Z"), ""); err != nil || len(written) != 0 {
		t.Errorf("run at 23:59:59 BST: wrote %+v, error %v; want nothing", written, err)
	}
	written, err := h.run(utc("2026-07-01T23:30:00Z"), "")
	if err != nil || len(written) != 4 || written[2].File != "CPIS_841_ACCESS_20260701.csv" || written[2].Rows != 1 {
		t.Errorf("run at 00:30 BST: wrote %+v, error %v", written, err)
	}
}

func TestDayBoundaries(t *testing.T) {
	tests := []struct {
		name string
		at   string // UTC
		day  string // the London day whose file has it
		want string // accessed_at in that file
	}{
		{"winter: last second", "2026-12-01T23:59:59Z", "2026-12-01", "2026-12-01T23:59:59+00:00"},
		{"winter: 23:30 UTC", "2026-12-01T23:30:00Z", "2026-12-01", "2026-12-01T23:30:00+00:00"},
		{"winter: midnight", "2026-12-02T00:00:00Z", "2026-12-02", "2026-12-02T00:00:00+00:00"},
		{"winter: first fraction", "2026-12-02T00:00:00.5Z", "2026-12-02", "2026-12-02T00:00:00+00:00"},
		{"summer: last second", "2026-07-01T22:59:59Z", "2026-07-01", "2026-07-01T23:59:59+01:00"},
		{"summer: midnight", "2026-07-01T23:00:00Z", "2026-07-02", "2026-07-02T00:00:00+01:00"},
		{"summer: 23:30 UTC is the next day", "2026-07-01T23:30:00Z", "2026-07-02", "2026-07-02T00:30:00+01:00"},
		{"summer: 23:59 UTC", "2026-07-01T23:59:59Z", "2026-07-02", "2026-07-02T00:59:59+01:00"},
		{"summer: 00:00 UTC", "2026-07-02T00:00:00Z", "2026-07-02", "2026-07-02T01:00:00+01:00"},

		// Spring forward, 2026-03-29 01:00 UTC: a 23-hour day.
		{"spring 2026: day before ends", "2026-03-28T23:59:59Z", "2026-03-28", "2026-03-28T23:59:59+00:00"},
		{"spring 2026: midnight", "2026-03-29T00:00:00Z", "2026-03-29", "2026-03-29T00:00:00+00:00"},
		{"spring 2026: last GMT second", "2026-03-29T00:59:59Z", "2026-03-29", "2026-03-29T00:59:59+00:00"},
		{"spring 2026: first BST second", "2026-03-29T01:00:00Z", "2026-03-29", "2026-03-29T02:00:00+01:00"},
		{"spring 2026: day ends", "2026-03-29T22:59:59Z", "2026-03-29", "2026-03-29T23:59:59+01:00"},
		{"spring 2026: next day", "2026-03-29T23:00:00Z", "2026-03-30", "2026-03-30T00:00:00+01:00"},

		// Fall back, 2026-10-25 01:00 UTC: a 25-hour day, 01:00-01:59 twice.
		{"autumn 2026: day before ends", "2026-10-24T22:59:59Z", "2026-10-24", "2026-10-24T23:59:59+01:00"},
		{"autumn 2026: midnight", "2026-10-24T23:00:00Z", "2026-10-25", "2026-10-25T00:00:00+01:00"},
		{"autumn 2026: 00:59 UTC", "2026-10-25T00:59:59Z", "2026-10-25", "2026-10-25T01:59:59+01:00"},
		{"autumn 2026: 01:00 UTC", "2026-10-25T01:00:00Z", "2026-10-25", "2026-10-25T01:00:00+00:00"},
		{"autumn 2026: 01:30 UTC", "2026-10-25T01:30:00Z", "2026-10-25", "2026-10-25T01:30:00+00:00"},
		{"autumn 2026: 00:30 UTC", "2026-10-25T00:30:00Z", "2026-10-25", "2026-10-25T01:30:00+01:00"},
		{"autumn 2026: day ends", "2026-10-25T23:59:59Z", "2026-10-25", "2026-10-25T23:59:59+00:00"},
		{"autumn 2026: next day", "2026-10-26T00:00:00Z", "2026-10-26", "2026-10-26T00:00:00+00:00"},

		// Spring forward, 2027-03-28 01:00 UTC.
		{"spring 2027: day before ends", "2027-03-27T23:59:59Z", "2027-03-27", "2027-03-27T23:59:59+00:00"},
		{"spring 2027: midnight", "2027-03-28T00:00:00Z", "2027-03-28", "2027-03-28T00:00:00+00:00"},
		{"spring 2027: last GMT second", "2027-03-28T00:59:59Z", "2027-03-28", "2027-03-28T00:59:59+00:00"},
		{"spring 2027: first BST second", "2027-03-28T01:00:00Z", "2027-03-28", "2027-03-28T02:00:00+01:00"},
		{"spring 2027: day ends", "2027-03-28T22:59:59Z", "2027-03-28", "2027-03-28T23:59:59+01:00"},
		{"spring 2027: next day", "2027-03-28T23:00:00Z", "2027-03-29", "2027-03-29T00:00:00+01:00"},
	}
	h := newHub(t, utc("2026-03-01T09:00:00Z"), child841CPP)
	for i, tt := range tests {
		h.access(utc(tt.at), child, "RXX01", fmt.Sprintf("Case %02d", i), "ED")
	}
	// Each day's file, built from the table: rows by instant.
	type row struct {
		at   time.Time
		line string
	}
	byDay := map[string][]row{}
	for i, tt := range tests {
		byDay[tt.day] = append(byDay[tt.day], row{utc(tt.at), fmt.Sprintf("%s,%s,C-10442,CPP,RXX01,Org RXX01,ED,Case %02d,Staff Nurse\r\n", tt.want, child, i)})
	}
	var days []string
	for d := range byDay {
		days = append(days, d)
	}
	sort.Strings(days)
	for _, d := range days {
		if _, err := h.run(utc("2027-04-01T02:30:00Z"), d); err != nil {
			t.Fatal(err)
		}
	}
	files := h.fix.Outboxes(h.t)
	for _, d := range days {
		rows := byDay[d]
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
		want := header
		for _, r := range rows {
			want += r.line
		}
		name := "CPIS_841_ACCESS_" + strings.ReplaceAll(d, "-", "") + ".csv"
		if diff := cmp.Diff(want, files[name]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestWithdrawnOrPurgedPlansAreStillReported(t *testing.T) {
	// The 201 LAC ended a year ago: visible on the 21st, purged on the 22nd.
	ending := plans.Plan{Key: plans.Key{NHS: child, LA: "201", Type: plans.LAC}, Start: date("2024-01-01"), End: date("2025-11-21"), LocalID: "L-OLD"}
	h := newHub(t, utc("2026-11-20T09:00:00Z"), child841CPP, ending)
	h.access(utc("2026-11-21T12:00:00Z"), child, "RXX01", "A User", "ED")
	// 841 withdraws its plan (a FULL return without it) the same day ...
	if err := h.db.Update(func(tx *store.Tx) error {
		_, err := tx.DeletePlan(child841CPP.Key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// ... and the nightly expire purges 201's, and the child's history.
	res, err := expire.Run(h.db, utc("2026-11-22T02:30:00Z"))
	if err != nil || res.Plans != 1 {
		t.Fatalf("expire: %+v, %v", res, err)
	}
	if _, err := h.run(utc("2026-11-22T02:31:00Z"), ""); err != nil {
		t.Fatal(err)
	}
	files := h.fix.Outboxes(h.t)
	for name, want := range map[string]string{
		"CPIS_841_ACCESS_20261121.csv": header + "2026-11-21T12:00:00+00:00," + child + ",C-10442,CPP,RXX01,Org RXX01,ED,A User,Staff Nurse\r\n",
		"CPIS_201_ACCESS_20261121.csv": header + "2026-11-21T12:00:00+00:00," + child + ",L-OLD,LAC,RXX01,Org RXX01,ED,A User,Staff Nurse\r\n",
	} {
		if diff := cmp.Diff(want, files[name]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// TestOneBrokenMailboxTellsTheOthers: an LA whose outbox cannot take its
// file fails alone: every other LA still gets its file, the failure names
// the LA, and the next run, once the mailbox is mended, writes the file it
// owes (with the rows it held), and nothing twice.
func TestOneBrokenMailboxTellsTheOthers(t *testing.T) {
	h := newHub(t, utc("2026-11-20T09:00:00Z"), child841CPP, child201LAC)
	h.access(utc("2026-11-21T10:00:00Z"), child, "RXX01", "A Clinician", "ED")
	broken := h.outbox("201")
	if err := os.RemoveAll(broken); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	written, err := h.run(utc("2026-11-22T09:00:00Z"), "2026-11-21")
	var lae *mesh.LAError
	if !errors.As(err, &lae) || lae.LA != "201" {
		t.Fatalf("run: %v, want the failure of LA 201", err)
	}
	var got []string
	for _, w := range written {
		got = append(got, fmt.Sprintf("%s %s %d", w.LA, w.File, w.Rows))
	}
	want := []string{"203 CPIS_203_ACCESS_20261121.csv 0", "841 CPIS_841_ACCESS_20261121.csv 1", "850 CPIS_850_ACCESS_20261121.csv 0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("written with LA 201's outbox broken (-want +got):\n%s", diff)
	}

	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(broken, 0o750); err != nil {
		t.Fatal(err)
	}
	written, err = h.run(utc("2026-11-22T10:00:00Z"), "2026-11-21")
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, w := range written {
		got = append(got, fmt.Sprintf("%s %s %d", w.LA, w.File, w.Rows))
	}
	if diff := cmp.Diff([]string{"201 CPIS_201_ACCESS_20261121.csv 1"}, got); diff != "" {
		t.Errorf("written once mended (-want +got):\n%s", diff)
	}
}
