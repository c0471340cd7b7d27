package meshapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// routed is a request matched to its handler.
type routed struct {
	action  string
	mailbox string // the path's mailbox; "" for lookups
	args    []string
	serve   func(q *request, args []string)
	err     apiError // when not matched: 404 or 405
}

// route matches the path segments after /messageexchange/. The table is
// mesh/meshapi/mesh-api.md's.
func route(method string, escaped []string) (routed, bool) {
	seg := make([]string, len(escaped))
	for i, s := range escaped {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return routed{err: errNoRoute}, false
		}
		seg[i] = u
	}
	m := func(rt routed, methods ...string) (routed, bool) {
		for _, mm := range methods {
			if method == mm {
				return rt, true
			}
		}
		return routed{err: errMethod}, false
	}
	switch {
	case len(seg) == 3 && strings.EqualFold(seg[0], "endpointlookup"):
		return m(routed{action: ActionLookup, args: seg[1:], serve: (*request).lookup}, http.MethodGet)
	case len(seg) == 2 && strings.EqualFold(seg[0], "workflowsearch"):
		return m(routed{action: ActionLookup, args: seg[1:], serve: (*request).search}, http.MethodGet)
	}
	mb := seg[0]
	switch {
	case len(seg) == 1:
		return m(routed{action: ActionHandshake, mailbox: mb, serve: (*request).handshake}, http.MethodGet, http.MethodPost)
	case len(seg) == 2 && seg[1] == "outbox":
		return m(routed{action: ActionSend, mailbox: mb, serve: (*request).send}, http.MethodPost)
	case len(seg) == 2 && seg[1] == "inbox":
		return m(routed{action: ActionList, mailbox: mb, serve: (*request).list}, http.MethodGet)
	case len(seg) == 2 && seg[1] == "count":
		return m(routed{action: ActionCount, mailbox: mb, serve: (*request).count}, http.MethodGet)
	case len(seg) == 3 && seg[1] == "outbox" && seg[2] == "tracking":
		return m(routed{action: ActionTrack, mailbox: mb, serve: (*request).track}, http.MethodGet)
	case len(seg) == 4 && seg[1] == "outbox" && seg[2] == "tracking":
		return m(routed{action: ActionTrack, mailbox: mb, args: seg[3:], serve: (*request).track}, http.MethodGet)
	case len(seg) == 4 && seg[1] == "outbox":
		return m(routed{action: ActionChunk, mailbox: mb, args: seg[2:], serve: (*request).chunk}, http.MethodPost)
	case len(seg) == 3 && seg[1] == "inbox":
		return m(routed{action: ActionDownload, mailbox: mb, args: []string{seg[2], "1"}, serve: (*request).download}, http.MethodGet, http.MethodHead)
	case len(seg) == 4 && seg[1] == "inbox":
		return m(routed{action: ActionDownload, mailbox: mb, args: seg[2:], serve: (*request).download}, http.MethodGet, http.MethodHead)
	case len(seg) == 5 && seg[1] == "inbox" && seg[3] == "status" && seg[4] == "acknowledged":
		return m(routed{action: ActionAck, mailbox: mb, args: seg[2:3], serve: (*request).acknowledge}, http.MethodPut)
	}
	return routed{err: errNoRoute}, false
}

// handshake records the client's headers: POST or GET /{mailbox}.
func (q *request) handshake(_ []string) {
	c := Client{
		Version:   q.r.Header.Get("mex-ClientVersion"),
		OSName:    q.r.Header.Get("mex-OSName"),
		OSVersion: q.r.Header.Get("mex-OSVersion"),
	}
	if err := q.s.cfg.Accounts.Handshake(q.ctx, q.mailbox, c, q.s.now()); err != nil {
		q.failErr(err, "", errInternal)
		return
	}
	if q.v2 {
		q.reply(http.StatusOK, struct {
			MailboxID string `json:"mailbox_id"`
		}{q.mailbox})
		return
	}
	q.reply(http.StatusOK, struct {
		MailboxID string `json:"mailboxId"`
	}{q.mailbox})
}

// lookup answers GET /endpointlookup/{ods_code}/{workflow_id}.
func (q *request) lookup(args []string) {
	mbs, err := q.s.cfg.Directory.Lookup(q.ctx, args[0], args[1])
	if err != nil {
		q.failErr(err, "", errInternal)
		return
	}
	q.ev.Reason = args[0] + " " + args[1]
	if q.v2 {
		q.reply(http.StatusOK, lookupV2(mbs))
		return
	}
	type item struct {
		Address      string `json:"address"`
		Description  string `json:"description"`
		EndpointType string `json:"endpoint_type"`
	}
	out := struct {
		QueryID string `json:"query_id"`
		Results []item `json:"results"`
	}{QueryID: internalID(), Results: []item{}}
	for _, mb := range mbs {
		out.Results = append(out.Results, item{Address: mb.ID, Description: mb.Name, EndpointType: "MESH"})
	}
	q.reply(http.StatusOK, out)
}

// search answers GET /workflowsearch/{workflow_id}, in the v2 form in
// either version.
func (q *request) search(args []string) {
	mbs, err := q.s.cfg.Directory.Search(q.ctx, args[0])
	if err != nil {
		q.failErr(err, "", errInternal)
		return
	}
	q.ev.Reason = args[0]
	q.reply(http.StatusOK, lookupV2(mbs))
}

type lookupItemV2 struct {
	MailboxID   string `json:"mailbox_id"`
	MailboxName string `json:"mailbox_name"`
}

type lookupResultV2 struct {
	Results []lookupItemV2 `json:"results"`
}

func lookupV2(mbs []Mailbox) lookupResultV2 {
	out := lookupResultV2{Results: []lookupItemV2{}}
	for _, mb := range mbs {
		out.Results = append(out.Results, lookupItemV2{MailboxID: mb.ID, MailboxName: mb.Name})
	}
	return out
}

// limiter bounds each mailbox's requests in flight and its request rate
// (a token bucket).
type limiter struct {
	mu     sync.Mutex
	max    int
	rate   float64
	burst  float64
	states map[string]*bucket
}

type bucket struct {
	inflight int
	tokens   float64
	last     time.Time
}

func newLimiter(max int, rate float64, burst int) *limiter {
	return &limiter{max: max, rate: rate, burst: float64(burst), states: map[string]*bucket{}}
}

// acquire takes a slot and a token of mailbox; ok is false when it has
// none left. release gives the slot back.
func (l *limiter) acquire(mailbox string, now time.Time) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.states[mailbox]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.states[mailbox] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	if b.inflight >= l.max || b.tokens < 1 {
		return nil, false
	}
	b.tokens--
	b.inflight++
	return func() {
		l.mu.Lock()
		b.inflight--
		l.mu.Unlock()
	}, true
}

// parseRange reads a mex-Chunk-Range value "k:n" (1 <= k <= n); an empty
// value is "1:1".
func parseRange(v string) (k, n int, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 1, 1, true
	}
	a, b, found := strings.Cut(v, ":")
	if !found {
		return 0, 0, false
	}
	k, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || k < 1 || k > n || n > maxChunks {
		return 0, 0, false
	}
	return k, n, true
}

// maxChunks bounds the chunks of one message.
const maxChunks = 10000
