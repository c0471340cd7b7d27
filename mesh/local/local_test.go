package local_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh/local"
)

// realNow is the real clock the tests pretend it is; files are aged
// against it with os.Chtimes.
var realNow = time.Date(2026, 11, 21, 1, 30, 0, 0, time.UTC)

func newMailbox(t *testing.T) *local.Mailbox {
	t.Helper()
	m := local.Open(t.TempDir(), "la841hc001")
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	return m
}

// put writes content to dir/name, last modified age before realNow.
func put(t *testing.T, dir, name, content string, age time.Duration) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	mt := realNow.Add(-age)
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	return p
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func TestLayout(t *testing.T) {
	root := t.TempDir()
	m := local.Open(root, "la841hc001")
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	if m.ID() != "LA841HC001" {
		t.Errorf("ID = %q", m.ID())
	}
	for _, d := range []string{"mailboxes/LA841HC001/inbox", "mailboxes/LA841HC001/outbox", "archive/LA841HC001/in", "archive/LA841HC001/out"} {
		info, err := os.Stat(filepath.Join(root, d))
		if err != nil || !info.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if got := m.InboxDir(); got != filepath.Join(root, "mailboxes", "LA841HC001", "inbox") {
		t.Errorf("InboxDir = %q", got)
	}
	if got := m.OutboxDir(); got != filepath.Join(root, "mailboxes", "LA841HC001", "outbox") {
		t.Errorf("OutboxDir = %q", got)
	}
	if err := m.Create(); err != nil {
		t.Errorf("second Create: %v", err)
	}
	for _, id := range []string{"", "../x", "LA841/x", "LA 841"} {
		if err := local.Open(root, id).Create(); err == nil {
			t.Errorf("Create(%q): no error", id)
		}
	}
}

func TestIncoming(t *testing.T) {
	type file struct {
		name string
		age  time.Duration
	}
	type ready struct{ Name, ControlName, Problem string }
	const shared = "data files a.csv, a.xml share one control file"
	tests := []struct {
		name  string
		files []file
		dirs  []string
		links []string
		want  []ready
	}{
		{"with control, fresh", []file{{"CPIS_841_FULL_20261121.csv", 0}, {"CPIS_841_FULL_20261121.ctl", 0}},
			nil, nil, []ready{{"CPIS_841_FULL_20261121.csv", "CPIS_841_FULL_20261121.ctl", ""}}},
		{"gzip with control", []file{{"CPIS_841_FULL_20261121.csv.gz", time.Second}, {"CPIS_841_FULL_20261121.ctl", 0}},
			nil, nil, []ready{{"CPIS_841_FULL_20261121.csv.gz", "CPIS_841_FULL_20261121.ctl", ""}}},
		{"upper-case names", []file{{"X.CSV.GZ", 0}, {"X.CTL", 0}}, nil, nil, []ready{{"X.CSV.GZ", "X.CTL", ""}}},
		{"other extension", []file{{"x.xlsx", 0}, {"x.ctl", 0}}, nil, nil, []ready{{"x.xlsx", "x.ctl", ""}}},
		{"no control, fresh", []file{{"a.csv", 5 * time.Second}}, nil, nil, nil},
		{"no control, modified in the future", []file{{"a.csv", -time.Hour}}, nil, nil, nil},
		{"no control, just settled", []file{{"a.csv", 10 * time.Second}}, nil, nil, []ready{{"a.csv", "", ""}}},
		{"no control, old", []file{{"a.csv", time.Hour}}, nil, nil, []ready{{"a.csv", "", ""}}},
		{"control of another file", []file{{"a.csv", 0}, {"b.ctl", 0}}, nil, nil, nil},
		{"control alone", []file{{"a.ctl", 2 * time.Hour}}, nil, nil, nil},
		{"work in progress", []file{
			{".a.csv", time.Hour}, {"b.csv.filepart", time.Hour}, {"c.csv.part", time.Hour},
			{"d.csv.tmp", time.Hour}, {".e.csv.tmp", time.Hour}, {"f.csv.PART", time.Hour},
		}, nil, nil, nil},
		{"folders and links", []file{{"target", time.Hour}}, []string{"dir.csv"}, []string{"link.csv"},
			[]ready{{"target", "", ""}}},
		{"shared control", []file{{"a.csv", 0}, {"a.xml", 0}, {"a.ctl", 0}}, nil, nil,
			[]ready{{"a.csv", "", shared}, {"a.xml", "", shared}}},
		{"shared, settled", []file{{"a.csv", time.Minute}, {"a.xml", time.Minute}}, nil, nil,
			[]ready{{"a.csv", "", shared}, {"a.xml", "", shared}}},
		{"shared, one still arriving", []file{{"a.csv", time.Minute}, {"a.xml", 0}}, nil, nil, nil},
		{"sorted", []file{{"c.csv", time.Hour}, {"a.csv.gz", time.Hour}, {"b.xml", 0}, {"b.ctl", 0}}, nil, nil,
			[]ready{{"a.csv.gz", "", ""}, {"b.xml", "b.ctl", ""}, {"c.csv", "", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMailbox(t)
			for _, f := range tt.files {
				put(t, m.InboxDir(), f.name, "x", f.age)
			}
			for _, d := range tt.dirs {
				if err := os.Mkdir(filepath.Join(m.InboxDir(), d), 0o750); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range tt.links {
				if err := os.Symlink(filepath.Join(m.InboxDir(), "target"), filepath.Join(m.InboxDir(), l)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := m.Incoming(realNow)
			if err != nil {
				t.Fatal(err)
			}
			var short []ready
			for _, in := range got {
				short = append(short, ready{in.Name, in.ControlName, in.Problem})
				if in.Path != filepath.Join(m.InboxDir(), in.Name) || in.Size != 1 {
					t.Errorf("%s: Path %q, Size %d", in.Name, in.Path, in.Size)
				}
				if in.ControlName != "" && in.ControlPath != filepath.Join(m.InboxDir(), in.ControlName) {
					t.Errorf("%s: ControlPath %q", in.Name, in.ControlPath)
				}
			}
			if diff := cmp.Diff(tt.want, short); diff != "" {
				t.Errorf("Incoming (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIncomingModTime(t *testing.T) {
	m := newMailbox(t)
	put(t, m.InboxDir(), "a.csv", "hello", time.Minute)
	got, err := m.Incoming(realNow)
	if err != nil || len(got) != 1 {
		t.Fatalf("Incoming = %v, %v", got, err)
	}
	if !got[0].ModTime.Equal(realNow.Add(-time.Minute)) || got[0].Size != 5 {
		t.Errorf("ModTime %v, Size %d", got[0].ModTime, got[0].Size)
	}
}

func TestStaleControls(t *testing.T) {
	m := newMailbox(t)
	put(t, m.InboxDir(), "old.ctl", "x", 2*time.Hour)
	put(t, m.InboxDir(), "OLD2.CTL", "x", time.Hour+time.Second)
	put(t, m.InboxDir(), "young.ctl", "x", 30*time.Minute)
	put(t, m.InboxDir(), "paired.ctl", "x", 2*time.Hour)
	put(t, m.InboxDir(), "paired.csv.gz", "x", 0)
	put(t, m.InboxDir(), ".hidden.ctl", "x", 2*time.Hour)
	got, err := m.StaleControls(realNow)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"OLD2.CTL", "old.ctl"}, got); diff != "" {
		t.Errorf("StaleControls (-want +got):\n%s", diff)
	}
	const id = "20261121013000123456_3F9A0C"
	for _, name := range got {
		if err := m.ArchiveStaleControl(name, id); err != nil {
			t.Fatal(err)
		}
	}
	put(t, m.InboxDir(), "old.ctl", "again", 2*time.Hour)
	if err := m.ArchiveStaleControl("old.ctl", id); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{id + "_OLD2.CTL", id + "_old.1.ctl", id + "_old.ctl"}, names(t, m.ArchiveInDir())); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}
	if err := m.ArchiveStaleControl("OLD3.ctl", "not-an-id"); err == nil {
		t.Error("ArchiveStaleControl with a bad message ID: no error")
	}
	for _, bad := range []string{"paired.csv.gz", "../x.ctl", ".hidden.ctl"} {
		if err := m.ArchiveStaleControl(bad, id); err == nil {
			t.Errorf("ArchiveStaleControl(%q): no error", bad)
		}
	}
}
