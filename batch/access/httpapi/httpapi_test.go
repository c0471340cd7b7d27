package httpapi_test

// Tests of the HTTP API on a real loopback listener (Listen + Serve), with
// whole JSON bodies compared: tokens, headers, RBAC, NHS numbers, the
// answer, and how the server listens (loopback, TLS).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/access"
	"cpis/batch/access/httpapi"
	"cpis/batch/hubtest"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/plans"
)

var goldenDir = hubtest.Testdata("access")

var (
	created = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	// now is the clock of every lookup: the same instant as the CLI test's
	// --now, so that both answers match one golden file.
	now = time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)
)

const (
	child   = "9990276579"
	noPlan  = "9993765570"
	orgName = "Example Hospital Emergency Department"

	tokenRXX01   = "cpis_token-of-RXX01"
	tokenOld     = "cpis_old-token-of-RYY02"
	tokenRYY02   = "cpis_new-token-of-RYY02"
	tokenRevoked = "cpis_token-of-RZZ09"
)

func date(s string) caldate.Date {
	d, err := caldate.ParseISO(s)
	if err != nil {
		panic(err)
	}
	return d
}

// The plans of the golden answer: CPP with 841 (no office phone), CPP and
// an ended LAC with 201.
var heldPlans = []plans.Plan{
	{Key: plans.Key{NHS: child, LA: "841", Type: plans.CPP}, Start: date("2026-03-02"), LocalID: "C-10442"},
	{Key: plans.Key{NHS: child, LA: "201", Type: plans.LAC}, Start: date("2025-01-10"), End: date("2026-06-30"), LocalID: "L-77"},
	{Key: plans.Key{NHS: child, LA: "201", Type: plans.CPP}, Start: date("2024-05-01"), LocalID: "P-1"},
}

type server struct {
	t      *testing.T
	url    string
	db     *store.DB
	svc    *access.Service
	client *http.Client
}

// newStore is a store with LAs 201, 841 and 850, the fixture's
// demographics, the held plans and three organisations: RXX01, RYY02
// (whose first token was replaced) and RZZ09 (revoked).
func newStore(t *testing.T) *store.DB {
	t.Helper()
	db := hubtest.New(t, hubtest.Options{LAs: []string{"201", "841", "850"}, Created: created, Plans: heldPlans}).DB
	if err := db.Update(func(tx *store.Tx) error {
		for _, o := range []store.Org{
			{ODS: "RXX01", Name: orgName, TokenHash: store.TokenHash(tokenRXX01), AddedAt: created},
			{ODS: "RYY02", Name: "Example Ambulance Service", TokenHash: store.TokenHash(tokenOld), AddedAt: created},
			{ODS: "RYY02", Name: "Example Ambulance Service", TokenHash: store.TokenHash(tokenRYY02), AddedAt: created},
			{ODS: "RZZ09", Name: "Example Walk-in Centre", TokenHash: store.TokenHash(tokenRevoked), AddedAt: created},
			{ODS: "RZZ09", Name: "Example Walk-in Centre", TokenHash: store.TokenHash(tokenRevoked), AddedAt: created, RevokedAt: created},
		} {
			if err := tx.PutOrg(o); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

// startServer serves the API on 127.0.0.1:0 until the test ends.
func startServer(t *testing.T) *server {
	t.Helper()
	db := newStore(t)
	svc, err := access.New(db, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	opts := httpapi.Options{Addr: "127.0.0.1:0"}
	l, err := httpapi.Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, db, svc, l, opts, "http", http.DefaultTransport.(*http.Transport).Clone())
}

func serve(t *testing.T, db *store.DB, svc *access.Service, l net.Listener, opts httpapi.Options, scheme string, tr *http.Transport) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpapi.Serve(ctx, l, httpapi.Handler(svc, db, nil), opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after its context ended")
		}
		svc.Close()
	})
	port := l.Addr().(*net.TCPAddr).Port
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	return &server{t: t, url: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port), db: db, svc: svc, client: client}
}

// response is what a client sees.
type response struct {
	status int
	header http.Header
	body   []byte
}

// get requests path with the token (none when empty) and headers.
func (s *server) get(path, token string, headers map[string]string) response {
	s.t.Helper()
	r, err := http.NewRequestWithContext(s.t.Context(), http.MethodGet, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", token)
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	resp, err := s.client.Do(r)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// caller is a valid set of headers.
func caller() map[string]string {
	return map[string]string{"X-Setting": "ED", "X-User-Name": "A Clinician", "X-User-Role": "Staff Nurse", "X-RBAC": "B0264,B0107"}
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return m
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	hubtest.Golden(t, filepath.Join(goldenDir, name), got)
}

func TestAlertBody(t *testing.T) {
	s := startServer(t)
	r := s.get("/v1/alerts/"+child, "Bearer "+tokenRXX01, caller())
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	// The whole body, byte for byte; the CLI test compares its output with
	// the same file.
	golden(t, "alert-9990276579.golden.json", r.body)

	la201 := map[string]any{"code": "201", "name": "City of London", "emergency_phone": "020 7946 0100", "office_phone": "020 7946 0500"}
	want := map[string]any{
		"nhs_number": child,
		"alert":      true,
		"plans": []any{
			map[string]any{"plan_type": "CPP", "start_date": "2024-05-01", "end_date": nil, "due_date": nil, "local_authority": la201},
			map[string]any{"plan_type": "LAC", "start_date": "2025-01-10", "end_date": "2026-06-30", "due_date": nil, "local_authority": la201},
			map[string]any{"plan_type": "CPP", "start_date": "2026-03-02", "end_date": nil, "due_date": nil,
				"local_authority": map[string]any{"code": "841", "name": "Darlington", "emergency_phone": "0191 498 0123", "office_phone": nil}},
		},
		"access_history": []any{
			map[string]any{"accessed_at": "2026-11-22T10:15:30Z", "org_code": "RXX01", "org_name": orgName, "setting": "ED",
				"user_name": "A Clinician", "user_role": "Staff Nurse"},
		},
	}
	if diff := cmp.Diff(want, decode(t, r.body)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	// The organisation comes from the token, never from a header.
	h := caller()
	h["X-Org-Code"], h["X-User-Name"] = "EVIL1", "Another Clinician"
	r = s.get("/v1/alerts/"+child, "Bearer "+tokenRYY02, h)
	hist := decode(t, r.body)["access_history"].([]any)
	if got := hist[0].(map[string]any); got["org_code"] != "RYY02" || got["org_name"] != "Example Ambulance Service" {
		t.Errorf("newest history entry %v, want RYY02's", got)
	}

	// No alert.
	r = s.get("/v1/alerts/"+noPlan, "Bearer "+tokenRXX01, caller())
	if want := "{\n  \"nhs_number\": \"9993765570\",\n  \"alert\": false,\n  \"plans\": [],\n  \"access_history\": []\n}\n"; r.status != 200 || string(r.body) != want {
		t.Errorf("no alert: status %d, body %q, want 200 %q", r.status, r.body, want)
	}
	// The number is normalised.
	r = s.get("/v1/alerts/999%20027%206579", "Bearer "+tokenRXX01, caller())
	if got := decode(t, r.body)["nhs_number"]; r.status != 200 || got != child {
		t.Errorf("lookup of \"999 027 6579\": status %d, nhs_number %v", r.status, got)
	}
}

const unauthorized = "an API token is required: Authorization: Bearer <token> (missing, unknown or revoked)"

func TestTokens(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name    string
		auth    string
		headers map[string]string
		status  int
	}{
		{name: "no token", auth: "", status: 401},
		{name: "no token and bad headers", auth: "", headers: map[string]string{"X-Setting": "XX"}, status: 401},
		{name: "scheme only", auth: "Bearer", status: 401},
		{name: "empty token", auth: "Bearer ", status: 401},
		{name: "basic", auth: "Basic " + tokenRXX01, status: 401},
		{name: "unknown token", auth: "Bearer cpis_unknown", status: 401},
		{name: "token of another case", auth: "Bearer " + strings.ToUpper(tokenRXX01), status: 401},
		{name: "revoked", auth: "Bearer " + tokenRevoked, status: 401},
		{name: "replaced by a second add", auth: "Bearer " + tokenOld, status: 401},
		{name: "valid", auth: "Bearer " + tokenRXX01, status: 200},
		{name: "the replacing token", auth: "Bearer " + tokenRYY02, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.headers
			if h == nil {
				h = caller()
			}
			r := s.get("/v1/alerts/"+child, tt.auth, h)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.status != 401 {
				return
			}
			if diff := cmp.Diff(map[string]any{"error": unauthorized}, decode(t, r.body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="cpis"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
		})
	}
	// Every refusal is audited.
	if err := s.svc.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.db.View(func(tx *store.Tx) error {
		return tx.LookupAudits(created, func(a store.LookupAudit) error {
			got = append(got, fmt.Sprintf("%s %s %d %s", a.OrgCode, a.Outcome, a.Status, a.Via))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{" refused 401 http", " refused 401 http", " refused 401 http", " refused 401 http", " refused 401 http",
		" refused 401 http", " refused 401 http", " refused 401 http", " refused 401 http", "RXX01 alert 200 http", "RYY02 alert 200 http"}
	// Refusals are committed in a group after the accesses: compare as sets.
	if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func TestRefusals(t *testing.T) {
	s := startServer(t)
	const rbac403 = "viewing a Child Care Alert needs the RBAC codes B0264 (perform patient trace) and B0107 (view child protection plan)"
	tests := []struct {
		name   string
		path   string // default /v1/alerts/<child>
		edit   map[string]string
		status int
		body   map[string]any
	}{
		{name: "setting missing", edit: map[string]string{"X-Setting": ""}, status: 400,
			body: map[string]any{"error": "the care setting is missing", "field": "X-Setting"}},
		{name: "setting unknown", edit: map[string]string{"X-Setting": "A&E"}, status: 400,
			body: map[string]any{"error": `care setting "A&E" is not one of the CP-IS setting codes`, "field": "X-Setting"}},
		{name: "user missing", edit: map[string]string{"X-User-Name": ""}, status: 400,
			body: map[string]any{"error": "the user name is missing", "field": "X-User-Name"}},
		{name: "user with a tab", edit: map[string]string{"X-User-Name": "A\tClinician"}, status: 400,
			body: map[string]any{"error": "the user name contains a control character", "field": "X-User-Name"}},
		{name: "user with a C1 control", edit: map[string]string{"X-User-Name": "A\u0085Clinician"}, status: 400,
			body: map[string]any{"error": "the user name contains a control character", "field": "X-User-Name"}},
		{name: "user =", edit: map[string]string{"X-User-Name": "=cmd|' /C calc'!A0"}, status: 400,
			body: map[string]any{"error": "the user name may not begin with =, +, - or @", "field": "X-User-Name"}},
		{name: "user +", edit: map[string]string{"X-User-Name": "+1"}, status: 400,
			body: map[string]any{"error": "the user name may not begin with =, +, - or @", "field": "X-User-Name"}},
		{name: "user -", edit: map[string]string{"X-User-Name": "-1"}, status: 400,
			body: map[string]any{"error": "the user name may not begin with =, +, - or @", "field": "X-User-Name"}},
		{name: "user @", edit: map[string]string{"X-User-Name": "@x"}, status: 400,
			body: map[string]any{"error": "the user name may not begin with =, +, - or @", "field": "X-User-Name"}},
		{name: "user too long", edit: map[string]string{"X-User-Name": strings.Repeat("a", 101)}, status: 400,
			body: map[string]any{"error": "the user name is longer than 100 characters", "field": "X-User-Name"}},
		{name: "role missing", edit: map[string]string{"X-User-Role": ""}, status: 400,
			body: map[string]any{"error": "the user role is missing", "field": "X-User-Role"}},
		{name: "role =", edit: map[string]string{"X-User-Role": "=1+1"}, status: 400,
			body: map[string]any{"error": "the user role may not begin with =, +, - or @", "field": "X-User-Role"}},
		{name: "role with a tab", edit: map[string]string{"X-User-Role": "Staff\tNurse"}, status: 400,
			body: map[string]any{"error": "the user role contains a control character", "field": "X-User-Role"}},
		{name: "rbac missing", edit: map[string]string{"X-RBAC": ""}, status: 400,
			body: map[string]any{"error": "the RBAC codes are missing", "field": "X-RBAC"}},
		{name: "rbac invalid", edit: map[string]string{"X-RBAC": "B0264 B0107"}, status: 400,
			body: map[string]any{"error": `RBAC code "B0264 B0107" is not a code such as B0264`, "field": "X-RBAC"}},
		{name: "rbac lacking B0107", edit: map[string]string{"X-RBAC": "B0264"}, status: 403,
			body: map[string]any{"error": rbac403, "field": "X-RBAC"}},
		{name: "rbac lacking B0264", edit: map[string]string{"X-RBAC": "B0107,B0360"}, status: 403,
			body: map[string]any{"error": rbac403, "field": "X-RBAC"}},
		{name: "nhs too short", path: "/v1/alerts/123", status: 400,
			body: map[string]any{"error": `NHS number is not 10 digits: "123"`, "field": "nhs_number"}},
		{name: "nhs check digit", path: "/v1/alerts/9990276578", status: 400,
			body: map[string]any{"error": `NHS number fails the check digit: "9990276578"`, "field": "nhs_number"}},
		{name: "nhs one repeated digit", path: "/v1/alerts/0000000000", status: 400,
			body: map[string]any{"error": `NHS number fails the check digit: "0000000000"`, "field": "nhs_number"}},

		// The first failure in batch/access/access.md's order answers.
		{name: "setting before user", edit: map[string]string{"X-Setting": "", "X-User-Name": ""}, status: 400,
			body: map[string]any{"error": "the care setting is missing", "field": "X-Setting"}},
		{name: "user before role", edit: map[string]string{"X-User-Name": "@x", "X-User-Role": ""}, status: 400,
			body: map[string]any{"error": "the user name may not begin with =, +, - or @", "field": "X-User-Name"}},
		{name: "role before rbac", edit: map[string]string{"X-User-Role": "", "X-RBAC": "B0264"}, status: 400,
			body: map[string]any{"error": "the user role is missing", "field": "X-User-Role"}},
		{name: "rbac before nhs", path: "/v1/alerts/123", edit: map[string]string{"X-RBAC": "B0264"}, status: 403,
			body: map[string]any{"error": rbac403, "field": "X-RBAC"}},
		{name: "all missing", edit: map[string]string{"X-Setting": "", "X-User-Name": "", "X-User-Role": "", "X-RBAC": ""}, status: 400,
			body: map[string]any{"error": "the care setting is missing", "field": "X-Setting"}},

		{name: "no such resource", path: "/v1/alerts", status: 404,
			body: map[string]any{"error": "no such resource: use GET /v1/alerts/{nhs_number}"}},
		{name: "another path", path: "/v2/alerts/" + child, status: 404,
			body: map[string]any{"error": "no such resource: use GET /v1/alerts/{nhs_number}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := caller()
			for k, v := range tt.edit {
				if v == "" {
					delete(h, k)
				} else {
					h[k] = v
				}
			}
			path := tt.path
			if path == "" {
				path = "/v1/alerts/" + child
			}
			r := s.get(path, "Bearer "+tokenRXX01, h)
			if r.status != tt.status {
				t.Errorf("status %d, want %d", r.status, tt.status)
			}
			if diff := cmp.Diff(tt.body, decode(t, r.body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	// None of them left a trace but the audit.
	if err := s.db.View(func(tx *store.Tx) error {
		hist, err := tx.History(child)
		if len(hist) != 0 {
			t.Errorf("history %+v after refusals only", hist)
		}
		days, _ := tx.OwedDays()
		if len(days) != 0 {
			t.Errorf("notifications owed for %v after refusals only", days)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestListen(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	tests := []struct {
		name string
		opts httpapi.Options
		err  error  // errors.Is
		msg  string // the whole message, when err is nil and it fails
	}{
		{name: "loopback", opts: httpapi.Options{Addr: "127.0.0.1:0"}},
		{name: "localhost", opts: httpapi.Options{Addr: "localhost:0"}},
		{name: "all interfaces", opts: httpapi.Options{Addr: "0.0.0.0:0"}, err: httpapi.ErrPlainHTTP},
		{name: "no host", opts: httpapi.Options{Addr: ":0"}, err: httpapi.ErrPlainHTTP},
		{name: "another address", opts: httpapi.Options{Addr: "192.0.2.10:8443"}, err: httpapi.ErrPlainHTTP},
		{name: "a host name", opts: httpapi.Options{Addr: "example.org:8443"}, err: httpapi.ErrPlainHTTP},
		{name: "all interfaces, insecure allowed", opts: httpapi.Options{Addr: "0.0.0.0:0", InsecureHTTP: true}},
		{name: "all interfaces with TLS", opts: httpapi.Options{Addr: "0.0.0.0:0", CertFile: certFile, KeyFile: keyFile}},
		{name: "certificate without key", opts: httpapi.Options{Addr: "127.0.0.1:0", CertFile: certFile}, msg: "give both --tls-cert and --tls-key"},
		{name: "key without certificate", opts: httpapi.Options{Addr: "127.0.0.1:0", KeyFile: keyFile}, msg: "give both --tls-cert and --tls-key"},
		{name: "no port", opts: httpapi.Options{Addr: "127.0.0.1"}, msg: `http address "127.0.0.1": address 127.0.0.1: missing port in address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := httpapi.Listen(tt.opts)
			if l != nil {
				l.Close()
			}
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Errorf("Listen: %v, want %v", err, tt.err)
				}
			case tt.msg != "":
				if err == nil || err.Error() != tt.msg {
					t.Errorf("Listen: %v, want %q", err, tt.msg)
				}
			case err != nil:
				t.Errorf("Listen: %v", err)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	db := newStore(t)
	svc, err := access.New(db, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	opts := httpapi.Options{Addr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}
	l, err := httpapi.Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	s := serve(t, db, svc, l, opts, "https", tr)
	r := s.get("/v1/alerts/"+child, "Bearer "+tokenRXX01, caller())
	if r.status != 200 {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	golden(t, "alert-9990276579.golden.json", r.body)
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cpis test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "hub.crt"), filepath.Join(dir, "hub.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
