// Package httpapi serves health lookups over HTTP (batch/access/access.md):
// GET /v1/alerts/{nhs_number}, authenticated by an organisation's API
// token, with the caller named in headers. Bodies are JSON, errors too.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"cpis/batch/access"
	"cpis/store"
)

// Handler returns the API's handler over svc, with tokens checked in db.
func Handler(svc *access.Service, db *store.DB, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{svc: svc, db: db, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/alerts/{nhs_number}", func(w http.ResponseWriter, r *http.Request) {
		// GET only: a HEAD would record an access nobody was shown.
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeJSON(w, http.StatusMethodNotAllowed, access.Refusal{Error: "only GET is allowed on /v1/alerts/{nhs_number}"})
			return
		}
		h.alert(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, access.Refusal{Error: "no such resource: use GET /v1/alerts/{nhs_number}"})
	})
	return mux
}

type handler struct {
	svc *access.Service
	db  *store.DB
	log *slog.Logger
}

func (h *handler) alert(w http.ResponseWriter, r *http.Request) {
	req := access.Request{
		NHSNumber: r.PathValue("nhs_number"),
		Setting:   r.Header.Get("X-Setting"),
		UserName:  r.Header.Get("X-User-Name"),
		UserRole:  r.Header.Get("X-User-Role"),
		// Repeated header lines are one comma-separated list (RFC 9110).
		RBAC: strings.Join(r.Header.Values("X-RBAC"), ","),
		Via:  access.HTTP,
	}
	org, ok, err := h.org(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if !ok {
		ref := h.svc.Refuse(req, &access.Refusal{Status: http.StatusUnauthorized, Error: "an API token is required: Authorization: Bearer <token> (missing, unknown or revoked)"})
		w.Header().Set("WWW-Authenticate", `Bearer realm="cpis"`)
		writeJSON(w, ref.Status, ref)
		return
	}
	req.OrgCode, req.OrgName = org.ODS, org.Name
	// One setting, user and role per request: two X-Setting lines must not
	// quietly turn an emergency lookup into a silent read.
	for _, name := range []string{"X-Setting", "X-User-Name", "X-User-Role"} {
		if len(r.Header.Values(name)) > 1 {
			ref := h.svc.Refuse(req, &access.Refusal{Status: http.StatusBadRequest, Error: name + " is given more than once", Field: name})
			writeJSON(w, ref.Status, ref)
			return
		}
	}
	ans, ref, err := h.svc.Lookup(r.Context(), req)
	switch {
	case err != nil:
		h.fail(w, err)
	case ref != nil:
		writeJSON(w, ref.Status, ref)
	default:
		writeJSON(w, http.StatusOK, ans)
	}
}

func (h *handler) org(r *http.Request) (store.Org, bool, error) {
	token, given := bearer(r.Header.Get("Authorization"))
	if !given {
		return store.Org{}, false, nil
	}
	var org store.Org
	var ok bool
	err := h.db.View(func(tx *store.Tx) error {
		var err error
		org, ok, err = tx.OrgByToken(store.TokenHash(token))
		return err
	})
	return org, ok, err
}

// bearer returns the token of an Authorization value in the Bearer scheme.
// The scheme name is matched in any case (RFC 9110, section 11.1).
func bearer(auth string) (string, bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(auth), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

func (h *handler) fail(w http.ResponseWriter, err error) {
	h.log.Error("lookup failed", "err", err)
	writeJSON(w, http.StatusInternalServerError, access.Refusal{Error: "the hub could not answer; try again"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Bodies are JSON read by programs and people, never HTML: "<token>"
	// stays as written.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ErrPlainHTTP means plain HTTP was asked for on a non-loopback address.
var ErrPlainHTTP = errors.New("plain HTTP is allowed only on a loopback address: give --tls-cert and --tls-key, or --insecure-http")

// Options say how to listen.
type Options struct {
	Addr         string
	CertFile     string
	KeyFile      string
	InsecureHTTP bool
}

// Listen checks opts and opens the listener (before anything else starts,
// so a bad address fails fast).
func Listen(opts Options) (net.Listener, error) {
	tlsOn := opts.CertFile != "" || opts.KeyFile != ""
	if tlsOn && (opts.CertFile == "" || opts.KeyFile == "") {
		return nil, fmt.Errorf("give both --tls-cert and --tls-key")
	}
	if !tlsOn && !opts.InsecureHTTP {
		host, _, err := net.SplitHostPort(opts.Addr)
		if err != nil {
			return nil, fmt.Errorf("http address %q: %w", opts.Addr, err)
		}
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("http address %q: %w", opts.Addr, ErrPlainHTTP)
		}
	}
	l, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", opts.Addr, err)
	}
	return l, nil
}

// Serve serves h on l until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, l net.Listener, h http.Handler, opts Options) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() {
		if opts.CertFile != "" {
			errc <- srv.ServeTLS(l, opts.CertFile, opts.KeyFile)
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shut)
	}
}
