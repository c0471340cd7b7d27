package meshapi_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cpis/mesh"
	"cpis/mesh/meshapi"
	"cpis/mesh/meshapi/memory"
)

// clock is the server's and the signer's time in most tests.
var clock = time.Date(2026, 11, 21, 1, 30, 0, 0, time.UTC)

const (
	sharedKey = "TestKey"
	la841     = "LA841HC001"
	la842     = "LA842HC001"
	pw841     = "secret-841"
	pw842     = "secret-842"
)

// mailboxes are those of most tests: two LAs and the hub.
func mailboxes() []memory.Mailbox {
	hubOut := []string{mesh.WorkflowUploadAck, mesh.WorkflowAccess, mesh.WorkflowInactive}
	return []memory.Mailbox{
		{ID: la841, Name: "LA 841", ODS: "841", Password: pw841, Sends: []string{mesh.WorkflowUpload}, Receives: hubOut},
		{ID: la842, Name: "LA 842", ODS: "842", Password: pw842, Sends: []string{mesh.WorkflowUpload}, Receives: hubOut},
		{ID: mesh.HubMailbox, Name: "CP-IS hub", ODS: "X26", Sends: hubOut, Receives: []string{mesh.WorkflowUpload}},
	}
}

var passwords = map[string]string{la841: pw841, la842: pw842}

// sign computes an NHSMESH Authorization header the way the
// specification describes it, independently of the server's code.
func sign(key, mailbox, nonce, count, password string, at time.Time) string {
	ts := at.UTC().Format("200601021504")
	mac := hmac.New(sha256.New, []byte(key))
	io.WriteString(mac, strings.Join([]string{mailbox, nonce, count, password, ts}, ":"))
	return "NHSMESH " + strings.Join([]string{mailbox, nonce, count, ts, hex.EncodeToString(mac.Sum(nil))}, ":")
}

// env is a server over a real listener, backed by a memory.Store.
type env struct {
	t       *testing.T
	store   *memory.Store
	cfg     meshapi.Config
	server  *meshapi.Server
	srv     *httptest.Server
	uploads string
	client  *http.Client
	now     atomic.Pointer[time.Time]
	nonces  atomic.Int64

	mu    sync.Mutex
	audit []meshapi.Event
}

// newEnv starts a server; opts adjust its Config before New.
func newEnv(t *testing.T, opts ...func(*meshapi.Config)) *env {
	t.Helper()
	e := &env{t: t, store: memory.New(sharedKey, mailboxes()...)}
	now := clock
	e.now.Store(&now)
	e.store.Now = e.clock
	e.uploads = filepath.Join(t.TempDir(), "mesh", "uploads")
	up, err := meshapi.OpenUploads(e.uploads)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = meshapi.Config{
		Accounts: e.store, Router: e.store, Inbox: e.store, Tracking: e.store, Directory: e.store,
		Uploads: up,
		Now:     e.clock,
		Audit: func(ev meshapi.Event) {
			e.mu.Lock()
			e.audit = append(e.audit, ev)
			e.mu.Unlock()
		},
	}
	for _, o := range opts {
		o(&e.cfg)
	}
	e.server, err = meshapi.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.server)
	t.Cleanup(e.srv.Close)
	// No transparent gzip: the tests see the bytes as the server sent
	// them.
	e.client = &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

func (e *env) clock() time.Time { return *e.now.Load() }

func (e *env) setClock(t time.Time) { e.now.Store(&t) }

// auth returns a fresh Authorization header for mailbox.
func (e *env) auth(mailbox string) string {
	n := e.nonces.Add(1)
	return sign(sharedKey, mailbox, fmt.Sprintf("4f8d7b1e-0000-4000-8000-%012d", n), "0", passwords[mailbox], e.clock())
}

// events returns the audit events so far and forgets them.
func (e *env) events() []meshapi.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.audit
	e.audit = nil
	return out
}

// reply is an answer as the client saw it.
type reply struct {
	status int
	header http.Header
	body   string
}

// hdr is a request's headers, as name/value pairs (order kept).
type hdr []string

// do sends a request; h holds name, value pairs.
func (e *env) do(method, path string, h hdr, body []byte) reply {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	return e.doReader(method, path, h, rd)
}

// doReader sends a request with body rd (of unknown length unless a
// *bytes.Reader).
func (e *env) doReader(method, path string, h hdr, rd io.Reader) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// raw sends request text over a plain connection and returns the status
// line, the header lines as sent (names not canonicalised) and the body.
func (e *env) raw(request string) (status string, lines []string, body string) {
	e.t.Helper()
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		e.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	tp := textproto.NewReader(br)
	status, err = tp.ReadLine()
	if err != nil {
		e.t.Fatal(err)
	}
	length := -1
	for {
		l, err := tp.ReadLine()
		if err != nil {
			e.t.Fatal(err)
		}
		if l == "" {
			break
		}
		lines = append(lines, l)
		if n, ok := strings.CutPrefix(strings.ToLower(l), "content-length: "); ok {
			fmt.Sscan(n, &length)
		}
	}
	if length > 0 {
		b := make([]byte, length)
		if _, err := io.ReadFull(br, b); err != nil {
			e.t.Fatal(err)
		}
		body = string(b)
	}
	return status, lines, body
}

var (
	internalIDs = regexp.MustCompile(`"(internal_id|query_id)":"[0-9a-f]{16}"`)
)

// normal replaces the random parts of a body (internal and query IDs)
// and the message ID id with "ID".
func normal(body, id string) string {
	body = internalIDs.ReplaceAllString(body, `"$1":"X"`)
	if id != "" {
		body = strings.ReplaceAll(body, id, "ID")
	}
	return body
}

// gz returns b gzipped, as one stream.
func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Versions' Accept values.
const (
	v1 = "application/vnd.mesh.v1+json"
	v2 = "application/vnd.mesh.v2+json"
)

// messageIDOf reads the message ID of a send's 202 body.
func messageIDOf(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`"(message_id|messageID)":"([0-9]{20}_[0-9A-F]{6})"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no message ID in %q", body)
	}
	return m[2]
}

// mustJSON decodes body into v.
func mustJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
}
