package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/access"
	"cpis/batch/access/httpapi"
	"cpis/store"
)

// TestAuthorizationAndLongNumbers: the Bearer scheme is matched in any case
// (RFC 9110); an NHS number longer than access.MaxNHSNumberInput is refused
// with 400 and reaches the audit cut short; error bodies keep "<" and ">".
func TestAuthorizationAndLongNumbers(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const token = "cpis_test-token"
	if err := db.Update(func(tx *store.Tx) error {
		return tx.PutOrg(store.Org{ODS: "RXX01", Name: "Example", TokenHash: store.TokenHash(token), AddedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	svc, err := access.New(db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.Handler(svc, db, nil))
	defer srv.Close()

	long := strings.Repeat("9", 5000)
	cases := []struct {
		name, auth, nhs string
		status          int
		body            string
	}{
		{"Bearer", "Bearer " + token, "9990276579", 200, ""},
		{"bearer in lower case", "bearer " + token, "9990276579", 200, ""},
		{"BEARER in upper case", "BEARER " + token, "9990276579", 200, ""},
		{"extra spaces", "  Bearer   " + token + " ", "9990276579", 200, ""},
		{"another scheme", "Basic " + token, "9990276579", 401,
			"{\n  \"error\": \"an API token is required: Authorization: Bearer <token> (missing, unknown or revoked)\"\n}\n"},
		{"scheme only", "Bearer", "9990276579", 401, ""},
		{"NHS number of 5000 characters", "Bearer " + token, long, 400,
			"{\n  \"error\": \"an NHS number is 10 digits: this one has 5000 characters\",\n  \"field\": \"nhs_number\"\n}\n"},
		{"NHS number of 33 characters", "Bearer " + token, strings.Repeat("9", 33), 400,
			"{\n  \"error\": \"an NHS number is 10 digits: this one has 33 characters\",\n  \"field\": \"nhs_number\"\n}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/alerts/"+c.nhs, nil)
			req.Header.Set("Authorization", c.auth)
			req.Header.Set("X-Setting", "ED")
			req.Header.Set("X-User-Name", "A Clinician")
			req.Header.Set("X-User-Role", "Staff Nurse")
			req.Header.Set("X-RBAC", "B0264,B0107")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.body != "" {
				if diff := cmp.Diff(c.body, string(body)); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
		})
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := db.View(func(tx *store.Tx) error {
		return tx.LookupAudits(time.Time{}, func(a store.LookupAudit) error {
			if a.Status == 400 {
				got = append(got, a.NHSNumber)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{strings.Repeat("9", 32) + "...", strings.Repeat("9", 32) + "..."}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audited NHS numbers of the 400s (-want +got):\n%s", diff)
	}
}
