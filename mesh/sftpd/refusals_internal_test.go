package sftpd

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A flood of refusals of one kind from one source is one audit entry a
// minute, with the count of those held back.
func TestRefusalsHeldBack(t *testing.T) {
	r := newRefusals(time.Minute)
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ev := func(remote string) Event {
		return Event{Kind: KindRefusal, Op: "connect", Remote: remote, Outcome: OutcomeRefused, Reason: "too many"}
	}
	type step struct {
		at     time.Duration
		key    string
		remote string
	}
	var got []Event
	for _, s := range []step{
		{0, "a", "10.0.0.1:1"},           // let through
		{time.Second, "a", "10.0.0.1:2"}, // held
		{2 * time.Second, "a", "10.0.0.1:3"},
		{3 * time.Second, "b", "10.0.0.2:1"},  // another source: let through
		{61 * time.Second, "a", "10.0.0.1:4"}, // a minute on: through, with the count
		{62 * time.Second, "a", "10.0.0.1:5"}, // held, then summarised
	} {
		if e, ok := r.hold(s.key, ev(s.remote), t0.Add(s.at)); ok {
			got = append(got, e)
		}
	}
	got = append(got, r.due(t0.Add(90*time.Second))...) // not a minute since the last yet
	got = append(got, r.due(t0.Add(122*time.Second))...)
	for i := range got {
		got[i].At = time.Time{}
	}
	want := []Event{
		ev("10.0.0.1:1"),
		ev("10.0.0.2:1"),
		{Kind: KindRefusal, Op: "connect", Remote: "10.0.0.1:4", Outcome: OutcomeRefused, Reason: "too many (and 2 more since the last entry)"},
		{Kind: KindRefusal, Op: "connect", Remote: "10.0.0.1:5", Outcome: OutcomeRefused, Reason: "too many (refused 1 times since the last entry)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audited (-want +got):\n%s", diff)
	}
	if len(r.m) != 1 {
		t.Errorf("%d kinds remembered after a quiet minute, want 1 (the one just summarised)", len(r.m))
	}
}

// Past maxHeld sources, new ones share one entry: memory stays bounded
// whatever the number of addresses.
func TestRefusalsBounded(t *testing.T) {
	r := newRefusals(time.Minute)
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	through := 0
	for i := range 3 * maxHeld {
		if _, ok := r.hold(string(rune(i)), Event{}, t0); ok {
			through++
		}
	}
	if len(r.m) > maxHeld+1 || through != maxHeld+1 {
		t.Errorf("%d entries, %d let through; want at most %d, %d", len(r.m), through, maxHeld+1, maxHeld+1)
	}
}
