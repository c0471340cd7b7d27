// Package meshclient is the hub as a client of a MESH mailbox of its own
// (mesh/meshapi/mesh-api.md, "Client: the hub reaching a real MESH mailbox"): the
// handshake, the inbox (listed page by page), downloads (every chunk),
// acknowledgements, sends (chunked, each chunk gzipped) and tracking, over
// MESH's REST API. The pull and push jobs (batch/meshjobs) use it; it
// knows nothing of the store or of LAs.
//
// It follows the conventions of NHS England's client (mesh-client 3.x),
// which a real MESH expects:
//   - Accept: application/vnd.mesh.v2+json on every request;
//   - Authorization: NHSMESH mailbox:nonce:nonce_count:timestamp:hash,
//     hash the hex HMAC-SHA256 with the shared key over
//     mailbox:nonce:nonce_count:password:timestamp, a fresh UUID nonce per
//     request, count 0, timestamp UTC yyyyMMddHHmm;
//   - a download's chunk count read from the first reply's
//     mex-chunk-range (exactly "k:n"; without it the message is one
//     chunk), each chunk un-gzipped only when its Content-Encoding is
//     exactly gzip;
//   - links.next appended to the base URL as it is;
//   - a send above ChunkSize in chunks, chunk 1 with every mex- header,
//     chunks 2..n with only Content-Type, mex-Chunk-Range, Authorization
//     and Content-Encoding (every chunk here is a whole gzip stream);
//   - 425, 429, 502, 503 and 504 resent with the same Authorization header
//     after a backoff (Retry-After when the server gives one); 500 and
//     connection errors retried with a fresh header, since the server may
//     have used the first one up.
//
// Errors are *Error values carrying the HTTP status and MESH's error code;
// errors.Is(err, ErrRefused) tells a MESH that refuses the mailbox (a 403
// on authentication), ErrNotFound a message that is not there, ErrComplete
// a chunk of an upload that is complete already.
package meshclient

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config.
const (
	// DefaultChunkSize is the largest chunk sent, before gzip (MESH takes
	// up to 100 MiB a request).
	DefaultChunkSize int64 = 20 << 20
	DefaultRetries         = 5
	DefaultBackoff         = 500 * time.Millisecond
	// MaxBackoff bounds one wait between attempts.
	MaxBackoff = 30 * time.Second
	// DefaultTimeout bounds one request (headers and body).
	DefaultTimeout = 10 * time.Minute
)

// MediaV2 is the Accept value of every request.
const MediaV2 = "application/vnd.mesh.v2+json"

// ClientVersion is what the handshake reports as mex-ClientVersion.
const ClientVersion = "cpis-meshclient/1"

var (
	// ErrRefused reports a MESH that refuses the mailbox's credentials
	// (403 on authentication, or on the handshake).
	ErrRefused = errors.New("MESH refused the mailbox")
	// ErrNotFound reports a message (or upload) that MESH does not have
	// for this mailbox (404).
	ErrNotFound = errors.New("not found at MESH")
	// ErrComplete reports a chunk posted to an upload that is complete
	// (423): the message was delivered whole.
	ErrComplete = errors.New("upload already complete")
)

// Error is a request MESH answered with an error, or that failed.
type Error struct {
	Op        string // "handshake", "inbox", "download", ...
	MessageID string // the message concerned, when any
	Status    int    // the HTTP status (0: no answer)
	Code      string // MESH's error code from the body, when any
	Event     string // MESH's error event (AUTH, SEND, ...), when any
	Detail    string // MESH's error description, or the transport error
	Err       error  // the transport error, when there was no answer
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("mesh " + e.Op)
	if e.MessageID != "" {
		b.WriteString(" " + e.MessageID)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" code " + e.Code)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if e.Refused() {
		b.WriteString(" (MESH refused the mailbox: check the mailbox ID, password and shared key)")
	}
	return b.String()
}

// Unwrap returns the transport error.
func (e *Error) Unwrap() error { return e.Err }

// Refused reports an answer that refuses the mailbox itself.
func (e *Error) Refused() bool {
	if e.Status == http.StatusUnauthorized {
		return true
	}
	return e.Status == http.StatusForbidden && (e.Event == "AUTH" || e.Event == "" || e.Op == "handshake")
}

// Is makes errors.Is match ErrRefused, ErrNotFound and ErrComplete.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrRefused:
		return e.Refused()
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrComplete:
		return e.Status == http.StatusLocked
	}
	return false
}

// Config configures a Client.
type Config struct {
	// URL is the MESH base URL, without /messageexchange (e.g.
	// https://msg.intspineservices.nhs.uk).
	URL       string
	Mailbox   string
	Password  string
	SharedKey string
	// TLS configures the connection (client certificate, CA); nil: the
	// system's roots, no client certificate. See TLSConfig.
	TLS *tls.Config
	// HTTP replaces the HTTP client (tests); its transport should not
	// decompress bodies by itself.
	HTTP *http.Client
	// ChunkSize bounds a chunk sent, before gzip; 0 means
	// DefaultChunkSize.
	ChunkSize int64
	// Retries is how many times a request is retried; 0 means
	// DefaultRetries, negative none.
	Retries int
	// Backoff is the first wait between attempts, doubled each time up to
	// MaxBackoff; 0 means DefaultBackoff.
	Backoff time.Duration
	// Now is the clock of the tokens' timestamps; nil means time.Now.
	Now func() time.Time
}

// Client talks to one MESH mailbox.
type Client struct {
	cfg  Config
	base string
	http *http.Client
	now  func() time.Time
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("meshclient: URL %q is not an http(s) URL", cfg.URL)
	}
	if cfg.Mailbox == "" || cfg.Password == "" || cfg.SharedKey == "" {
		return nil, errors.New("meshclient: mailbox, password and shared key are required")
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	c := &Client{cfg: cfg, base: strings.TrimRight(cfg.URL, "/"), http: cfg.HTTP, now: cfg.Now}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout, Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     cfg.TLS,
			DisableCompression:  true, // gzip is MESH's transport encoding, read by hand
			TLSHandshakeTimeout: 30 * time.Second,
			IdleConnTimeout:     50 * time.Second,
			MaxIdleConnsPerHost: 4,
		}}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Mailbox returns the client's mailbox ID.
func (c *Client) Mailbox() string { return c.cfg.Mailbox }

// ChunkSize returns the chunk size of sends.
func (c *Client) ChunkSize() int64 { return c.cfg.ChunkSize }

// TLSConfig returns a TLS configuration with the client certificate and
// key of certFile and keyFile (both or neither) and the CA certificates
// of caFile as the only roots ("" for the system's).
func TLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, errors.New("a client certificate needs both its certificate and its key")
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read CA %s: no PEM certificate in it", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// tokenTime is the layout of a token's timestamp (UTC).
const tokenTime = "200601021504"

// Token returns an NHSMESH Authorization header value for mailbox with
// that nonce, nonce count and time, signed with key and password.
func Token(key, mailbox, password, nonce, count string, at time.Time) string {
	ts := at.UTC().Format(tokenTime)
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(mailbox + ":" + nonce + ":" + count + ":" + password + ":" + ts))
	return "NHSMESH " + mailbox + ":" + nonce + ":" + count + ":" + ts + ":" + hex.EncodeToString(m.Sum(nil))
}

// newNonce returns a random (version 4) UUID.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (c *Client) token() string {
	return Token(c.cfg.SharedKey, c.cfg.Mailbox, c.cfg.Password, newNonce(), "0", c.now())
}

func (c *Client) mailboxURL() string {
	return c.base + "/messageexchange/" + url.PathEscape(c.cfg.Mailbox)
}

// sameHeaderRetry: statuses NHS England's client resends with the same
// Authorization header (the server has not used the token up).
func sameHeaderRetry(status int) bool {
	switch status {
	case http.StatusTooEarly, http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// call is one request to send (and resend).
type call struct {
	op     string
	id     string // message ID, for errors
	method string
	url    string
	header http.Header
	body   []byte
	ok     func(status int) bool // the statuses that are a success
}

// do sends the request, retrying as the package documentation says, and
// returns the response of a success with its body open. Any other answer
// is an *Error.
func (c *Client) do(ctx context.Context, k call) (*http.Response, error) {
	auth := c.token()
	wait := c.cfg.Backoff
	retries := max(c.cfg.Retries, 0)
	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, k, auth)
		var e *Error
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, &Error{Op: k.op, MessageID: k.id, Detail: ctx.Err().Error(), Err: ctx.Err()}
			}
			e = &Error{Op: k.op, MessageID: k.id, Detail: err.Error(), Err: err}
			auth = c.token() // the server may have used the header up
		case k.ok(resp.StatusCode):
			return resp, nil
		default:
			e = c.apiError(k, resp)
			if sameHeaderRetry(resp.StatusCode) {
				if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra >= 0 {
					wait = max(wait, time.Duration(ra)*time.Second)
				}
			} else if resp.StatusCode >= 500 {
				auth = c.token()
			} else {
				return nil, e
			}
		}
		if attempt >= retries {
			return nil, e
		}
		t := time.NewTimer(min(wait, MaxBackoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &Error{Op: k.op, MessageID: k.id, Detail: ctx.Err().Error(), Err: ctx.Err()}
		case <-t.C:
		}
		wait *= 2
	}
}

// send sends one attempt of k with the Authorization header auth.
func (c *Client) send(ctx context.Context, k call, auth string) (*http.Response, error) {
	var body io.Reader
	if k.body != nil {
		body = bytes.NewReader(k.body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, k.url, body)
	if err != nil {
		return nil, err
	}
	for name, vs := range k.header {
		req.Header[name] = vs
	}
	req.Header.Set("Accept", MediaV2)
	req.Header.Set("Authorization", auth)
	return c.http.Do(req)
}

// maxErrorBody bounds the error body read.
const maxErrorBody = 64 << 10

// apiError reads an error answer (and closes its body).
func (c *Client) apiError(k call, resp *http.Response) *Error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Op: k.op, MessageID: k.id, Status: resp.StatusCode}
	var v2 struct {
		Detail []struct {
			Event string `json:"event"`
			Code  string `json:"code"`
			Msg   string `json:"msg"`
		} `json:"detail"`
		ErrorEvent       string `json:"errorEvent"`
		ErrorCode        string `json:"errorCode"`
		ErrorDescription string `json:"errorDescription"`
	}
	if json.Unmarshal(b, &v2) == nil {
		if len(v2.Detail) > 0 {
			e.Event, e.Code, e.Detail = v2.Detail[0].Event, v2.Detail[0].Code, v2.Detail[0].Msg
		} else {
			e.Event, e.Code, e.Detail = v2.ErrorEvent, v2.ErrorCode, v2.ErrorDescription
		}
	}
	if e.Detail == "" {
		e.Detail = http.StatusText(resp.StatusCode)
	}
	return e
}

func okStatus(codes ...int) func(int) bool {
	return func(s int) bool {
		for _, c := range codes {
			if s == c {
				return true
			}
		}
		return false
	}
}

// readJSON decodes a success body into v and closes it.
func readJSON(op string, resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return &Error{Op: op, Status: resp.StatusCode, Detail: err.Error(), Err: err}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &Error{Op: op, Status: resp.StatusCode, Detail: fmt.Sprintf("answer is not JSON: %v", err), Err: err}
	}
	return nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// Handshake validates the mailbox and reports the client to MESH
// (mex-ClientVersion, mex-OSName, mex-OSVersion). A MESH that refuses the
// mailbox answers an error matching ErrRefused.
func (c *Client) Handshake(ctx context.Context) error {
	h := http.Header{}
	h.Set("mex-ClientVersion", ClientVersion)
	h.Set("mex-OSName", runtime.GOOS)
	h.Set("mex-OSArchitecture", runtime.GOARCH)
	h.Set("mex-OSVersion", runtime.Version())
	resp, err := c.do(ctx, call{op: "handshake", method: http.MethodPost, url: c.mailboxURL(), header: h, ok: okStatus(http.StatusOK)})
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}
