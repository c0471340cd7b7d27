package meshstore_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpis/mesh/meshapi/meshload"
)

// meshClient is a small MESH client as NHS England's client behaves
// (mesh/meshapi/mesh-api.md): v2 bodies, an NHSMESH token of its own on every request,
// chunked gzipped sends, one-chunk-or-more downloads.
type meshClient struct {
	t        testing.TB
	base     string
	mailbox  string
	password string
	key      string
	now      func() time.Time
	nonce    int
	http     *http.Client
}

func (c *meshClient) do(method, path string, h map[string]string, body []byte) (int, http.Header, []byte) {
	c.t.Helper()
	c.nonce++
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.mesh.v2+json")
	req.Header.Set("Authorization", meshload.Sign(c.key, c.mailbox, fmt.Sprintf("nonce-%d-%d", time.Now().UnixNano(), c.nonce), "0", c.password, c.now()))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func (c *meshClient) box() string { return "/messageexchange/" + c.mailbox }

// send sends data to to in gzipped chunks of chunk bytes and returns the
// status and body of the first refusal (of any chunk), or 202 and the
// message ID.
func (c *meshClient) send(to, workflow, name string, data []byte, chunk int) (int, string) {
	c.t.Helper()
	var chunks [][]byte
	for off := 0; off < len(data); off += chunk {
		chunks = append(chunks, data[off:min(off+chunk, len(data))])
	}
	h := map[string]string{"Content-Type": "application/octet-stream", "Content-Encoding": "gzip",
		"Mex-Chunk-Range": fmt.Sprintf("1:%d", len(chunks)), "Mex-To": to, "Mex-WorkflowID": workflow,
		"Mex-FileName": name, "Mex-LocalID": "local-" + name, "Mex-Subject": "return " + name}
	status, _, body := c.do("POST", c.box()+"/outbox", h, meshload.Gzip(chunks[0]))
	if status != http.StatusAccepted {
		return status, string(body)
	}
	var sent struct {
		ID string `json:"message_id"`
	}
	if err := json.Unmarshal(body, &sent); err != nil || sent.ID == "" {
		c.t.Fatalf("send: %s: %v", body, err)
	}
	for k := 2; k <= len(chunks); k++ {
		h := map[string]string{"Content-Type": "application/octet-stream", "Content-Encoding": "gzip", "Mex-Chunk-Range": fmt.Sprintf("%d:%d", k, len(chunks))}
		if status, _, body := c.do("POST", c.box()+"/outbox/"+sent.ID+"/"+strconv.Itoa(k), h, meshload.Gzip(chunks[k-1])); status != http.StatusAccepted && status != http.StatusOK {
			return status, string(body)
		}
	}
	return status, sent.ID
}

func (c *meshClient) handshake() int {
	status, _, _ := c.do("POST", c.box(), map[string]string{"mex-ClientVersion": "mesh_client==3.2", "mex-OSName": "Linux", "mex-OSVersion": "6.1"}, nil)
	return status
}

// list returns the inbox's message IDs.
func (c *meshClient) list() []string {
	c.t.Helper()
	status, _, body := c.do("GET", c.box()+"/inbox", nil, nil)
	if status != http.StatusOK {
		c.t.Fatalf("list: %d %s", status, body)
	}
	var page struct {
		Messages []string `json:"messages"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		c.t.Fatal(err)
	}
	return page.Messages
}

// retrieve downloads message id (every chunk) with its first reply's
// headers.
func (c *meshClient) retrieve(id string) (http.Header, []byte) {
	c.t.Helper()
	status, h, body := c.do("GET", c.box()+"/inbox/"+url.PathEscape(id), nil, nil)
	if status != http.StatusOK && status != http.StatusPartialContent {
		c.t.Fatalf("retrieve %s: %d %s", id, status, body)
	}
	_, total, _ := strings.Cut(h.Get("mex-chunk-range"), ":")
	n, _ := strconv.Atoi(total)
	for k := 2; k <= n; k++ {
		_, _, more := c.do("GET", c.box()+"/inbox/"+url.PathEscape(id)+"/"+strconv.Itoa(k), nil, nil)
		body = append(body, more...)
	}
	return h, body
}

func (c *meshClient) ack(id string) int {
	status, _, _ := c.do("PUT", c.box()+"/inbox/"+url.PathEscape(id)+"/status/acknowledged", nil, nil)
	return status
}

// track returns the tracking reply's status and body.
func (c *meshClient) track(id string) (int, map[string]any) {
	c.t.Helper()
	status, _, body := c.do("GET", c.box()+"/outbox/tracking?messageID="+url.QueryEscape(id), nil, nil)
	var out map[string]any
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &out); err != nil {
			c.t.Fatal(err)
		}
	}
	return status, out
}
