package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"cpis/store/nhsnumber"
)

// bigReturn is a FULL return of n rows of valid test-range NHS numbers
// that the demographics do not know (each row rejected: the page lists
// the most rows it will).
func bigReturn(n int) string {
	var b strings.Builder
	b.WriteString("nhs_number,plan_type,start_date,local_id\r\n")
	for i, rows := 0, 0; rows < n; i++ {
		nhs := fmt.Sprintf("999%07d", i)
		if !nhsnumber.Valid(nhs) {
			continue
		}
		fmt.Fprintf(&b, "%s,CPP,2026-03-02,C-%d\r\n", nhs, rows)
		rows++
	}
	return b.String()
}

// BenchmarkCheckPage: an upload of the largest LA's return (8,000 rows)
// checked and its page rendered.
func BenchmarkCheckPage(b *testing.B) {
	f := newFixture(b)
	f.enrol(b, "officer@example.org", "la", "841")
	br := f.browser(b)
	token := br.login("officer@example.org")
	data := []byte(bigReturn(8000))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	var size int
	for b.Loop() {
		p := br.upload("/la/check", token, badName, data)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="result-truncated"`) {
			b.Fatalf("status %d", p.Status)
		}
		size = len(p.Body)
	}
	b.ReportMetric(float64(size), "page-bytes")
}
