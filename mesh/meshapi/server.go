package meshapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxRequest    int64 = 100 << 20
	DefaultMaxMessage    int64 = 512 << 20
	DefaultMaxSkew             = 2 * time.Hour
	DefaultMaxConcurrent       = 8
	DefaultRate                = 100.0
	DefaultBurst               = 200
	DefaultBodyIdle            = 30 * time.Second
)

// Media types of the Accept header.
const (
	MediaV1 = "application/vnd.mesh.v1+json"
	MediaV2 = "application/vnd.mesh.v2+json"
)

// Audit actions.
const (
	ActionHandshake = "handshake"
	ActionSend      = "send"  // a whole message, or chunk 1 of n
	ActionChunk     = "chunk" // chunk k >= 2 of a send
	ActionDeliver   = "deliver"
	ActionList      = "list"
	ActionCount     = "count"
	ActionDownload  = "download"
	ActionAck       = "acknowledge"
	ActionTrack     = "track"
	ActionLookup    = "lookup"
	ActionRefusal   = "refusal"
	ActionExpire    = "expire" // an unfinished upload removed
)

// Audit outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
	OutcomeFailed  = "failed"
)

// Event is one audit entry: who asked what and how it ended. Never a
// password, a token's hash or content.
type Event struct {
	At        time.Time
	Remote    string
	Mailbox   string // the path's mailbox (upper case); "" before routing
	Action    string // ActionSend, ...; for a request refused before its handler, the action it would have been
	MessageID string
	Chunk     int // the chunk sent or downloaded (0 for none)
	Bytes     int64
	Status    int    // the HTTP status answered
	Code      string // the MESH error code when any
	Outcome   string // OutcomeOK, OutcomeRefused, OutcomeFailed
	Reason    string
}

// Config configures a Server. Accounts, Router, Inbox, Tracking,
// Directory and Uploads are required.
type Config struct {
	Accounts  Accounts
	Router    Router
	Inbox     Inbox
	Tracking  Tracking
	Directory Directory
	// Uploads is the area of chunked uploads in progress.
	Uploads *Uploads
	// Audit receives every event; nil drops them. It is called
	// synchronously, from many goroutines.
	Audit func(Event)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives operational detail (errors of the interfaces) that
	// the client never sees; nil discards it.
	Log *slog.Logger
	// MaxRequest bounds a request body, in bytes (413 above it); 0 means
	// DefaultMaxRequest.
	MaxRequest int64
	// MaxMessage bounds a message's assembled, decoded content (417 above
	// it, nothing kept); 0 means DefaultMaxMessage.
	MaxMessage int64
	// MaxSkew bounds the distance of a token's timestamp from Now; 0
	// means DefaultMaxSkew.
	MaxSkew time.Duration
	// MaxConcurrent bounds the requests of one mailbox served at once
	// (429 beyond); 0 means DefaultMaxConcurrent.
	MaxConcurrent int
	// Rate and Burst are one mailbox's token bucket: Rate requests a
	// second on average, Burst at once (429 beyond); 0 means the default.
	Rate  float64
	Burst int
	// BodyIdle is how long a read of a request body may wait for the
	// client (the connection is closed after it); 0 means
	// DefaultBodyIdle, negative none.
	BodyIdle time.Duration
}

// Server is the MESH API: an http.Handler.
type Server struct {
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	replays *replays
	limits  *limiter
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.Accounts == nil || cfg.Router == nil || cfg.Inbox == nil || cfg.Tracking == nil ||
		cfg.Directory == nil || cfg.Uploads == nil {
		return nil, errors.New("meshapi: Accounts, Router, Inbox, Tracking, Directory and Uploads are required")
	}
	if cfg.MaxRequest <= 0 {
		cfg.MaxRequest = DefaultMaxRequest
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.BodyIdle == 0 {
		cfg.BodyIdle = DefaultBodyIdle
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg:     cfg,
		now:     now,
		log:     log.With("component", "mesh-api"),
		replays: newReplays(),
		limits:  newLimiter(cfg.MaxConcurrent, cfg.Rate, cfg.Burst),
	}, nil
}

// NewHTTPServer returns an http.Server for h with the timeouts the MESH
// port needs so that slow or idle connections cannot pile up: headers
// within 10 s, an idle keep-alive connection closed after 60 s. Body reads
// are bounded by Config.BodyIdle, per read, in the handler itself.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// request is one request in progress.
type request struct {
	s       *Server
	w       *statusWriter
	r       *http.Request
	ctx     context.Context
	v2      bool
	mailbox string // the path's mailbox, upper case
	ev      Event
	// unread is set when the request's body could not be read whole (the
	// client went away or stalled): nothing was accepted and its token
	// stays usable, as a client resends the same header on a connection
	// error.
	unread bool
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiError is an error answer: the HTTP status and the MESH error body.
type apiError struct {
	status int
	event  string
	code   string
	msg    string
	reason string // for the audit only
}

// The errors of the specification's codes, and the server's others.
var (
	errNoData          = apiError{status: http.StatusExpectationFailed, event: "SEND", code: "02", msg: "Data file is missing or inaccessible"}
	errMalformed       = apiError{status: http.StatusBadRequest, event: "SEND", code: "06", msg: "Malformed headers"}
	errNoTo            = apiError{status: http.StatusExpectationFailed, event: "SEND", code: "08", msg: "Missing Mex-To header"}
	errNoWorkflow      = apiError{status: http.StatusBadRequest, event: "SEND", code: "06", msg: "Malformed headers", reason: "no mex-WorkflowID"}
	errAuth            = apiError{status: http.StatusForbidden, event: "AUTH", code: "403", msg: "Invalid Authentication Token"}
	errTokenMailbox    = apiError{status: http.StatusForbidden, event: "AUTH", code: "403", msg: "Mailbox id does not match token"}
	errReplay          = apiError{status: http.StatusForbidden, event: "AUTH", code: "403", msg: "Error Duplicated Authentication Token"}
	errNotFound        = apiError{status: http.StatusNotFound, event: "RECEIVE", code: "20", msg: "Message does not exist"}
	errNotRecipient    = apiError{status: http.StatusForbidden, event: "RECEIVE", code: "403", msg: "Message is not for this mailbox"}
	errNotSender       = apiError{status: http.StatusForbidden, event: "SEND", code: "403", msg: "Message was not sent by this mailbox"}
	errComplete        = apiError{status: http.StatusLocked, event: "SEND", code: "423", msg: "Message already complete"}
	errChunkRange      = apiError{status: http.StatusBadRequest, event: "SEND", code: "06", msg: "Invalid chunk values sent in mex-Chunk-Range header"}
	errEncoding        = apiError{status: http.StatusUnsupportedMediaType, event: "SEND", code: "06", msg: "Unsupported content encoding"}
	errNotGzip         = apiError{status: http.StatusBadRequest, event: "SEND", code: "06", msg: "Content is not gzip"}
	errRequestTooLarge = apiError{status: http.StatusRequestEntityTooLarge, event: "SEND", code: "413", msg: "Request larger than the limit"}
	errMessageTooLarge = apiError{status: http.StatusExpectationFailed, event: "SEND", code: "417", msg: "Message larger than the limit"}
	errVersion         = apiError{status: http.StatusBadRequest, event: "REQUEST", code: "400", msg: "Unsupported Accept header"}
	errBadQuery        = apiError{status: http.StatusBadRequest, event: "REQUEST", code: "400", msg: "Invalid query parameter"}
	errNoRoute         = apiError{status: http.StatusNotFound, event: "REQUEST", code: "404", msg: "Not found"}
	errMethod          = apiError{status: http.StatusMethodNotAllowed, event: "REQUEST", code: "405", msg: "Method not allowed"}
	errBusy            = apiError{status: http.StatusTooManyRequests, event: "REQUEST", code: "429", msg: "Too many requests"}
	errInternal        = apiError{status: http.StatusInternalServerError, event: "REQUEST", code: "500", msg: "Internal error"}
)

// refusalErrors answers a Router's refusal codes.
var refusalErrors = map[string]apiError{
	CodeUnregistered:     {status: http.StatusExpectationFailed, event: "SEND", code: CodeUnregistered, msg: "Unregistered to address"},
	CodeSenderNotAllowed: {status: http.StatusExpectationFailed, event: "SEND", code: CodeSenderNotAllowed, msg: "Sender is not allowed to send messages of this type"},
	CodeNotRegistered:    {status: http.StatusExpectationFailed, event: "SEND", code: CodeNotRegistered, msg: "Workflow ID not registered for mailbox"},
}

// v1Error and v2Error are the error bodies.
type v1Error struct {
	MessageID        string `json:"messageID"`
	ErrorEvent       string `json:"errorEvent"`
	ErrorCode        string `json:"errorCode"`
	ErrorDescription string `json:"errorDescription"`
}

type v2Error struct {
	MessageID  string     `json:"message_id"`
	InternalID string     `json:"internal_id"`
	Detail     []v2Detail `json:"detail"`
}

type v2Detail struct {
	Event string `json:"event"`
	Code  string `json:"code"`
	Msg   string `json:"msg"`
}

// fail answers e for the message id (may be "") and audits it as a
// refusal (4xx) or failure (5xx).
func (q *request) fail(e apiError, id string) {
	h := q.w.Header()
	h.Set("Content-Type", q.mediaType())
	if e.status == http.StatusTooManyRequests {
		h.Set("Retry-After", "1")
	}
	q.w.WriteHeader(e.status)
	var body any
	if q.v2 {
		body = v2Error{MessageID: id, InternalID: internalID(), Detail: []v2Detail{{Event: e.event, Code: e.code, Msg: e.msg}}}
	} else {
		body = v1Error{MessageID: id, ErrorEvent: e.event, ErrorCode: e.code, ErrorDescription: e.msg}
	}
	_ = json.NewEncoder(q.w).Encode(body)
	q.ev.MessageID = id
	q.ev.Code = e.code
	q.ev.Reason = e.msg
	if e.reason != "" {
		q.ev.Reason = e.msg + ": " + e.reason
	}
	q.ev.Outcome = OutcomeRefused
	if e.status >= 500 {
		q.ev.Outcome = OutcomeFailed
	}
}

// internalID names one error answer, for diagnosis.
func internalID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// failErr answers an error of an interface: not found, forbidden, a
// refusal, a size limit, or an internal error (logged, not shown).
func (q *request) failErr(err error, id string, forbidden apiError) {
	var ref *Refusal
	switch {
	case errors.Is(err, ErrNotFound):
		q.fail(errNotFound, id)
	case errors.Is(err, ErrForbidden):
		q.fail(forbidden, id)
	case errors.As(err, &ref):
		e, ok := refusalErrors[ref.Code]
		if !ok {
			e = refusalErrors[CodeUnregistered]
		}
		e.reason = ref.Reason
		q.fail(e, id)
	default:
		q.s.log.Error("mesh request failed", "mailbox", q.mailbox, "action", q.ev.Action, "message", id, "err", err)
		e := errInternal
		e.reason = err.Error()
		q.fail(e, id)
	}
}

// mediaType is the Content-Type of a JSON answer.
func (q *request) mediaType() string {
	if q.v2 {
		return MediaV2
	}
	return MediaV1
}

// reply answers status with body as JSON (no body when body is nil).
func (q *request) reply(status int, body any) {
	if body == nil {
		q.w.WriteHeader(status)
		q.ev.Outcome = OutcomeOK
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		q.fail(errInternal, "")
		return
	}
	b = append(b, '\n')
	q.w.Header().Set("Content-Type", q.mediaType())
	q.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	q.w.WriteHeader(status)
	_, _ = q.w.Write(b)
	q.ev.Outcome = OutcomeOK
}

// lowerNames caches the lower-case forms of the mex- header names.
var lowerNames sync.Map

// header names a mex- header in the answer's version: lower case in v2,
// as given (mex-FileName) in v1.
func (q *request) header(name string) string {
	if !q.v2 {
		return name
	}
	if l, ok := lowerNames.Load(name); ok {
		return l.(string)
	}
	l := strings.ToLower(name)
	lowerNames.Store(name, l)
	return l
}

// setHeader sets a mex- header without canonicalising its name; empty
// values are left out.
func (q *request) setHeader(name, value string) {
	if value == "" {
		return
	}
	q.w.Header()[q.header(name)] = []string{value}
}

// version reads the Accept header: v2 for application/vnd.mesh.v2+json,
// v1 for application/json, application/vnd.mesh.v1+json, none or anything
// else; ok is false for another vnd.mesh value.
func version(accept string) (v2, ok bool) {
	ok = true
	for part := range strings.SplitSeq(accept, ",") {
		mt := strings.ToLower(strings.TrimSpace(part))
		if i := strings.IndexByte(mt, ';'); i >= 0 {
			mt = strings.TrimSpace(mt[:i])
		}
		switch {
		case mt == MediaV2:
			return true, true
		case mt == MediaV1:
		case strings.Contains(mt, "vnd.mesh"):
			ok = false
		}
	}
	return false, ok
}

// ServeHTTP serves the MESH API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	q := &request{s: s, w: sw, r: r, ctx: r.Context()}
	q.ev = Event{At: s.now(), Remote: r.RemoteAddr}
	defer q.finish()

	v2, ok := version(r.Header.Get("Accept"))
	q.v2 = v2
	if !ok {
		q.ev.Action = ActionRefusal
		q.fail(errVersion, "")
		return
	}
	path := r.URL.EscapedPath()
	if path == "/_ping" || path == "/messageexchange/_ping" {
		q.ping()
		return
	}
	rest, found := strings.CutPrefix(path, "/messageexchange/")
	if !found {
		q.ev.Action = ActionRefusal
		q.fail(errNoRoute, "")
		return
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	rt, ok := route(r.Method, seg)
	if !ok {
		q.ev.Action = ActionRefusal
		q.fail(rt.err, "")
		return
	}
	q.ev.Action = rt.action
	q.mailbox = strings.ToUpper(rt.mailbox)
	q.ev.Mailbox = q.mailbox

	tok, ok := q.authenticate(rt.mailbox)
	if !ok {
		return
	}
	rk := replayKey{mailbox: strings.ToUpper(tok.mailbox), nonce: tok.nonce, count: tok.count}
	if !s.replays.reserve(rk, s.now()) {
		q.fail(errReplay, "")
		return
	}
	defer func() {
		s.replays.finish(rk, !tokenReusable(sw.status) && !q.unread, tok.at.Add(s.cfg.MaxSkew+time.Minute))
	}()
	q.mailbox = strings.ToUpper(tok.mailbox)
	q.ev.Mailbox = q.mailbox

	release, ok := s.limits.acquire(q.mailbox, s.now())
	if !ok {
		q.fail(errBusy, "")
		return
	}
	defer release()
	if r.ContentLength > s.cfg.MaxRequest {
		q.fail(errRequestTooLarge, "")
		return
	}
	r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxRequest)
	if s.cfg.BodyIdle > 0 && r.Body != http.NoBody {
		r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(sw), idle: s.cfg.BodyIdle}
	}
	rt.serve(q, rt.args)
}

// finish audits the request.
func (q *request) finish() {
	if q.s.cfg.Audit == nil {
		return
	}
	q.ev.Status = q.w.status
	if q.ev.Status == 0 {
		q.ev.Status = http.StatusOK
	}
	if q.ev.Outcome == "" {
		q.ev.Outcome = OutcomeOK
	}
	q.s.cfg.Audit(q.ev)
}

// authenticate checks the Authorization header against the path's
// mailbox (for a lookup, pathMailbox is "" and any mailbox that logs in
// may ask). It answers 403 itself and returns ok false on any failure.
func (q *request) authenticate(pathMailbox string) (token, bool) {
	tok, ok := parseToken(q.r.Header.Get("Authorization"))
	if !ok {
		e := errAuth
		e.reason = "missing or malformed Authorization header"
		q.fail(e, "")
		return token{}, false
	}
	if pathMailbox != "" && !strings.EqualFold(tok.mailbox, pathMailbox) {
		q.fail(errTokenMailbox, "")
		return token{}, false
	}
	now := q.s.now()
	if d := now.Sub(tok.at); d > q.s.cfg.MaxSkew || d < -q.s.cfg.MaxSkew {
		e := errAuth
		e.reason = "timestamp out of range"
		q.fail(e, "")
		return token{}, false
	}
	key, password, err := q.s.cfg.Accounts.Credentials(q.ctx, strings.ToUpper(tok.mailbox))
	if err != nil {
		e := errAuth
		if !errors.Is(err, ErrUnknownMailbox) {
			q.s.log.Error("mesh credentials", "mailbox", tok.mailbox, "err", err)
			e = errInternal
		}
		e.reason = err.Error()
		q.fail(e, "")
		return token{}, false
	}
	if !tok.valid(key, password) {
		e := errAuth
		e.reason = "wrong hash"
		q.fail(e, "")
		return token{}, false
	}
	return tok, true
}

// idleBody fails a read that waits longer than idle for the client, so a
// stalled upload cannot hold a slot for ever.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	return b.ReadCloser.Read(p)
}

// ping answers /_ping, without authentication.
func (q *request) ping() {
	q.ev.Action = "ping"
	if q.r.Method != http.MethodGet && q.r.Method != http.MethodHead {
		q.fail(errMethod, "")
		return
	}
	q.reply(http.StatusOK, map[string]string{"status": "healthy"})
}
