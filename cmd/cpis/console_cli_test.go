package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"cpis/batch/console"
)

// TestServeConsole: cpis serve --http serves the web console beside the
// lookup API, on the same address: the set-up link users add prints opens
// its page, the console's paths carry its headers, and the API's paths
// answer as before.
func TestServeConsole(t *testing.T) {
	h := initCLIHub(t)
	r := h.run("users", "add", "--la", "841", "officer@example.org")
	link := regexp.MustCompile(`/setup/[A-Za-z0-9_-]+`).FindString(r.stdout)
	if link == "" {
		t.Fatal("users add printed no set-up link")
	}
	get := func(url string) (int, http.Header, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, string(b)
	}
	h.lkServe(cliNow, func(url string) {
		for _, path := range []string{"/login", link, "/assets/nhsuk/nhsuk-frontend.min.css"} {
			status, hdr, _ := get(url + path)
			if status != http.StatusOK || hdr.Get("Content-Security-Policy") != console.CSP {
				t.Errorf("GET %s: status %d, CSP %q", path, status, hdr.Get("Content-Security-Policy"))
			}
		}
		if status, _, body := get(url + link); !strings.Contains(body, "officer@example.org") {
			t.Errorf("set-up page: status %d, no email", status)
		}
		// The lookup API, unchanged: JSON, with its own refusal.
		status, hdr, body := get(url + "/v1/alerts/9990000018")
		if status != http.StatusUnauthorized || hdr.Get("Content-Type") != "application/json" || hdr.Get("Content-Security-Policy") != "" {
			t.Errorf("GET /v1/alerts: %d %q %q", status, hdr.Get("Content-Type"), body)
		}
		if status, hdr, _ := get(url + "/"); status != http.StatusNotFound || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("GET /: %d %q, want the API's JSON 404", status, hdr.Get("Content-Type"))
		}
	})
}
