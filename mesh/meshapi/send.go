package meshapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"cpis/mesh"
)

// uploadLocks serialise the requests of one upload (hashed by message ID),
// so that a chunk's temporary file has one writer and a message is
// delivered once.
var uploadLocks [64]sync.Mutex

func lockUpload(id string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	m := &uploadLocks[h.Sum32()%uint32(len(uploadLocks))]
	m.Lock()
	return m.Unlock
}

// malformed reports a header value with a control character (any byte
// below 0x20 other than tab, or DEL).
func malformed(h http.Header) bool {
	for _, vs := range h {
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
					return true
				}
			}
		}
	}
	return false
}

// looksLikeURL reports a header value that is a URL, which no mailbox or
// workflow ID is.
func looksLikeURL(v string) bool {
	l := strings.ToLower(v)
	return strings.Contains(l, "://") || strings.HasPrefix(l, "www.") || strings.ContainsAny(l, "/\\")
}

// encoding reads Content-Encoding: gzip true, none false; ok is false for
// any other.
func encoding(h http.Header) (gz, ok bool) {
	switch v := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding"))); v {
	case "":
		return false, true
	case "gzip":
		return true, true
	default:
		return false, false
	}
}

// yes reads a Y/N mex- flag.
func yes(v string) bool {
	v = strings.ToUpper(strings.TrimSpace(v))
	return v == "Y" || v == "YES" || v == "TRUE"
}

// send serves POST /{mailbox}/outbox: a whole message, or chunk 1 of n.
func (q *request) send(_ []string) {
	h := q.r.Header
	if malformed(h) {
		q.fail(errMalformed, "")
		return
	}
	to := strings.ToUpper(strings.TrimSpace(h.Get("mex-To")))
	wf := strings.TrimSpace(h.Get("mex-WorkflowID"))
	switch {
	case to == "":
		q.fail(errNoTo, "")
		return
	case wf == "":
		q.fail(errNoWorkflow, "")
		return
	case looksLikeURL(to) || looksLikeURL(wf):
		e := errMalformed
		e.reason = "a URL in mex-To or mex-WorkflowID"
		q.fail(e, "")
		return
	}
	gz, ok := encoding(h)
	if !ok {
		q.fail(errEncoding, "")
		return
	}
	k, n, ok := parseRange(h.Get("mex-Chunk-Range"))
	if !ok || k != 1 {
		q.fail(errChunkRange, "")
		return
	}
	body, ok := q.nonEmptyBody()
	if !ok {
		return
	}
	if err := q.s.cfg.Router.Route(q.ctx, q.mailbox, to, wf); err != nil {
		q.failErr(err, "", errNotSender)
		return
	}
	now := q.s.now().UTC()
	e := Envelope{
		ID:         mesh.NewMessageID(now),
		From:       q.mailbox,
		To:         to,
		Workflow:   wf,
		FileName:   h.Get("mex-FileName"),
		LocalID:    h.Get("mex-LocalID"),
		Subject:    h.Get("mex-Subject"),
		PartnerID:  h.Get("mex-PartnerID"),
		Checksum:   h.Get("mex-Content-Checksum"),
		Encrypted:  yes(h.Get("mex-Content-Encrypted")),
		Compressed: yes(h.Get("mex-Content-Compressed")),
		Chunks:     n,
		Uploaded:   now,
	}
	q.ev.MessageID = e.ID
	q.ev.Chunk = 1
	q.ev.Reason = fmt.Sprintf("to %s workflow %s chunks %d", to, wf, n)
	if n == 1 {
		src := &errRecorder{r: body}
		var r io.Reader = src
		if gz {
			r = newLazyGzip(src)
		}
		cr := &countReader{r: mesh.LimitReader(r, q.s.cfg.MaxMessage)}
		if err := q.s.cfg.Router.Deliver(q.ctx, e, cr); err != nil {
			// Nothing was kept: the ID given means nothing to the sender.
			q.failBody(err, src.err, "")
			return
		}
		q.ev.Bytes = cr.n
		q.sent(e.ID)
		return
	}
	unlock := lockUpload(e.ID)
	defer unlock()
	if err := q.s.cfg.Uploads.create(e); err != nil {
		q.failErr(err, "", errNotSender)
		return
	}
	src := &errRecorder{r: body}
	nb, err := q.s.cfg.Uploads.putChunk(e.ID, 1, gz, src)
	if err != nil {
		_ = q.s.cfg.Uploads.remove(e.ID)
		q.failBody(err, src.err, "")
		return
	}
	q.ev.Bytes = nb
	q.sent(e.ID)
}

// sent answers 202 for message id.
func (q *request) sent(id string) {
	if q.v2 {
		q.reply(http.StatusAccepted, struct {
			MessageID string `json:"message_id"`
		}{id})
		return
	}
	q.reply(http.StatusAccepted, struct {
		MessageID string `json:"messageID"`
	}{id})
}

// nonEmptyBody returns the request body, answering 02 (and ok false) when
// it is empty. It reads one byte ahead to tell.
func (q *request) nonEmptyBody() (io.Reader, bool) {
	if q.r.ContentLength == 0 || q.r.Body == nil || q.r.Body == http.NoBody {
		q.fail(errNoData, "")
		return nil, false
	}
	var first [1]byte
	n, err := io.ReadFull(q.r.Body, first[:])
	if n == 0 {
		if err == io.EOF {
			q.fail(errNoData, "")
		} else {
			q.failBody(err, err, "")
		}
		return nil, false
	}
	return io.MultiReader(bytes.NewReader(first[:]), q.r.Body), true
}

// failBody answers a send that failed: bodyErr is what reading the
// request body failed with (nil when it did not fail).
func (q *request) failBody(err, bodyErr error, id string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		q.fail(errRequestTooLarge, id)
	case errors.Is(err, mesh.ErrTooLarge):
		q.fail(errMessageTooLarge, id)
	case errors.Is(err, mesh.ErrNotGzip):
		q.fail(errNotGzip, id)
	case bodyErr != nil:
		// The client went away or stalled: nothing was kept; the answer
		// (if it still listens) says so, and the token is not used up.
		q.unread = true
		e := apiError{status: http.StatusBadRequest, event: "SEND", code: "400", msg: "Request body not read whole", reason: bodyErr.Error()}
		q.fail(e, id)
	default:
		q.failErr(err, id, errNotSender)
	}
}

// countReader counts the bytes read.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// chunk serves POST /{mailbox}/outbox/{message_id}/{k}: chunk k >= 2.
func (q *request) chunk(args []string) {
	id := args[0]
	q.ev.MessageID = id
	k, err := strconv.Atoi(args[1])
	if err != nil || k < 2 || k > maxChunks {
		q.fail(errChunkRange, id)
		return
	}
	q.ev.Chunk = k
	h := q.r.Header
	if malformed(h) {
		q.fail(errMalformed, id)
		return
	}
	rk, n, ok := parseRange(h.Get("mex-Chunk-Range"))
	if !ok || rk != k || strings.TrimSpace(h.Get("mex-Chunk-Range")) == "" {
		q.fail(errChunkRange, id)
		return
	}
	gz, ok := encoding(h)
	if !ok {
		q.fail(errEncoding, id)
		return
	}
	unlock := lockUpload(id)
	defer unlock()
	up, err := q.s.cfg.Uploads.get(id)
	if err != nil {
		q.failErr(err, id, errNotSender)
		return
	}
	if up.env.From != q.mailbox {
		q.fail(errNotSender, id)
		return
	}
	if up.done {
		q.fail(errComplete, id)
		return
	}
	if n != up.env.Chunks {
		q.fail(errChunkRange, id)
		return
	}
	body, ok := q.nonEmptyBody()
	if !ok {
		return
	}
	// What is stored already bounds the content from below, but for the
	// few bytes gzip adds to data it cannot compress.
	limit := q.s.cfg.MaxMessage + q.s.cfg.MaxMessage/64 + int64(up.env.Chunks)<<10
	src := &errRecorder{r: body}
	nb, err := q.s.cfg.Uploads.putChunk(id, k, gz, mesh.LimitReader(src, max(0, limit-up.stored)))
	if err != nil {
		if errors.Is(err, mesh.ErrTooLarge) {
			_ = q.s.cfg.Uploads.remove(id)
		}
		q.failBody(err, src.err, id)
		return
	}
	q.ev.Bytes = nb
	if up, err = q.s.cfg.Uploads.get(id); err != nil {
		q.failErr(err, id, errNotSender)
		return
	}
	if up.complete() {
		if err := q.s.deliverUpload(q.ctx, up); err != nil {
			q.failBody(err, nil, id)
			return
		}
		q.ev.Reason = "complete, delivered"
	}
	if q.v2 {
		q.reply(http.StatusAccepted, nil)
		return
	}
	q.reply(http.StatusAccepted, struct {
		MessageID string `json:"messageID"`
		BlockID   int    `json:"blockID"`
	}{id, k})
}

// deliverUpload delivers a complete upload whole and marks it done. A
// message over the size limit, or one the Router refuses, is removed: its
// sender is told and nothing of it is kept. Another failure leaves the
// upload as it was, for a retry of its last chunk or Recover.
func (s *Server) deliverUpload(ctx context.Context, up upload) error {
	rc := s.cfg.Uploads.content(up)
	defer rc.Close()
	cr := &countReader{r: mesh.LimitReader(rc, s.cfg.MaxMessage)}
	err := s.cfg.Router.Deliver(ctx, up.env, cr)
	var ref *Refusal
	if errors.Is(err, mesh.ErrTooLarge) || errors.Is(err, mesh.ErrNotGzip) || errors.As(err, &ref) {
		_ = s.cfg.Uploads.remove(up.env.ID)
		return err
	}
	if err != nil {
		return err
	}
	if s.cfg.Audit != nil {
		s.cfg.Audit(Event{At: s.now(), Mailbox: up.env.From, Action: ActionDeliver, MessageID: up.env.ID,
			Chunk: up.env.Chunks, Bytes: cr.n, Status: http.StatusAccepted, Outcome: OutcomeOK,
			Reason: "to " + up.env.To + " workflow " + up.env.Workflow})
	}
	return s.cfg.Uploads.finish(up.env.ID)
}

// Recover delivers the uploads that were complete when the server last
// stopped but not yet delivered (a crash between the last chunk's fsync
// and its delivery, or during it). Call it once at start, before serving.
// Router.Deliver being idempotent, a message delivered already is not
// delivered twice. It returns the IDs it delivered.
func (s *Server) Recover(ctx context.Context) ([]string, error) {
	ids, err := s.cfg.Uploads.pending()
	if err != nil {
		return nil, err
	}
	var done []string
	for _, id := range ids {
		up, err := s.cfg.Uploads.get(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return done, err
		}
		if up.done || !up.complete() {
			continue
		}
		if err := s.deliverUpload(ctx, up); err != nil {
			return done, fmt.Errorf("recover upload %s: %w", id, err)
		}
		done = append(done, id)
	}
	return done, nil
}

// CleanUploads removes the uploads begun more than DefaultUploadAge ago
// (Uploads.Clean) and audits each unfinished one it removed (ActionExpire).
// Call it now and then (hourly is plenty), after Recover.
func (s *Server) CleanUploads() ([]string, error) {
	now := s.now()
	removed, err := s.cfg.Uploads.Clean(now.Add(-DefaultUploadAge))
	if s.cfg.Audit != nil {
		for _, id := range removed {
			s.cfg.Audit(Event{At: now, Action: ActionExpire, MessageID: id, Outcome: OutcomeOK,
				Reason: "unfinished upload removed after " + DefaultUploadAge.String()})
		}
	}
	return removed, err
}
