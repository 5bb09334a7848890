// Package webtest drives the web UI of a real server (SQLite, River, the
// local builder and target, the HTTP API) in a real headless Chromium:
// live progress, answering questions, two people answering at once,
// what a tool session may not see, CSRF, accessibility (axe-core) and
// screenshots of every page at desktop and phone sizes. Tests only.
package webtest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/browsertest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

func TestMain(m *testing.M) { browsertest.Main(m) }

// tabTimeout bounds each tab: a deployment builds and runs for real.
const tabTimeout = 3 * time.Minute

// site is a started server with its admin client.
type site struct {
	srv     *server.Server
	harness *servertest.Server
	url     string
	data    string
	api     *apiclient.Client
	repo    *slipwaytest.Repo
	repoURL string
}

// slipwayBinary builds the slipway program once per test process: the
// server gives it to a step's processes as `slipway` (this test binary is
// not it).
var slipwayBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "slipway-webtest-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "slipway")
	out, err := exec.Command("go", "build", "-o", bin, "slipway.dev/slipway/cmd/slipway").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/slipway: %w: %s", err, out)
	}
	return bin, nil
})

// start starts a server in t.TempDir(), stopped when the test ends, and a
// git repository the tools build from.
func start(t *testing.T) *site {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests start a real server and Chromium; skipped with -short")
	}
	bin, err := slipwayBinary()
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.StartEmpty(t, func(cfg *server.Config) { cfg.SlipwayBinary = bin })
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "first: echo one\nsecond: echo two\n"})
	return &site{srv: srv.Server, harness: srv, url: srv.URL(), data: srv.DataDir, api: srv.Client, repo: repo, repoURL: repo.URL}
}

// holdFirst is the command of the one-off "first": it waits until the
// test releases it (a file in the tool's home), so that a page is open
// while the deployment runs.
const holdFirst = `while [ ! -e "$HOME/release" ]; do sleep 0.05; done; echo one`

// addTool stores tool's config: one-offs first (held) and second (after
// first), second behind a gate when gate is set.
func (s *site) addTool(t *testing.T, tool string, gate bool) {
	t.Helper()
	cfg := "config_version: v1beta1\ncomponents:\n" +
		"  first:\n    component_type: one-off\n    build: {repository: " + s.repoURL + ", ref: main}\n" +
		"    run: {command: '" + holdFirst + "', timeout: 120}\n" +
		"  second:\n    component_type: one-off\n    build: {reuse_from: first}\n    run: {command: echo two, timeout: 120}\n    wait_for: [first]\n"
	if gate {
		cfg += "    gate:\n      question: \"First is done. Run **second**?\\n\\nIt prints `two`.\"\n"
	}
	if _, err := s.api.ConfigCreateFile(t.Context(), tool, []byte(cfg)); err != nil {
		t.Fatalf("config of %s: %v", tool, err)
	}
}

// release lets tool's held one-off finish.
// The held process's home is made when it starts, which may come just
// after its step shows running: wait for it (bounded), then write.
func (s *site) release(t *testing.T, tool string) {
	t.Helper()
	home := filepath.Join(s.data, "tools", tool, "home")
	for deadline := time.Now().Add(time.Minute); ; {
		if _, err := os.Stat(home); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the process makes it; no event tells
	}
	if err := os.WriteFile(filepath.Join(home, "release"), nil, 0o644); err != nil {
		t.Fatalf("release %s: %v", tool, err)
	}
}

// deploy starts a deployment of tool through the API, as the CLI does.
func (s *site) deploy(t *testing.T, tool string) slipway.Deployment {
	t.Helper()
	env, err := s.api.DeploymentCreate(t.Context(), tool, false, false, "from the browser test")
	if err != nil {
		t.Fatalf("deploy %s: %v", tool, err)
	}
	d, err := env.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// signin opens a tab (a browser context of its own: its own cookies) and
// signs in with token.
func (s *site) signin(t *testing.T, token string) context.Context {
	t.Helper()
	ctx := browsertest.NewTab(t, browsertest.WithTimeout(tabTimeout))
	must(t, browsertest.Navigate(ctx, s.url+"/ui/signin"))
	must(t, browsertest.Fill(ctx, "#token", token))
	must(t, browsertest.Click(ctx, `form[action="/ui/signin"] button[type="submit"]`))
	must(t, browsertest.WaitAttr(ctx, "#questions-link", "href", "/ui/questions"))
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// eval returns the value of a JavaScript expression in the tab's page
// (a promise's value once it settles).
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// check runs axe-core on the tab's page at desktop and at phone size
// (the layout differs: what is shown, stacked, sticky), checks that it
// fits a phone's width, and takes its screenshots at both sizes. The tab
// is left at desktop size, where the tests drive it.
func check(t *testing.T, ctx context.Context, name string) []string {
	t.Helper()
	for _, v := range browsertest.Viewports {
		must(t, browsertest.SetViewport(ctx, v))
		browsertest.AssertAccessible(t, ctx)
	}
	must(t, browsertest.SetViewport(ctx, browsertest.Desktop))
	browsertest.AssertFits(t, ctx, browsertest.Phone)
	return browsertest.Screenshot(t, ctx, name)
}

// allowNotifications grants the tab's browser context the permission to
// show notifications on the site, as a person who clicked "Notify me"
// and allowed it would.
func (s *site) allowNotifications(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted,
		Origin: s.url, BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
	})
	must(t, err)
}

// spyNotifications makes the tab's page record the body of each
// notification it shows in window.notified (and still show it).
const spyNotifications = `(() => {
	window.notified = [];
	const N = window.Notification;
	window.Notification = new Proxy(N, {construct(target, args) {
		window.notified.push(args[1] && args[1].body);
		return Reflect.construct(target, args);
	}});
	return true;
})()`

// step selects a step's row; node its node in the step graph.
func step(key string) string { return `tr[id="step-` + key + `"]` }
func node(key string) string { return `g[id="dag-` + strings.ReplaceAll(key, ":", "_3a_") + `"]` }

// Ensure a deployment page opened while the deployment runs follows it
// to the end without a reload: the rows and the step graph's nodes change
// state live (a class change in the SVG, in the real browser), the header
// says successful, the stream ends. Also checks the pages around it with
// axe and takes their screenshots.
func TestBrowser_DeploymentLive(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.addTool(t, "plain", false)
	ctx := s.signin(t, s.srv.AdminToken())
	check(t, ctx, "tools")

	d := s.deploy(t, "plain")
	page := s.url + "/ui/t/plain/d/" + d.ID
	must(t, browsertest.Navigate(ctx, page))
	must(t, browsertest.WaitAttr(ctx, step("run:first"), "data-state", "running"))
	if live := eval[bool](t, ctx, `document.querySelector("main").hasAttribute("data-live")`); !live {
		t.Fatal("the page of a running deployment has no live stream")
	}
	must(t, browsertest.WaitAttr(ctx, node("run:first"), "class", "node state-running"))
	check(t, ctx, "deployment-running")
	seq := eval[int](t, ctx, `Number(document.querySelector("main").dataset.seq)`)

	s.release(t, "plain")
	must(t, browsertest.WaitAttr(ctx, "main", "data-done", "true"))
	must(t, browsertest.WaitText(ctx, "#deployment-header", "successful"))
	for _, key := range []string{"run:first", "run:second"} {
		must(t, browsertest.WaitAttr(ctx, step(key), "data-state", "done"))
		must(t, browsertest.WaitAttr(ctx, node(key), "class", "node state-done"))
	}
	if title := eval[string](t, ctx, `document.querySelector('g[id="dag-run_3a_second"] title').textContent`); !strings.HasPrefix(title, "run:second — done") {
		t.Errorf("the node's title did not follow its step: %q", title)
	}
	if after := eval[int](t, ctx, `Number(document.querySelector("main").dataset.seq)`); after <= seq {
		t.Errorf("data-seq went from %d to %d: no events applied", seq, after)
	}
	if nav := eval[int](t, ctx, `performance.getEntriesByType("navigation").length`); nav != 1 {
		t.Errorf("the page navigated %d times", nav)
	}
	check(t, ctx, "deployment-done")

	for _, p := range []struct{ name, path string }{
		{"tool", "/ui/t/plain/"},
		{"deployments", "/ui/t/plain/d/"},
		{"config", "/ui/t/plain/config"},
		{"plan", "/ui/t/plain/plan"},
		{"inbox-empty", "/ui/questions"},
		{"error-404", "/ui/t/plain/d/20250601-000000-nosuchdepl"},
	} {
		must(t, browsertest.Navigate(ctx, s.url+p.path))
		check(t, ctx, p.name)
	}
	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/plain/"))
	build := eval[string](t, ctx, `document.querySelector('a[href*="/b/"]').getAttribute("href")`)
	must(t, browsertest.Navigate(ctx, s.url+build))
	check(t, ctx, "build-log")

	must(t, browsertest.Click(ctx, `form[action="/ui/signout"] button`))
	must(t, browsertest.WaitText(ctx, "h1", "Sign in"))
	check(t, ctx, "signin")
}

// answerInPage answers the first open question card of the tab's page
// (at the top of a deployment's page, or on a question page) with the
// option value and comment, and waits for the result message. The test
// of a job's `slipway ask` answered in the page (the job prints the
// value; it needs the process environment's ask token) uses it too.
func answerInPage(t *testing.T, ctx context.Context, value, comment string) string {
	t.Helper()
	form := `section[data-question]:not(.settled) form.answer`
	if comment != "" {
		must(t, browsertest.Fill(ctx, form+` textarea[name="comment"]`, comment))
	}
	must(t, browsertest.Click(ctx, form+` button[name="value"][value="`+value+`"]`))
	must(t, browsertest.WaitAttr(ctx, "#flash", "tabindex", "-1"))
	text, err := browsertest.Text(ctx, "#flash")
	must(t, err)
	return text
}

// Ensure a question that a job asks with `slipway ask` appears live on
// its deployment's page, is answered there by clicking, and the job gets
// the value (its log says so) and the deployment succeeds.
func TestBrowser_AskAnsweredInPage(t *testing.T) {
	t.Parallel()
	s := start(t)
	cfg := "config_version: v1beta1\ncomponents:\n" +
		"  sync:\n    component_type: one-off\n    build: {repository: " + s.repoURL + ", ref: main}\n" +
		"    run: {command: 'answer=$(slipway ask \"Continue with sync?\" --option yes --option no) && echo \"the answer was $answer\"', timeout: 300}\n"
	if _, err := s.api.ConfigCreateFile(t.Context(), "asker", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	ctx := s.signin(t, s.srv.AdminToken())
	d := s.deploy(t, "asker")
	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/asker/d/"+d.ID))
	must(t, browsertest.WaitText(ctx, "#questions-top", "Continue with sync?"))
	check(t, ctx, "deployment-ask")
	msg := answerInPage(t, ctx, "yes", "go")
	if !strings.Contains(msg, "“yes”") {
		t.Errorf("result message: %q", msg)
	}
	must(t, browsertest.WaitText(ctx, "#deployment-header", "successful"))
	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/asker/j/sync/logs"))
	must(t, browsertest.WaitText(ctx, "main", "the answer was yes"))
	check(t, ctx, "job-log")
}

// Ensure a gate appears live on the open deployment page, in the inbox
// and on the question page, and an open inbox whose person allowed
// notifications shows one for it; that answering it by clicking records it,
// shows the result with the focus on it, and the deployment continues to
// successful; that a second person (another browser context) answering
// the same question gets the conflict message; that a tool session is
// refused another tool's deployment and question (403 pages) and a POST
// without the CSRF token (403).
func TestBrowser_GateAnswered(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.addTool(t, "gated", true)
	s.addTool(t, "other", false)
	alice := s.signin(t, s.srv.AdminToken())
	bob := s.signin(t, s.srv.AdminToken())

	s.allowNotifications(t, bob)
	must(t, browsertest.Navigate(bob, s.url+"/ui/questions"))
	must(t, browsertest.WaitText(bob, "#notify-state", "Notifications are on for new questions"))
	if !eval[bool](t, bob, spyNotifications) {
		t.Fatal("no notification spy")
	}

	d := s.deploy(t, "gated")
	page := s.url + "/ui/t/gated/d/" + d.ID
	must(t, browsertest.Navigate(alice, page))
	must(t, browsertest.WaitAttr(alice, step("run:first"), "data-state", "running"))
	if n := eval[int](t, alice, `document.querySelectorAll("section[data-question]").length`); n != 0 {
		t.Fatalf("a question card before the gate opened: %d", n)
	}
	s.release(t, "gated")
	must(t, browsertest.WaitText(alice, "#questions-top", "First is done. Run second?"))
	must(t, browsertest.WaitText(alice, "#questions-bottom", "First is done. Run second?"))
	must(t, browsertest.WaitText(alice, "#announcer", "Question waiting: First is done. Run second?"))
	must(t, browsertest.WaitAttr(alice, step("gate:second"), "data-state", "waiting"))
	if strong := eval[string](t, alice, `document.querySelector("#questions-top .prompt strong").textContent`); strong != "second" {
		t.Errorf("the prompt's **bold** is %q", strong)
	}
	check(t, alice, "deployment-question")
	id := eval[string](t, alice, `document.querySelector("#questions-top section[data-question]").dataset.question`)

	must(t, browsertest.WaitText(bob, "#inbox-list", "First is done. Run second?"))
	must(t, browsertest.WaitText(bob, "#questions-link", "1 waiting"))
	if got := eval[[]string](t, bob, `window.notified`); len(got) != 1 || !strings.Contains(got[0], "First is done. Run second?") {
		t.Errorf("notifications shown: %q, want one with the question", got)
	}
	check(t, bob, "inbox")
	must(t, browsertest.Navigate(bob, s.url+"/ui/t/gated/q/"+id))
	check(t, bob, "question")

	msg := answerInPage(t, alice, "continue", "looks good")
	if !strings.Contains(msg, "Your answer “continue” to question "+id+" was recorded") {
		t.Errorf("result message: %q", msg)
	}
	if err := browsertest.WaitFocus(alice, "#flash"); err != nil {
		t.Errorf("the result message does not get the focus: %v", err)
	}
	must(t, browsertest.WaitText(alice, "#deployment-header", "successful"))
	must(t, browsertest.WaitAttr(alice, step("run:second"), "data-state", "done"))
	must(t, browsertest.WaitText(alice, "#questions-settled", "answered “continue” by admin"))

	msg = answerInPage(t, bob, "stop", "")
	if !strings.Contains(msg, "Already answered “continue” by admin at ") {
		t.Errorf("second answer's message: %q", msg)
	}
	check(t, bob, "question-conflict")

	// A tool session of another tool.
	env, err := s.api.APITokenCreate(t.Context(), "other", "browser test")
	must(t, err)
	_, token, err := env.APITokenCreated()
	must(t, err)
	other := s.signin(t, token)
	for _, path := range []string{"/ui/t/gated/d/" + d.ID, "/ui/t/gated/q/" + id, "/ui/t/gated/q/q-0000000000000000"} {
		must(t, browsertest.Navigate(other, s.url+path))
		must(t, browsertest.WaitText(other, "h1", "403 Forbidden"))
	}
	check(t, other, "error-403")
	status := eval[int](t, other, `fetch("/ui/t/other/q/`+id+`/answer", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "value=continue"}).then(r => r.status)`)
	if status != 403 {
		t.Errorf("a POST without the CSRF token: status %d, want 403", status)
	}
}

// Ensure the pages work with JavaScript off, for reading and answering:
// a tab that loads no script (the pages' one script is static/app.js,
// and their Content-Security-Policy allows no inline one; blocked here,
// as Chromium's switch for scripts stops the test's own waits too) signs
// in, reads the gate's question on the
// deployment's page (opened after the question was asked, as there is no
// live update), answers it with the plain form, gets the result message,
// and reads the deployment successful. Another tab, with scripts, follows
// the deployment live to know when the question is there and when it
// ends.
func TestBrowser_NoScript(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.addTool(t, "quiet", true)
	watcher := s.signin(t, s.srv.AdminToken())
	ctx := browsertest.NewTab(t, browsertest.WithTimeout(tabTimeout))
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/*.js", Block: true}},
	}); err != nil {
		t.Fatal(err)
	}
	must(t, browsertest.Navigate(ctx, s.url+"/ui/signin"))
	must(t, browsertest.Fill(ctx, "#token", s.srv.AdminToken()))
	must(t, browsertest.Click(ctx, `form[action="/ui/signin"] button[type="submit"]`))
	must(t, browsertest.WaitAttr(ctx, "#questions-link", "href", "/ui/questions"))

	d := s.deploy(t, "quiet")
	page := s.url + "/ui/t/quiet/d/" + d.ID
	must(t, browsertest.Navigate(watcher, page))
	s.release(t, "quiet")
	must(t, browsertest.WaitText(watcher, "#questions-top", "First is done. Run second?"))

	must(t, browsertest.Navigate(ctx, page))
	must(t, browsertest.WaitText(ctx, "#questions-top", "First is done. Run second?"))
	must(t, browsertest.WaitAttr(ctx, step("gate:second"), "data-state", "waiting"))
	check(t, ctx, "noscript-question")
	msg := answerInPage(t, ctx, "continue", "without scripts")
	if !strings.Contains(msg, "Your answer “continue” to question ") {
		t.Errorf("result message: %q", msg)
	}
	if focused := eval[string](t, ctx, `document.activeElement.id`); focused == "flash" {
		t.Error("the result message has the focus: app.js ran")
	}
	if path := eval[string](t, ctx, `location.pathname`); path != "/ui/t/quiet/d/"+d.ID {
		t.Errorf("after the answer the tab shows %s, want the deployment's page", path)
	}

	must(t, browsertest.WaitText(watcher, "#deployment-header", "successful"))
	must(t, browsertest.Navigate(ctx, page))
	must(t, browsertest.WaitText(ctx, "#deployment-header", "successful"))
	must(t, browsertest.WaitText(ctx, "#questions-settled", "answered “continue” by admin"))
	check(t, ctx, "noscript-done")
}

// Ensure the envvars, deploy token and API tokens pages work in a real
// browser: an envvar made through the form is stored with LF line breaks
// (browsers send CRLF) and shown masked, its value only on its page; a
// bad name comes back with the message next to the field; a deploy
// token and an API token made in the page are shown once and work; a
// tool session gets the 403 page for the API tokens. axe-core passes and
// screenshots are taken on each page.
func TestBrowser_Settings(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.addTool(t, "keys", false)
	ctx := s.signin(t, s.srv.AdminToken())

	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/keys/envvars"))
	must(t, browsertest.WaitText(ctx, "h1", "Envvars of keys"))
	check(t, ctx, "envvars-empty")
	must(t, browsertest.Fill(ctx, "#envvar-name", "GREETING"))
	must(t, browsertest.Fill(ctx, "#envvar-value", "hello\nworld"))
	must(t, browsertest.Click(ctx, `form.envvar button[type="submit"]`))
	must(t, browsertest.WaitText(ctx, "#flash", "Envvar GREETING created"))
	if err := browsertest.WaitFocus(ctx, "#flash"); err != nil {
		t.Errorf("the result message does not get the focus: %v", err)
	}
	if strings.Contains(eval[string](t, ctx, `document.body.innerHTML`), "hello") {
		t.Error("the list shows the value")
	}
	check(t, ctx, "envvars")
	env, err := s.api.EnvVarGet(t.Context(), "keys", "GREETING")
	must(t, err)
	v, err := env.EnvVar()
	must(t, err)
	if v.Value != "hello\nworld" {
		t.Errorf("stored value %q, want hello, LF, world", v.Value)
	}

	must(t, browsertest.Click(ctx, `a[href="/ui/t/keys/envvars/GREETING"]`))
	must(t, browsertest.WaitText(ctx, "pre.value", "hello world"))
	check(t, ctx, "envvar")

	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/keys/envvars"))
	must(t, browsertest.Fill(ctx, "#envvar-name", "bad_name"))
	must(t, browsertest.Fill(ctx, "#envvar-value", "kept"))
	must(t, browsertest.Click(ctx, `form.envvar button[type="submit"]`))
	must(t, browsertest.WaitText(ctx, "#envvar-name-problem", `Invalid envvar name "bad_name"`))
	if got := eval[string](t, ctx, `document.getElementById("envvar-value").value`); got != "kept" {
		t.Errorf("the value typed became %q", got)
	}
	check(t, ctx, "envvars-invalid")

	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/keys/deploy-token"))
	must(t, browsertest.WaitText(ctx, "main", "Tool keys has no deploy token."))
	check(t, ctx, "deploy-token-none")
	must(t, browsertest.Click(ctx, `form[action="/ui/t/keys/deploy-token"] button`))
	must(t, browsertest.WaitText(ctx, "h1", "Deploy token of keys created"))
	token, err := browsertest.Text(ctx, "#secret")
	must(t, err)
	if !strings.Contains(eval[string](t, ctx, `location.pathname`), "/ui/t/keys/deploy-token") || strings.Contains(eval[string](t, ctx, `location.href`), token) {
		t.Errorf("the token page's address: %s", eval[string](t, ctx, `location.href`))
	}
	check(t, ctx, "deploy-token-created")
	env, err = s.api.DeployTokenGet(t.Context(), "keys")
	must(t, err)
	tok, err := env.DeployToken()
	must(t, err)
	if tok.Token != token {
		t.Errorf("the page showed %q, the tool's token is %q", token, tok.Token)
	}
	must(t, browsertest.Click(ctx, `a[href="/ui/t/keys/deploy-token"]:not([aria-current])`))
	// The created page says "Valid until" too: wait for it to be replaced.
	must(t, browsertest.WaitGone(ctx, "#secret"))
	must(t, browsertest.WaitText(ctx, "main", "Valid until"))
	if strings.Contains(eval[string](t, ctx, `document.documentElement.outerHTML`), token) {
		t.Error("the deploy token page shows the token again")
	}
	check(t, ctx, "deploy-token")

	must(t, browsertest.Navigate(ctx, s.url+"/ui/tokens"))
	check(t, ctx, "tokens")
	must(t, browsertest.Fill(ctx, "#token-tool", "keys"))
	must(t, browsertest.Fill(ctx, "#token-description", "from the browser"))
	must(t, browsertest.Click(ctx, `form[action="/ui/tokens"] button[type="submit"]`))
	must(t, browsertest.WaitText(ctx, "h1", "for tool keys created"))
	apiToken, err := browsertest.Text(ctx, "#secret")
	must(t, err)
	check(t, ctx, "token-created")

	tool := s.signin(t, apiToken)
	must(t, browsertest.Navigate(tool, s.url+"/ui/t/keys/envvars"))
	must(t, browsertest.WaitText(tool, "main", "GREETING"))
	must(t, browsertest.Navigate(tool, s.url+"/ui/tokens"))
	must(t, browsertest.WaitText(tool, "h1", "403 Forbidden"))
	check(t, tool, "error-403-admin")
}

// Ensure the releases page, reached from the tool's overview, answers on
// a real history deployed for real: a fix cherry-picked onto the
// deployed branch is cherry-picked (naming the pick) in is-live and when,
// and a short SHA is refused next to its field. axe-core passes on each
// state of the page.
func TestBrowser_Releases(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.repo.Git(t, "checkout", "-q", "-b", "fixes")
	fix := s.repo.Commit(t, map[string]string{"fix.txt": "fixed\n"}, "fix")
	s.repo.Git(t, "checkout", "-q", "main")
	s.repo.Git(t, "cherry-pick", "-x", fix)
	picked := s.repo.Head(t)
	cfg := "config_version: v1beta1\ncomponents:\n" +
		"  first:\n    component_type: one-off\n    build: {repository: " + s.repoURL + ", ref: main}\n    run: {command: echo one, timeout: 120}\n"
	if _, err := s.api.ConfigCreateFile(t.Context(), "rel", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	d := s.harness.DeployTool(t, "rel")

	ctx := s.signin(t, s.srv.AdminToken())
	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/rel/"))
	must(t, browsertest.Click(ctx, `a[href="/ui/t/rel/releases"]`))
	must(t, browsertest.WaitText(ctx, "h1", "Releases of rel"))
	must(t, browsertest.WaitText(ctx, "#history-title + .scroll", picked[:10]))
	check(t, ctx, "releases")

	must(t, browsertest.Fill(ctx, "#live-commit", fix))
	must(t, browsertest.Click(ctx, `form[aria-labelledby="live-title"] button[type="submit"]`))
	must(t, browsertest.WaitText(ctx, "#live-answer-title + .scroll", "cherry-picked"))
	live, err := browsertest.Text(ctx, "#live-answer-title + .scroll")
	must(t, err)
	for _, want := range []string{"production", "first", "as " + picked[:10], d.ID} {
		if !strings.Contains(live, want) {
			t.Errorf("the is-live answer lacks %q: %s", want, live)
		}
	}
	check(t, ctx, "releases-live")

	must(t, browsertest.Fill(ctx, "#when-commit", fix))
	must(t, browsertest.Click(ctx, `form[aria-labelledby="when-title"] button[type="submit"]`))
	must(t, browsertest.WaitText(ctx, "#when-answer-title + .scroll", "cherry-picked as "+picked[:10]))
	check(t, ctx, "releases-when")

	must(t, browsertest.Fill(ctx, "#live-commit", fix[:7]))
	must(t, browsertest.Click(ctx, `form[aria-labelledby="live-title"] button[type="submit"]`))
	must(t, browsertest.WaitText(ctx, "#live-commit-problem", "is not a full commit SHA"))
	if got := eval[string](t, ctx, `document.getElementById("live-commit").value`); got != fix[:7] {
		t.Errorf("the commit typed became %q", got)
	}
	check(t, ctx, "releases-invalid")
}

// Ensure the environments page shows what runs in staging and nothing in
// production, its promotion preview lists the build and the plan, and
// the promote button deploys the same build to production, which ends
// successful with no build made; axe finds nothing on either page.
func TestBrowser_Environments(t *testing.T) {
	t.Parallel()
	s := start(t)
	cfg := "config_version: v1beta1\ncomponents:\n" +
		"  first:\n    component_type: one-off\n    build: {repository: " + s.repoURL + ", ref: main}\n    run: {command: echo one, timeout: 120}\n" +
		"x-slipway:\n  environments:\n    staging: {}\n    production: {kind: production, upstream: staging}\n"
	if _, err := s.api.ConfigCreateFile(t.Context(), "envs", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	staged := s.harness.DeployTool(t, "envs")

	ctx := s.signin(t, s.srv.AdminToken())
	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/envs/"))
	must(t, browsertest.Click(ctx, `a[href="/ui/t/envs/environments"]`))
	must(t, browsertest.WaitText(ctx, "h1", "Environments of envs"))
	must(t, browsertest.WaitText(ctx, "#env-staging + p", staged.ID))
	check(t, ctx, "environments")

	must(t, browsertest.Click(ctx, `a[href="/ui/t/envs/environments/production/promote"]`))
	must(t, browsertest.WaitText(ctx, "h1", "Promote staging to production"))
	must(t, browsertest.WaitText(ctx, "#plan-title + .scroll", "promotion from staging"))
	check(t, ctx, "promote")

	must(t, browsertest.Click(ctx, `form[action="/ui/t/envs/environments/production/promote"] button[type="submit"]`))
	must(t, browsertest.WaitText(ctx, "#deployment-header", "successful"))
	builds, err := s.api.BuildList(t.Context(), "envs")
	must(t, err)
	if bs, err := builds.Builds(); err != nil || len(bs) != 1 {
		t.Errorf("builds after the promotion = %d, %v; want staging's one", len(bs), err)
	}

	// Release notes of staging, through the form: the first component
	// release is an addition.
	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/envs/releases/notes"))
	must(t, browsertest.WaitText(ctx, "h1", "Release notes of envs"))
	must(t, browsertest.Fill(ctx, "#notes-env", "staging"))
	must(t, browsertest.Click(ctx, `form[action="/ui/t/envs/releases/notes"] button[type="submit"]`))
	must(t, browsertest.WaitText(ctx, "#notes-title", "Changes in staging"))
	must(t, browsertest.WaitText(ctx, "main", "first: added"))
	check(t, ctx, "notes")
}
