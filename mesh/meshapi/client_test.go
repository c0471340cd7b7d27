package meshapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
	"cpis/mesh/meshapi"
)

// meshClient does what NHS England's Python client (mesh-client 3.x)
// does, as mesh/meshapi/mesh-api.md lists it: the v2 Accept on every request; a send's
// first chunk at /outbox with every mex- header, chunks 2..n with only
// Content-Type, mex-Chunk-Range (and Content-Encoding when compressing)
// besides Authorization and Accept; the chunk count read only from the
// first download reply's mex-chunk-range; a chunk un-gzipped only when
// Content-Encoding is exactly gzip; links.next appended to the base URL;
// 425, 429, 502, 503 and 504 retried with the same Authorization header.
type meshClient struct {
	t        testing.TB
	base     string
	mailbox  string
	password string
	key      string
	now      func() time.Time
	http     *http.Client
	nonce    atomic.Int64
	prefix   string // of the nonces, so that clients of one mailbox never share one
	retries  atomic.Int64
}

func newMeshClient(t testing.TB, base, mailbox, password string, now func() time.Time) *meshClient {
	return &meshClient{t: t, base: base, mailbox: mailbox, password: password, key: sharedKey, now: now, prefix: internalNonce(),
		http: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
}

func (c *meshClient) token() string {
	n := c.nonce.Add(1)
	return sign(c.key, c.mailbox, fmt.Sprintf("%s-%s-%08d", strings.ToLower(c.mailbox), c.prefix, n), "0", c.password, c.now())
}

// do sends one request, retrying the statuses the client retries with
// the same Authorization header.
func (c *meshClient) do(method, u string, h map[string]string, body []byte) (*http.Response, []byte) {
	c.t.Helper()
	auth := c.token()
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, u, rd)
		if err != nil {
			c.t.Fatal(err)
		}
		req.Header.Set("Accept", v2)
		req.Header.Set("Authorization", auth)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			c.t.Fatalf("%s %s: %v", method, u, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			c.t.Fatalf("%s %s: %v", method, u, err)
		}
		switch resp.StatusCode {
		case 425, 429, 502, 503, 504:
			if attempt < 200 {
				c.retries.Add(1)
				time.Sleep(2 * time.Millisecond)
				continue
			}
		}
		return resp, b
	}
}

func (c *meshClient) mailboxURL() string { return c.base + "/messageexchange/" + c.mailbox }

func (c *meshClient) handshake() {
	resp, body := c.do("POST", c.mailboxURL(), map[string]string{"mex-ClientVersion": "mesh_client==3.0", "mex-OSName": "Linux", "mex-OSVersion": "6.1"}, nil)
	if resp.StatusCode != 200 {
		c.t.Fatalf("handshake: %d %s", resp.StatusCode, body)
	}
}

// send sends data in chunks of chunkSize bytes (each gzipped when
// compress) and returns the message ID.
func (c *meshClient) send(to, workflow, fileName string, data []byte, chunkSize int, compress bool) string {
	c.t.Helper()
	var chunks [][]byte
	for off := 0; off < len(data); off += chunkSize {
		chunks = append(chunks, data[off:min(off+chunkSize, len(data))])
	}
	enc := func(b []byte) []byte {
		if compress {
			return gz(b)
		}
		return b
	}
	h := map[string]string{"Content-Type": "application/octet-stream", "Mex-Chunk-Range": fmt.Sprintf("1:%d", len(chunks)),
		"Mex-To": to, "Mex-WorkflowID": workflow, "Mex-FileName": fileName, "Mex-LocalID": "local-" + fileName}
	if compress {
		h["Content-Encoding"] = "gzip"
	}
	resp, body := c.do("POST", c.mailboxURL()+"/outbox", h, enc(chunks[0]))
	var sent map[string]any
	if err := json.Unmarshal(body, &sent); err != nil {
		c.t.Fatalf("send: %d %q: %v", resp.StatusCode, body, err)
	}
	if _, bad := sent["detail"]; bad || resp.StatusCode != 202 {
		c.t.Fatalf("send: %d %s", resp.StatusCode, body)
	}
	id, _ := sent["message_id"].(string)
	if id == "" {
		c.t.Fatalf("send: no message_id in %s", body)
	}
	for k := 2; k <= len(chunks); k++ {
		h := map[string]string{"Content-Type": "application/octet-stream", "Mex-Chunk-Range": fmt.Sprintf("%d:%d", k, len(chunks))}
		if compress {
			h["Content-Encoding"] = "gzip"
		}
		resp, body := c.do("POST", c.mailboxURL()+"/outbox/"+url.PathEscape(id)+"/"+strconv.Itoa(k), h, enc(chunks[k-1]))
		if resp.StatusCode != 200 && resp.StatusCode != 202 {
			c.t.Fatalf("chunk %d: %d %s", k, resp.StatusCode, body)
		}
	}
	return id
}

// ids lists the inbox page by page, following links.next.
func (c *meshClient) ids(batch int) []string {
	c.t.Helper()
	var out []string
	u := c.mailboxURL() + "/inbox?max_results=" + strconv.Itoa(batch)
	for u != "" {
		resp, body := c.do("GET", u, nil, nil)
		if resp.StatusCode != 200 {
			c.t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		var page struct {
			Messages []string          `json:"messages"`
			Links    map[string]string `json:"links"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, page.Messages...)
		u = ""
		if next := page.Links["next"]; next != "" {
			u = c.base + next
		}
	}
	return out
}

var clients atomic.Int64

// internalNonce tells one client's nonces from another's.
func internalNonce() string { return fmt.Sprintf("c%04d", clients.Add(1)) }

var chunkRange = regexp.MustCompile(`^([0-9]+):([0-9]+)$`)

// retrieve downloads message id whole.
func (c *meshClient) retrieve(id string) []byte {
	c.t.Helper()
	h := map[string]string{"Accept-Encoding": "gzip, deflate"}
	resp, body := c.do("GET", c.mailboxURL()+"/inbox/"+url.PathEscape(id), h, nil)
	if resp.StatusCode != 200 && resp.StatusCode != 206 {
		c.t.Fatalf("retrieve %s: %d %s", id, resp.StatusCode, body)
	}
	total := 1
	if m := chunkRange.FindStringSubmatch(resp.Header.Get("mex-chunk-range")); m != nil {
		total, _ = strconv.Atoi(m[2])
	}
	out := c.decode(resp, body)
	for k := 2; k <= total; k++ {
		resp, body := c.do("GET", c.mailboxURL()+"/inbox/"+url.PathEscape(id)+"/"+strconv.Itoa(k), h, nil)
		if resp.StatusCode != 200 && resp.StatusCode != 206 {
			c.t.Fatalf("retrieve %s chunk %d: %d %s", id, k, resp.StatusCode, body)
		}
		out = append(out, c.decode(resp, body)...)
	}
	return out
}

func (c *meshClient) decode(resp *http.Response, body []byte) []byte {
	if resp.Header.Get("Content-Encoding") != "gzip" {
		return body
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *meshClient) ack(id string) {
	c.t.Helper()
	resp, body := c.do("PUT", c.mailboxURL()+"/inbox/"+url.PathEscape(id)+"/status/acknowledged", nil, nil)
	if resp.StatusCode != 200 {
		c.t.Fatalf("ack %s: %d %s", id, resp.StatusCode, body)
	}
}

func (c *meshClient) track(id string) map[string]any {
	c.t.Helper()
	resp, body := c.do("GET", c.mailboxURL()+"/outbox/tracking?messageID="+url.QueryEscape(id), nil, nil)
	if resp.StatusCode != 200 {
		c.t.Fatalf("track %s: %d %s", id, resp.StatusCode, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		c.t.Fatal(err)
	}
	return out
}

func TestClientRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := newMeshClient(t, e.srv.URL, la841, pw841, e.clock)
	c.handshake()
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
		id := c.send(mesh.HubMailbox, mesh.WorkflowUpload, s.name, s.data, s.chunk, s.compress)
		got, ok := e.store.Content(id)
		if !ok || !bytes.Equal(got, s.data) {
			t.Errorf("%s: delivered %d bytes, want %d", s.name, len(got), len(s.data))
		}
		env, _ := e.store.Envelope(id)
		if env.FileName != s.name || env.LocalID != "local-"+s.name || env.Chunks != (len(s.data)+s.chunk-1)/s.chunk {
			t.Errorf("%s: envelope %+v", s.name, env)
		}
		if tr := c.track(id); tr["status"] != "accepted" || tr["message_id"] != id || tr["filename"] != s.name {
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
	if got := c.ids(10); !cmp.Equal(got, ids) {
		t.Fatalf("listed %v", got)
	}
	for _, id := range c.ids(10) {
		if got := c.retrieve(id); !bytes.Equal(got, want[id]) {
			t.Errorf("%s: downloaded %q, want %q", id, got, want[id])
		}
		c.ack(id)
	}
	if got := c.ids(10); len(got) != 0 {
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
				c.ids(10)
				c.send(mesh.HubMailbox, mesh.WorkflowUpload, "x.csv", []byte("x"), 100, false)
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
