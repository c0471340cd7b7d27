package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

// TestMethodsAndRepeatedHeaders: only GET looks a person up (a HEAD would
// record an access nobody was shown); X-RBAC lines form one list; a second
// X-Setting, X-User-Name or X-User-Role is refused, never silently dropped.
func TestMethodsAndRepeatedHeaders(t *testing.T) {
	const token = "cpis_test-token"
	db := hubtest.New(t, hubtest.Options{LAs: []string{"841"}, NoDemographics: true,
		Plans: []plans.Plan{{Key: plans.Key{NHS: "9990276579", LA: "841", Type: plans.CPP}, Start: caldate.InLondon(time.Now()).AddDays(-30), LocalID: "C-1"}}}).DB
	if err := db.Update(func(tx *store.Tx) error {
		return tx.PutOrg(store.Org{ODS: "RXX01", Name: "Example", TokenHash: store.TokenHash(token), AddedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	svc, err := access.New(db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(httpapi.Handler(svc, db, nil))
	defer srv.Close()

	do := func(method string, headers [][2]string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+"/v1/alerts/9990276579", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		for _, h := range headers {
			req.Header.Add(h[0], h[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	base := [][2]string{{"X-Setting", "ED"}, {"X-User-Name", "A Clinician"}, {"X-User-Role", "Staff Nurse"}}
	cases := []struct {
		name    string
		method  string
		headers [][2]string
		status  int
		field   any
	}{
		{"HEAD is not a lookup", http.MethodHead, append(base, [2]string{"X-RBAC", "B0264,B0107"}), 405, nil},
		{"POST is not allowed", http.MethodPost, append(base, [2]string{"X-RBAC", "B0264,B0107"}), 405, nil},
		{"RBAC over two lines", http.MethodGet, append(base, [2]string{"X-RBAC", "B0264"}, [2]string{"X-RBAC", "B0107"}), 200, nil},
		{"two settings", http.MethodGet, append(base, [2]string{"X-Setting", "GP"}, [2]string{"X-RBAC", "B0264,B0107"}), 400, "X-Setting"},
		{"two user names", http.MethodGet, append(base, [2]string{"X-User-Name", "B"}, [2]string{"X-RBAC", "B0264,B0107"}), 400, "X-User-Name"},
	}
	for _, c := range cases {
		status, body := do(c.method, c.headers)
		if status != c.status {
			t.Errorf("%s: status %d, want %d (%v)", c.name, status, c.status, body)
		}
		if c.field != nil {
			if diff := cmp.Diff(c.field, body["field"]); diff != "" {
				t.Errorf("%s: field (-want +got):\n%s", c.name, diff)
			}
		}
	}
	var history int
	_ = db.View(func(tx *store.Tx) error {
		h, err := tx.History("9990276579")
		history = len(h)
		return err
	})
	// Only the one GET that was answered is in the history.
	if history != 1 {
		t.Errorf("history has %d entries, want 1 (HEAD, POST and refusals add none)", history)
	}
}
