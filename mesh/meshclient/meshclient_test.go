package meshclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh/meshapi"
	"cpis/mesh/meshapi/memory"
	"cpis/mesh/meshclient"
)

const (
	sharedKey = "TestKey"
	hubBox    = "X26OT001" // the hub's own mailbox at MESH
	hubPW     = "hub-secret"
	la841     = "LA841HC001"
	pw841     = "secret-841"
	upload    = "CPIS_LA_UPLOAD"
	ack       = "CPIS_LA_UPLOAD_ACK"
)

var clock = time.Date(2026, 11, 21, 1, 30, 0, 0, time.UTC)

// env is a MESH (meshapi over the memory backend) on a real listener.
type env struct {
	store *memory.Store
	srv   *httptest.Server

	mu   sync.Mutex
	seen []seen // every request, as the server got it
	// fail answers the first fail[path] requests of a path with that
	// status before the server sees them.
	fail map[string][]int
	// lose serves the next request of a path whose name ends so, then
	// cuts the connection before the answer (a lost answer).
	lose string
}

type seen struct {
	method, path string
	header       http.Header
	status       int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{fail: map[string][]int{}}
	e.store = memory.New(sharedKey,
		memory.Mailbox{ID: hubBox, Name: "CP-IS hub", Password: hubPW, Sends: []string{ack}, Receives: []string{upload}},
		memory.Mailbox{ID: la841, Name: "LA 841", Password: pw841, Sends: []string{upload}, Receives: []string{ack}},
	)
	e.store.Now = func() time.Time { return clock }
	up, err := meshapi.OpenUploads(filepath.Join(t.TempDir(), "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	server, err := meshapi.New(meshapi.Config{Accounts: e.store, Router: e.store, Inbox: e.store, Tracking: e.store,
		Directory: e.store, Uploads: up, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		s := seen{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
		var status int
		if f := e.fail[r.URL.Path]; len(f) > 0 {
			status, e.fail[r.URL.Path] = f[0], f[1:]
		}
		lose := e.lose != "" && strings.HasSuffix(r.URL.Path, e.lose)
		if lose {
			e.lose = ""
		}
		e.mu.Unlock()
		if lose {
			server.ServeHTTP(httptest.NewRecorder(), r)
			e.mu.Lock()
			s.status = -1
			e.seen = append(e.seen, s)
			e.mu.Unlock()
			panic(http.ErrAbortHandler)
		}
		if status != 0 {
			w.Header().Set("Content-Type", meshapi.MediaV2)
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"detail":[{"event":"REQUEST","code":"%d","msg":"try again"}]}`, status)
		} else {
			rec := &recorder{ResponseWriter: w}
			server.ServeHTTP(rec, r)
			status = rec.status
		}
		s.status = status
		e.mu.Lock()
		e.seen = append(e.seen, s)
		e.mu.Unlock()
	}))
	t.Cleanup(e.srv.Close)
	return e
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.ResponseWriter.Write(p)
}

func (e *env) requests() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.seen
	e.seen = nil
	return out
}

func (e *env) client(t *testing.T, mailbox, password string, chunk int64) *meshclient.Client {
	t.Helper()
	c, err := meshclient.New(meshclient.Config{URL: e.srv.URL, Mailbox: mailbox, Password: password, SharedKey: sharedKey,
		ChunkSize: chunk, Backoff: time.Millisecond, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestToken(t *testing.T) {
	// The worked example of mesh/meshapi/mesh-api.md.
	got := meshclient.Token("TestKey", "X26ABC1", "password", "4f8d7b1e-0000-4000-8000-000000000001", "0",
		time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC))
	want := "NHSMESH X26ABC1:4f8d7b1e-0000-4000-8000-000000000001:0:202401011200:efff40ca93d79c2c0816ee78abc6b4d5ca9b981035da1d6312b54ed6fbec2f86"
	if got != want {
		t.Errorf("token\n got %s\nwant %s", got, want)
	}
}

func TestHandshakeAndHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, hubBox, hubPW, 0)
	if err := c.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hs := e.store.Handshakes()[hubBox]; hs.Client.Version != meshclient.ClientVersion || hs.Client.OSName == "" {
		t.Errorf("handshake recorded %+v", hs)
	}
	reqs := e.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	h := reqs[0].header
	if h.Get("Accept") != meshapi.MediaV2 || !strings.HasPrefix(h.Get("Authorization"), "NHSMESH "+hubBox+":") {
		t.Errorf("headers %v", h)
	}
	// The nonce is a UUID.
	parts := strings.Split(strings.TrimPrefix(h.Get("Authorization"), "NHSMESH "), ":")
	if len(parts) != 5 || len(parts[1]) != 36 || parts[2] != "0" || parts[3] != "202611210130" {
		t.Errorf("token parts %q", parts)
	}
}

func TestRefusedMailbox(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ name, mailbox, password string }{
		{"wrong password", hubBox, "nope"},
		{"unknown mailbox", "X26NOPE1", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(t, tc.mailbox, tc.password, 0)
			err := c.Handshake(context.Background())
			var me *meshclient.Error
			if !errors.Is(err, meshclient.ErrRefused) || !errors.As(err, &me) || me.Status != 403 || me.Code != "403" {
				t.Fatalf("handshake: %v", err)
			}
			if !strings.Contains(err.Error(), "refused the mailbox") {
				t.Errorf("error %q does not say the mailbox is refused", err)
			}
			if _, err := c.Inbox(context.Background(), meshclient.ListOptions{}); !errors.Is(err, meshclient.ErrRefused) {
				t.Errorf("inbox: %v", err)
			}
		})
	}
	if n := len(e.requests()); n != 4 {
		t.Errorf("%d requests: a refusal is not retried", n)
	}
}

func TestInboxDownloadAcknowledge(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, hubBox, hubPW, 0)
	want := map[string][]byte{}
	var ids []string
	for i := range 23 {
		e.store.ChunkSize, e.store.GzipChunks = []int{0, 100, 64}[i%3], i%2 == 0
		id := fmt.Sprintf("20261121020000%06d_%06X", i, i)
		content := bytes.Repeat([]byte(fmt.Sprintf("9990000%03d,CPP,2026-11-21\n", i)), 3+i*2)
		e.store.Put(meshapi.Message{ID: id, From: la841, To: hubBox, Workflow: upload, FileName: fmt.Sprintf("f%d.csv", i),
			LocalID: fmt.Sprintf("local-%d", i), Subject: "FULL return", Delivered: clock}, content)
		want[id] = content
		ids = append(ids, id)
	}
	ctx := context.Background()
	got, err := c.Inbox(ctx, meshclient.ListOptions{MaxResults: 10})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Fatalf("inbox (-want +got):\n%s", diff)
	}
	var pages int
	for _, r := range e.requests() {
		if strings.HasSuffix(r.path, "/inbox") {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("%d pages listed, want 3", pages)
	}
	for i, id := range got {
		var buf bytes.Buffer
		m, err := c.Download(ctx, id, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want[id]) {
			t.Errorf("%s: downloaded %q, want %q", id, buf.Bytes(), want[id])
		}
		wantChunks := 1
		if size := []int{0, 100, 64}[i%3]; size > 0 {
			wantChunks = (len(want[id]) + size - 1) / size
		}
		wantMsg := meshclient.Message{ID: id, From: la841, To: hubBox, Workflow: upload, FileName: fmt.Sprintf("f%d.csv", i),
			LocalID: fmt.Sprintf("local-%d", i), Subject: "FULL return", Type: "DATA", StatusCode: "00",
			StatusDescription: "Transferred to recipient mailbox", Chunks: wantChunks, Bytes: int64(len(want[id]))}
		if diff := cmp.Diff(wantMsg, m); diff != "" {
			t.Errorf("%s envelope (-want +got):\n%s", id, diff)
		}
		// Every chunk asked for gzip; MESH sent it gzipped when stored so.
		for _, r := range e.requests() {
			if r.method == http.MethodGet && r.header.Get("Accept-Encoding") != "gzip" {
				t.Errorf("%s %s: Accept-Encoding %q", r.method, r.path, r.header.Get("Accept-Encoding"))
			}
		}
		if err := c.Acknowledge(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := c.Inbox(ctx, meshclient.ListOptions{}); err != nil || len(got) != 0 {
		t.Errorf("inbox after acknowledging all: %v %v", got, err)
	}
	if _, err := c.Download(ctx, ids[0], &bytes.Buffer{}); !errors.Is(err, meshclient.ErrNotFound) {
		t.Errorf("download of an acknowledged message: %v", err)
	}
}

func TestSendAndTrack(t *testing.T) {
	big := bytes.Repeat([]byte("9990000018,CPP,2026-11-21\n"), 200) // 5,200 bytes
	for _, tc := range []struct {
		name       string
		content    []byte
		chunk      int64
		min        int
		wantChunks int
	}{
		{"whole", []byte("small"), 0, 0, 1},
		{"chunked", big, 1000, 0, 6},
		{"exact chunks", big[:2000], 1000, 0, 2},
		{"at least two", []byte("small"), 0, 2, 2},
		{"one byte in two", []byte("x"), 0, 2, 2},
		{"empty", nil, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.client(t, hubBox, hubPW, tc.chunk)
			ctx := context.Background()
			id, err := c.Send(ctx, meshclient.Outgoing{To: la841, Workflow: ack, FileName: "r.csv", LocalID: "L1", Subject: "response",
				Content: bytes.NewReader(tc.content), Size: int64(len(tc.content)), MinChunks: tc.min})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := e.store.Content(id)
			if !ok || !bytes.Equal(got, tc.content) {
				t.Errorf("delivered %q (%v), want %q", got, ok, tc.content)
			}
			env, _ := e.store.Envelope(id)
			if diff := cmp.Diff(meshapi.Envelope{ID: id, From: hubBox, To: la841, Workflow: ack, FileName: "r.csv", LocalID: "L1",
				Subject: "response", Chunks: tc.wantChunks, Uploaded: clock}, env); diff != "" {
				t.Errorf("envelope (-want +got):\n%s", diff)
			}
			for i, r := range e.requests() {
				if r.header.Get("Content-Encoding") != "gzip" || r.header.Get("Accept") != meshapi.MediaV2 {
					t.Errorf("request %d: headers %v", i, r.header)
				}
				if i == 0 {
					continue
				}
				// Chunks 2..n: Content-Type, mex-Chunk-Range, Authorization,
				// Content-Encoding (and Accept, Go's own headers).
				var mex []string
				for name := range r.header {
					if strings.HasPrefix(strings.ToLower(name), "mex-") {
						mex = append(mex, name)
					}
				}
				if want := fmt.Sprintf("%d:%d", i+1, tc.wantChunks); !slices.Equal(mex, []string{"Mex-Chunk-Range"}) || r.header.Get("mex-Chunk-Range") != want {
					t.Errorf("chunk %d: mex- headers %v (%q), want only Mex-Chunk-Range %s", i+1, mex, r.header.Get("mex-Chunk-Range"), want)
				}
			}
			tr, err := c.Track(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if tr.MessageID != id || tr.LocalID != "L1" || tr.Status != meshapi.StatusAccepted || tr.Recipient != la841 || tr.FileName != "r.csv" {
				t.Errorf("tracking %+v", tr)
			}
		})
	}
}

// A send of several chunks is delivered only by its last chunk: Start
// gives the ID, tracking does not know it yet, Finish completes it, and
// Finish again (a retry after a lost answer) is a success.
func TestStartResumeFinish(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, hubBox, hubPW, 4)
	ctx := context.Background()
	content := []byte("0123456789abc")
	m := meshclient.Outgoing{To: la841, Workflow: ack, FileName: "r.csv", Content: bytes.NewReader(content), Size: int64(len(content))}
	up, err := c.Start(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if up.Chunks != 4 {
		t.Errorf("%d chunks", up.Chunks)
	}
	if _, err := c.Track(ctx, up.ID); !errors.Is(err, meshclient.ErrNotFound) {
		t.Errorf("tracking before the last chunk: %v", err)
	}
	if n := e.store.Deliveries(); n != 0 {
		t.Fatalf("%d deliveries before Finish", n)
	}
	// A new process resumes the upload from its recorded ID.
	if err := c.Resume(up.ID, m).Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(up.ID, m).Finish(ctx); err != nil {
		t.Errorf("finish of a complete upload: %v", err)
	}
	if got, _ := e.store.Content(up.ID); !bytes.Equal(got, content) || e.store.Deliveries() != 1 {
		t.Errorf("delivered %q, %d times", got, e.store.Deliveries())
	}
	if err := c.Resume("20261121000000000000_000000", m).Finish(ctx); !errors.Is(err, meshclient.ErrNotFound) {
		t.Errorf("finish of an unknown upload: %v", err)
	}
}

func TestSendRefused(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, hubBox, hubPW, 0)
	_, err := c.Send(context.Background(), meshclient.Outgoing{To: la841, Workflow: upload, Content: bytes.NewReader([]byte("x")), Size: 1})
	var me *meshclient.Error
	if !errors.As(err, &me) || me.Status != 417 || me.Code != meshapi.CodeSenderNotAllowed || errors.Is(err, meshclient.ErrRefused) {
		t.Fatalf("send: %#v", err)
	}
	_, err = c.Send(context.Background(), meshclient.Outgoing{To: "NOBODY01", Workflow: ack, Content: bytes.NewReader([]byte("x")), Size: 1})
	if !errors.As(err, &me) || me.Code != meshapi.CodeUnregistered {
		t.Fatalf("send: %v", err)
	}
}

// 429 and 503 are resent with the same Authorization header, 500 with a
// fresh one; every request succeeds in the end.
func TestRetries(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, hubBox, hubPW, 5)
	ctx := context.Background()
	e.store.Put(meshapi.Message{ID: "20261121020000000001_000001", From: la841, To: hubBox, Workflow: upload, Delivered: clock}, []byte("hello"))
	inbox := "/messageexchange/" + hubBox + "/inbox"
	e.fail[inbox] = []int{429, 503}
	e.fail["/messageexchange/"+hubBox] = []int{502, 504, 425}
	e.fail[inbox+"/20261121020000000001_000001"] = []int{500, 429}
	e.fail["/messageexchange/"+hubBox+"/outbox"] = []int{503}

	if err := c.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, err := c.Inbox(ctx, meshclient.ListOptions{}); err != nil || len(ids) != 1 {
		t.Fatalf("inbox %v %v", ids, err)
	}
	var buf bytes.Buffer
	if _, err := c.Download(ctx, "20261121020000000001_000001", &buf); err != nil || buf.String() != "hello" {
		t.Fatalf("download %q %v", buf.String(), err)
	}
	id, err := c.Send(ctx, meshclient.Outgoing{To: la841, Workflow: ack, Content: strings.NewReader("0123456789"), Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.Content(id); string(got) != "0123456789" {
		t.Errorf("sent %q", got)
	}

	type attempt struct {
		Status int
		Same   bool // the same Authorization header as the attempt before
	}
	byPath := map[string][]attempt{}
	last := map[string]string{}
	for _, r := range e.requests() {
		p := r.method + " " + r.path
		a := attempt{Status: r.status, Same: last[p] == r.header.Get("Authorization")}
		last[p] = r.header.Get("Authorization")
		byPath[p] = append(byPath[p], a)
	}
	want := map[string][]attempt{
		"POST /messageexchange/" + hubBox:                          {{502, false}, {504, true}, {425, true}, {200, true}},
		"GET " + inbox:                                             {{429, false}, {503, true}, {200, true}},
		"GET " + inbox + "/20261121020000000001_000001":            {{500, false}, {429, false}, {200, true}},
		"POST /messageexchange/" + hubBox + "/outbox":              {{503, false}, {202, true}},
		"POST /messageexchange/" + hubBox + "/outbox/" + id + "/2": {{202, false}},
	}
	if diff := cmp.Diff(want, byPath); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
}

// A server that keeps answering 503 is given up after the retries, with
// the status kept.
func TestRetriesGiveUp(t *testing.T) {
	e := newEnv(t)
	c, err := meshclient.New(meshclient.Config{URL: e.srv.URL, Mailbox: hubBox, Password: hubPW, SharedKey: sharedKey,
		Retries: 2, Backoff: time.Millisecond, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	e.fail["/messageexchange/"+hubBox] = []int{503, 503, 503, 503}
	err = c.Handshake(context.Background())
	var me *meshclient.Error
	if !errors.As(err, &me) || me.Status != 503 || errors.Is(err, meshclient.ErrRefused) {
		t.Fatalf("handshake: %v", err)
	}
	if n := len(e.requests()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

// The answer to a send's last chunk is lost after MESH delivered the
// message: the client retries with a fresh header, MESH answers that the
// upload is complete, and the send succeeds, delivered once.
func TestLostAnswer(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, hubBox, hubPW, 4)
	e.lose = "/3"
	id, err := c.Send(context.Background(), meshclient.Outgoing{To: la841, Workflow: ack, Content: strings.NewReader("0123456789"), Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.Content(id); string(got) != "0123456789" || e.store.Deliveries() != 1 {
		t.Errorf("delivered %q, %d times", got, e.store.Deliveries())
	}
	var statuses []int
	auths := map[string]bool{}
	for _, r := range e.requests() {
		if strings.HasSuffix(r.path, "/3") {
			statuses = append(statuses, r.status)
			auths[r.header.Get("Authorization")] = true
		}
	}
	if !cmp.Equal(statuses, []int{-1, 423}) || len(auths) != 2 {
		t.Errorf("last chunk: statuses %v, %d headers", statuses, len(auths))
	}
}
