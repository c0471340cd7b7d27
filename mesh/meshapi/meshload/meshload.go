// Package meshload is a MESH API client that behaves as NHS England's
// client does (mesh-client 3.x), for tests and load benchmarks: NHSMESH
// signing, the v2 Accept, chunked sends, paged listing, chunked downloads
// and acknowledgements, retries of 425, 429, 502, 503 and 504 with the
// same Authorization header. It also has the helpers the load benchmarks
// share: running clients in parallel and reading a process's CPU time.
package meshload

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cpis/mesh/meshapi"
)

// Sign returns an NHSMESH Authorization header as the specification
// describes it: the HMAC-SHA256, with the environment's shared key, of
// mailbox, nonce, nonce count, password and the timestamp at (UTC, to the
// minute).
func Sign(key, mailbox, nonce, count, password string, at time.Time) string {
	ts := at.UTC().Format("200601021504")
	mac := hmac.New(sha256.New, []byte(key))
	io.WriteString(mac, strings.Join([]string{mailbox, nonce, count, password, ts}, ":"))
	return "NHSMESH " + strings.Join([]string{mailbox, nonce, count, ts, hex.EncodeToString(mac.Sum(nil))}, ":")
}

// Client does what NHS England's Python client (mesh-client 3.x) does,
// as mesh/meshapi/mesh-api.md lists it: the v2 Accept on every request; a send's first
// chunk at /outbox with every mex- header, chunks 2..n with only
// Content-Type, mex-Chunk-Range (and Content-Encoding when compressing)
// besides Authorization and Accept; the chunk count read only from the
// first download reply's mex-chunk-range; a chunk un-gzipped only when
// Content-Encoding is exactly gzip; links.next appended to the base URL;
// 425, 429, 502, 503 and 504 retried with the same Authorization header.
// Every failure is fatal to T.
type Client struct {
	T        testing.TB
	Base     string // the server's URL, without a trailing slash
	Mailbox  string
	Password string
	Key      string // the environment's shared key
	Now      func() time.Time
	HTTP     *http.Client
	// Retries counts the requests retried.
	Retries atomic.Int64

	nonce  atomic.Int64
	prefix string // of the nonces, so that clients of one mailbox never share one
}

var clients atomic.Int64

// NewClient returns a client of mailbox on the server at base.
func NewClient(t testing.TB, base, mailbox, password, key string, now func() time.Time) *Client {
	return &Client{T: t, Base: base, Mailbox: mailbox, Password: password, Key: key, Now: now,
		prefix: fmt.Sprintf("c%04d", clients.Add(1)),
		HTTP:   &http.Client{Transport: &http.Transport{DisableCompression: true}}}
}

func (c *Client) token() string {
	n := c.nonce.Add(1)
	return Sign(c.Key, c.Mailbox, fmt.Sprintf("%s-%s-%08d", strings.ToLower(c.Mailbox), c.prefix, n), "0", c.Password, c.Now())
}

// Do sends one request, retrying the statuses the client retries with
// the same Authorization header, and returns the last answer and its body.
func (c *Client) Do(method, u string, h map[string]string, body []byte) (*http.Response, []byte) {
	c.T.Helper()
	auth := c.token()
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, u, rd)
		if err != nil {
			c.T.Fatal(err)
		}
		req.Header.Set("Accept", meshapi.MediaV2)
		req.Header.Set("Authorization", auth)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			c.T.Fatalf("%s %s: %v", method, u, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			c.T.Fatalf("%s %s: %v", method, u, err)
		}
		switch resp.StatusCode {
		case 425, 429, 502, 503, 504:
			if attempt < 200 {
				c.Retries.Add(1)
				time.Sleep(2 * time.Millisecond)
				continue
			}
		}
		return resp, b
	}
}

// MailboxURL is the URL of the client's mailbox.
func (c *Client) MailboxURL() string { return c.Base + "/messageexchange/" + c.Mailbox }

// Handshake shakes hands as mesh_client 3.0 on Linux.
func (c *Client) Handshake() {
	c.T.Helper()
	resp, body := c.Do("POST", c.MailboxURL(), map[string]string{"mex-ClientVersion": "mesh_client==3.0", "mex-OSName": "Linux", "mex-OSVersion": "6.1"}, nil)
	if resp.StatusCode != 200 {
		c.T.Fatalf("handshake: %d %s", resp.StatusCode, body)
	}
}

// Send sends data to the mailbox to as workflow in chunks of chunkSize
// bytes (each gzipped when compress) and returns the message ID.
func (c *Client) Send(to, workflow, fileName string, data []byte, chunkSize int, compress bool) string {
	c.T.Helper()
	var chunks [][]byte
	for off := 0; off < len(data); off += chunkSize {
		chunks = append(chunks, data[off:min(off+chunkSize, len(data))])
	}
	enc := func(b []byte) []byte {
		if compress {
			return Gzip(b)
		}
		return b
	}
	h := map[string]string{"Content-Type": "application/octet-stream", "Mex-Chunk-Range": fmt.Sprintf("1:%d", len(chunks)),
		"Mex-To": to, "Mex-WorkflowID": workflow, "Mex-FileName": fileName, "Mex-LocalID": "local-" + fileName}
	if compress {
		h["Content-Encoding"] = "gzip"
	}
	resp, body := c.Do("POST", c.MailboxURL()+"/outbox", h, enc(chunks[0]))
	var sent map[string]any
	if err := json.Unmarshal(body, &sent); err != nil {
		c.T.Fatalf("send: %d %q: %v", resp.StatusCode, body, err)
	}
	if _, bad := sent["detail"]; bad || resp.StatusCode != 202 {
		c.T.Fatalf("send: %d %s", resp.StatusCode, body)
	}
	id, _ := sent["message_id"].(string)
	if id == "" {
		c.T.Fatalf("send: no message_id in %s", body)
	}
	for k := 2; k <= len(chunks); k++ {
		h := map[string]string{"Content-Type": "application/octet-stream", "Mex-Chunk-Range": fmt.Sprintf("%d:%d", k, len(chunks))}
		if compress {
			h["Content-Encoding"] = "gzip"
		}
		resp, body := c.Do("POST", c.MailboxURL()+"/outbox/"+url.PathEscape(id)+"/"+strconv.Itoa(k), h, enc(chunks[k-1]))
		if resp.StatusCode != 200 && resp.StatusCode != 202 {
			c.T.Fatalf("chunk %d: %d %s", k, resp.StatusCode, body)
		}
	}
	return id
}

// IDs lists the inbox page by page (batch IDs a page), following
// links.next.
func (c *Client) IDs(batch int) []string {
	c.T.Helper()
	var out []string
	u := c.MailboxURL() + "/inbox?max_results=" + strconv.Itoa(batch)
	for u != "" {
		resp, body := c.Do("GET", u, nil, nil)
		if resp.StatusCode != 200 {
			c.T.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		var page struct {
			Messages []string          `json:"messages"`
			Links    map[string]string `json:"links"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			c.T.Fatal(err)
		}
		out = append(out, page.Messages...)
		u = ""
		if next := page.Links["next"]; next != "" {
			u = c.Base + next
		}
	}
	return out
}

var chunkRange = regexp.MustCompile(`^([0-9]+):([0-9]+)$`)

// Retrieve downloads message id whole.
func (c *Client) Retrieve(id string) []byte {
	c.T.Helper()
	h := map[string]string{"Accept-Encoding": "gzip, deflate"}
	resp, body := c.Do("GET", c.MailboxURL()+"/inbox/"+url.PathEscape(id), h, nil)
	if resp.StatusCode != 200 && resp.StatusCode != 206 {
		c.T.Fatalf("retrieve %s: %d %s", id, resp.StatusCode, body)
	}
	total := 1
	if m := chunkRange.FindStringSubmatch(resp.Header.Get("mex-chunk-range")); m != nil {
		total, _ = strconv.Atoi(m[2])
	}
	out := c.decode(resp, body)
	for k := 2; k <= total; k++ {
		resp, body := c.Do("GET", c.MailboxURL()+"/inbox/"+url.PathEscape(id)+"/"+strconv.Itoa(k), h, nil)
		if resp.StatusCode != 200 && resp.StatusCode != 206 {
			c.T.Fatalf("retrieve %s chunk %d: %d %s", id, k, resp.StatusCode, body)
		}
		out = append(out, c.decode(resp, body)...)
	}
	return out
}

func (c *Client) decode(resp *http.Response, body []byte) []byte {
	if resp.Header.Get("Content-Encoding") != "gzip" {
		return body
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		c.T.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		c.T.Fatal(err)
	}
	return b
}

// Ack acknowledges message id.
func (c *Client) Ack(id string) {
	c.T.Helper()
	resp, body := c.Do("PUT", c.MailboxURL()+"/inbox/"+url.PathEscape(id)+"/status/acknowledged", nil, nil)
	if resp.StatusCode != 200 {
		c.T.Fatalf("ack %s: %d %s", id, resp.StatusCode, body)
	}
}

// Track returns the tracking body of message id.
func (c *Client) Track(id string) map[string]any {
	c.T.Helper()
	resp, body := c.Do("GET", c.MailboxURL()+"/outbox/tracking?messageID="+url.QueryEscape(id), nil, nil)
	if resp.StatusCode != 200 {
		c.T.Fatalf("track %s: %d %s", id, resp.StatusCode, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		c.T.Fatal(err)
	}
	return out
}

// Gzip returns b as one gzip stream.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Parallel runs f for every client at once and returns how long they took
// together.
func Parallel(cs []*Client, f func(i int, c *Client)) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { f(i, c) })
	}
	wg.Wait()
	return time.Since(start)
}

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on Linux everywhere).
const clockTick = 10 * time.Millisecond

// ProcCPU returns the CPU time (user and system) process pid has used so
// far, from /proc/<pid>/stat (to 10 ms).
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("process cpu: %w", err)
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("process cpu: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("process cpu: malformed /proc/%d/stat", pid)
	}
	// Fields 14 and 15 (utime, stime) are the 12th and 13th after ")".
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("process cpu: malformed /proc/%d/stat", pid)
	}
	return time.Duration(u+s) * clockTick, nil
}
