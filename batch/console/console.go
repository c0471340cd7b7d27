package console

import (
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"cpis/batch/ingest"
	"cpis/batch/jobs"
	"cpis/batch/meshstore"
	"cpis/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/nhsuk/nhsuk-frontend.min.css assets/nhsuk/nhsuk-frontend.min.js assets/nhsuk/LICENSE assets/nhsuk/VERSION assets/images assets/app.js assets/app.css
var assetFS embed.FS

// Prefixes are the paths the console serves; Wrap sends them to the
// console and everything else to the lookup API.
var Prefixes = []string{"/la/", "/ops/", "/login", "/logout", "/setup/", "/assets/"}

// Options are what the console needs.
type Options struct {
	// DataDir is the hub's data directory (mailbox folders).
	DataDir string
	DB      *store.DB
	// Accounts are the web accounts and sessions.
	Accounts Accounts
	// Now is the clock of audit times, message IDs and collections (--now);
	// nil means time.Now.
	Now func() time.Time
	// Log receives errors the user does not see in full; nil discards.
	Log *slog.Logger
	// SizeLimit is the largest return accepted by upload: the ingest's
	// size limit (--size-limit); 0 means ingest.DefaultSizeLimit.
	SizeLimit int64
	// Jobs is the daemon's job lock: releasing or discarding a held return
	// takes it, as `cpis returns release` does inside the daemon, so that
	// it never runs beside a job; nil means a lock of the console's own.
	Jobs *jobs.Lock
}

// Server is the console: an http.Handler for the paths of Prefixes.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	pages   *pages
	csrfKey []byte
	mesh    *meshstore.MeshAPI
	// checks holds a slot per check running (maxChecks at once).
	checks chan struct{}
}

// maxChecks is how many checks of a return run at once; more wait.
const maxChecks = 2

// New returns the console over opts.
func New(opts Options) (*Server, error) {
	if opts.DB == nil || opts.Accounts == nil || opts.DataDir == "" {
		return nil, errors.New("console: DataDir, DB and Accounts are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.SizeLimit == 0 {
		opts.SizeLimit = ingest.DefaultSizeLimit
	}
	if opts.Jobs == nil {
		opts.Jobs = &jobs.Lock{}
	}
	p, err := loadPages(templateFS)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s := &Server{opts: opts, log: opts.Log, mux: http.NewServeMux(), pages: p, csrfKey: make([]byte, 32),
		mesh:   &meshstore.MeshAPI{DataDir: opts.DataDir, DB: opts.DB, Now: opts.Now, Log: opts.Log},
		checks: make(chan struct{}, maxChecks)}
	if _, err := rand.Read(s.csrfKey); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s.routes()
	return s, nil
}

// routes registers every page. The LA pages are in la*.go, the
// operations pages in ops*.go (opsRoutes).
func (s *Server) routes() {
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(assets)
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", assetHeaders(files)))

	s.mux.HandleFunc("GET /login", s.loginForm)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("GET /setup/{token}", s.setupForm)
	s.mux.HandleFunc("POST /setup/{token}", s.setup)
	s.handle("GET /logout", "", s.logoutForm)
	s.handle("POST /logout", "", s.logout)

	s.laRoutes()
	s.opsRoutes()

	// Anything else under the console's prefixes is a page not found.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, nil, http.StatusNotFound, "")
	})
}

// ServeHTTP serves the console's pages, each with the security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, r)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("console: panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
			s.errorPage(w, r, nil, http.StatusInternalServerError, "")
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// Wrap returns a handler that serves the console's paths (Prefixes) with
// console and everything else with api (the lookup API, unchanged).
func Wrap(console, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsConsolePath(r.URL.Path) {
			console.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// IsConsolePath reports whether the console serves path.
func IsConsolePath(path string) bool {
	for _, p := range Prefixes {
		if strings.HasSuffix(p, "/") {
			if strings.HasPrefix(path, p) || path == strings.TrimSuffix(p, "/") {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}
