package browsertest_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"cpis/batch/console/browsertest"
)

// page wraps a body in a document that passes axe-core: a language, a
// title, a main landmark.
func page(title, body string) string {
	return `<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>` + title +
		`</title></head><body><main><h1>` + title + `</h1>` + body + `</main></body></html>`
}

// server is a tiny site: a form with a text field and a file input posting
// to a result page, a download, a page breaking WCAG rules on purpose, and
// one asking for an image from another origin.
func server(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page("Send a file", `<form method="post" action="/sent" enctype="multipart/form-data">
<label for="name">Your name</label><input id="name" name="name" type="text" value="old">
<label for="file">A file</label><input id="file" name="file" type="file">
<button id="send" type="submit">Send</button></form>`))
	})
	mux.HandleFunc("POST /sent", func(w http.ResponseWriter, r *http.Request) {
		f, h, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, page("Sent", `<table id="got"><caption>What arrived</caption><thead><tr><th scope="col">field</th><th scope="col">value</th></tr></thead><tbody>`+
			`<tr><td>name</td><td>`+html.EscapeString(r.FormValue("name"))+`</td></tr>`+
			`<tr><td>file</td><td>`+html.EscapeString(h.Filename)+` `+html.EscapeString(string(b))+`</td></tr>`+
			`</tbody></table><p><a id="dl" href="/response.csv">Download the response</a></p>`))
	})
	mux.HandleFunc("GET /response.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", `attachment; filename="RESP_841.csv"`)
		fmt.Fprint(w, "a,b\n1,2\n")
	})
	mux.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Bad</title></head><body>
<img id="logo" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<input id="unlabelled" type="text">
<p id="pale" style="color:#ccc;background:#fff">Hard to read</p>
</body></html>`)
	})
	mux.HandleFunc("GET /foreign", func(w http.ResponseWriter, r *http.Request) {
		// Another loopback address is another origin; nothing listens on
		// its port 1, so the request fails at once.
		fmt.Fprint(w, page("Foreign", `<img alt="" src="http://127.0.0.2:1/pixel.gif">`))
	})
	mux.HandleFunc("GET /script", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page("Script", `<p id="s">no script</p><script>document.getElementById("s").textContent = "script ran"</script>`))
	})
	mux.HandleFunc("GET /wide", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page("Wide", `<p>CPIS_202_RESPONSE_20261203_20261203145900632564_67D133.csv</p>`))
	})
	mux.HandleFunc("GET /throws", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page("Throws", `<script>null.x</script>`))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// recorder keeps the errors a check reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// Fatalf records the error and ends the goroutine, as testing's does; run
// the calls that may end it with fatal.
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// fatal runs f on its own goroutine, which the recorder's Fatalf may end.
func fatal(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// TestBrowser drives the tiny site through every helper: a good page passes
// the checks, a form is filled and sent with a file, a download arrives,
// and each kind of problem makes the check fail.
func TestBrowser(t *testing.T) {
	ts := server(t)
	b := browsertest.Start(t)
	p := b.NewPage(t)

	if got := p.Open(ts.URL + "/form"); got != http.StatusOK {
		t.Fatalf("open /form: %d", got)
	}
	p.Check("form")
	if got := p.Title(); got != "Send a file" {
		t.Errorf("title %q", got)
	}
	p.Fill("name", "Ann Example")
	upload := filepath.Join(t.TempDir(), "CPIS_841_FULL_20261121.csv")
	if err := os.WriteFile(upload, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Upload("file", upload)
	if got := p.Click("send"); got != http.StatusAccepted {
		t.Fatalf("send: status %d", got)
	}
	p.Check("sent")
	p.Narrow()
	if got := browsertest.Eval[int](p, `window.innerWidth`); got != 390 {
		t.Errorf("narrow: width %d", got)
	}
	p.Wide()
	if got := browsertest.Eval[int](p, `window.innerWidth`); got != 1280 {
		t.Errorf("wide: width %d", got)
	}
	if got, want := p.URL(), ts.URL+"/sent"; got != want {
		t.Errorf("URL %q, want %q", got, want)
	}
	want := [][]string{{"name", "Ann Example"}, {"file", "CPIS_841_FULL_20261121.csv hello"}}
	if diff := cmp.Diff(want, p.Rows("#got")); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"field", "value"}, p.Texts("#got th")); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if got := p.Attr("#dl", "href"); got != "/response.csv" {
		t.Errorf("href %q", got)
	}
	name, content := p.Download("#dl")
	if name != "RESP_841.csv" || string(content) != "a,b\n1,2\n" {
		t.Errorf("download %q %q", name, content)
	}

	// A second page keeps its own cookies.
	if got := browsertest.Eval[string](p, `document.cookie = "s=1", document.cookie`); got != "s=1" {
		t.Errorf("cookie %q", got)
	}
	q := b.NewPage(t)
	q.Open(ts.URL + "/form")
	if got := browsertest.Eval[string](q, `document.cookie`); got != "" {
		t.Errorf("another page sees cookie %q", got)
	}

	// A page without scripts: the page's do not run, the checks still do.
	p.Open(ts.URL + "/script")
	if got := p.Text("#s"); got != "script ran" {
		t.Errorf("with scripts: %q", got)
	}
	q.DisableScript()
	q.Open(ts.URL + "/script")
	if got := q.Text("#s"); got != "no script" {
		t.Errorf("without scripts: %q", got)
	}
	q.Check("noscript")

	shots, err := filepath.Glob(filepath.Join(b.ScreenshotDir(), "*.png"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range shots {
		shots[i] = filepath.Base(shots[i])
	}
	if diff := cmp.Diff([]string{"01-form.png", "02-sent.png", "03-noscript.png"}, shots); diff != "" {
		t.Errorf("screenshots (-want +got):\n%s", diff)
	}
}

// TestCheckFails: a page breaking WCAG rules, one asking another origin for
// an image and one throwing a script error each fail the check, saying why.
func TestCheckFails(t *testing.T) {
	ts := server(t)
	b := browsertest.Start(t)
	p := b.NewPage(t)

	p.Open(ts.URL + "/bad")
	want := []browsertest.Violation{
		{ID: "color-contrast", Impact: "serious", Help: "Elements must meet minimum color contrast ratio thresholds", Targets: []string{"#pale"}},
		{ID: "html-has-lang", Impact: "serious", Help: "<html> element must have a lang attribute", Targets: []string{"html"}},
		{ID: "image-alt", Impact: "critical", Help: "Images must have alternative text", Targets: []string{"#logo"}},
		{ID: "label", Impact: "critical", Help: "Form elements must have labels", Targets: []string{"#unlabelled"}},
	}
	if diff := cmp.Diff(want, p.Axe(), cmpopts.IgnoreFields(browsertest.Violation{}, "Why")); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}

	// An element that is not there ends the test at once, naming the page.
	rec := &recorder{TB: t}
	start := time.Now()
	q := b.NewPage(rec)
	q.Open(ts.URL + "/form")
	fatal(func() { q.Click("nothing") })
	if want := `no #nothing on ` + ts.URL + `/form ("Send a file"): Send a file`; len(rec.errs) != 1 || rec.errs[0] != want {
		t.Errorf("click on nothing: %q, want %q", rec.errs, want)
	}
	if took := time.Since(start); took > browsertest.StepTimeout/2 {
		t.Errorf("click on nothing took %v", took)
	}

	for _, c := range []struct {
		path string
		want []string // what the one error reported must say
	}{
		{"/bad", []string{"axe-core violations", "image-alt (critical)", "#logo", "label (critical)", "#unlabelled"}},
		{"/foreign", []string{"requests to another origin: http://127.0.0.2:1/pixel.gif"}},
		{"/throws", []string{"uncaught script errors", "TypeError"}},
		{"/wide", []string{"scrolls sideways", "WCAG 1.4.10"}},
	} {
		rec := &recorder{TB: t}
		p := b.NewPage(rec)
		if c.path == "/wide" {
			p.Narrow()
		}
		p.Open(ts.URL + c.path)
		p.Check(strings.TrimPrefix(c.path, "/"))
		if len(rec.errs) != 1 {
			t.Errorf("%s: %d errors, want 1: %q", c.path, len(rec.errs), rec.errs)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(rec.errs[0], w) {
				t.Errorf("%s: the error does not say %q:\n%s", c.path, w, rec.errs[0])
			}
		}
	}
}
