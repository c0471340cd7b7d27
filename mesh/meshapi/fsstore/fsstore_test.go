package fsstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
	"cpis/mesh/meshapi"
	"cpis/mesh/meshapi/fsstore"
)

var clock = time.Date(2026, 11, 21, 1, 30, 0, 0, time.UTC)

func open(t *testing.T, dir string) *fsstore.Store {
	t.Helper()
	s, err := fsstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return clock }
	s.ChunkSize, s.InlineLimit = 10, 25
	t.Cleanup(func() { s.Close() })
	return s
}

func env(i int, to string) meshapi.Envelope {
	return meshapi.Envelope{ID: fmt.Sprintf("20261121013000%06d_%06X", i, i), From: "LA841HC001", To: to,
		Workflow: mesh.WorkflowUpload, FileName: fmt.Sprintf("f%d.csv", i), Chunks: 1, Uploaded: clock}
}

func read(t *testing.T, s *fsstore.Store, mailbox, id string) string {
	t.Helper()
	m, err := s.Open(t.Context(), mailbox, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for k := 1; k <= m.Chunks; k++ {
		rc, n, err := s.Chunk(t.Context(), mailbox, id, k)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(b)) != n {
			t.Fatalf("chunk %d: %d bytes, said %d", k, len(b), n)
		}
		out = append(out, b...)
	}
	return string(out)
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	contents := []string{"short", "twenty-two bytes long!", "more than the inline limit of twenty-five bytes"}
	var ids []string
	for i, c := range contents {
		e := env(i, "CPISHUB01")
		if err := s.Deliver(t.Context(), e, strings.NewReader(c)); err != nil {
			t.Fatal(err)
		}
		// Twice: nothing more.
		if err := s.Deliver(t.Context(), e, strings.NewReader("other")); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	// A body that fails keeps nothing.
	boom := errors.New("connection reset")
	if err := s.Deliver(t.Context(), env(9, "CPISHUB01"), io.MultiReader(strings.NewReader("part"), errReader{boom})); !errors.Is(err, boom) {
		t.Fatalf("failing body: %v", err)
	}
	check := func(s *fsstore.Store, wantIDs []string) {
		t.Helper()
		list, err := s.List(t.Context(), "CPISHUB01")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range list {
			got = append(got, e.ID)
		}
		if diff := cmp.Diff(wantIDs, got); diff != "" {
			t.Errorf("list (-want +got):\n%s", diff)
		}
		for i, id := range ids {
			if contains(wantIDs, id) {
				if got := read(t, s, "CPISHUB01", id); got != contents[i] {
					t.Errorf("%s: %q", id, got)
				}
			}
		}
	}
	check(s, ids)
	if m, _ := s.Open(t.Context(), "CPISHUB01", ids[2]); m.Chunks != 5 {
		t.Errorf("chunks %d", m.Chunks)
	}
	if _, err := s.Open(t.Context(), "LA842HC001", ids[0]); !errors.Is(err, meshapi.ErrForbidden) {
		t.Errorf("other mailbox: %v", err)
	}
	if err := s.Acknowledge(t.Context(), "CPISHUB01", ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Acknowledge(t.Context(), "CPISHUB01", ids[1]); err != nil {
		t.Fatalf("again: %v", err)
	}
	if tr, err := s.Track(t.Context(), "LA841HC001", ids[1]); err != nil || tr.Status != meshapi.StatusAcknowledged {
		t.Errorf("track: %+v %v", tr, err)
	}
	check(s, []string{ids[0], ids[2]})

	// Reopened: the same, from the journal; a torn tail is cut.
	s.Close()
	f, _ := os.OpenFile(filepath.Join(dir, "journal.log"), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 1, 0, 1, 2, 3})
	f.Close()
	s2 := open(t, dir)
	check(s2, []string{ids[0], ids[2]})
	if err := s2.Deliver(t.Context(), env(5, "CPISHUB01"), strings.NewReader("after")); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3 := open(t, dir)
	if got := read(t, s3, "CPISHUB01", env(5, "").ID); got != "after" {
		t.Errorf("after the cut tail: %q", got)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Concurrent deliveries share flushes.
func TestGroupCommit(t *testing.T) {
	s := open(t, t.TempDir())
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := s.Deliver(t.Context(), env(i, "CPISHUB01"), bytes.NewReader([]byte("x"))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if s.Deliveries() != 200 {
		t.Fatalf("%d deliveries", s.Deliveries())
	}
	t.Logf("200 deliveries, %d flushes", s.Syncs())
	if s.Syncs() >= 200 {
		t.Errorf("%d flushes for 200 concurrent deliveries", s.Syncs())
	}
}
