package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateCLI generates a small set, builds a hub from it and ingests
// one LA's returns: both are applied cleanly.
func TestGenerateCLI(t *testing.T) {
	out := filepath.Join(t.TempDir(), "set")
	r := cliRun(t, "--now", cliNow, "generate", "--out", out, "--authorities", "3", "--plans", "300", "--seed", "9")
	if r.code != exitOK || r.stderr != "" || !strings.HasPrefix(r.stdout, "Generated 300 plans for 3 LAs in ") {
		t.Fatalf("generate: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	again := filepath.Join(t.TempDir(), "again")
	cliRun(t, "--now", cliNow, "generate", "--out", again, "--authorities", "3", "--plans", "300", "--seed", "9")
	for _, f := range []string{"authorities.csv", "demographics.csv", "accesses.csv", "returns/201/CPIS_201_FULL_20261121.csv", "returns/202/CPIS_202_FULL_20261121.xml"} {
		a, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(again, f))
		if string(a) != string(b) {
			t.Errorf("%s differs between two runs with the same seed and --now", f)
		}
	}
	if r := cliRun(t, "--now", cliNow, "generate", "--out", out, "--plans", "10"); r.code != exitFailure || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("generate into a used directory: exit %d, stderr %q", r.code, r.stderr)
	}

	h := newCLIHub(t)
	h.ok("init", "--authorities", filepath.Join(out, "authorities.csv"), "--pds", filepath.Join(out, "demographics.csv"))
	h.ok("mailbox", "send", "--la", "202",
		filepath.Join(out, "returns", "202", "CPIS_202_FULL_20261121.xml"),
		filepath.Join(out, "returns", "202", "CPIS_202_DELTA_20261122.csv"))
	lines := strings.Split(strings.TrimSpace(h.ok("ingest", "--json")), "\n")
	if len(lines) != 2 {
		t.Fatalf("ingest --json: %q", lines)
	}
	for _, l := range lines {
		var rep struct {
			File     string `json:"file"`
			Code     string `json:"code"`
			Read     int    `json:"read"`
			Applied  int    `json:"applied"`
			Warnings int    `json:"warnings"`
		}
		if err := json.Unmarshal([]byte(l), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Code != "CPF02" || rep.Read == 0 || rep.Applied != rep.Read || rep.Warnings != 0 {
			t.Errorf("%s: %+v, want CPF02 with every row applied", rep.File, rep)
		}
	}
}

func TestGenerateCLIUsage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x")
	for _, args := range [][]string{
		{"generate"},
		{"generate", "--out", out, "--authorities", "0"},
		{"generate", "--out", out, "--authorities", "154"},
		{"generate", "--out", out, "--plans", "0"},
		{"generate", "--out", out, "--error-rate", "1.5"},
		{"generate", "--out", out, "--error-rate", "NaN"},
		{"generate", "--out", out, "--seed", "-1"},
		{"generate", "--out", out, "extra"},
	} {
		if r := cliRun(t, args...); r.code != exitUsage {
			t.Errorf("cpis %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), r.code, exitUsage, r.stderr)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a usage error wrote %s", out)
	}
}
