package browsertest

import (
	"context"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestMain(m *testing.M) { Main(m) }

// goodPage is accessible (axe finds nothing) and taller than the desktop
// viewport: a button whose click changes a text a moment later, a form
// that posts, and a console message.
const goodPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Browsertest</title></head>
<body>
<main data-seq="0">
  <h1>Browsertest</h1>
  <p id="status">idle</p>
  <button id="go" type="button">Go</button>
  <form method="post" action="/greet">
    <label for="name">Name</label>
    <input id="name" name="name" autocomplete="off">
    <label for="color">Colour</label>
    <select id="color" name="color"><option value="red">Red</option><option value="blue">Blue</option></select>
    <button id="send" type="submit">Send</button>
  </form>
  <div style="height: 1500px"></div>
  <p>End of the page.</p>
</main>
<script>
  const root = document.querySelector('main');
  document.getElementById('go').addEventListener('click', () => {
    // Later, as an event from a server would: a test must wait for it.
    setTimeout(() => {
      document.getElementById('status').textContent = 'clicked';
      root.dataset.seq = '3';
    }, 100);
  });
  console.log('page ready');
</script>
</body>
</html>`

// badPage breaks one serious rule on purpose: grey text on white
// (color-contrast).
const badPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Bad contrast</title></head>
<body><main><h1>Bad contrast</h1><p style="color: #ccc; background: #fff">Hard to read.</p></main></body>
</html>`

// brokenPage logs and throws, for the failure dump.
const brokenPage = `<!doctype html>
<html lang="en"><head><title>Broken</title></head>
<body><main><h1>Broken</h1></main>
<script>
  console.warn('about to fail');
  function explode() { throw new Error('boom from the page'); }
  setTimeout(explode, 0);
</script></body></html>`

// widePage is wider than a phone the usual way: a table too wide for
// it, in a box that scrolls, holds a visually-hidden label positioned
// absolutely, and the box is not positioned, so the label escapes it.
// With ?fixed the box is positioned and the page fits.
const widePage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Wide</title>
<style>
.scroll { overflow-x: auto; }
.fixed .scroll { position: relative; }
.hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
</style></head>
<body class="%s"><main><h1>Wide</h1>
<div class="scroll"><table><tr><td style="min-width: 800px">wide</td><td><a href="#">Log<span id="label" class="hidden"> of build one</span></a></td></tr></table></div>
</main></body>
</html>`

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = fmt.Fprint(w, body)
		}
	}
	mux.Handle("GET /{$}", page(goodPage))
	mux.Handle("GET /bad", withCSP(page(badPage)))
	mux.Handle("GET /broken", page(brokenPage))
	mux.HandleFunc("GET /wide", func(w http.ResponseWriter, r *http.Request) {
		class := ""
		if r.URL.Query().Has("fixed") {
			class = "fixed"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprintf(w, widePage, class)
	})
	mux.HandleFunc("POST /greet", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Greeting</title></head><body><main><h1>Greeting</h1><p id="greeting">Hello, %s, in %s.</p></main></body></html>`,
			html.EscapeString(r.PostFormValue("name")), html.EscapeString(r.PostFormValue("color")))
	})
	mux.HandleFunc("GET /cookie", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("set") {
			http.SetCookie(w, &http.Cookie{Name: "who", Value: "first-tab", Path: "/"})
		}
		who := "none"
		if c, err := r.Cookie("who"); err == nil {
			who = c.Value
		}
		_, _ = fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Cookie</title></head><body><p id="who">%s</p></body></html>`, html.EscapeString(who))
	})
	srv := httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv
}

// withCSP serves h with a strict Content-Security-Policy, as Slipway's
// pages are: axe's injection must not depend on the page allowing it.
func withCSP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		h.ServeHTTP(w, r)
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Ensure a click whose effect comes later is waited for, not slept on.
func TestClick(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	ctx := NewTab(t)
	must(t, Navigate(ctx, srv.URL))
	title, err := chromedp.Run(ctx, chromedp.Title())
	must(t, err)
	if title != "Browsertest" {
		t.Errorf("title = %q, want Browsertest", title)
	}
	if got, err := Text(ctx, "#status"); err != nil || got != "idle" {
		t.Fatalf("status before the click = %q, %v; want idle", got, err)
	}
	must(t, Click(ctx, "#go"))
	must(t, WaitText(ctx, "#status", "clicked"))
	must(t, WaitSeq(ctx, 3))
	must(t, WaitAttr(ctx, "main", "data-seq", "3"))
	if got, err := Text(ctx, "#status"); err != nil || got != "clicked" {
		t.Errorf("status after the click = %q, %v; want clicked", got, err)
	}
}

// Ensure a form filled in the page is posted and its answer shown.
func TestFormPost(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	ctx := NewTab(t)
	must(t, Navigate(ctx, srv.URL))
	must(t, Fill(ctx, "#name", "first"))
	must(t, Fill(ctx, "#name", "Ada <Lovelace>")) // replaces, not appends
	must(t, Fill(ctx, "#color", "blue"))
	must(t, Click(ctx, "#send"))
	must(t, WaitText(ctx, "#greeting", "Hello, Ada <Lovelace>, in blue."))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	must(t, err)
	if want := srv.URL + "/greet"; loc != want {
		t.Errorf("location = %s, want %s", loc, want)
	}
	if err := Fill(ctx, "h1", "x"); err == nil || !strings.Contains(err.Error(), "not a form field") {
		t.Errorf("Fill of a heading: err = %v, want not a form field", err)
	}
}

// Ensure a failed wait says what it waited for and what the page showed.
func TestWaitFails(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	ctx := NewTab(t)
	must(t, Navigate(ctx, srv.URL))
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := WaitText(wctx, "#status", "never")
	if err == nil || !strings.Contains(err.Error(), `#status to contain "never"`) || !strings.Contains(err.Error(), `its text is "idle"`) {
		t.Errorf("err = %v, want one naming the wait and the text", err)
	}
	if err := WaitSeq(wctx, 1); err == nil || !strings.Contains(err.Error(), `data-seq is "0"`) {
		t.Errorf("WaitSeq: err = %v, want one saying data-seq is 0", err)
	}
	// A selector that is not CSS fails at once, not at the deadline.
	if err := WaitText(ctx, "#status[", "x"); err == nil || !strings.Contains(err.Error(), "not a valid selector") {
		t.Errorf("WaitText with a bad selector: err = %v, want not a valid selector", err)
	}
}

// Ensure each tab has cookies of its own.
func TestTabsHaveOwnCookies(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	first, second := NewTab(t), NewTab(t)
	must(t, Navigate(first, srv.URL+"/cookie?set"))
	must(t, Navigate(first, srv.URL+"/cookie"))
	must(t, WaitText(first, "#who", "first-tab"))
	must(t, Navigate(second, srv.URL+"/cookie"))
	must(t, WaitText(second, "#who", "none"))
}

// Ensure Screenshot writes a full-page PNG at each viewport and leaves the
// tab as it was.
func TestScreenshot(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	ctx := NewTab(t)
	must(t, Navigate(ctx, srv.URL))
	paths := Screenshot(t, ctx, "home")
	if len(paths) != len(Viewports) {
		t.Fatalf("paths = %v, want one per viewport", paths)
	}
	for i, v := range Viewports {
		if want := filepath.Join(ArtifactDir(t), "home-"+v.Name+".png"); paths[i] != want {
			t.Errorf("path = %s, want %s", paths[i], want)
		}
		f, err := os.Open(paths[i])
		must(t, err)
		cfg, err := png.DecodeConfig(f)
		_ = f.Close()
		must(t, err)
		if want := int(float64(v.Width) * v.Scale); cfg.Width != want {
			t.Errorf("%s: width = %d, want %d", v.Name, cfg.Width, want)
		}
		// The page is taller than the viewport: all of it is there.
		if min := int(1500 * v.Scale); cfg.Height < min {
			t.Errorf("%s: height = %d, want at least %d (the whole page)", v.Name, cfg.Height, min)
		}
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.innerWidth`))
	must(t, err)
	if width != int(Desktop.Width) {
		t.Errorf("innerWidth after the screenshots = %d, want %d", width, Desktop.Width)
	}
	must(t, SetViewport(ctx, Phone))
	mobile, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.innerWidth === 390 && window.devicePixelRatio === 2 && matchMedia('(pointer: coarse)').matches`))
	must(t, err)
	if !mobile {
		t.Error("the phone viewport is not 390 CSS pixels wide, at 2 device pixels per pixel, with touch")
	}
}

// Ensure AssertFits passes a page that fits a phone (a wide table
// scrolling in its own box) and fails one wider than the phone, naming
// the element that sticks out; the tab keeps its viewport.
func TestAssertFits(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	ctx := NewTab(t)
	for _, path := range []string{"/", "/wide?fixed"} {
		must(t, Navigate(ctx, srv.URL+path))
		if errs := record(t, func(tb testing.TB) { AssertFits(tb, ctx, Phone) }); len(errs) != 0 {
			t.Errorf("AssertFits on %s failed: %q", path, errs)
		}
	}
	must(t, Navigate(ctx, srv.URL+"/wide"))
	errs := record(t, func(tb testing.TB) { AssertFits(tb, ctx, Phone) })
	if len(errs) != 1 || !strings.Contains(errs[0], "wider than the phone viewport (390 px)") || !strings.Contains(errs[0], "span#label.hidden") {
		t.Errorf("AssertFits on /wide: errors %q, want one naming span#label.hidden", errs)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.innerWidth`))
	must(t, err)
	if width != int(Desktop.Width) {
		t.Errorf("innerWidth after AssertFits = %d, want %d", width, Desktop.Width)
	}
}

// Ensure axe finds the deliberate violation and nothing on the good page,
// and AssertAccessible fails on the first only.
func TestAxe(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	ctx := NewTab(t)

	must(t, Navigate(ctx, srv.URL))
	if vs := Axe(t, ctx); len(vs) != 0 {
		t.Errorf("violations on the good page: %v", vs)
	}
	if errs := record(t, func(tb testing.TB) { AssertAccessible(tb, ctx) }); len(errs) != 0 {
		t.Errorf("AssertAccessible on the good page failed: %q", errs)
	}

	must(t, Navigate(ctx, srv.URL+"/bad"))
	vs := Axe(t, ctx)
	var found bool
	for _, v := range vs {
		if v.ID == "color-contrast" {
			found = true
			if !v.Serious() || v.Impact != "serious" {
				t.Errorf("color-contrast impact = %q, want serious", v.Impact)
			}
			if len(v.Nodes) != 1 || !strings.Contains(v.Nodes[0].HTML, "Hard to read.") || len(v.Nodes[0].Target) == 0 {
				t.Errorf("color-contrast nodes = %+v, want the grey paragraph", v.Nodes)
			}
		}
	}
	if !found {
		t.Errorf("violations on the bad page = %v, want color-contrast", vs)
	}
	errs := record(t, func(tb testing.TB) { AssertAccessible(tb, ctx) })
	if len(errs) != 1 || !strings.Contains(errs[0], "color-contrast (serious)") || !strings.Contains(errs[0], "Hard to read.") {
		t.Errorf("AssertAccessible on the bad page: errors %q, want one listing color-contrast and its node", errs)
	}
}

// Ensure a failed test's page, console log (with the exception) and
// screenshot are written.
func TestFailureDump(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	ctx := NewTab(t)
	must(t, Navigate(ctx, srv.URL+"/broken"))
	tb := tabOf(ctx)
	must(t, tb.waitConsole(ctx, "boom from the page"))
	dir := t.TempDir()
	must(t, tb.dump(dir))

	page, err := os.ReadFile(filepath.Join(dir, "tab.html"))
	must(t, err)
	if !strings.Contains(string(page), "<h1>Broken</h1>") || !strings.Contains(string(page), srv.URL+"/broken") {
		t.Errorf("tab.html = %s, want the page and its URL", page)
	}
	log, err := os.ReadFile(filepath.Join(dir, "tab-console.log"))
	must(t, err)
	for _, want := range []string{"warning: about to fail", "exception: Uncaught Error: boom from the page", "at explode ("} {
		if !strings.Contains(string(log), want) {
			t.Errorf("tab-console.log lacks %q:\n%s", want, log)
		}
	}
	f, err := os.Open(filepath.Join(dir, "tab.png"))
	must(t, err)
	defer f.Close()
	if _, err := png.DecodeConfig(f); err != nil {
		t.Errorf("tab.png: %v", err)
	}
}

// Ensure a missing Chromium fails the test, saying how to install it, or
// skips it with -short.
func TestMissingChromium(t *testing.T) {
	t.Setenv(EnvChromium, "/nonexistent/chromium")
	r := &recorder{TB: t}
	var wg sync.WaitGroup
	wg.Go(func() { Start(r) })
	wg.Wait()
	skipped, fatal := r.skips, r.fatals
	if testing.Short() {
		if len(skipped) != 1 || !strings.Contains(skipped[0], "make deps") {
			t.Errorf("with -short: skips %q, want one saying make deps", skipped)
		}
		return
	}
	if len(fatal) != 1 || !strings.Contains(fatal[0], "make deps") || !strings.Contains(fatal[0], "/nonexistent/chromium") {
		t.Errorf("fatal %q, want one naming the path and make deps", fatal)
	}
}

// recorder is a testing.TB that records Errorf, Fatalf and Skipf instead
// of failing; Fatalf and Skipf end its goroutine, as they do a test's.
type recorder struct {
	testing.TB
	mu                  sync.Mutex
	errs, fatals, skips []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skips = append(r.skips, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}

// record runs fn with a recorder in a goroutine of its own and returns
// the errors and fatal errors it reported.
func record(t *testing.T, fn func(testing.TB)) []string {
	t.Helper()
	r := &recorder{TB: t}
	var wg sync.WaitGroup
	wg.Go(func() { fn(r) })
	wg.Wait()
	return append(r.errs, r.fatals...)
}
