// Package browsertest drives a real headless Chromium from tests: one
// browser per test process, started by the first [Start] and stopped by
// [Main], and a fresh tab per test ([NewTab]), in a browser context of its
// own (its own cookies and storage), with a timeout. The test drives the
// tab with chromedp, or with the helpers here that wait without sleeping
// ([WaitText], [WaitAttr], [WaitSeq], [Click], [Fill], [Text]). It also
// takes screenshots at a desktop and a phone size ([Screenshot]), runs
// axe-core on the page ([Axe], [AssertAccessible]) and checks that it
// fits a phone's width ([AssertFits]).
//
// When a test fails, its tab's page (outer HTML), console log (console
// calls, uncaught exceptions, the browser's log) and a screenshot are
// written to the test's [ArtifactDir].
//
// The browser is Debian's chromium (/usr/bin/chromium, or the one that
// $SLIPWAY_CHROMIUM names), installed by `make deps`. Chromium missing is
// a failure, never a silent skip: only with -short is the test skipped,
// saying why.
//
// It imports testing: import it only from tests.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvChromium names the environment variable that points the tests at
// another Chromium (or Chrome) binary than /usr/bin/chromium.
const EnvChromium = "SLIPWAY_CHROMIUM"

// DefaultChromium is the browser the tests run: Debian's chromium package.
const DefaultChromium = "/usr/bin/chromium"

// DefaultTimeout bounds each tab's actions: the context [NewTab] returns
// ends this long after the tab was opened (or sooner, before the test
// binary's own -timeout), unless [WithTimeout] says otherwise.
const DefaultTimeout = time.Minute

const (
	// startTimeout bounds the start of the browser and of each tab.
	startTimeout = 30 * time.Second
	// stopTimeout bounds the browser's graceful close in [Main].
	stopTimeout = 10 * time.Second
	// dumpTimeout bounds the reads of a failed test's page.
	dumpTimeout = 10 * time.Second
	// deadlineMargin is left between a tab's timeout and the test binary's
	// deadline, so that a hung test still writes its failure dump.
	deadlineMargin = 15 * time.Second
)

var (
	mainCalled atomic.Bool

	shared struct {
		once sync.Once
		mu   sync.Mutex // guards b, for Wrap's Run
		b    *Browser
		err  error
	}
)

// Main runs the tests of a package that uses [Start] or [NewTab]; call it
// from TestMain. It closes the browser this process started, if any, and
// exits with the tests' code.
func Main(m *testing.M) {
	os.Exit(Wrap(m).Run())
}

// Wrap returns m whose Run also closes the browser this process started,
// for a TestMain that hands m on to another runner instead of calling
// [Main]; with pgtest: os.Exit(browsertest.Wrap(pgtest.Wrap(m)).Run()).
func Wrap(m interface{ Run() int }) interface{ Run() int } {
	mainCalled.Store(true)
	return wrapped{m}
}

type wrapped struct{ m interface{ Run() int } }

func (w wrapped) Run() int {
	code := w.m.Run()
	shared.mu.Lock()
	b := shared.b
	shared.mu.Unlock()
	if b != nil {
		if err := b.close(); err != nil {
			fmt.Fprintln(os.Stderr, "browsertest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Browser is the test process's headless Chromium.
type Browser struct {
	path string
	// ctx is the chromedp context that started the browser (its first
	// tab, which no test uses); tabs are made from it.
	ctx    context.Context
	cancel context.CancelFunc // ends ctx, killing the browser, and waits for it
	stop   context.CancelFunc // ends the allocator, waiting for its profile's removal
	kill   context.CancelFunc // ends everything at once
}

// Start returns the test process's browser, starting it on the first
// call. When Chromium is not installed it fails the test, saying to run
// `make deps`; with -short it skips it instead. It fails the test when
// the browser does not start.
func Start(tb testing.TB) *Browser {
	tb.Helper()
	if !mainCalled.Load() {
		tb.Fatal("browsertest: call browsertest.Main(m) from this package's TestMain, so that the browser it starts is closed")
	}
	path, err := chromiumPath()
	if err != nil {
		if testing.Short() {
			tb.Skipf("browsertest: skipped with -short: %v (run `make deps` to install it)", err)
		}
		tb.Fatalf(`
**********************************************************************
browsertest: this test needs Chromium:
  %v
Fix it with one of:
  - install it: make deps (apt-get install chromium)
  - point the tests at another binary: %s=/path/to/chrome
or run the unit tests alone with -short (make test/short).
**********************************************************************`, err, EnvChromium)
	}
	shared.once.Do(func() {
		b, err := start(path)
		shared.mu.Lock()
		shared.b, shared.err = b, err
		shared.mu.Unlock()
	})
	if shared.err != nil {
		tb.Fatalf("browsertest: %v", shared.err)
	}
	return shared.b
}

// chromiumPath returns the browser to run: $SLIPWAY_CHROMIUM, else
// /usr/bin/chromium, when it is an executable file.
func chromiumPath() (string, error) {
	path := DefaultChromium
	if p := os.Getenv(EnvChromium); p != "" {
		path = p
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("no browser at %s: %w", path, err)
	}
	return p, nil
}

// start starts the browser at path. Its profile is a temporary directory
// that chromedp makes and removes when the browser has stopped (killing
// the helper processes that outlive it first): the browser outlives every
// test, so a test's t.TempDir() cannot hold it. Each tab's own browser
// context keeps the tests' cookies and storage apart.
func start(path string) (*Browser, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], // headless, no-first-run, disable-background-networking, disable-sync, …
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("hide-scrollbars", true), // screenshots without a scrollbar's width
		chromedp.Flag("lang", "en-US"),
	)
	root, cancel := context.WithCancel(context.Background())
	allocCtx, stop := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	watchdog := time.AfterFunc(startTimeout, cancel)
	err := chromedp.Do(ctx) // the first run starts the browser, and binds it to ctx
	if !watchdog.Stop() && err == nil {
		err = context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		cancelCtx()
		stop()
		return nil, fmt.Errorf("starting %s (within %s): %w", path, startTimeout, err)
	}
	return &Browser{path: path, ctx: ctx, cancel: cancelCtx, stop: stop, kill: cancel}, nil
}

// close closes the browser gracefully, and at once after stopTimeout.
func (b *Browser) close() error {
	ctx, cancel := context.WithTimeout(b.ctx, stopTimeout)
	defer cancel()
	err := chromedp.Cancel(ctx)
	b.kill()
	b.cancel()
	b.stop()
	if err != nil {
		return fmt.Errorf("closing %s: %w", b.path, err)
	}
	return nil
}

// TabOption changes a tab that [Browser.NewTab] opens.
type TabOption func(*tabConfig)

type tabConfig struct {
	timeout time.Duration
}

// WithTimeout bounds the tab's context to d instead of [DefaultTimeout].
func WithTimeout(d time.Duration) TabOption {
	return func(c *tabConfig) { c.timeout = d }
}

// NewTab opens a tab in the test process's browser ([Start]) and returns
// its context; see [Browser.NewTab].
func NewTab(tb testing.TB, opts ...TabOption) context.Context {
	tb.Helper()
	return Start(tb).NewTab(tb, opts...)
}

// NewTab opens a tab for the test, in a browser context of its own (a
// profile of its own: cookies, storage, cache), at the [Desktop]
// viewport, and returns the context that drives it with chromedp. The
// context ends after the tab's timeout ([DefaultTimeout], [WithTimeout]);
// the tab is closed when the test ends, after its page, console log and
// a screenshot were written to [ArtifactDir] if the test failed. A test
// may open several tabs (two users, two windows of one user).
func (b *Browser) NewTab(tb testing.TB, opts ...TabOption) context.Context {
	tb.Helper()
	cfg := tabConfig{timeout: DefaultTimeout}
	for _, o := range opts {
		o(&cfg)
	}

	// The tab lives until the test's cleanup, not until its timeout: a
	// test that timed out still gets its page written.
	life, end := context.WithCancel(b.ctx)
	tabCtx, closeTab := chromedp.NewContext(life, chromedp.WithNewBrowserContext())
	watchdog := time.AfterFunc(startTimeout, end)
	err := chromedp.Do(tabCtx) // the first run opens the tab, and binds it to tabCtx
	if !watchdog.Stop() && err == nil {
		err = context.DeadlineExceeded
	}
	if err != nil {
		end()
		closeTab()
		tb.Fatalf("browsertest: opening a tab (within %s): %v", startTimeout, err)
	}

	t := &tab{name: tabName(tb), ctx: tabCtx, viewport: Desktop, added: make(chan struct{}, 1)}
	messages := chromedp.Console(tabCtx)
	t.wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			t.mu.Lock()
			t.console = append(t.console, m)
			t.mu.Unlock()
			select {
			case t.added <- struct{}{}:
			default:
			}
		}
	})
	tb.Cleanup(func() {
		closeTab()
		end()
		t.wg.Wait()
	})

	timeout := cfg.timeout
	if d, ok := deadline(tb); ok {
		timeout = min(timeout, max(time.Until(d)-deadlineMargin, time.Second))
	}
	ctx, cancel := context.WithTimeout(context.WithValue(tabCtx, tabKey{}, t), timeout)
	tb.Cleanup(cancel)
	tb.Cleanup(func() {
		if !tb.Failed() {
			t.removeStaleDump(tb)
			return
		}
		dir := ArtifactDir(tb)
		if err := t.dump(dir); err != nil {
			tb.Logf("browsertest: writing the failed test's page to %s: %v", dir, err)
			return
		}
		tb.Logf("browsertest: the failed test's page, console log and screenshot are in %s (%s*)", dir, t.name)
	})

	if err := SetViewport(ctx, Desktop); err != nil {
		tb.Fatalf("browsertest: %v", err)
	}
	return ctx
}

// deadline returns the test binary's deadline (-timeout), when tb has one.
func deadline(tb testing.TB) (time.Time, bool) {
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		return d.Deadline()
	}
	return time.Time{}, false
}

// tab is what the package keeps of an open tab, in its context.
type tab struct {
	name string          // the prefix of its files in ArtifactDir: "tab" or "tab2"
	ctx  context.Context // its chromedp context, without the test's timeout

	wg    sync.WaitGroup // the console reader
	added chan struct{}  // gets a value when a message is added (at most one waits)

	mu       sync.Mutex
	console  []chromedp.ConsoleMessage
	viewport Viewport // the one it emulates, which Screenshot restores
}

type tabKey struct{}

// tabOf returns the tab whose context ctx is, or nil.
func tabOf(ctx context.Context) *tab {
	t, _ := ctx.Value(tabKey{}).(*tab)
	return t
}

var (
	tabsMu sync.Mutex
	tabs   = map[testing.TB]int{} // tabs opened, by running test
)

// tabName returns "tab" for a test's first tab, "tab2" for its second, ….
func tabName(tb testing.TB) string {
	tabsMu.Lock()
	defer tabsMu.Unlock()
	tabs[tb]++
	n := tabs[tb]
	if n == 1 {
		tb.Cleanup(func() {
			tabsMu.Lock()
			defer tabsMu.Unlock()
			delete(tabs, tb)
		})
		return "tab"
	}
	return "tab" + strconv.Itoa(n)
}

// dump writes the tab's page (outer HTML), console log and a screenshot
// of its viewport into dir, as <name>.html, <name>-console.log and
// <name>.png.
func (t *tab) dump(dir string) error {
	ctx, cancel := context.WithTimeout(t.ctx, dumpTimeout)
	defer cancel()
	var errs []error
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		errs = append(errs, fmt.Errorf("reading the location: %w", err))
	}
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement ? document.documentElement.outerHTML : ""`))
	if err != nil {
		errs = append(errs, fmt.Errorf("reading the page: %w", err))
	} else {
		errs = append(errs, writeFile(dir, t.name+".html", []byte("<!-- "+location+" -->\n"+html)))
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		errs = append(errs, fmt.Errorf("taking a screenshot: %w", err))
	} else {
		errs = append(errs, writeFile(dir, t.name+".png", png))
	}
	errs = append(errs, writeFile(dir, t.name+"-console.log", []byte(t.consoleLog(location))))
	return errors.Join(errs...)
}

// removeStaleDump removes the failure dump an earlier run of the test
// left in its stable [ArtifactDir], so that what is there is this run's.
func (t *tab) removeStaleDump(tb testing.TB) {
	if artifactsFlag() {
		return // a fresh directory
	}
	dir, err := stablePath(tb.Name())
	if err != nil {
		return // ArtifactDir would fail the test: nothing was written
	}
	for _, name := range []string{t.name + ".html", t.name + ".png", t.name + "-console.log"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			tb.Logf("browsertest: removing an earlier run's failure dump: %v", err)
		}
	}
	_ = os.Remove(dir) // when nothing else is there
}

// consoleLog returns the tab's console messages, one a line (and the
// stack of an exception), after a line naming the page.
func (t *tab) consoleLog(location string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "# console of %s (%d messages)\n", location, len(t.console))
	for _, m := range t.console {
		fmt.Fprintf(&b, "%s %s: %s", m.Time.UTC().Format("15:04:05.000"), m.Type, m.Text)
		if m.URL != "" {
			fmt.Fprintf(&b, " (%s:%d:%d)", m.URL, m.Line+1, m.Column+1)
		}
		b.WriteByte('\n')
		if m.IsException() && m.Stack != nil {
			for _, f := range m.Stack.CallFrames {
				fmt.Fprintf(&b, "    at %s (%s:%d:%d)\n", f.FunctionName, f.URL, f.LineNumber+1, f.ColumnNumber+1)
			}
		}
	}
	return b.String()
}

// waitConsole waits until a console message of the tab contains text.
func (t *tab) waitConsole(ctx context.Context, text string) error {
	for {
		t.mu.Lock()
		for _, m := range t.console {
			if strings.Contains(m.Text, text) {
				t.mu.Unlock()
				return nil
			}
		}
		t.mu.Unlock()
		select {
		case <-t.added:
		case <-ctx.Done():
			return fmt.Errorf("wait for a console message containing %q: %w", text, ctx.Err())
		}
	}
}

// Console returns the console messages of the tab whose context ctx is,
// so far: console calls, uncaught exceptions and the browser's log.
func Console(ctx context.Context) []chromedp.ConsoleMessage {
	t := tabOf(ctx)
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), t.console...)
}
