package hubtest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/hubtest"
	"cpis/mesh"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

func TestNew(t *testing.T) {
	created := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	p := plans.Plan{Key: plans.Key{NHS: "9990276579", LA: "841", Type: plans.CPP}, Start: caldate.Of(2026, 3, 2), LocalID: "C-1"}
	h := hubtest.New(t, hubtest.Options{LAs: []string{"841", "201", "202"}, Mailboxes: []string{"841"}, Created: created, Plans: []plans.Plan{p}})

	var las, held []string
	people := 0
	if err := h.DB.View(func(tx *store.Tx) error {
		all, err := tx.Authorities()
		for _, a := range all {
			las = append(las, a.Code+" "+a.MailboxID)
		}
		if err != nil {
			return err
		}
		if err := tx.AllPlans(func(p plans.Plan) error { held = append(held, p.Key.String()); return nil }); err != nil {
			return err
		}
		for _, n := range []string{"9990276579", "9993765570", "9994238477"} {
			_, ok, err := tx.Demographic(n)
			if err != nil {
				return err
			}
			if ok {
				people++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"201 LA201HC001", "202 LA202HC001", "841 LA841HC001"}, las); diff != "" {
		t.Errorf("authorities (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{p.Key.String()}, held); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}
	if people != 3 {
		t.Errorf("%d of 3 people of testdata/demographics.csv in the reference", people)
	}
	for la, want := range map[string]bool{"841": true, "201": false, "202": false} {
		for _, dir := range []string{h.Mailbox(la).InboxDir(), h.Mailbox(la).OutboxDir(), h.Mailbox(la).ArchiveInDir()} {
			if _, err := os.Stat(dir); (err == nil) != want {
				t.Errorf("%s: exists %v, want %v", dir, err == nil, want)
			}
		}
	}

	// Another hub of the same template is a copy: nothing is shared.
	other := hubtest.New(t, hubtest.Options{LAs: []string{"202", "201", "841"}, Created: created, NoDemographics: true})
	if other.Dir == h.Dir {
		t.Fatal("two hubs share a directory")
	}
	if err := other.DB.View(func(tx *store.Tx) error {
		if err := tx.AllPlans(func(p plans.Plan) error { return fmt.Errorf("plan %s in a new hub", p.Key) }); err != nil {
			return err
		}
		if tx.HasDemographics() {
			return fmt.Errorf("a demographics reference in a hub made without one")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}

	// Send puts a return and its control file into the LA's inbox.
	src := filepath.Join(t.TempDir(), "CPIS_841_DELTA_20261121.csv")
	if err := os.WriteFile(src, []byte("nhs_number,plan_type,action\n9990276579,CPP,DELETE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const id = "20261121013000123456_3F9A0C"
	h.Send(t, src, id)
	ctl, err := os.ReadFile(filepath.Join(h.Mailbox("841").InboxDir(), "CPIS_841_DELTA_20261121.ctl"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := mesh.ParseControl(strings.NewReader(string(ctl)))
	if err != nil || c.DTSID != id || c.From != "LA841HC001" || c.To != mesh.HubMailbox || c.WorkflowID != mesh.WorkflowUpload {
		t.Errorf("control file %+v, %v", c, err)
	}
}

// TestNewUnknownLA: a code that is not an authority of the file is a
// mistake in the test, not a hub without that LA.
func TestNewUnknownLA(t *testing.T) {
	for _, opts := range []hubtest.Options{{LAs: []string{"841", "999"}}, {LAs: []string{"841"}, Mailboxes: []string{"202"}}} {
		msgs := record(t, func(tb testing.TB) { hubtest.New(tb, opts) })
		if len(msgs) != 1 || !strings.Contains(msgs[0], "is not among the hub's authorities") {
			t.Errorf("New(%+v): failures %q, want one naming the LA", opts, msgs)
		}
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// record runs f with a recorder and returns what failed.
func record(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msgs
}

// TestGoldenDir: a golden set passes only when every file is there with
// the same content and nothing else matches the pattern.
func TestGoldenDir(t *testing.T) {
	if hubtest.Update() {
		t.Skip("-update rewrites golden files; this test compares on purpose")
	}
	names := regexp.MustCompile(`\.golden\.txt$`)
	tests := []struct {
		name  string
		files map[string]string // the golden dir
		got   map[string]string
		fail  string // in the failure, "" for none
	}{
		{name: "same", files: map[string]string{"a.golden.txt": "A\n", "README": "x"}, got: map[string]string{"a.golden.txt": "A\n"}},
		{name: "differs", files: map[string]string{"a.golden.txt": "A\n"}, got: map[string]string{"a.golden.txt": "B\n"}, fail: "a.golden.txt mismatch"},
		{name: "stale golden", files: map[string]string{"a.golden.txt": "A\n", "b.golden.txt": "B\n"}, got: map[string]string{"a.golden.txt": "A\n"}, fail: "golden file b.golden.txt has no counterpart"},
		{name: "missing golden", files: map[string]string{}, got: map[string]string{"a.golden.txt": "A\n"}, fail: "missing golden file a.golden.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, s := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got := map[string][]byte{}
			for name, s := range tt.got {
				got[name] = []byte(s)
			}
			msgs := record(t, func(tb testing.TB) { hubtest.GoldenDir(tb, dir, names, got) })
			switch {
			case tt.fail == "" && len(msgs) > 0:
				t.Errorf("failed: %q", msgs)
			case tt.fail != "" && (len(msgs) != 1 || !strings.Contains(msgs[0], tt.fail)):
				t.Errorf("failures %q, want one saying %q", msgs, tt.fail)
			}
			if msgs := record(t, func(tb testing.TB) { hubtest.Golden(tb, filepath.Join(dir, "a.golden.txt"), got["a.golden.txt"]) }); (len(msgs) == 0) != (tt.fail == "" || tt.name == "stale golden") {
				t.Errorf("Golden of a.golden.txt: failures %q", msgs)
			}
		})
	}
}
