package meshapi_test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
	"cpis/mesh/meshapi"
)

func v1Err(code, event, msg string) string {
	return `{"messageID":"","errorEvent":"` + event + `","errorCode":"` + code + `","errorDescription":"` + msg + `"}` + "\n"
}

func v2Err(code, event, msg string) string {
	return `{"message_id":"","internal_id":"X","detail":[{"event":"` + event + `","code":"` + code + `","msg":"` + msg + `"}]}` + "\n"
}

func TestSend(t *testing.T) {
	content := []byte("NHS number,plan\n9990000018,CPP\n")
	type send struct {
		name    string
		headers hdr
		body    []byte
		status  int
		v1, v2  string // bodies; "ID" stands for the message ID
		code    string // the audit's code
	}
	base := hdr{"mex-To", mesh.HubMailbox, "mex-WorkflowID", mesh.WorkflowUpload, "mex-FileName", "CPIS_841_FULL_20261121.csv",
		"mex-LocalID", "841-2026-11-21-01", "mex-Subject", "FULL return", "Content-Type", "application/octet-stream"}
	with := func(h ...string) hdr { return append(slices.Clone(base), h...) }
	without := func(name string) hdr {
		var out hdr
		for i := 0; i < len(base); i += 2 {
			if base[i] != name {
				out = append(out, base[i], base[i+1])
			}
		}
		return out
	}
	cases := []send{
		{name: "whole message", headers: base, body: content, status: 202,
			v1: `{"messageID":"ID"}` + "\n", v2: `{"message_id":"ID"}` + "\n"},
		{name: "gzip encoded", headers: with("Content-Encoding", "gzip"), body: gz(content), status: 202,
			v1: `{"messageID":"ID"}` + "\n", v2: `{"message_id":"ID"}` + "\n"},
		{name: "chunk range 1:1", headers: with("mex-Chunk-Range", "1:1"), body: content, status: 202,
			v1: `{"messageID":"ID"}` + "\n", v2: `{"message_id":"ID"}` + "\n"},
		{name: "recipient in lower case", headers: append(without("mex-To"), "mex-To", "cpishub01"), body: content, status: 202,
			v1: `{"messageID":"ID"}` + "\n", v2: `{"message_id":"ID"}` + "\n"},
		{name: "empty body", headers: base, body: []byte{}, status: 417, code: "02",
			v1: v1Err("02", "SEND", "Data file is missing or inaccessible"), v2: v2Err("02", "SEND", "Data file is missing or inaccessible")},
		{name: "no mex-To", headers: without("mex-To"), body: content, status: 417, code: "08",
			v1: v1Err("08", "SEND", "Missing Mex-To header"), v2: v2Err("08", "SEND", "Missing Mex-To header")},
		{name: "no workflow", headers: without("mex-WorkflowID"), body: content, status: 400, code: "06",
			v1: v1Err("06", "SEND", "Malformed headers"), v2: v2Err("06", "SEND", "Malformed headers")},
		{name: "URL in mex-To", headers: append(without("mex-To"), "mex-To", "https://example.org/x"), body: content, status: 400, code: "06",
			v1: v1Err("06", "SEND", "Malformed headers"), v2: v2Err("06", "SEND", "Malformed headers")},
		{name: "URL in mex-WorkflowID", headers: append(without("mex-WorkflowID"), "mex-WorkflowID", "http://x"), body: content, status: 400, code: "06",
			v1: v1Err("06", "SEND", "Malformed headers"), v2: v2Err("06", "SEND", "Malformed headers")},
		{name: "unknown recipient", headers: append(without("mex-To"), "mex-To", "LA999HC001"), body: content, status: 417, code: "12",
			v1: v1Err("12", "SEND", "Unregistered to address"), v2: v2Err("12", "SEND", "Unregistered to address")},
		{name: "workflow the sender may not send", headers: append(without("mex-WorkflowID"), "mex-WorkflowID", mesh.WorkflowAccess), body: content, status: 417, code: "16",
			v1: v1Err("16", "SEND", "Sender is not allowed to send messages of this type"), v2: v2Err("16", "SEND", "Sender is not allowed to send messages of this type")},
		{name: "to another LA", headers: append(without("mex-To"), "mex-To", la842), body: content, status: 417, code: "17",
			v1: v1Err("17", "SEND", "Workflow ID not registered for mailbox"), v2: v2Err("17", "SEND", "Workflow ID not registered for mailbox")},
		{name: "other encoding", headers: with("Content-Encoding", "br"), body: content, status: 415, code: "06",
			v1: v1Err("06", "SEND", "Unsupported content encoding"), v2: v2Err("06", "SEND", "Unsupported content encoding")},
		{name: "not gzip", headers: with("Content-Encoding", "gzip"), body: content, status: 400, code: "06",
			v1: v1Err("06", "SEND", "Content is not gzip"), v2: v2Err("06", "SEND", "Content is not gzip")},
		{name: "chunk 2 at the outbox", headers: with("mex-Chunk-Range", "2:3"), body: content, status: 400, code: "06",
			v1: v1Err("06", "SEND", "Invalid chunk values sent in mex-Chunk-Range header"), v2: v2Err("06", "SEND", "Invalid chunk values sent in mex-Chunk-Range header")},
		{name: "chunk range 0:1", headers: with("mex-Chunk-Range", "0:1"), body: content, status: 400, code: "06",
			v1: v1Err("06", "SEND", "Invalid chunk values sent in mex-Chunk-Range header"), v2: v2Err("06", "SEND", "Invalid chunk values sent in mex-Chunk-Range header")},
		{name: "chunk range not numbers", headers: with("mex-Chunk-Range", "a:b"), body: content, status: 400, code: "06",
			v1: v1Err("06", "SEND", "Invalid chunk values sent in mex-Chunk-Range header"), v2: v2Err("06", "SEND", "Invalid chunk values sent in mex-Chunk-Range header")},
		{name: "over the message limit", headers: base, body: bytes.Repeat([]byte("x"), 5000), status: 417, code: "417",
			v1: v1Err("417", "SEND", "Message larger than the limit"), v2: v2Err("417", "SEND", "Message larger than the limit")},
		{name: "over the message limit once decoded", headers: with("Content-Encoding", "gzip"), body: gz(bytes.Repeat([]byte("x"), 5000)), status: 417, code: "417",
			v1: v1Err("417", "SEND", "Message larger than the limit"), v2: v2Err("417", "SEND", "Message larger than the limit")},
		{name: "over the request limit", headers: base, body: bytes.Repeat([]byte("x"), 9000), status: 413, code: "413",
			v1: v1Err("413", "SEND", "Request larger than the limit"), v2: v2Err("413", "SEND", "Request larger than the limit")},
	}
	for _, c := range cases {
		for _, version := range []string{v1, v2} {
			t.Run(c.name+"/"+version[len("application/vnd.mesh."):len("application/vnd.mesh.v1")], func(t *testing.T) {
				e := newEnv(t, func(cfg *meshapi.Config) { cfg.MaxMessage, cfg.MaxRequest = 4096, 8192 })
				h := append(hdr{"Authorization", e.auth(la841), "Accept", version}, c.headers...)
				r := e.do("POST", "/messageexchange/LA841HC001/outbox", h, c.body)
				want := c.v1
				if version == v2 {
					want = c.v2
				}
				id := ""
				if c.status == 202 {
					id = messageIDOf(t, r.body)
				}
				if diff := cmp.Diff(want, normal(r.body, id)); r.status != c.status || diff != "" {
					t.Fatalf("status %d, want %d; body (-want +got):\n%s", r.status, c.status, diff)
				}
				if ct := r.header.Get("Content-Type"); ct != version {
					t.Errorf("Content-Type %q, want %q", ct, version)
				}
				evs := e.events()
				if len(evs) != 1 || evs[0].Action != meshapi.ActionSend || evs[0].Status != c.status || evs[0].Code != c.code || evs[0].Mailbox != la841 {
					t.Errorf("audit %+v", evs)
				}
				if c.status != 202 {
					if n := e.store.Deliveries(); n != 0 {
						t.Errorf("%d messages delivered by a refused send", n)
					}
					assertNoUploads(t, e)
					return
				}
				got, ok := e.store.Content(id)
				if !ok || !bytes.Equal(got, content) {
					t.Fatalf("delivered %q, %v", got, ok)
				}
				env, _ := e.store.Envelope(id)
				wantEnv := meshapi.Envelope{ID: id, From: la841, To: mesh.HubMailbox, Workflow: mesh.WorkflowUpload,
					FileName: "CPIS_841_FULL_20261121.csv", LocalID: "841-2026-11-21-01", Subject: "FULL return",
					Chunks: 1, Uploaded: clock}
				if diff := cmp.Diff(wantEnv, env); diff != "" {
					t.Errorf("envelope (-want +got):\n%s", diff)
				}
				if !mesh.ValidMessageID(id) || !strings.HasPrefix(id, "20261121013000") {
					t.Errorf("message ID %s", id)
				}
				if evs[0].MessageID != id || evs[0].Bytes != int64(len(content)) {
					t.Errorf("audit %+v", evs[0])
				}
			})
		}
	}
}

// assertNoUploads checks the upload area holds nothing.
func assertNoUploads(t *testing.T, e *env) {
	t.Helper()
	ents, err := os.ReadDir(e.uploads)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("upload area holds %v", ents)
	}
}

// A control character in a header is 06. Go's HTTP server refuses most
// of them itself (400, before any handler), so the handler's own check is
// seen through ServeHTTP.
func TestSendControlCharacter(t *testing.T) {
	e := newEnv(t)
	req := "POST /messageexchange/LA841HC001/outbox HTTP/1.1\r\nHost: x\r\nAuthorization: " + e.auth(la841) +
		"\r\nAccept: " + v2 + "\r\nmex-To: CPISHUB01\r\nmex-WorkflowID: CPIS_LA_UPLOAD\r\nmex-Subject: a\x01b\r\n" +
		"Content-Length: 3\r\nConnection: close\r\n\r\nabc"
	if status, _, _ := e.raw(req); status != "HTTP/1.1 400 Bad Request" && !strings.HasPrefix(status, "HTTP/1.1 400 ") {
		t.Fatalf("over the wire: %s", status)
	}
	for _, h := range []string{"mex-Subject", "mex-LocalID", "mex-FileName", "X-Other"} {
		rq := httptest.NewRequest("POST", "/messageexchange/LA841HC001/outbox", strings.NewReader("abc"))
		rq.Header.Set("Authorization", e.auth(la841))
		rq.Header.Set("Accept", v2)
		rq.Header.Set("mex-To", mesh.HubMailbox)
		rq.Header.Set("mex-WorkflowID", mesh.WorkflowUpload)
		rq.Header[h] = []string{"a\x7fb"}
		w := httptest.NewRecorder()
		e.server.ServeHTTP(w, rq)
		if want := v2Err("06", "SEND", "Malformed headers"); w.Code != 400 || normal(w.Body.String(), "") != want {
			t.Errorf("%s: %d %s", h, w.Code, w.Body)
		}
	}
	if e.store.Deliveries() != 0 {
		t.Fatal("delivered")
	}
}

func TestChunkedSend(t *testing.T) {
	parts := [][]byte{bytes.Repeat([]byte("a"), 3000), bytes.Repeat([]byte("b"), 3000), []byte("ccc")}
	for _, version := range []string{v1, v2} {
		t.Run(version, func(t *testing.T) {
			e := newEnv(t)
			send := func(k int, h hdr, body []byte) reply {
				return e.do("POST", "/messageexchange/LA841HC001/outbox", append(hdr{"Authorization", e.auth(la841), "Accept", version,
					"mex-To", mesh.HubMailbox, "mex-WorkflowID", mesh.WorkflowUpload, "mex-FileName", "big.csv",
					"mex-Chunk-Range", "1:3", "Content-Encoding", "gzip"}, h...), body)
			}
			r := send(1, nil, gz(parts[0]))
			if r.status != 202 {
				t.Fatalf("chunk 1: %d %s", r.status, r.body)
			}
			id := messageIDOf(t, r.body)
			chunk := func(mailbox string, k int, rng string, enc string, body []byte) reply {
				h := hdr{"Authorization", e.auth(mailbox), "Accept", version, "Content-Type", "application/octet-stream", "mex-Chunk-Range", rng}
				if enc != "" {
					h = append(h, "Content-Encoding", enc)
				}
				return e.do("POST", "/messageexchange/"+mailbox+"/outbox/"+id+"/"+itoa(k), h, body)
			}
			// Refusals before the upload is whole.
			refusals := []struct {
				name   string
				r      reply
				status int
				body   string
			}{
				{"not the sender's", chunk(la842, 2, "2:3", "gzip", gz(parts[1])), 403, "Message was not sent by this mailbox"},
				{"range disagrees with the URL", chunk(la841, 2, "3:3", "gzip", gz(parts[1])), 400, "Invalid chunk values sent in mex-Chunk-Range header"},
				{"other total", chunk(la841, 2, "2:4", "gzip", gz(parts[1])), 400, "Invalid chunk values sent in mex-Chunk-Range header"},
				{"no range", e.do("POST", "/messageexchange/LA841HC001/outbox/"+id+"/2", hdr{"Authorization", e.auth(la841), "Accept", version}, gz(parts[1])), 400, "Invalid chunk values sent in mex-Chunk-Range header"},
				{"chunk 1 at the chunk URL", chunk(la841, 1, "1:3", "gzip", gz(parts[1])), 400, "Invalid chunk values sent in mex-Chunk-Range header"},
				{"empty", chunk(la841, 2, "2:3", "gzip", []byte{}), 417, "Data file is missing or inaccessible"},
				{"unknown message", e.do("POST", "/messageexchange/LA841HC001/outbox/20261121013000000000_ABCDEF/2", hdr{"Authorization", e.auth(la841), "Accept", version, "mex-Chunk-Range", "2:3"}, parts[1]), 404, "Message does not exist"},
			}
			for _, c := range refusals {
				if c.r.status != c.status || !strings.Contains(c.r.body, c.body) || (c.status != 404 && c.status != 417 && !strings.Contains(c.r.body, id)) {
					t.Errorf("%s: %d %s", c.name, c.r.status, c.r.body)
				}
			}
			// Chunk 3 before chunk 2, then 2: order of arrival does not matter.
			if r := chunk(la841, 3, "3:3", "", parts[2]); r.status != 202 {
				t.Fatalf("chunk 3: %d %s", r.status, r.body)
			}
			if e.store.Deliveries() != 0 {
				t.Fatal("delivered before every chunk arrived")
			}
			if got := listDir(t, filepath.Join(e.uploads, id)); !cmp.Equal(got, []string{"1.gz", "3", "meta.json"}) {
				t.Errorf("upload folder %v", got)
			}
			r = chunk(la841, 2, "2:3", "gzip", gz(parts[1]))
			wantBody := ""
			if version == v1 {
				wantBody = `{"messageID":"` + id + `","blockID":2}` + "\n"
			}
			if r.status != 202 || r.body != wantBody {
				t.Fatalf("chunk 2: %d %q", r.status, r.body)
			}
			got, ok := e.store.Content(id)
			if !ok || !bytes.Equal(got, bytes.Join(parts, nil)) {
				t.Fatalf("delivered %d bytes, %v", len(got), ok)
			}
			env, _ := e.store.Envelope(id)
			if env.Chunks != 3 || env.FileName != "big.csv" {
				t.Errorf("envelope %+v", env)
			}
			if got := listDir(t, filepath.Join(e.uploads, id)); !cmp.Equal(got, []string{"done", "meta.json"}) {
				t.Errorf("upload folder after delivery %v", got)
			}
			// Once complete: 423, and nothing delivered twice.
			if r := chunk(la841, 2, "2:3", "gzip", gz(parts[1])); r.status != 423 || !strings.Contains(r.body, "Message already complete") {
				t.Errorf("chunk after completion: %d %s", r.status, r.body)
			}
			if e.store.Deliveries() != 1 {
				t.Errorf("%d deliveries", e.store.Deliveries())
			}
			var deliver []meshapi.Event
			for _, ev := range e.events() {
				if ev.Action == meshapi.ActionDeliver {
					deliver = append(deliver, ev)
				}
			}
			want := []meshapi.Event{{At: clock, Mailbox: la841, Action: meshapi.ActionDeliver, MessageID: id, Chunk: 3,
				Bytes: 6003, Status: 202, Outcome: meshapi.OutcomeOK, Reason: "to CPISHUB01 workflow CPIS_LA_UPLOAD"}}
			if diff := cmp.Diff(want, deliver); diff != "" {
				t.Errorf("deliver audit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChunkedSendTooLarge(t *testing.T) {
	e := newEnv(t, func(c *meshapi.Config) { c.MaxMessage = 5000 })
	r := e.do("POST", "/messageexchange/LA841HC001/outbox", hdr{"Authorization", e.auth(la841), "Accept", v2,
		"mex-To", mesh.HubMailbox, "mex-WorkflowID", mesh.WorkflowUpload, "mex-Chunk-Range", "1:2", "Content-Encoding", "gzip"},
		gz(bytes.Repeat([]byte("a"), 3000)))
	id := messageIDOf(t, r.body)
	// Small once gzipped, over the limit decoded: found at assembly.
	r = e.do("POST", "/messageexchange/LA841HC001/outbox/"+id+"/2", hdr{"Authorization", e.auth(la841), "Accept", v2,
		"mex-Chunk-Range", "2:2", "Content-Encoding", "gzip"}, gz(bytes.Repeat([]byte("b"), 3000)))
	if want := `{"message_id":"ID","internal_id":"X","detail":[{"event":"SEND","code":"417","msg":"Message larger than the limit"}]}` + "\n"; r.status != 417 || normal(r.body, id) != want {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if e.store.Deliveries() != 0 {
		t.Fatal("delivered")
	}
	assertNoUploads(t, e)

	// Over the limit as stored: refused as the chunk arrives.
	r = e.do("POST", "/messageexchange/LA841HC001/outbox", hdr{"Authorization", e.auth(la841), "Accept", v2,
		"mex-To", mesh.HubMailbox, "mex-WorkflowID", mesh.WorkflowUpload, "mex-Chunk-Range", "1:3"}, bytes.Repeat([]byte("a"), 3000))
	id = messageIDOf(t, r.body)
	r = e.do("POST", "/messageexchange/LA841HC001/outbox/"+id+"/2", hdr{"Authorization", e.auth(la841), "Accept", v2,
		"mex-Chunk-Range", "2:3"}, bytes.Repeat([]byte("b"), 3000))
	if r.status != 202 {
		t.Fatalf("chunk 2: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/messageexchange/LA841HC001/outbox/"+id+"/3", hdr{"Authorization", e.auth(la841), "Accept", v2,
		"mex-Chunk-Range", "3:3"}, bytes.Repeat([]byte("c"), 3000))
	if r.status != 417 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	assertNoUploads(t, e)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range ents {
		out = append(out, de.Name())
	}
	return out
}

func itoa(k int) string { return strconv.Itoa(k) }
