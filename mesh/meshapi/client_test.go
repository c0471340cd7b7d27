package meshapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
	"cpis/mesh/meshapi"
	"cpis/mesh/meshapi/meshload"
)

// meshClient is NHS England's client as meshload mimics it.
type meshClient = meshload.Client

func newMeshClient(t testing.TB, base, mailbox, password string, now func() time.Time) *meshClient {
	return meshload.NewClient(t, base, mailbox, password, sharedKey, now)
}

func TestClientRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := newMeshClient(t, e.srv.URL, la841, pw841, e.clock)
	c.Handshake()
	if hs := e.store.Handshakes()[la841]; hs.Client.Version != "mesh_client==3.0" {
		t.Errorf("handshake %+v", hs)
	}

	// Sends: whole, whole compressed, chunked compressed, chunked plain.
	big := bytes.Repeat([]byte("9990000018,CPP,2026-11-21\n"), 200) // 5,200 bytes
	sends := []struct {
		name     string
		data     []byte
		chunk    int
		compress bool
	}{
		{"a.csv", []byte("small"), 1000, false},
		{"b.csv", []byte("small, compressed"), 1000, true},
		{"c.csv", big, 1000, true},
		{"d.csv", big, 2048, false},
	}
	for _, s := range sends {
		id := c.Send(mesh.HubMailbox, mesh.WorkflowUpload, s.name, s.data, s.chunk, s.compress)
		got, ok := e.store.Content(id)
		if !ok || !bytes.Equal(got, s.data) {
			t.Errorf("%s: delivered %d bytes, want %d", s.name, len(got), len(s.data))
		}
		env, _ := e.store.Envelope(id)
		if env.FileName != s.name || env.LocalID != "local-"+s.name || env.Chunks != (len(s.data)+s.chunk-1)/s.chunk {
			t.Errorf("%s: envelope %+v", s.name, env)
		}
		if tr := c.Track(id); tr["status"] != "accepted" || tr["message_id"] != id || tr["filename"] != s.name {
			t.Errorf("%s: tracking %v", s.name, tr)
		}
	}

	// Receives: 23 messages, some in gzipped chunks, some plain chunks.
	want := map[string][]byte{}
	var ids []string
	for i := range 23 {
		e.store.ChunkSize, e.store.GzipChunks = []int{0, 100, 64}[i%3], i%2 == 0
		id := fmt.Sprintf("20261121020000%06d_%06X", i, i)
		content := bytes.Repeat([]byte(fmt.Sprintf("line %d\n", i)), 10+i*3)
		e.store.Put(meshapi.Message{ID: id, From: mesh.HubMailbox, To: la841, Workflow: mesh.WorkflowUploadAck, Delivered: clock}, content)
		want[id] = content
		ids = append(ids, id)
	}
	e.store.ChunkSize, e.store.GzipChunks = 0, false
	if got := c.IDs(10); !cmp.Equal(got, ids) {
		t.Fatalf("listed %v", got)
	}
	for _, id := range c.IDs(10) {
		if got := c.Retrieve(id); !bytes.Equal(got, want[id]) {
			t.Errorf("%s: downloaded %q, want %q", id, got, want[id])
		}
		c.Ack(id)
	}
	if got := c.IDs(10); len(got) != 0 {
		t.Errorf("inbox after acknowledging all: %v", got)
	}
}

// Requests answered 429 are retried with the same Authorization header,
// which the server then accepts.
func TestClientRetriesSameHeader(t *testing.T) {
	e := newEnv(t, func(c *meshapi.Config) { c.MaxConcurrent = 1 })
	var mu sync.Mutex
	seen := map[string][]int{} // Authorization -> statuses
	inner := e.srv.Config.Handler
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		inner.ServeHTTP(rec, r)
		mu.Lock()
		seen[r.Header.Get("Authorization")] = append(seen[r.Header.Get("Authorization")], rec.status)
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := newMeshClient(t, e.srv.URL, la841, pw841, e.clock)
			for range 10 {
				c.IDs(10)
				c.Send(mesh.HubMailbox, mesh.WorkflowUpload, "x.csv", []byte("x"), 100, false)
			}
		})
	}
	wg.Wait()
	if n := e.store.Deliveries(); n != 40 {
		t.Errorf("%d deliveries, want 40", n)
	}
	retried := 0
	for auth, statuses := range seen {
		last := statuses[len(statuses)-1]
		if last != 200 && last != 202 {
			t.Errorf("%s: %v", auth, statuses)
		}
		for _, s := range statuses[:len(statuses)-1] {
			if s != 429 {
				t.Errorf("%s: %v", auth, statuses)
			}
		}
		if len(statuses) > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Log("no request was refused 429 (the machine was slow enough to serialise them)")
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.ResponseWriter.Write(p)
}
