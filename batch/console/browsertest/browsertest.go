// Package browsertest drives the hub's web pages in a real browser for
// tests: a headless Chromium started for the test, tabs that each keep their
// own cookies (one per person signed in), form filling and clicks by element
// id, full-page screenshots, downloads, and an accessibility check with
// axe-core on every page looked at.
//
// It imports nothing of the hub: a test starts the pages (a `cpis serve
// --http` or an httptest server) and points a Page at them. Chromium is an
// external tool (testenv.Chromium): a developer without it gets a skip, a run
// that requires it (CI) a failure.
//
// Chromium is started headless with a fresh, empty profile in a temporary
// folder and every background service that would reach the network turned
// off, so a test never waits on a closed network and never sends anything
// outside the machine. Every page check also fails when the page asked for
// anything from another origin: the hub serves every asset itself.
//
// Screenshots go to a temporary folder, or to a folder named after the test
// in the folder named by CPIS_SCREENSHOTS to keep them, one PNG per checked
// page, numbered in the order the test took them.
//
// axe-core (npm axe-core, MPL-2.0) is vendored in testdata/axe-core with its
// licences and version; update-axe.sh refreshes it.
package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"cpis/mesh/testenv"
)

// EnvScreenshots names a folder where screenshots are kept, in a folder
// per test; by default they go to the test's temporary folder and are
// removed with it.
const EnvScreenshots = "CPIS_SCREENSHOTS"

// EnvChromium names the browser binary when it is not "chromium" on PATH.
const EnvChromium = "CPIS_CHROMIUM"

// StepTimeout bounds each browser step (a navigation, a click, a check).
const StepTimeout = 30 * time.Second

// AxeTags are the axe-core rule tags every page is checked against: WCAG
// 2.0, 2.1 and 2.2, levels A and AA (WCAG 2.2 added no level A rule that
// axe-core tags wcag22a).
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

//go:embed testdata/axe-core/axe.min.js
var axeSource string

//go:embed testdata/axe-core/VERSION
var axeVersion string

// AxeVersion is the version of the vendored axe-core.
func AxeVersion() string { return strings.TrimSpace(axeVersion) }

// Flags are the command-line switches Chromium is started with, besides
// --user-data-dir (a fresh empty folder per browser) and the pipe chromedp
// talks over. Without the background services off, Chromium on a machine
// with no network stalls at start.
var Flags = []string{
	"headless",
	"no-sandbox", // tests run as root in CI, where Chromium refuses the sandbox
	"disable-gpu",
	"disable-quic",
	"no-first-run",
	"no-default-browser-check",
	"disable-background-networking",
	"disable-component-update",
	"disable-sync",
	"disable-extensions",
	"disable-default-apps",
	"disable-dev-shm-usage",
	"hide-scrollbars",
	"mute-audio",
	"password-store=basic",
	"use-mock-keychain",
	"window-size=1280,900",
}

// Browser is one Chromium process, ended when the test ends.
type Browser struct {
	t     testing.TB
	ctx   context.Context // the browser's first tab, kept open
	shots string

	mu sync.Mutex
	n  int // screenshots taken, across pages
}

// Start starts Chromium for t, or ends t as testenv.Unavailable when there
// is none. The browser is closed when t ends.
func Start(t testing.TB) *Browser {
	t.Helper()
	name := os.Getenv(EnvChromium)
	if name == "" {
		name = "chromium"
	}
	path := testenv.LookPath(t, testenv.Chromium, name)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
	}
	for _, f := range Flags {
		name, value, ok := strings.Cut(f, "=")
		if ok {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	// The first action starts the browser and binds its life to the
	// context it runs under, so it cannot take a step timeout: a browser
	// that does not answer in time is cancelled instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			testenv.Unavailable(t, testenv.Chromium, fmt.Sprintf("%s does not start: %v", path, err))
		}
	case <-time.After(StepTimeout):
		cancel()
		t.Fatalf("%s started with %s did not answer in %s", path, strings.Join(Flags, " "), StepTimeout)
	}
	shots := os.Getenv(EnvScreenshots)
	if shots == "" {
		shots = t.TempDir()
	} else {
		shots = filepath.Join(shots, fileName(t.Name()))
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatalf("screenshots: %v", err)
		}
	}
	return &Browser{t: t, ctx: ctx, shots: shots}
}

// ScreenshotDir is the folder the screenshots are written to.
func (b *Browser) ScreenshotDir() string { return b.shots }

// Page is one tab with its own cookies and cache (a fresh browser context),
// bound to the test that opened it. Every method ends the test on an error.
type Page struct {
	t         testing.TB
	b         *Browser
	ctx       context.Context
	downloads string
	noScript  bool // DisableScript was called

	mu         sync.Mutex
	requests   []string // URLs asked for since the last check
	exceptions []string // uncaught script errors since the last check
	dl         map[string]string
	dlDone     chan *browser.EventDownloadProgress
}

// NewPage opens a tab in a new browser context: it shares no cookies with
// any other page, as if another person used another browser. The tab is
// closed when t ends.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &Page{t: t, b: b, ctx: ctx, downloads: t.TempDir(), dl: map[string]string{},
		dlDone: make(chan *browser.EventDownloadProgress, 16)}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			p.mu.Lock()
			p.requests = append(p.requests, ev.Request.URL)
			p.mu.Unlock()
		case *runtime.EventExceptionThrown:
			p.mu.Lock()
			p.exceptions = append(p.exceptions, exceptionText(ev.ExceptionDetails))
			p.mu.Unlock()
		case *browser.EventDownloadWillBegin:
			p.mu.Lock()
			p.dl[ev.GUID] = ev.SuggestedFilename
			p.mu.Unlock()
		case *browser.EventDownloadProgress:
			if ev.State != browser.DownloadProgressStateInProgress {
				select {
				case p.dlDone <- ev:
				default:
				}
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	p.do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior:         browser.SetDownloadBehaviorBehaviorAllowAndName,
			BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
			DownloadPath:     p.downloads,
			EventsEnabled:    new(true),
		})
		return err
	}))
	return p
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		text += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, text)
}

// do runs actions under the step timeout, ending the test on an error.
func (p *Page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action returning a value under the step timeout.
func run[T any](p *Page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// navigate runs actions that load a new document and returns its HTTP
// status.
func (p *Page) navigate(what string, actions ...chromedp.Action[chromedp.Void]) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, StepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	if resp == nil {
		p.t.Fatalf("%s: no document loaded", what)
	}
	return int(resp.Status)
}

// DisableScript turns the page's own scripts off from the next document on,
// as for a person whose browser runs none: the pages must work without
// them. The checks (axe-core) still run.
func (p *Page) DisableScript() {
	p.t.Helper()
	p.noScript = true
	p.do("disable scripts", p.scripts(false))
}

// scripts turns script execution on or off.
func (p *Page) scripts(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	})
}

// Narrow shows the page 390 CSS pixels wide (a phone's width) until Wide:
// the NHS.UK frontend's responsive tables and header change their layout
// there.
func (p *Page) Narrow() {
	p.t.Helper()
	p.do("narrow viewport", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: 390, Height: 844, DeviceScaleFactor: 1})
		return err
	}))
}

// Wide returns to the browser's own window size.
func (p *Page) Wide() {
	p.t.Helper()
	p.do("wide viewport", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return err
	}))
}

// Open loads url and returns the HTTP status of the document.
func (p *Page) Open(url string) int {
	p.t.Helper()
	return p.navigate("open "+url, chromedp.Navigate(url))
}

// present ends the test at once when nothing in the current document
// matches the CSS selector, naming the page it is on: the pages are
// rendered by the server, so an element missing now never comes, and
// waiting for it would only turn the failure into a timeout.
func (p *Page) present(css string) {
	p.t.Helper()
	sel, _ := json.Marshal(css)
	found := run(p, "look for "+css, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%s) !== null`, sel)))
	if !found {
		heading := run(p, "heading", chromedp.Evaluate[string](`(document.querySelector("h1")?.innerText ?? "") + " " + (document.querySelector(".nhsuk-error-summary")?.innerText ?? "")`))
		p.t.Fatalf("no %s on %s (%q): %s", css, p.URL(), p.Title(), strings.Join(strings.Fields(heading), " "))
	}
}

// Fill types value into the field with the id, after clearing it.
func (p *Page) Fill(id, value string) {
	p.t.Helper()
	p.present("#" + id)
	// Not chromedp.Clear: it needs a text node in a textarea, and an empty
	// one has none.
	p.do("fill #"+id, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).value = ""`, id)),
		chromedp.SendKeys(chromedp.ID(id), value))
}

// Upload chooses the file at path in the file input with the id. The
// NHS.UK frontend's file upload component, once its script has run, gives
// that id to its own drop button and renames the input id-input: either is
// found.
func (p *Page) Upload(id, path string) {
	p.t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		p.t.Fatal(err)
	}
	sel := fmt.Sprintf(`input[type=file][id=%q], input[type=file][id=%q]`, id, id+"-input")
	p.present(sel)
	p.do("upload into #"+id, chromedp.SetUploadFiles(chromedp.CSS(sel), []string{abs}))
}

// Click clicks the element with the id and waits for the document it loads
// (a link, or a form's button), returning its HTTP status.
func (p *Page) Click(id string) int {
	p.t.Helper()
	p.present("#" + id)
	return p.navigate("click #"+id, chromedp.Click(chromedp.ID(id)))
}

// Choose clicks the radio button or checkbox with the id (its label, as
// a person would, when the input itself is styled out of sight): nothing
// loads.
func (p *Page) Choose(id string) {
	p.t.Helper()
	p.present("#" + id)
	p.do("choose #"+id, chromedp.Click(chromedp.CSS(fmt.Sprintf(`label[for=%q]`, id))))
	if !Eval[bool](p, fmt.Sprintf(`document.getElementById(%q).checked`, id)) {
		p.t.Fatalf("#%s is not checked after a click on its label", id)
	}
}

// ClickSelector is Click on the first element matching a CSS selector, for
// elements without an id (a link in a table row).
func (p *Page) ClickSelector(css string) int {
	p.t.Helper()
	p.present(css)
	return p.navigate("click "+css, chromedp.Click(chromedp.CSS(css)))
}

// Download clicks the link matched by the CSS selector, waits for the file
// it downloads and returns its suggested name and content.
func (p *Page) Download(css string) (name string, content []byte) {
	p.t.Helper()
	for len(p.dlDone) > 0 {
		<-p.dlDone
	}
	p.present(css)
	p.do("click "+css, chromedp.Click(chromedp.CSS(css)))
	select {
	case ev := <-p.dlDone:
		if ev.State != browser.DownloadProgressStateCompleted {
			p.t.Fatalf("download from %s: %s", css, ev.State)
		}
		b, err := os.ReadFile(filepath.Join(p.downloads, ev.GUID))
		if err != nil {
			p.t.Fatalf("download from %s: %v", css, err)
		}
		p.mu.Lock()
		name = p.dl[ev.GUID]
		p.mu.Unlock()
		return name, b
	case <-time.After(StepTimeout):
		p.t.Fatalf("download from %s: nothing downloaded after %s", css, StepTimeout)
	}
	return "", nil
}

// URL is the address of the current document.
func (p *Page) URL() string {
	p.t.Helper()
	return run(p, "location", chromedp.Location())
}

// Title is the current document's title.
func (p *Page) Title() string {
	p.t.Helper()
	return run(p, "title", chromedp.Title())
}

// Text is the rendered text (innerText) of the first element matching the
// CSS selector.
func (p *Page) Text(css string) string {
	p.t.Helper()
	p.present(css)
	return run(p, "text of "+css, chromedp.Text(chromedp.CSS(css)))
}

// Texts is the rendered text of every element matching the CSS selector, in
// document order (none when nothing matches), each with its white space
// collapsed: the cells of a table row, say.
func (p *Page) Texts(css string) []string {
	p.t.Helper()
	sel, _ := json.Marshal(css)
	return run(p, "texts of "+css, chromedp.Evaluate[[]string](fmt.Sprintf(
		`Array.from(document.querySelectorAll(%s), e => e.innerText.replace(/\s+/g, " ").trim())`, sel)))
}

// Rows is the text of each cell of each body row of the table matched by the
// CSS selector.
func (p *Page) Rows(table string) [][]string {
	p.t.Helper()
	sel, _ := json.Marshal(table)
	return run(p, "rows of "+table, chromedp.Evaluate[[][]string](fmt.Sprintf(
		`Array.from(document.querySelector(%s)?.tBodies[0]?.rows ?? [],
			r => Array.from(r.cells, c => c.innerText.replace(/\s+/g, " ").trim()))`, sel)))
}

// Attr is the attribute name of the first element matching the CSS selector
// ("" when absent).
func (p *Page) Attr(css, name string) string {
	p.t.Helper()
	sel, _ := json.Marshal(css)
	n, _ := json.Marshal(name)
	return run(p, "attribute "+name+" of "+css, chromedp.Evaluate[string](fmt.Sprintf(
		`document.querySelector(%s)?.getAttribute(%s) ?? ""`, sel, n)))
}

// Eval evaluates a script expression in the page and decodes its result.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	return run(p, "evaluate", chromedp.Evaluate[T](expr))
}

// Screenshot writes a full-page PNG of the current document, named with the
// browser's running count and name, and returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	png := run(p, "screenshot", chromedp.FullScreenshot(100))
	p.b.mu.Lock()
	p.b.n++
	n := p.b.n
	p.b.mu.Unlock()
	path := filepath.Join(p.b.shots, fmt.Sprintf("%02d-%s.png", n, fileName(name)))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	return path
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileName(s string) string {
	return strings.Trim(unsafeName.ReplaceAllString(s, "-"), "-")
}

// Violation is one axe-core rule a page breaks, with the elements breaking
// it.
type Violation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
	// Why is axe-core's account of the first element's failure.
	Why string `json:"why"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s: %s\n    %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "),
		strings.Join(strings.Fields(v.Why), " "))
}

// Axe runs axe-core in the current document against AxeTags and returns the
// violations (none when the page passes).
func (p *Page) Axe() []Violation {
	p.t.Helper()
	if p.noScript {
		// axe-core's promise needs the page's event loop to run scripts;
		// turning them on now runs none of the page's own, which had
		// their chance when the document loaded.
		p.do("enable scripts for axe-core", p.scripts(true))
		defer p.do("disable scripts", p.scripts(false))
	}
	p.do("inject axe-core", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// A page's Content-Security-Policy would refuse the script: the
		// check must not need the hub to relax its policy.
		_, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
		return err
	}), chromedp.Evaluate[chromedp.Void]("if (!window.axe) {\n"+axeSource+"\n}"))
	tags, _ := json.Marshal(AxeTags)
	raw := run(p, "run axe-core", chromedp.Evaluate[string](fmt.Sprintf(`axe.run(document, {
			runOnly: {type: "tag", values: %s},
			resultTypes: ["violations"],
		}).then(r => JSON.stringify(r.violations.map(v => ({
			id: v.id, impact: v.impact, help: v.help,
			targets: v.nodes.map(n => n.target.join(" ")),
			why: v.nodes[0]?.failureSummary ?? "",
		}))))`, tags), chromedp.EvalAwaitPromise))
	var vs []Violation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		p.t.Fatalf("axe-core result: %v", err)
	}
	return vs
}

// Check is what every page visited gets: a full-page screenshot named name,
// axe-core's WCAG 2.x A and AA rules, no sideways scrolling (content wider
// than the window: WCAG 1.4.10, which axe-core does not check; see Narrow),
// no request to another origin than the page's own since the last check,
// and no uncaught script error. Each
// problem is reported (the test goes on to report the others, then fails).
func (p *Page) Check(name string) {
	p.t.Helper()
	shot := p.Screenshot(name)
	if vs := p.Axe(); len(vs) > 0 {
		var b strings.Builder
		for _, v := range vs {
			fmt.Fprintf(&b, "\n  %s", v)
		}
		p.t.Errorf("page %s (%s, screenshot %s): %d axe-core violations of WCAG A/AA:%s", name, p.URL(), shot, len(vs), b.String())
	}
	if w := Eval[[]int](p, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`); w[0] > w[1] {
		p.t.Errorf("page %s (%s, screenshot %s): scrolls sideways, %d CSS pixels of content in a window %d wide (WCAG 1.4.10 reflow)",
			name, p.URL(), shot, w[0], w[1])
	}
	if err := p.takeForeign(); err != nil {
		p.t.Errorf("page %s: %v", name, err)
	}
	p.mu.Lock()
	exc := p.exceptions
	p.exceptions = nil
	p.mu.Unlock()
	if len(exc) > 0 {
		p.t.Errorf("page %s: uncaught script errors:\n  %s", name, strings.Join(exc, "\n  "))
	}
}

// takeForeign reports the requests since the last call that went to
// another origin than the current document's.
func (p *Page) takeForeign() error {
	p.t.Helper()
	here, err := url.Parse(p.URL())
	if err != nil {
		return err
	}
	p.mu.Lock()
	reqs := p.requests
	p.requests = nil
	p.mu.Unlock()
	var foreign []string
	for _, r := range reqs {
		u, err := url.Parse(r)
		if err != nil {
			foreign = append(foreign, r)
			continue
		}
		switch u.Scheme {
		case "data", "blob", "about":
			continue
		}
		if u.Scheme != here.Scheme || u.Host != here.Host {
			foreign = append(foreign, r)
		}
	}
	if len(foreign) > 0 {
		return errors.New("requests to another origin: " + strings.Join(foreign, ", "))
	}
	return nil
}
