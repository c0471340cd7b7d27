package meshapi

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Inbox paging (the specification's bounds).
const (
	DefaultMaxResults = 500
	MinMaxResults     = 10
	MaxMaxResults     = 5000
)

// stampLayout is MESH's yyyyMMddHHmmss, in UTC.
const stampLayout = "20060102150405"

// workflowMatcher returns the test of a workflow_filter value: WF equals,
// !WF differs, WF* begins with, !WF* does not, *X* contains, !*X* does
// not contain. An empty filter matches everything.
func workflowMatcher(f string) func(string) bool {
	f = strings.TrimSpace(f)
	if f == "" {
		return func(string) bool { return true }
	}
	not := strings.HasPrefix(f, "!")
	f = strings.TrimPrefix(f, "!")
	var match func(string) bool
	switch {
	case len(f) >= 2 && strings.HasPrefix(f, "*") && strings.HasSuffix(f, "*"):
		x := f[1 : len(f)-1]
		match = func(wf string) bool { return strings.Contains(wf, x) }
	case strings.HasSuffix(f, "*"):
		x := strings.TrimSuffix(f, "*")
		match = func(wf string) bool { return strings.HasPrefix(wf, x) }
	default:
		match = func(wf string) bool { return wf == f }
	}
	if not {
		return func(wf string) bool { return !match(wf) }
	}
	return match
}

// list serves GET /{mailbox}/inbox.
func (q *request) list(_ []string) {
	qv := q.r.URL.Query()
	max := DefaultMaxResults
	if v := qv.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < MinMaxResults || n > MaxMaxResults {
			e := errBadQuery
			e.reason = "max_results " + v
			q.fail(e, "")
			return
		}
		max = n
	}
	after := qv.Get("continue_from")
	filter := qv.Get("workflow_filter")
	match := workflowMatcher(filter)
	entries, err := q.s.cfg.Inbox.List(q.ctx, q.mailbox)
	if err != nil {
		q.failErr(err, "", errInternal)
		return
	}
	ids := []string{}
	more := false
	for _, e := range entries {
		if after != "" && e.ID <= after {
			continue
		}
		if !match(e.Workflow) {
			continue
		}
		if len(ids) == max {
			more = true
			break
		}
		ids = append(ids, e.ID)
	}
	q.ev.Bytes = int64(len(ids))
	if !q.v2 {
		q.reply(http.StatusOK, struct {
			Messages []string `json:"messages"`
		}{ids})
		return
	}
	link := func(from string) string {
		v := url.Values{}
		if qv.Has("max_results") {
			v.Set("max_results", strconv.Itoa(max))
		}
		if filter != "" {
			v.Set("workflow_filter", filter)
		}
		if from != "" {
			v.Set("continue_from", from)
		}
		p := "/messageexchange/" + url.PathEscape(q.mailbox) + "/inbox"
		if len(v) > 0 {
			p += "?" + v.Encode()
		}
		return p
	}
	type links struct {
		Self string `json:"self"`
		Next string `json:"next,omitempty"`
	}
	out := struct {
		Messages []string `json:"messages"`
		Links    links    `json:"links"`
		Approx   int      `json:"approx_inbox_count"`
	}{Messages: ids, Links: links{Self: link(after)}, Approx: len(entries)}
	if more {
		out.Links.Next = link(ids[len(ids)-1])
	}
	q.reply(http.StatusOK, out)
}

// count serves GET /{mailbox}/count.
func (q *request) count(_ []string) {
	entries, err := q.s.cfg.Inbox.List(q.ctx, q.mailbox)
	if err != nil {
		q.failErr(err, "", errInternal)
		return
	}
	if q.v2 {
		q.reply(http.StatusOK, struct {
			Count int `json:"count"`
		}{len(entries)})
		return
	}
	q.reply(http.StatusOK, struct {
		Count              int  `json:"count"`
		AllResultsIncluded bool `json:"allResultsIncluded"`
	}{len(entries), true})
}

// acceptsGzip reads Accept-Encoding: gzip (or *) listed without q=0.
func acceptsGzip(h http.Header) bool {
	for part := range strings.SplitSeq(h.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		if qv, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(qv, 64); err == nil && f == 0 {
				continue
			}
		}
		return true
	}
	return false
}

// download serves HEAD and GET /{mailbox}/inbox/{message_id}[/{k}].
func (q *request) download(args []string) {
	id := args[0]
	q.ev.MessageID = id
	k, err := strconv.Atoi(args[1])
	if err != nil || k < 1 {
		q.fail(errNotFound, id)
		return
	}
	q.ev.Chunk = k
	m, err := q.s.cfg.Inbox.Open(q.ctx, q.mailbox, id)
	if err != nil {
		q.failErr(err, id, errNotRecipient)
		return
	}
	chunks := max(m.Chunks, 1)
	if k > chunks {
		q.fail(errNotFound, id)
		return
	}
	rc, size, err := q.s.cfg.Inbox.Chunk(q.ctx, q.mailbox, id, k)
	if err != nil {
		q.failErr(err, id, errNotRecipient)
		return
	}
	defer rc.Close()

	q.downloadHeaders(m, k, chunks)
	h := q.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	var body io.Reader = rc
	switch {
	case m.Gzip && acceptsGzip(q.r.Header):
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	case m.Gzip:
		// Decoded on the way: its length is not known before.
		body = newLazyGzip(rc)
	default:
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	status := http.StatusOK
	if k < chunks {
		status = http.StatusPartialContent
	}
	q.w.WriteHeader(status)
	q.ev.Outcome = OutcomeOK
	if q.r.Method == http.MethodHead {
		return
	}
	n, err := io.Copy(q.w, body)
	q.ev.Bytes = n
	if err != nil {
		q.ev.Outcome = OutcomeFailed
		q.ev.Reason = err.Error()
		// The status is sent; cutting the connection short is how the
		// client learns the body is not whole.
		panic(http.ErrAbortHandler)
	}
}

// downloadHeaders sets the mex- headers of a download.
func (q *request) downloadHeaders(m Message, k, chunks int) {
	typ := m.Type
	if typ == "" {
		typ = "DATA"
	}
	name := m.FileName
	if name == "" {
		name = m.ID + ".dat"
	}
	set := q.setHeader
	set("mex-From", m.From)
	set("mex-To", m.To)
	set("mex-WorkflowID", m.Workflow)
	set("mex-FileName", name)
	set("mex-LocalID", m.LocalID)
	set("mex-Subject", m.Subject)
	set("mex-PartnerID", m.PartnerID)
	set("mex-MessageID", m.ID)
	set("mex-MessageType", typ)
	set("mex-Chunk-Range", strconv.Itoa(k)+":"+strconv.Itoa(chunks))
	set("mex-Total-Chunks", strconv.Itoa(chunks))
	if typ == "DATA" {
		set("mex-StatusCode", "00")
		set("mex-StatusEvent", "TRANSFER")
		set("mex-StatusDescription", "Transferred to recipient mailbox")
		set("mex-StatusSuccess", "SUCCESS")
	} else {
		set("mex-StatusSuccess", "ERROR")
	}
	if !m.Delivered.IsZero() {
		set("mex-StatusTimestamp", m.Delivered.UTC().Format(stampLayout))
	}
	if m.Compressed {
		set("mex-Content-Compressed", "Y")
	}
	if m.Encrypted {
		set("mex-Content-Encrypted", "Y")
	}
}

// acknowledge serves PUT /{mailbox}/inbox/{message_id}/status/acknowledged.
func (q *request) acknowledge(args []string) {
	id := args[0]
	q.ev.MessageID = id
	if err := q.s.cfg.Inbox.Acknowledge(q.ctx, q.mailbox, id); err != nil {
		q.failErr(err, id, errNotRecipient)
		return
	}
	if q.v2 {
		q.reply(http.StatusOK, nil)
		return
	}
	q.reply(http.StatusOK, struct {
		MessageID string `json:"messageId"`
	}{id})
}

// track serves GET /{mailbox}/outbox/tracking?messageID= and
// /{mailbox}/outbox/tracking/{message_id}.
func (q *request) track(args []string) {
	var id string
	if len(args) > 0 {
		id = args[0]
	} else {
		qv := q.r.URL.Query()
		for _, key := range []string{"messageID", "messageId", "message_id"} {
			if id = qv.Get(key); id != "" {
				break
			}
		}
	}
	q.ev.MessageID = id
	if id == "" {
		e := errBadQuery
		e.reason = "no messageID"
		q.fail(e, "")
		return
	}
	t, err := q.s.cfg.Tracking.Track(q.ctx, q.mailbox, id)
	if err != nil {
		q.failErr(err, id, errNotFound)
		return
	}
	if q.v2 {
		q.reply(http.StatusOK, trackingV2(t))
		return
	}
	q.reply(http.StatusOK, trackingV1(t))
}

// trackV2 is the v2 tracking body, keys as the specification.
type trackV2 struct {
	MessageID         string  `json:"message_id"`
	LocalID           string  `json:"local_id"`
	WorkflowID        string  `json:"workflow_id"`
	Filename          string  `json:"filename"`
	ExpiryTime        *string `json:"expiry_time"`
	UploadTimestamp   *string `json:"upload_timestamp"`
	Recipient         string  `json:"recipient"`
	RecipientName     string  `json:"recipient_name"`
	StatusSuccess     bool    `json:"status_success"`
	Status            string  `json:"status"`
	StatusEvent       string  `json:"status_event"`
	StatusTimestamp   *string `json:"status_timestamp"`
	StatusDescription string  `json:"status_description"`
	StatusCode        string  `json:"status_code"`
}

func isoTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(stampLayout)
}

func trackingV2(t Tracked) trackV2 {
	return trackV2{
		MessageID:         t.ID,
		LocalID:           t.LocalID,
		WorkflowID:        t.Workflow,
		Filename:          t.FileName,
		ExpiryTime:        isoTime(t.Expiry),
		UploadTimestamp:   isoTime(t.Uploaded),
		Recipient:         t.To,
		RecipientName:     t.RecipientName,
		StatusSuccess:     t.Status != StatusUndeliverable,
		Status:            t.Status,
		StatusEvent:       t.StatusEvent,
		StatusTimestamp:   isoTime(t.StatusTime),
		StatusDescription: t.StatusDescription,
		StatusCode:        t.StatusCode,
	}
}

// trackV1 is the v1 tracking body.
type trackV1 struct {
	AddressType       string `json:"addressType"`
	Checksum          string `json:"checksum"`
	ChunkCount        int    `json:"chunkCount"`
	CompressFlag      string `json:"compressFlag"`
	DownloadTimestamp string `json:"downloadTimestamp"`
	DTSID             string `json:"dtsId"`
	EncryptedFlag     string `json:"encryptedFlag"`
	ExpiryTime        string `json:"expiryTime"`
	FileName          string `json:"fileName"`
	FileSize          int64  `json:"fileSize"`
	IsCompressed      string `json:"isCompressed"`
	LocalID           string `json:"localId"`
	MessageID         string `json:"messageId"`
	MessageType       string `json:"messageType"`
	PartnerID         string `json:"partnerId"`
	Recipient         string `json:"recipient"`
	RecipientName     string `json:"recipientName"`
	Sender            string `json:"sender"`
	Status            string `json:"status"`
	StatusCode        string `json:"statusCode"`
	StatusDescription string `json:"statusDescription"`
	StatusEvent       string `json:"statusEvent"`
	StatusSuccess     string `json:"statusSuccess"`
	StatusTimestamp   string `json:"statusTimestamp"`
	Subject           string `json:"subject"`
	UploadTimestamp   string `json:"uploadTimestamp"`
	Version           string `json:"version"`
	WorkflowID        string `json:"workflowId"`
}

func trackingV1(t Tracked) trackV1 {
	flag := func(b bool) string {
		if b {
			return "Y"
		}
		return ""
	}
	success := "SUCCESS"
	if t.Status == StatusUndeliverable {
		success = "ERROR"
	}
	status := t.Status
	if status != "" {
		status = strings.ToUpper(status[:1]) + status[1:]
	}
	name := t.FileName
	if name == "" {
		name = t.ID + ".dat"
	}
	return trackV1{
		AddressType:       "ALL",
		Checksum:          t.Checksum,
		ChunkCount:        t.Chunks,
		CompressFlag:      flag(t.Compressed),
		DownloadTimestamp: stamp(t.Acknowledged),
		DTSID:             t.ID,
		EncryptedFlag:     flag(t.Encrypted),
		ExpiryTime:        stamp(t.Expiry),
		FileName:          name,
		FileSize:          t.Size,
		IsCompressed:      flag(t.Compressed),
		LocalID:           t.LocalID,
		MessageID:         t.ID,
		MessageType:       "Data",
		PartnerID:         t.PartnerID,
		Recipient:         t.To,
		RecipientName:     t.RecipientName,
		Sender:            t.From,
		Status:            status,
		StatusCode:        t.StatusCode,
		StatusDescription: t.StatusDescription,
		StatusEvent:       t.StatusEvent,
		StatusSuccess:     success,
		StatusTimestamp:   stamp(t.StatusTime),
		Subject:           t.Subject,
		UploadTimestamp:   stamp(t.Uploaded),
		Version:           "1.0",
		WorkflowID:        t.Workflow,
	}
}
