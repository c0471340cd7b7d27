package mesh_test

// Fuzz target for the control-file parser (issue 6).
//
//	go test -run='^$' -fuzz=FuzzParseControl -fuzztime=60s -fuzzminimizetime=5s ./mesh
//
// Plain go test replays the seed corpus under
// testdata/fuzz/FuzzParseControl/, which gen_fuzz_corpus.go writes from
// its list of seeds:
//
//	go generate ./mesh/

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
)

// controlFuzzHang is how long one input may take before the target
// reports a hang.
const controlFuzzHang = 20 * time.Second

// controlAllocBudget bounds what ParseControl may allocate for an input of
// n bytes: it reads at most MaxControlSize+1 bytes, so the budget is fixed
// beyond that (a few copies of the input while decoding twice).
func controlAllocBudget(n int) uint64 {
	return 8<<20 + 96*uint64(min(n, mesh.MaxControlSize+1))
}

func FuzzParseControl(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		type outcome struct {
			c     mesh.Control
			err   error
			alloc uint64
		}
		done := make(chan outcome, 1)
		go func() {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c, err := mesh.ParseControl(mesh.LimitReader(bytes.NewReader(data), 1<<20))
			runtime.ReadMemStats(&after)
			done <- outcome{c, err, after.TotalAlloc - before.TotalAlloc}
		}()
		var out outcome
		select {
		case out = <-done:
		case <-time.After(controlFuzzHang):
			t.Fatalf("ParseControl of %d bytes did not end within %v", len(data), controlFuzzHang)
		}
		if out.alloc > controlAllocBudget(len(data)) {
			t.Fatalf("ParseControl of %d bytes allocated %d bytes, over the budget of %d", len(data), out.alloc, controlAllocBudget(len(data)))
		}
		if out.err != nil {
			if !errors.Is(out.err, mesh.ErrBadControl) {
				t.Fatalf("ParseControl error %v does not wrap ErrBadControl", out.err)
			}
			if len(data) > mesh.MaxControlSize && !errors.Is(out.err, mesh.ErrTooLarge) {
				t.Fatalf("ParseControl of %d bytes: %v, want ErrTooLarge", len(data), out.err)
			}
			if !cmp.Equal(out.c, mesh.Control{}) {
				t.Fatalf("ParseControl failed (%v) but returned %+v", out.err, out.c)
			}
			return
		}
		if len(data) > mesh.MaxControlSize {
			t.Fatalf("ParseControl accepted %d bytes, over MaxControlSize", len(data))
		}
		c := out.c
		for _, v := range []string{c.Version, c.AddressType, c.MessageType, c.From, c.To, c.Subject, c.LocalID, c.DTSID, c.WorkflowID} {
			if v != strings.TrimSpace(v) {
				t.Fatalf("ParseControl value %q is not trimmed", v)
			}
		}
		if s := c.Status; s != nil && !s.DateTime.IsZero() {
			if s.DateTime.Location() != time.UTC || s.DateTime.Nanosecond() != 0 {
				t.Fatalf("StatusRecord DateTime %v is not whole seconds UTC", s.DateTime)
			}
		}
		// What was read survives writing and reading again.
		again, err := mesh.ParseControl(bytes.NewReader(c.Marshal()))
		if err != nil {
			t.Fatalf("ParseControl(Marshal(%+v)): %v\n%s", c, err, c.Marshal())
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("control changed through Marshal and ParseControl (-read +again):\n%s\n%s", diff, c.Marshal())
		}
	})
}
