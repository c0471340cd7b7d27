package meshapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
	"cpis/mesh/meshapi"
)

// blockingRouter holds Deliver until release is closed; entered is
// signalled as each Deliver starts. With fail set, Deliver fails.
type blockingRouter struct {
	meshapi.Router
	entered chan struct{}
	release chan struct{}
	fail    atomic.Bool
}

func (b *blockingRouter) Deliver(ctx context.Context, e meshapi.Envelope, body io.Reader) error {
	if b.fail.Load() {
		return errors.New("disk full")
	}
	if b.entered != nil {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.Router.Deliver(ctx, e, body)
}

func sendHeaders(e *env, mailbox string) hdr {
	return hdr{"Authorization", e.auth(mailbox), "Accept", v2, "mex-To", mesh.HubMailbox, "mex-WorkflowID", mesh.WorkflowUpload}
}

func TestConcurrencyLimit(t *testing.T) {
	br := &blockingRouter{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, func(c *meshapi.Config) {
		br.Router = c.Router
		c.Router = br
		c.MaxConcurrent = 1
	})
	done := make(chan reply)
	go func() { done <- e.do("POST", "/messageexchange/LA841HC001/outbox", sendHeaders(e, la841), []byte("x")) }()
	<-br.entered

	busy := e.auth(la841)
	r := e.do("GET", "/messageexchange/LA841HC001/inbox", hdr{"Authorization", busy, "Accept", v2}, nil)
	if want := v2Err("429", "REQUEST", "Too many requests"); r.status != 429 || normal(r.body, "") != want || r.header.Get("Retry-After") != "1" {
		t.Fatalf("second request of the mailbox: %d %s %v", r.status, r.body, r.header)
	}
	// Another mailbox is not held up.
	if r := e.do("GET", "/messageexchange/LA842HC001/inbox", hdr{"Authorization", e.auth(la842)}, nil); r.status != 200 {
		t.Fatalf("other mailbox: %d", r.status)
	}
	close(br.release)
	if r := <-done; r.status != 202 {
		t.Fatalf("held send: %d %s", r.status, r.body)
	}
	// The client's retry with the same header passes.
	if r := e.do("GET", "/messageexchange/LA841HC001/inbox", hdr{"Authorization", busy, "Accept", v2}, nil); r.status != 200 {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	var refused []meshapi.Event
	for _, ev := range e.events() {
		if ev.Outcome == meshapi.OutcomeRefused {
			ev.Remote = ""
			refused = append(refused, ev)
		}
	}
	want := []meshapi.Event{{At: clock, Mailbox: la841, Action: meshapi.ActionList, Status: 429, Code: "429",
		Outcome: meshapi.OutcomeRefused, Reason: "Too many requests"}}
	if diff := cmp.Diff(want, refused); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *meshapi.Config) { c.Rate, c.Burst = 1, 2 })
	get := func(mailbox string) int {
		return e.do("GET", "/messageexchange/"+mailbox+"/count", hdr{"Authorization", e.auth(mailbox)}, nil).status
	}
	got := []int{get(la841), get(la841), get(la841), get(la842)}
	e.setClock(clock.Add(time.Second))
	got = append(got, get(la841), get(la841))
	if want := []int{200, 200, 429, 200, 200, 429}; !cmp.Equal(want, got) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
}

// A client that stops sending its body is cut off after BodyIdle, and
// nothing of its message is kept.
func TestBodyIdle(t *testing.T) {
	e := newEnv(t, func(c *meshapi.Config) { c.BodyIdle = 200 * time.Millisecond })
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	auth := e.auth(la841)
	io.WriteString(c, "POST /messageexchange/LA841HC001/outbox HTTP/1.1\r\nHost: x\r\nAuthorization: "+auth+
		"\r\nmex-To: CPISHUB01\r\nmex-WorkflowID: CPIS_LA_UPLOAD\r\nContent-Length: 1000\r\n\r\n0123456789")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c) // the answer, if any, then EOF when the server closes
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closed after %v", d)
	}
	if e.store.Deliveries() != 0 {
		t.Error("delivered")
	}
	evs := e.events()
	if len(evs) != 1 || evs[0].Outcome != meshapi.OutcomeRefused || evs[0].Action != meshapi.ActionSend {
		t.Errorf("audit %+v", evs)
	}
	// Nothing was accepted: the client's resend with the same header
	// goes through.
	r := e.do("POST", "/messageexchange/LA841HC001/outbox", hdr{"Authorization", auth, "mex-To", mesh.HubMailbox,
		"mex-WorkflowID", mesh.WorkflowUpload}, []byte("0123456789"))
	if r.status != 202 || e.store.Deliveries() != 1 {
		t.Errorf("resend: %d %s", r.status, r.body)
	}
}

// A body without Content-Length is cut at MaxRequest too.
func TestRequestLimitChunkedEncoding(t *testing.T) {
	e := newEnv(t, func(c *meshapi.Config) { c.MaxRequest = 1000 })
	r := e.do("POST", "/messageexchange/LA841HC001/outbox", sendHeaders(e, la841), nil)
	if r.status != 417 {
		t.Fatalf("no body: %d", r.status)
	}
	req := sendHeaders(e, la841)
	body := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), 1500)))
	rr := e.doReader("POST", "/messageexchange/LA841HC001/outbox", req, body)
	if want := v2Err("413", "SEND", "Request larger than the limit"); rr.status != 413 || normal(rr.body, "") != want {
		t.Fatalf("%d %s", rr.status, rr.body)
	}
	if e.store.Deliveries() != 0 {
		t.Error("delivered")
	}
}

func TestUploadsCleanAndRecover(t *testing.T) {
	br := &blockingRouter{}
	e := newEnv(t, func(c *meshapi.Config) {
		br.Router = c.Router
		c.Router = br
	})
	first := func() string {
		r := e.do("POST", "/messageexchange/LA841HC001/outbox", append(sendHeaders(e, la841), "mex-Chunk-Range", "1:2"), []byte("one,"))
		if r.status != 202 {
			t.Fatalf("chunk 1: %d %s", r.status, r.body)
		}
		return messageIDOf(t, r.body)
	}
	unfinished := first()
	stuck := first()
	delivered := first()
	second := func(id string) reply {
		return e.do("POST", "/messageexchange/LA841HC001/outbox/"+id+"/2", hdr{"Authorization", e.auth(la841), "Accept", v2, "mex-Chunk-Range", "2:2"}, []byte("two"))
	}
	if r := second(delivered); r.status != 202 {
		t.Fatalf("delivered: %d", r.status)
	}
	br.fail.Store(true)
	if r := second(stuck); r.status != 500 {
		t.Fatalf("failing delivery: %d %s", r.status, r.body)
	}
	br.fail.Store(false)
	if e.store.Deliveries() != 1 {
		t.Fatalf("%d deliveries", e.store.Deliveries())
	}

	// A restart: the complete upload is delivered, once.
	s2, err := meshapi.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Recover(t.Context())
	if err != nil || !cmp.Equal(got, []string{stuck}) {
		t.Fatalf("recover: %v %v", got, err)
	}
	if got, err := s2.Recover(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("recover again: %v %v", got, err)
	}
	if b, ok := e.store.Content(stuck); !ok || string(b) != "one,two" || e.store.Deliveries() != 2 {
		t.Fatalf("recovered %q %v, %d deliveries", b, ok, e.store.Deliveries())
	}
	if r := second(stuck); r.status != 423 {
		t.Fatalf("chunk after recovery: %d", r.status)
	}

	// Clean: nothing within a day; after it the unfinished upload (which
	// it names) and the markers of delivered ones.
	if got, err := e.cfg.Uploads.Clean(clock.Add(-time.Hour)); err != nil || len(got) != 0 {
		t.Fatalf("clean early: %v %v", got, err)
	}
	if n := len(listDir(t, e.uploads)); n != 3 {
		t.Fatalf("%d uploads before cleaning", n)
	}
	os.Mkdir(filepath.Join(e.uploads, "20261121000000000000_000000"), 0o700) // a create cut short
	old := clock.Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(e.uploads, "20261121000000000000_000000"), old, old)
	e.events()
	e.setClock(clock.Add(meshapi.DefaultUploadAge + time.Hour))
	got, err = e.server.CleanUploads()
	if err != nil || !cmp.Equal(got, []string{unfinished}) {
		t.Fatalf("clean: %v %v", got, err)
	}
	wantEv := []meshapi.Event{{At: e.clock(), Action: meshapi.ActionExpire, MessageID: unfinished, Outcome: meshapi.OutcomeOK,
		Reason: "unfinished upload removed after 24h0m0s"}}
	if diff := cmp.Diff(wantEv, e.events()); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	assertNoUploads(t, e)
	e.setClock(clock)
	if r := second(unfinished); r.status != 404 {
		t.Fatalf("chunk of a cleaned upload: %d", r.status)
	}
}

// The MESH port closes slow and idle connections.
func TestNewHTTPServer(t *testing.T) {
	hs := meshapi.NewHTTPServer("127.0.0.1:0", nil)
	if hs.ReadHeaderTimeout != 10*time.Second || hs.IdleTimeout != 60*time.Second || hs.MaxHeaderBytes != 64<<10 {
		t.Errorf("timeouts %v %v %d", hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
}
