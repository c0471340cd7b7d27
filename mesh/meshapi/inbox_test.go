package meshapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/mesh"
	"cpis/mesh/meshapi"
)

// putMessages puts n messages into la841's inbox, IDs in order, workflows
// taken in turn from wfs; it returns their IDs.
func putMessages(e *env, n int, wfs ...string) []string {
	var ids []string
	for i := range n {
		id := fmt.Sprintf("20261121010000%06d_%06X", i, i)
		e.store.Put(meshapi.Message{ID: id, From: mesh.HubMailbox, To: la841, Workflow: wfs[i%len(wfs)],
			FileName: fmt.Sprintf("f%d.csv", i), Delivered: clock}, []byte("content"))
		ids = append(ids, id)
	}
	return ids
}

func TestInboxList(t *testing.T) {
	e := newEnv(t)
	ids := putMessages(e, 25, mesh.WorkflowUploadAck, mesh.WorkflowAccess, mesh.WorkflowInactive)
	// Another mailbox's message is never listed.
	e.store.Put(meshapi.Message{ID: "20261121000000000000_FFFFFF", From: mesh.HubMailbox, To: la842, Workflow: mesh.WorkflowAccess}, []byte("x"))
	quoted := func(ids []string) string {
		if len(ids) == 0 {
			return "[]"
		}
		return `["` + strings.Join(ids, `","`) + `"]`
	}
	pick := func(keep func(i int) bool) []string {
		var out []string
		for i, id := range ids {
			if keep(i) {
				out = append(out, id)
			}
		}
		return out
	}
	const base = "/messageexchange/LA841HC001/inbox"
	cases := []struct {
		name   string
		query  string
		accept string
		status int
		body   string
	}{
		{"all, v1", "", v1, 200, `{"messages":` + quoted(ids) + `}`},
		{"all, no Accept", "", "", 200, `{"messages":` + quoted(ids) + `}`},
		{"all, v2", "", v2, 200, `{"messages":` + quoted(ids) + `,"links":{"self":"` + base + `"},"approx_inbox_count":25}`},
		{"first page", "?max_results=10", v2, 200, `{"messages":` + quoted(ids[:10]) + `,"links":{"self":"` + base + `?max_results=10","next":"` + base + `?continue_from=` + ids[9] + `\u0026max_results=10"},"approx_inbox_count":25}`},
		{"second page", "?max_results=10&continue_from=" + ids[9], v2, 200, `{"messages":` + quoted(ids[10:20]) + `,"links":{"self":"` + base + `?continue_from=` + ids[9] + `\u0026max_results=10","next":"` + base + `?continue_from=` + ids[19] + `\u0026max_results=10"},"approx_inbox_count":25}`},
		{"last page", "?max_results=10&continue_from=" + ids[19], v2, 200, `{"messages":` + quoted(ids[20:]) + `,"links":{"self":"` + base + `?continue_from=` + ids[19] + `\u0026max_results=10"},"approx_inbox_count":25}`},
		{"exactly a page left", "?max_results=10&continue_from=" + ids[14], v2, 200, `{"messages":` + quoted(ids[15:]) + `,"links":{"self":"` + base + `?continue_from=` + ids[14] + `\u0026max_results=10"},"approx_inbox_count":25}`},
		{"page, v1", "?max_results=10&continue_from=" + ids[9], v1, 200, `{"messages":` + quoted(ids[10:20]) + `}`},
		{"equals", "?workflow_filter=CPIS_ACCESS_NOTIFICATION", v1, 200, `{"messages":` + quoted(pick(func(i int) bool { return i%3 == 1 })) + `}`},
		{"not equals", "?workflow_filter=!CPIS_ACCESS_NOTIFICATION", v1, 200, `{"messages":` + quoted(pick(func(i int) bool { return i%3 != 1 })) + `}`},
		{"begins with", "?workflow_filter=CPIS_LA*", v1, 200, `{"messages":` + quoted(pick(func(i int) bool { return i%3 == 0 })) + `}`},
		{"does not begin with", "?workflow_filter=!CPIS_LA*", v1, 200, `{"messages":` + quoted(pick(func(i int) bool { return i%3 != 0 })) + `}`},
		{"contains", "?workflow_filter=*NHS*", v1, 200, `{"messages":` + quoted(pick(func(i int) bool { return i%3 == 2 })) + `}`},
		{"does not contain", "?workflow_filter=!*NHS*", v1, 200, `{"messages":` + quoted(pick(func(i int) bool { return i%3 != 2 })) + `}`},
		{"equals nothing", "?workflow_filter=CPIS", v1, 200, `{"messages":[]}`},
		{"filter and page", "?workflow_filter=!*NHS*&max_results=10", v2, 200, `{"messages":` + quoted(pick(func(i int) bool { return i%3 != 2 })[:10]) + `,"links":{"self":"` + base + `?max_results=10\u0026workflow_filter=%21%2ANHS%2A","next":"` + base + `?continue_from=` + ids[13] + `\u0026max_results=10\u0026workflow_filter=%21%2ANHS%2A"},"approx_inbox_count":25}`},
		{"max_results 5000", "?max_results=5000", v1, 200, `{"messages":` + quoted(ids) + `}`},
		{"max_results 9", "?max_results=9", v1, 400, strings.TrimSuffix(v1Err("400", "REQUEST", "Invalid query parameter"), "\n")},
		{"max_results 5001", "?max_results=5001", v2, 400, strings.TrimSuffix(v2Err("400", "REQUEST", "Invalid query parameter"), "\n")},
		{"max_results not a number", "?max_results=ten", v1, 400, strings.TrimSuffix(v1Err("400", "REQUEST", "Invalid query parameter"), "\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("GET", base+c.query, hdr{"Authorization", e.auth(la841), "Accept", c.accept}, nil)
			if diff := cmp.Diff(c.body+"\n", normal(r.body, "")); r.status != c.status || diff != "" {
				t.Errorf("status %d, want %d; body (-want +got):\n%s", r.status, c.status, diff)
			}
		})
	}

	// A client following links.next (appended to its base URL) sees
	// every message once, even when messages are acknowledged between
	// pages.
	var seen []string
	next := base + "?max_results=10"
	for next != "" {
		r := e.do("GET", next, hdr{"Authorization", e.auth(la841), "Accept", v2}, nil)
		var page struct {
			Messages []string
			Links    struct{ Next string }
		}
		mustJSON(t, r.body, &page)
		seen = append(seen, page.Messages...)
		if len(page.Messages) > 0 {
			ack := e.do("PUT", "/messageexchange/LA841HC001/inbox/"+page.Messages[0]+"/status/acknowledged", hdr{"Authorization", e.auth(la841), "Accept", v2}, nil)
			if ack.status != 200 {
				t.Fatalf("ack: %d", ack.status)
			}
		}
		next = page.Links.Next
	}
	if diff := cmp.Diff(ids, seen); diff != "" {
		t.Errorf("paged (-want +got):\n%s", diff)
	}

	for _, c := range []struct{ accept, body string }{
		{v1, `{"count":22,"allResultsIncluded":true}`},
		{v2, `{"count":22}`},
	} {
		r := e.do("GET", "/messageexchange/LA841HC001/count", hdr{"Authorization", e.auth(la841), "Accept", c.accept}, nil)
		if r.status != 200 || r.body != c.body+"\n" {
			t.Errorf("count %s: %d %s", c.accept, r.status, r.body)
		}
	}
}

func TestDownload(t *testing.T) {
	content := []byte(strings.Repeat("0123456789", 25)) // 250 bytes: chunks of 100, 100, 50
	put := func(e *env, id string, gzipped bool) {
		e.store.ChunkSize, e.store.GzipChunks = 100, gzipped
		e.store.Put(meshapi.Message{ID: id, From: mesh.HubMailbox, To: la841, Workflow: mesh.WorkflowUploadAck,
			FileName: "CPIS_841_RESPONSE.xml", LocalID: "resp-1", Subject: "Response", Delivered: clock}, content)
		e.store.ChunkSize, e.store.GzipChunks = 0, false
	}
	const id = "20261121012000000000_0A0B0C"
	wantHeaders := func(k int, lower bool) http.Header {
		h := http.Header{}
		set := func(n, v string) {
			h.Set(n, v)
		}
		set("mex-From", "CPISHUB01")
		set("mex-To", la841)
		set("mex-WorkflowID", mesh.WorkflowUploadAck)
		set("mex-FileName", "CPIS_841_RESPONSE.xml")
		set("mex-LocalID", "resp-1")
		set("mex-Subject", "Response")
		set("mex-MessageID", id)
		set("mex-MessageType", "DATA")
		set("mex-Chunk-Range", fmt.Sprintf("%d:3", k))
		set("mex-Total-Chunks", "3")
		set("mex-StatusCode", "00")
		set("mex-StatusEvent", "TRANSFER")
		set("mex-StatusDescription", "Transferred to recipient mailbox")
		set("mex-StatusSuccess", "SUCCESS")
		set("mex-StatusTimestamp", "20261121013000")
		set("Content-Type", "application/octet-stream")
		return h
	}
	cases := []struct {
		name     string
		gzipped  bool
		method   string
		path     string
		accept   string
		encoding string // Accept-Encoding
		status   int
		k        int
		length   string
		respEnc  string
		body     []byte
	}{
		{"chunk 1", false, "GET", "", v2, "", 206, 1, "100", "", content[:100]},
		{"chunk 1 by number", false, "GET", "/1", v1, "", 206, 1, "100", "", content[:100]},
		{"chunk 2", false, "GET", "/2", v2, "", 206, 2, "100", "", content[100:200]},
		{"last chunk", false, "GET", "/3", v2, "", 200, 3, "50", "", content[200:]},
		{"head", false, "HEAD", "", v2, "", 206, 1, "100", "", nil},
		{"head last", false, "HEAD", "/3", v1, "", 200, 3, "50", "", nil},
		{"plain chunk, gzip accepted", false, "GET", "/3", v2, "gzip", 200, 3, "50", "", content[200:]},
		{"gzipped chunk, gzip accepted", true, "GET", "/2", v2, "gzip, deflate", 206, 2, "", "gzip", gz(content[100:200])},
		// Decoded on the way; net/http counts a body this small itself.
		{"gzipped chunk, gzip not accepted", true, "GET", "/2", v2, "", 206, 2, "100", "", content[100:200]},
		{"gzipped chunk, gzip refused", true, "GET", "/3", v2, "gzip;q=0, identity", 200, 3, "50", "", content[200:]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			put(e, id, c.gzipped)
			h := hdr{"Authorization", e.auth(la841), "Accept", c.accept}
			if c.encoding != "" {
				h = append(h, "Accept-Encoding", c.encoding)
			}
			r := e.do(c.method, "/messageexchange/LA841HC001/inbox/"+id+c.path, h, nil)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			want := wantHeaders(c.k, c.accept == v2)
			if c.respEnc != "" {
				want.Set("Content-Encoding", c.respEnc)
			}
			length := c.length
			if c.respEnc == "gzip" {
				length = fmt.Sprint(len(c.body))
			}
			if length != "" {
				want.Set("Content-Length", length)
			}
			got := r.header.Clone()
			got.Del("Date")
			if c.length == "" && c.respEnc == "" {
				got.Del("Transfer-Encoding")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if c.method == "GET" && !bytes.Equal([]byte(r.body), c.body) {
				t.Errorf("body %q, want %q", r.body, c.body)
			}
		})
	}

	e := newEnv(t)
	put(e, id, false)
	e.store.Put(meshapi.Message{ID: "20261121012000000000_0D0E0F", From: mesh.HubMailbox, To: la842, Workflow: mesh.WorkflowAccess}, []byte("x"))
	refusals := []struct {
		name, method, path, accept string
		status                     int
		body                       string
	}{
		{"no chunk 4", "GET", "/messageexchange/LA841HC001/inbox/" + id + "/4", v1, 404, `{"messageID":"` + id + `","errorEvent":"RECEIVE","errorCode":"20","errorDescription":"Message does not exist"}`},
		{"no chunk 0", "GET", "/messageexchange/LA841HC001/inbox/" + id + "/0", v2, 404, `{"message_id":"` + id + `","internal_id":"X","detail":[{"event":"RECEIVE","code":"20","msg":"Message does not exist"}]}`},
		{"unknown", "GET", "/messageexchange/LA841HC001/inbox/20261121012000000000_999999", v1, 404, `{"messageID":"20261121012000000000_999999","errorEvent":"RECEIVE","errorCode":"20","errorDescription":"Message does not exist"}`},
		{"another mailbox's", "GET", "/messageexchange/LA841HC001/inbox/20261121012000000000_0D0E0F", v1, 403, `{"messageID":"20261121012000000000_0D0E0F","errorEvent":"RECEIVE","errorCode":"403","errorDescription":"Message is not for this mailbox"}`},
		{"another mailbox's, head", "HEAD", "/messageexchange/LA841HC001/inbox/20261121012000000000_0D0E0F", v1, 403, ``},
		{"ack another mailbox's", "PUT", "/messageexchange/LA841HC001/inbox/20261121012000000000_0D0E0F/status/acknowledged", v2, 403, `{"message_id":"20261121012000000000_0D0E0F","internal_id":"X","detail":[{"event":"RECEIVE","code":"403","msg":"Message is not for this mailbox"}]}`},
		{"ack unknown", "PUT", "/messageexchange/LA841HC001/inbox/20261121012000000000_999999/status/acknowledged", v1, 404, `{"messageID":"20261121012000000000_999999","errorEvent":"RECEIVE","errorCode":"20","errorDescription":"Message does not exist"}`},
		{"ack with GET", "GET", "/messageexchange/LA841HC001/inbox/" + id + "/status/acknowledged", v1, 405, `{"messageID":"","errorEvent":"REQUEST","errorCode":"405","errorDescription":"Method not allowed"}`},
		{"no such path", "GET", "/messageexchange/LA841HC001/elsewhere", v1, 404, `{"messageID":"","errorEvent":"REQUEST","errorCode":"404","errorDescription":"Not found"}`},
		{"outside /messageexchange", "GET", "/other", v1, 404, `{"messageID":"","errorEvent":"REQUEST","errorCode":"404","errorDescription":"Not found"}`},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, hdr{"Authorization", e.auth(la841), "Accept", c.accept}, nil)
			want := c.body
			if want != "" {
				want += "\n"
			}
			if diff := cmp.Diff(want, normal(r.body, "")); r.status != c.status || diff != "" {
				t.Errorf("status %d, want %d; body (-want +got):\n%s", r.status, c.status, diff)
			}
		})
	}

	// Acknowledge: 200, the message leaves the inbox; again: 200.
	for i, c := range []struct{ accept, body string }{{v1, `{"messageId":"` + id + `"}` + "\n"}, {v2, ""}} {
		r := e.do("PUT", "/messageexchange/LA841HC001/inbox/"+id+"/status/acknowledged", hdr{"Authorization", e.auth(la841), "Accept", c.accept}, nil)
		if r.status != 200 || r.body != c.body {
			t.Errorf("acknowledge %d: %d %q", i, r.status, r.body)
		}
	}
	if r := e.do("GET", "/messageexchange/LA841HC001/inbox", hdr{"Authorization", e.auth(la841)}, nil); r.body != `{"messages":[]}`+"\n" {
		t.Errorf("inbox after acknowledge: %s", r.body)
	}
	if r := e.do("GET", "/messageexchange/LA841HC001/inbox/"+id, hdr{"Authorization", e.auth(la841)}, nil); r.status != 404 {
		t.Errorf("download after acknowledge: %d", r.status)
	}
	var acks []meshapi.Event
	for _, ev := range e.events() {
		if ev.Action == meshapi.ActionAck && ev.Outcome == meshapi.OutcomeOK {
			ev.Remote = ""
			acks = append(acks, ev)
		}
	}
	want := meshapi.Event{At: clock, Mailbox: la841, Action: meshapi.ActionAck, MessageID: id, Status: 200, Outcome: meshapi.OutcomeOK}
	if diff := cmp.Diff([]meshapi.Event{want, want}, acks); diff != "" {
		t.Errorf("ack audit (-want +got):\n%s", diff)
	}
}

// v2 answers name mex- headers in lower case, v1 as the specification
// spells them; seen on the wire.
func TestHeaderCase(t *testing.T) {
	e := newEnv(t)
	const id = "20261121012000000000_0A0B0C"
	e.store.Put(meshapi.Message{ID: id, From: mesh.HubMailbox, To: la841, Workflow: mesh.WorkflowUploadAck, Delivered: clock}, []byte("x"))
	for _, c := range []struct {
		accept string
		want   []string
	}{
		{v2, []string{"mex-chunk-range: 1:1", "mex-filename: " + id + ".dat", "mex-from: CPISHUB01", "mex-messageid: " + id,
			"mex-messagetype: DATA", "mex-statuscode: 00", "mex-statusdescription: Transferred to recipient mailbox",
			"mex-statusevent: TRANSFER", "mex-statussuccess: SUCCESS", "mex-statustimestamp: 20261121013000",
			"mex-to: LA841HC001", "mex-total-chunks: 1", "mex-workflowid: CPIS_LA_UPLOAD_ACK"}},
		{v1, []string{"mex-Chunk-Range: 1:1", "mex-FileName: " + id + ".dat", "mex-From: CPISHUB01", "mex-MessageID: " + id,
			"mex-MessageType: DATA", "mex-StatusCode: 00", "mex-StatusDescription: Transferred to recipient mailbox",
			"mex-StatusEvent: TRANSFER", "mex-StatusSuccess: SUCCESS", "mex-StatusTimestamp: 20261121013000",
			"mex-To: LA841HC001", "mex-Total-Chunks: 1", "mex-WorkflowID: CPIS_LA_UPLOAD_ACK"}},
	} {
		status, lines, body := e.raw("GET /messageexchange/LA841HC001/inbox/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: " +
			e.auth(la841) + "\r\nAccept: " + c.accept + "\r\nConnection: close\r\n\r\n")
		var mex []string
		for _, l := range lines {
			if strings.HasPrefix(strings.ToLower(l), "mex-") {
				mex = append(mex, l)
			}
		}
		slices.SortFunc(mex, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
		if status != "HTTP/1.1 200 OK" || body != "x" {
			t.Errorf("%s: %s %q", c.accept, status, body)
		}
		if diff := cmp.Diff(c.want, mex); diff != "" {
			t.Errorf("%s headers (-want +got):\n%s", c.accept, diff)
		}
	}
}

func TestTracking(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/messageexchange/LA841HC001/outbox", hdr{"Authorization", e.auth(la841), "Accept", v2,
		"mex-To", mesh.HubMailbox, "mex-WorkflowID", mesh.WorkflowUpload, "mex-FileName", "r.csv", "mex-LocalID", "loc-1",
		"mex-Subject", "FULL return"}, []byte("0123456789"))
	id := messageIDOf(t, r.body)
	const (
		v2Accepted = `{"message_id":"ID","local_id":"loc-1","workflow_id":"CPIS_LA_UPLOAD","filename":"r.csv",` +
			`"expiry_time":"2026-11-26T01:30:00Z","upload_timestamp":"2026-11-21T01:30:00Z","recipient":"CPISHUB01",` +
			`"recipient_name":"CP-IS hub","status_success":true,"status":"accepted","status_event":"TRANSFER",` +
			`"status_timestamp":"2026-11-21T01:30:00Z","status_description":"Transferred to recipient mailbox","status_code":"00"}`
		v1Accepted = `{"addressType":"ALL","checksum":"","chunkCount":1,"compressFlag":"","downloadTimestamp":"","dtsId":"ID",` +
			`"encryptedFlag":"","expiryTime":"20261126013000","fileName":"r.csv","fileSize":10,"isCompressed":"","localId":"loc-1",` +
			`"messageId":"ID","messageType":"Data","partnerId":"","recipient":"CPISHUB01","recipientName":"CP-IS hub",` +
			`"sender":"LA841HC001","status":"Accepted","statusCode":"00","statusDescription":"Transferred to recipient mailbox",` +
			`"statusEvent":"TRANSFER","statusSuccess":"SUCCESS","statusTimestamp":"20261121013000","subject":"FULL return",` +
			`"uploadTimestamp":"20261121013000","version":"1.0","workflowId":"CPIS_LA_UPLOAD"}`
	)
	cases := []struct {
		name, mailbox, path, accept string
		status                      int
		body                        string
	}{
		{"v2 by query", la841, "/outbox/tracking?messageID=" + id, v2, 200, v2Accepted},
		{"v2 by path", la841, "/outbox/tracking/" + id, v2, 200, v2Accepted},
		{"v1", la841, "/outbox/tracking?messageID=" + id, v1, 200, v1Accepted},
		{"not the sender", la842, "/outbox/tracking?messageID=" + id, v1, 404, `{"messageID":"ID","errorEvent":"RECEIVE","errorCode":"20","errorDescription":"Message does not exist"}`},
		{"unknown", la841, "/outbox/tracking/20261121012000000000_999999", v2, 404, `{"message_id":"20261121012000000000_999999","internal_id":"X","detail":[{"event":"RECEIVE","code":"20","msg":"Message does not exist"}]}`},
		{"no ID", la841, "/outbox/tracking", v1, 400, `{"messageID":"","errorEvent":"REQUEST","errorCode":"400","errorDescription":"Invalid query parameter"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("GET", "/messageexchange/"+c.mailbox+c.path, hdr{"Authorization", e.auth(c.mailbox), "Accept", c.accept}, nil)
			if diff := cmp.Diff(c.body+"\n", normal(r.body, id)); r.status != c.status || diff != "" {
				t.Errorf("status %d, want %d; body (-want +got):\n%s", r.status, c.status, diff)
			}
		})
	}
	// Acknowledged once the recipient took it.
	e.setClock(clock.Add(time.Hour))
	if err := e.store.Acknowledge(t.Context(), mesh.HubMailbox, id); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/messageexchange/LA841HC001/outbox/tracking/"+id, hdr{"Authorization", e.auth(la841), "Accept", v2}, nil)
	if !strings.Contains(r.body, `"status":"acknowledged"`) || !strings.Contains(r.body, `"status_timestamp":"2026-11-21T02:30:00Z"`) {
		t.Errorf("after acknowledge: %s", r.body)
	}
}

func TestLookup(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, path, accept string
		status             int
		body               string
	}{
		{"endpoint lookup, v2", "/messageexchange/endpointlookup/841/CPIS_ACCESS_NOTIFICATION", v2, 200, `{"results":[{"mailbox_id":"LA841HC001","mailbox_name":"LA 841"}]}`},
		{"endpoint lookup, v1", "/messageexchange/endpointlookup/841/CPIS_ACCESS_NOTIFICATION", v1, 200, `{"query_id":"X","results":[{"address":"LA841HC001","description":"LA 841","endpoint_type":"MESH"}]}`},
		{"endpoint lookup, nothing", "/messageexchange/endpointlookup/841/CPIS_LA_UPLOAD", v1, 200, `{"query_id":"X","results":[]}`},
		{"workflow search", "/messageexchange/workflowsearch/CPIS_ACCESS_NOTIFICATION", v2, 200, `{"results":[{"mailbox_id":"LA841HC001","mailbox_name":"LA 841"},{"mailbox_id":"LA842HC001","mailbox_name":"LA 842"}]}`},
		{"workflow search, hub", "/messageexchange/workflowsearch/CPIS_LA_UPLOAD", v1, 200, `{"results":[{"mailbox_id":"CPISHUB01","mailbox_name":"CP-IS hub"}]}`},
		{"ping", "/_ping", v1, 200, `{"status":"healthy"}`},
		{"ping under /messageexchange", "/messageexchange/_ping", v2, 200, `{"status":"healthy"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("GET", c.path, hdr{"Authorization", e.auth(la841), "Accept", c.accept}, nil)
			if diff := cmp.Diff(c.body+"\n", normal(r.body, "")); r.status != c.status || diff != "" {
				t.Errorf("status %d, want %d; body (-want +got):\n%s", r.status, c.status, diff)
			}
		})
	}
	// Lookups need a mailbox that logs in; ping does not.
	if r := e.do("GET", "/messageexchange/workflowsearch/CPIS_LA_UPLOAD", nil, nil); r.status != 403 {
		t.Errorf("lookup without a token: %d", r.status)
	}
	if r := e.do("GET", "/_ping", nil, nil); r.status != 200 {
		t.Errorf("ping without a token: %d", r.status)
	}
}

func TestVersions(t *testing.T) {
	cases := []struct {
		accept string
		status int
		body   string
	}{
		{"", 200, `{"mailboxId":"LA841HC001"}`},
		{"application/json", 200, `{"mailboxId":"LA841HC001"}`},
		{"*/*", 200, `{"mailboxId":"LA841HC001"}`},
		{v1, 200, `{"mailboxId":"LA841HC001"}`},
		{v2, 200, `{"mailbox_id":"LA841HC001"}`},
		{"application/VND.MESH.V2+JSON", 200, `{"mailbox_id":"LA841HC001"}`},
		{"application/json, application/vnd.mesh.v2+json;q=0.9", 200, `{"mailbox_id":"LA841HC001"}`},
		{"application/vnd.mesh.v3+json", 400, `{"messageID":"","errorEvent":"REQUEST","errorCode":"400","errorDescription":"Unsupported Accept header"}`},
		{"application/vnd.mesh+json", 400, `{"messageID":"","errorEvent":"REQUEST","errorCode":"400","errorDescription":"Unsupported Accept header"}`},
	}
	e := newEnv(t)
	for _, c := range cases {
		r := e.do("POST", "/messageexchange/LA841HC001", hdr{"Authorization", e.auth(la841), "Accept", c.accept,
			"mex-ClientVersion", "ApiDocs==0.0.1", "mex-OSName", "Linux", "mex-OSVersion", "#44~18.04.2-Ubuntu"}, nil)
		if diff := cmp.Diff(c.body+"\n", r.body); r.status != c.status || diff != "" {
			t.Errorf("Accept %q: status %d, want %d; body (-want +got):\n%s", c.accept, r.status, c.status, diff)
		}
	}
	hs := e.store.Handshakes()[la841]
	if want := (meshapi.Client{Version: "ApiDocs==0.0.1", OSName: "Linux", OSVersion: "#44~18.04.2-Ubuntu"}); hs.Client != want || !hs.At.Equal(clock) {
		t.Errorf("handshake recorded %+v", hs)
	}
}
