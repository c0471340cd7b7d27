package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCLIDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("demo initialises 153 LAs and runs the whole cycle")
	}
	base := t.TempDir()

	full := filepath.Join(base, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cliRun(t, "--now", cliNow, "demo", full)
	if r.code != exitFailure {
		t.Errorf("demo on a non-empty dir: exit %d, want 1", r.code)
	}
	if diff := cmp.Diff("cpis: demo: "+full+" is not empty; give an absent or empty directory\n", r.stderr); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Errorf("demo on a non-empty dir changed it: %v", entries)
	}

	dir := filepath.Join(base, "demo")
	r = cliRun(t, "--now", cliNow, "demo", dir)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	out := r.stdout

	// It says how to release the held return, and the command works as
	// printed.
	m := regexp.MustCompile(`Release it with:  cpis --data (\S+) returns release (\S+)\n`).FindStringSubmatch(out)
	if m == nil || m[1] != dir {
		t.Fatalf("demo output has no release command for %s:\n%s", dir, out)
	}
	id := m[2]
	if !strings.Contains(out, "or discard it:    cpis --data "+dir+" returns discard "+id+"\n") {
		t.Errorf("demo output has no discard command for %s", id)
	}

	// Every response path it prints is on disk, in an LA's outbox.
	_, responses, ok := strings.Cut(out, "Responses to open")
	if !ok {
		t.Fatalf("demo output has no responses section:\n%s", out)
	}
	responses, lookups, ok := strings.Cut(responses, "6. Health lookups")
	if !ok {
		t.Fatalf("demo output has no lookups section:\n%s", out)
	}
	// Lookups: one silent, one without an alert; then the access files of
	// the next night, on disk.
	for _, want := range []string{"9990276579 ED    alert=true", "9990276579 GP    alert=true", "alert=false plans=0 history=0"} {
		if !strings.Contains(lookups, want) {
			t.Errorf("demo lookups lack %q:\n%s", want, lookups)
		}
	}
	files := 0
	for l := range strings.Lines(lookups) {
		p, _, _ := strings.Cut(strings.TrimSpace(l), "  (")
		if strings.HasPrefix(p, dir) && strings.Contains(p, "_ACCESS_") {
			files++
			if _, err := os.Stat(p); err != nil {
				t.Errorf("access file printed but not on disk: %v", err)
			}
		}
	}
	if files == 0 {
		t.Errorf("demo printed no access files:\n%s", lookups)
	}
	n := 0
	for l := range strings.Lines(responses) {
		p := strings.TrimSpace(l)
		if !strings.HasPrefix(p, dir) {
			continue
		}
		n++
		if filepath.Base(filepath.Dir(p)) != "outbox" || !strings.Contains(filepath.Base(p), "_RESPONSE_") {
			t.Errorf("response path %s is not a response in an outbox", p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("response path printed but not on disk: %v", err)
		}
	}
	if n == 0 {
		t.Errorf("demo printed no response paths:\n%s", out)
	}

	// The data directory is a hub: the held return is listed.
	h := &cliHub{t: t, data: dir}
	var held []string
	for l := range strings.Lines(h.ok("returns", "list")) {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "held" {
			held = append(held, f[0])
		}
	}
	if diff := cmp.Diff([]string{id}, held); diff != "" {
		t.Errorf("held returns listed (-want +got):\n%s", diff)
	}
	// It says how to open the console, and its users add line works as
	// printed: the officer gets a set-up link.
	add := regexp.MustCompile(`cpis --data (\S+) users add --la 841 (\S+)`).FindStringSubmatch(out)
	if add == nil || add[1] != dir {
		t.Fatalf("demo output has no users add line for %s:\n%s", dir, out)
	}
	if r := cliRun(t, "--now", cliNow, "--data", dir, "users", "add", "--la", "841", add[2]); r.code != exitOK || !strings.Contains(r.stdout, "http://127.0.0.1:8443/setup/") {
		t.Errorf("users add as the demo prints it: exit %d, no set-up link:\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A DELTA dated on the held return's day waits untaken, and says so.
	listed := cliJSONLines(t, h.ok("returns", "list", "--json"))
	extract, _ := listed[0]["extract_date"].(string)
	name := "CPIS_330_DELTA_" + strings.ReplaceAll(extract, "-", "") + ".csv"
	h.files = t.TempDir()
	h.send("330", name, crlf("nhs_number,plan_type,start_date,local_id"))
	want := map[string]any{"message_id": "", "la": "330", "state": "waiting behind held return", "file": name,
		"extract_date": extract, "withdrawn": 0.0, "waits_behind": id}
	got := cliJSONLines(t, h.ok("returns", "list", "--json"))
	if len(got) != 2 {
		t.Fatalf("returns list --json: %v", got)
	}
	if diff := cmp.Diff(want, got[1]); diff != "" {
		t.Errorf("DELTA waiting behind the held return (-want +got):\n%s", diff)
	}
	if out := h.ok("returns", "release", id); !strings.HasPrefix(out, "Released "+id+" ") {
		t.Errorf("returns release printed %q", out)
	}
	if out := h.ok("returns", "list"); out != "No held or waiting returns.\n" {
		t.Errorf("returns list after release printed %q", out)
	}

	// The directory is no longer empty: a second demo into it is refused.
	if r := cliRun(t, "--now", cliNow, "demo", dir); r.code != exitFailure {
		t.Errorf("second demo into %s: exit %d, want 1", dir, r.code)
	}
}
