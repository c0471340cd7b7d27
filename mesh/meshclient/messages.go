package meshclient

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// ListOptions narrows an inbox listing.
type ListOptions struct {
	// MaxResults is the page size asked for (MESH takes 10..5000); 0
	// leaves MESH's default (500).
	MaxResults int
	// WorkflowFilter is MESH's workflow_filter ("" for none).
	WorkflowFilter string
}

// Inbox returns the IDs of every message in the mailbox's inbox, in
// MESH's order, following links.next from page to page.
func (c *Client) Inbox(ctx context.Context, opts ListOptions) ([]string, error) {
	v := url.Values{}
	if opts.MaxResults > 0 {
		v.Set("max_results", strconv.Itoa(opts.MaxResults))
	}
	if opts.WorkflowFilter != "" {
		v.Set("workflow_filter", opts.WorkflowFilter)
	}
	u := c.mailboxURL() + "/inbox"
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	ids := []string{}
	seen := map[string]bool{}
	for pages := 0; u != ""; pages++ {
		if pages > 100000 {
			return nil, &Error{Op: "inbox", Detail: "too many pages (links.next loops?)"}
		}
		resp, err := c.do(ctx, call{op: "inbox", method: http.MethodGet, url: u, ok: okStatus(http.StatusOK)})
		if err != nil {
			return nil, err
		}
		var page struct {
			Messages []string `json:"messages"`
			Links    struct {
				Next string `json:"next"`
			} `json:"links"`
		}
		if err := readJSON("inbox", resp, &page); err != nil {
			return nil, err
		}
		for _, id := range page.Messages {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		u = ""
		if page.Links.Next != "" {
			u = c.base + page.Links.Next
		}
	}
	return ids, nil
}

// Count returns MESH's count of the inbox.
func (c *Client) Count(ctx context.Context) (int, error) {
	resp, err := c.do(ctx, call{op: "count", method: http.MethodGet, url: c.mailboxURL() + "/count", ok: okStatus(http.StatusOK)})
	if err != nil {
		return 0, err
	}
	var out struct {
		Count int `json:"count"`
	}
	err = readJSON("count", resp, &out)
	return out.Count, err
}

// Message is a downloaded message's envelope, from the first reply's mex-
// headers.
type Message struct {
	ID       string // mex-MessageID (the ID asked for when MESH leaves it out)
	From     string // mex-From
	To       string // mex-To
	Workflow string // mex-WorkflowID
	FileName string // mex-FileName
	LocalID  string // mex-LocalID
	Subject  string // mex-Subject
	Type     string // mex-MessageType: DATA or REPORT
	// StatusCode and StatusDescription are a report's (non-delivery).
	StatusCode        string
	StatusDescription string
	// Compressed says mex-Content-Compressed: Y (the content itself).
	Compressed bool
	// Chunks is how many chunks it came in.
	Chunks int
	// Bytes is how many bytes of content were written.
	Bytes int64
}

// chunkRange is a mex-chunk-range value as NHS England's client reads it.
var chunkRange = regexp.MustCompile(`^([0-9]+):([0-9]+)$`)

// Download writes the content of message id to w, every chunk in order,
// each un-gzipped when MESH sent it with Content-Encoding: gzip, and
// returns its envelope. The chunk count comes from the first reply's
// mex-chunk-range. On an error w may hold part of the content.
func (c *Client) Download(ctx context.Context, id string, w io.Writer) (Message, error) {
	u := c.mailboxURL() + "/inbox/" + url.PathEscape(id)
	h := http.Header{}
	h.Set("Accept-Encoding", "gzip")
	ok := okStatus(http.StatusOK, http.StatusPartialContent)
	resp, err := c.do(ctx, call{op: "download", id: id, method: http.MethodGet, url: u, header: h, ok: ok})
	if err != nil {
		return Message{}, err
	}
	rh := resp.Header
	m := Message{ID: rh.Get("mex-MessageID"), From: rh.Get("mex-From"), To: rh.Get("mex-To"),
		Workflow: rh.Get("mex-WorkflowID"), FileName: rh.Get("mex-FileName"), LocalID: rh.Get("mex-LocalID"),
		Subject: rh.Get("mex-Subject"), Type: strings.ToUpper(rh.Get("mex-MessageType")),
		StatusCode: rh.Get("mex-StatusCode"), StatusDescription: rh.Get("mex-StatusDescription"),
		Compressed: strings.EqualFold(rh.Get("mex-Content-Compressed"), "Y"), Chunks: 1}
	if m.ID == "" {
		m.ID = id
	}
	if m.Type == "" {
		m.Type = "DATA"
	}
	if r := chunkRange.FindStringSubmatch(rh.Get("mex-chunk-range")); r != nil {
		if n, err := strconv.Atoi(r[2]); err == nil && n > 1 {
			m.Chunks = n
		}
	}
	n, err := copyChunk(w, resp)
	m.Bytes += n
	if err != nil {
		return m, &Error{Op: "download", MessageID: id, Detail: fmt.Sprintf("chunk 1: %v", err), Err: err}
	}
	for k := 2; k <= m.Chunks; k++ {
		resp, err := c.do(ctx, call{op: "download", id: id, method: http.MethodGet, url: u + "/" + strconv.Itoa(k), header: h, ok: ok})
		if err != nil {
			return m, err
		}
		n, err := copyChunk(w, resp)
		m.Bytes += n
		if err != nil {
			return m, &Error{Op: "download", MessageID: id, Detail: fmt.Sprintf("chunk %d: %v", k, err), Err: err}
		}
	}
	return m, nil
}

// copyChunk copies a chunk's body to w, un-gzipped when its
// Content-Encoding is exactly gzip, and closes it.
func copyChunk(w io.Writer, resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return 0, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	return io.Copy(w, r)
}

// Acknowledge takes message id out of the inbox. Acknowledging a message
// already acknowledged is what MESH says it is (the hub's own server
// answers 200).
func (c *Client) Acknowledge(ctx context.Context, id string) error {
	u := c.mailboxURL() + "/inbox/" + url.PathEscape(id) + "/status/acknowledged"
	resp, err := c.do(ctx, call{op: "acknowledge", id: id, method: http.MethodPut, url: u, ok: okStatus(http.StatusOK)})
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// Tracking is what MESH tells the sender of a message it sent.
type Tracking struct {
	MessageID         string `json:"message_id"`
	LocalID           string `json:"local_id"`
	Workflow          string `json:"workflow_id"`
	FileName          string `json:"filename"`
	Recipient         string `json:"recipient"`
	Status            string `json:"status"` // accepted, acknowledged, undeliverable, ...
	StatusCode        string `json:"status_code"`
	StatusDescription string `json:"status_description"`
	StatusSuccess     *bool  `json:"status_success"`
	StatusTimestamp   string `json:"status_timestamp"`
	UploadTimestamp   string `json:"upload_timestamp"`
	ExpiryTime        string `json:"expiry_time"`
}

// Track returns MESH's tracking of message id, which this mailbox sent
// (MESH tracks by message ID only). A message MESH does not know as
// this mailbox's (or an upload not complete yet) is an error matching
// ErrNotFound.
func (c *Client) Track(ctx context.Context, id string) (Tracking, error) {
	u := c.mailboxURL() + "/outbox/tracking?messageID=" + url.QueryEscape(id)
	resp, err := c.do(ctx, call{op: "track", id: id, method: http.MethodGet, url: u, ok: okStatus(http.StatusOK)})
	if err != nil {
		return Tracking{}, err
	}
	var t Tracking
	err = readJSON("track", resp, &t)
	return t, err
}

// Outgoing is a message to send.
type Outgoing struct {
	To       string // mex-To: the recipient mailbox
	Workflow string // mex-WorkflowID
	FileName string // mex-FileName
	LocalID  string // mex-LocalID
	Subject  string // mex-Subject
	// Content is read in chunks; Size is its length in bytes.
	Content io.ReaderAt
	Size    int64
	// MinChunks sends the message in at least this many chunks. A message
	// of two or more is complete at MESH only with its last chunk, so a
	// sender that records the message ID (Start's) before the rest
	// (Finish) can tell after a crash whether it was ever delivered.
	MinChunks int
}

// Upload is a send begun: chunk 1 accepted and the message ID known.
type Upload struct {
	c      *Client
	m      Outgoing
	ID     string // MESH's message ID
	Chunks int    // how many chunks the message is sent in
}

// chunks returns how many chunks m is sent in.
func (c *Client) chunks(m Outgoing) int {
	n := int((m.Size + c.cfg.ChunkSize - 1) / c.cfg.ChunkSize)
	return max(n, m.MinChunks, 1)
}

// chunk returns chunk k (1..n) of m, gzipped: the chunks are of equal
// size but the last.
func (u *Upload) chunk(k int) ([]byte, error) {
	per := (u.m.Size + int64(u.Chunks) - 1) / int64(u.Chunks)
	off := min(int64(k-1)*per, u.m.Size)
	end := min(off+per, u.m.Size)
	raw := make([]byte, end-off)
	if n, err := u.m.Content.ReadAt(raw, off); n < len(raw) {
		return nil, fmt.Errorf("read chunk %d: %w", k, err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Start sends chunk 1 of m with every mex- header and returns the upload,
// whose ID is MESH's message ID. A message of one chunk is delivered
// already; one of more is delivered by Finish.
func (c *Client) Start(ctx context.Context, m Outgoing) (*Upload, error) {
	if m.To == "" || m.Workflow == "" {
		return nil, &Error{Op: "send", Detail: "mex-To and mex-WorkflowID are required"}
	}
	u := &Upload{c: c, m: m, Chunks: c.chunks(m)}
	body, err := u.chunk(1)
	if err != nil {
		return nil, &Error{Op: "send", Detail: err.Error(), Err: err}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Encoding", "gzip")
	h.Set("mex-To", m.To)
	h.Set("mex-WorkflowID", m.Workflow)
	h.Set("mex-Chunk-Range", "1:"+strconv.Itoa(u.Chunks))
	for name, v := range map[string]string{"mex-FileName": m.FileName, "mex-LocalID": m.LocalID, "mex-Subject": m.Subject} {
		if v != "" {
			h.Set(name, v)
		}
	}
	resp, err := c.do(ctx, call{op: "send", method: http.MethodPost, url: c.mailboxURL() + "/outbox", header: h, body: body,
		ok: okStatus(http.StatusAccepted)})
	if err != nil {
		return nil, err
	}
	var out struct {
		MessageID string `json:"message_id"`
	}
	if err := readJSON("send", resp, &out); err != nil {
		return nil, err
	}
	if out.MessageID == "" {
		return nil, &Error{Op: "send", Status: resp.StatusCode, Detail: "no message_id in the answer"}
	}
	u.ID = out.MessageID
	return u, nil
}

// Resume returns the upload id of m, begun by an earlier Start (of the
// same content), so that Finish sends its chunks 2..n again.
func (c *Client) Resume(id string, m Outgoing) *Upload {
	return &Upload{c: c, m: m, ID: id, Chunks: c.chunks(m)}
}

// Finish sends chunks 2..n. MESH answering that the upload is complete
// (423) ends it successfully: the message was delivered whole (by an
// earlier attempt cut off before it heard the answer). An upload MESH no
// longer has (removed unfinished after a day) is an error matching
// ErrNotFound: the message must be sent again with Start.
func (u *Upload) Finish(ctx context.Context) error {
	for k := 2; k <= u.Chunks; k++ {
		body, err := u.chunk(k)
		if err != nil {
			return &Error{Op: "send", MessageID: u.ID, Detail: err.Error(), Err: err}
		}
		h := http.Header{}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Encoding", "gzip")
		h.Set("mex-Chunk-Range", strconv.Itoa(k)+":"+strconv.Itoa(u.Chunks))
		resp, err := u.c.do(ctx, call{op: "send chunk " + strconv.Itoa(k), id: u.ID, method: http.MethodPost,
			url: u.c.mailboxURL() + "/outbox/" + url.PathEscape(u.ID) + "/" + strconv.Itoa(k), header: h, body: body,
			ok: okStatus(http.StatusOK, http.StatusAccepted)})
		if err != nil {
			if isComplete(err) {
				return nil
			}
			return err
		}
		drain(resp)
	}
	return nil
}

func isComplete(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Is(ErrComplete)
}

// Send sends m whole (Start, then Finish) and returns its message ID.
func (c *Client) Send(ctx context.Context, m Outgoing) (string, error) {
	u, err := c.Start(ctx, m)
	if err != nil {
		return "", err
	}
	if err := u.Finish(ctx); err != nil {
		return u.ID, err
	}
	return u.ID, nil
}
