package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/store"
)

// TestListingsJSON: jobs and orgs list print one JSON object per line with
// --json, like every listing command; an organisation's token hash is
// never printed.
func TestListingsJSON(t *testing.T) {
	h := initCLIHub(t)
	if got := h.ok("jobs", "--json"); got != "" {
		t.Errorf("jobs --json with no runs: %q, want nothing", got)
	}
	db, err := store.Open(h.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 22, 2, 15, 0, 0, time.UTC)
	err = db.Update(func(tx *store.Tx) error {
		if err := tx.AddJobRun(store.JobRun{Job: "ingest", Start: start, Duration: 1500 * time.Millisecond, Outcome: "ok", Counts: map[string]int{"messages": 3}}); err != nil {
			return err
		}
		return tx.AddJobRun(store.JobRun{Job: "report", Start: start.Add(time.Hour), Duration: time.Second, Outcome: "failed", Error: "disk full"})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"job":"report","start":"2026-11-22T03:15:00Z","duration_ns":1000000000,"outcome":"failed","error":"disk full"}
{"job":"ingest","start":"2026-11-22T02:15:00Z","duration_ns":1500000000,"outcome":"ok","counts":{"messages":3}}
`
	if diff := cmp.Diff(want, h.ok("jobs", "--json")); diff != "" {
		t.Errorf("jobs --json (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(`{"job":"report","start":"2026-11-22T03:15:00Z","duration_ns":1000000000,"outcome":"failed","error":"disk full"}`+"\n",
		h.ok("jobs", "--json", "--count", "1")); diff != "" {
		t.Errorf("jobs --json --count 1 (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		at   string
		args []string
	}{
		{"2026-11-22T10:00:00Z", []string{"orgs", "add", "RXX01", "--name", "Example Hospital"}},
		{"2026-11-22T11:00:00Z", []string{"orgs", "add", "RYY02", "--name", "Other Trust"}},
		{"2026-11-22T12:00:00Z", []string{"orgs", "revoke", "RYY02"}},
	} {
		if r := h.runAt(c.at, c.args...); r.code != exitOK {
			t.Fatalf("%v: %+v", c.args, r)
		}
	}
	want = `{"ods":"RXX01","name":"Example Hospital","added_at":"2026-11-22T10:00:00Z"}
{"ods":"RYY02","name":"Other Trust","added_at":"2026-11-22T11:00:00Z","revoked_at":"2026-11-22T12:00:00Z"}
`
	if diff := cmp.Diff(want, h.ok("orgs", "list", "--json")); diff != "" {
		t.Errorf("orgs list --json (-want +got):\n%s", diff)
	}
}
