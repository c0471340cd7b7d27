package mesh_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
)

func TestSettled(t *testing.T) {
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	cases := []struct {
		age  time.Duration
		want bool
	}{
		{time.Hour, true},
		{mesh.SettleTime + time.Nanosecond, true},
		{mesh.SettleTime, true},
		{mesh.SettleTime - time.Nanosecond, false},
		{0, false},
		{-time.Minute, false}, // modified "in the future": a clock ahead
	}
	for _, c := range cases {
		if got := mesh.Settled(now.Add(-c.age), now); got != c.want {
			t.Errorf("Settled(now - %v) = %v, want %v", c.age, got, c.want)
		}
	}
}

func TestPair(t *testing.T) {
	now := time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)
	// file is "name" (settled an hour ago) or "name@age" in seconds.
	file := func(s string) mesh.FolderFile {
		name, age, _ := strings.Cut(s, "@")
		d := time.Hour
		if age != "" {
			var err error
			if d, err = time.ParseDuration(age + "s"); err != nil {
				t.Fatal(err)
			}
		}
		return mesh.FolderFile{Name: name, Size: int64(len(name)), ModTime: now.Add(-d)}
	}
	// A message reads "data data <- control" (no control: "<- -"), then
	// " ready" when Ready(now).
	show := func(msgs []mesh.Message, lone []mesh.FolderFile) (got []string) {
		for _, m := range msgs {
			var names []string
			for _, d := range m.Data {
				names = append(names, d.Name)
			}
			ctl := "-"
			if m.Control != nil {
				ctl = m.Control.Name
			}
			s := strings.Join(names, " ") + " <- " + ctl
			if m.Ready(now) {
				s += " ready"
			}
			got = append(got, s)
		}
		for _, c := range lone {
			got = append(got, "lone "+c.Name)
		}
		return got
	}
	cases := []struct {
		name  string
		files []string
		want  []string
	}{
		{"nothing", nil, nil},
		{"data and control", []string{"a.csv@1", "a.ctl@1"}, []string{"a.csv <- a.ctl ready"}},
		{"gzipped data", []string{"a.csv.gz", "a.ctl"}, []string{"a.csv.gz <- a.ctl ready"}},
		{"settled without control", []string{"a.csv@10"}, []string{"a.csv <- - ready"}},
		{"fresh without control", []string{"a.csv@9"}, []string{"a.csv <- -"}},
		{"upper-case names", []string{"X.CSV.GZ@1", "X.CTL@1"}, []string{"X.CSV.GZ <- X.CTL ready"}},
		{"exact control name wins", []string{"X.csv", "X.CTL", "X.ctl"}, []string{"X.csv <- X.ctl ready"}},
		{"else the first by name", []string{"X.csv", "X.Ctl", "X.CTL"}, []string{"X.csv <- X.CTL ready"}},
		{"a control file alone", []string{"X.CTL"}, []string{"lone X.CTL"}},
		{"shared control", []string{"a.xml@1", "a.csv@1", "a.ctl@1"}, []string{"a.csv a.xml <- a.ctl ready"}},
		{"shared, one fresh", []string{"a.csv@1", "a.xml@60"}, []string{"a.csv a.xml <- -"}},
		{"shared, settled", []string{"a.csv@60", "a.xml@60"}, []string{"a.csv a.xml <- - ready"}},
		{"interleaved names", []string{"b.csv", "a.xml", "a.csv", "b.ctl"}, []string{"a.csv a.xml <- - ready", "b.csv <- b.ctl ready"}},
		{"lone controls", []string{"old.ctl", "OLD2.CTL@1", "a.csv", "a.ctl"}, []string{"a.csv <- a.ctl ready", "lone OLD2.CTL", "lone old.ctl"}},
		{"other extensions", []string{"report.txt.gz", "report.txt.ctl", "noext"}, []string{"noext <- - ready", "report.txt.gz <- report.txt.ctl ready"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var files []mesh.FolderFile
			for _, f := range c.files {
				files = append(files, file(f))
			}
			if diff := cmp.Diff(c.want, show(mesh.Pair(files))); diff != "" {
				t.Errorf("Pair(%q) (-want +got):\n%s", c.files, diff)
			}
		})
	}
}
