package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/deploy"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store/sqlite"
)

// Build IDs of the builds bundle's tool "mytool".
const (
	builtID   = "0a1b2c3d4e5f6071"
	runningID = "1b2c3d4e5f607182"
	failedID  = "2c3d4e5f60718293"
	goneID    = "3d4e5f6071829304" // finished, its log removed
)

// appRepo is the repository the bundle's resolver knows, and appCommit
// what its main and HEAD resolve to.
const (
	appRepo   = "https://example.org/app.git"
	appCommit = "9b0d44e1c0ffee9b0d44e1c0ffee9b0d44e1c0ff"
)

// proxyAddr is the address of the bundle's trusted proxy (Toolforge's API
// gateway): from there, the x-toolforge-tool header names the tool.
const proxyAddr = "192.0.2.10:44321"

// buildsBundle is a handler whose builds API is the real engine over a
// SQLite store seeded with build records and their logs, a resolver of
// appRepo and a local builder whose checkouts do what the test says.
type buildsBundle struct {
	handler http.Handler
	svc     *deploy.Builds
	logDir  string
}

// setupBuilds returns a bundle whose checkouts fail at once, so that a
// started build ends soon, failed.
func setupBuilds(t *testing.T) *buildsBundle {
	t.Helper()
	return setupBuildsWith(t, noCheckout{})
}

func setupBuildsWith(t *testing.T, checkout localbuild.Checkouter) *buildsBundle {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	rec := func(id string, status slipway.BuildStatus, minute int, errText string) slipway.Build {
		at := baseTime.Add(time.Duration(minute) * time.Minute)
		return slipway.Build{
			ID: id, Tool: "mytool", Component: "web", Key: id, Repository: appRepo,
			Ref: "main", Commit: "9b0d44e1c0ffee", Status: status, Error: errText,
			CreatedAt: at, UpdatedAt: at.Add(12 * time.Second),
		}
	}
	// The local builder keeps an attempt's log at builds/<tool>/<id>.log
	// (see its package doc).
	builderDir := filepath.Join(dir, "builder")
	logDir := filepath.Join(builderDir, "builds", "mytool")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, b := range []slipway.Build{
		rec(builtID, slipway.BuildSuccessful, 1, ""),
		rec(failedID, slipway.BuildFailed, 2, "build: exit status 1\nnpm ERR! missing script: build"),
		rec(runningID, slipway.BuildRunning, 3, ""),
		rec(goneID, slipway.BuildSuccessful, 0, ""),
	} {
		if err := db.BuildCreate(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		if b.ID != goneID {
			if err := os.WriteFile(filepath.Join(logDir, b.ID+".log"), []byte("==> checkout 9b0d44e\n==> build of "+b.ID+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	builder, err := localbuild.New(localbuild.Config{Dir: builderDir}, checkout)
	if err != nil {
		t.Fatal(err)
	}
	resolver := fakeResolver{appRepo: {"main": appCommit, "HEAD": appCommit, "v2": strings.Repeat("e", 40)}}
	svc := deploy.NewBuilds(deploy.NewEngine(db, resolver, builder, nil, deploy.Config{
		NowFunc: func() time.Time { return baseTime.Add(time.Hour) }, BuildSlots: 2, ToolBuildSlots: 2,
	}))
	t.Cleanup(func() { _ = svc.Stop(context.WithoutCancel(t.Context())) }) // before the store closes
	h := NewHandler(newFakeService(), Config{
		AdminToken: testToken, Builds: svc, ToolRate: -1, PollRate: -1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix(proxyAddr[:strings.IndexByte(proxyAddr, ':')] + "/32")},
	})
	return &buildsBundle{handler: h, svc: svc, logDir: logDir}
}

func (b *buildsBundle) do(t *testing.T, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	return b.send(t, method, path, "")
}

// send makes a request with the admin token and, when body is not empty,
// a JSON body.
func (b *buildsBundle) send(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	r := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	b.handler.ServeHTTP(w, r)
	return w
}

// waitFinal waits until the tool's build id is final and returns it.
func (b *buildsBundle) waitFinal(t *testing.T, tool, id string) slipway.Build {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := b.svc.BuildGet(context.WithoutCancel(t.Context()), tool, id)
		if err != nil {
			t.Fatalf("build %s: %v", id, err)
		}
		if got.Status != slipway.BuildPending && got.Status != slipway.BuildRunning {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %s is still %s", id, got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeResolver resolves the refs of its repositories (repository → ref →
// commit); any other is not found, as git says it.
type fakeResolver map[string]map[string]string

func (f fakeResolver) Contains(_ context.Context, _, commit, tip string) (bool, error) {
	return commit == tip, nil
}

// Between knows no history: the fake has none.
func (f fakeResolver) Between(context.Context, string, string, string, int) (added, removed []slipway.CommitInfo, truncated bool, err error) {
	return nil, nil, false, errors.New("fakeResolver: no commit history")
}

// FirstParentLog has no history to read: every commit is missing.
func (f fakeResolver) FirstParentLog(_ context.Context, _, from, to string, _ int) (slipway.CommitLog, error) {
	return slipway.CommitLog{Missing: []string{from, to}}, nil
}

// CherryPick finds none: the fake knows no patches.
func (f fakeResolver) CherryPick(context.Context, string, string, string) (slipway.CherryPick, error) {
	return slipway.CherryPick{}, nil
}

// MayHaveCherryPick says none, as CherryPick finds none.
func (f fakeResolver) MayHaveCherryPick(context.Context, string, string, []string) (bool, error) {
	return false, nil
}

func (f fakeResolver) ResolveAll(_ context.Context, repository string, refs []string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, ref := range refs {
		if c, ok := f[repository][ref]; ok {
			out[ref] = c
			continue
		}
		errs = append(errs, fmt.Errorf("resolve %q in %s: ref not found", ref, repository))
	}
	return out, errors.Join(errs...)
}

// noCheckout is a source that builds nothing: its builds fail at once.
type noCheckout struct{}

func (noCheckout) Checkout(context.Context, string, string, string) error {
	return errors.New("no source in this test")
}

// blockingCheckout is a source whose checkouts last until they are
// cancelled: a build that runs until BuildCancel.
type blockingCheckout struct{ started chan struct{} }

func (c blockingCheckout) Checkout(ctx context.Context, _, _, _ string) error {
	select {
	case c.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return fmt.Errorf("checkout: %w", ctx.Err())
}

// startBody is what `toolforge build start https://example.org/app.git
// --ref main -i web` sends (Python's json.dumps spacing).
const startBody = `{"source_url": "https://example.org/app.git", "ref": "main", "image_name": "web"}`

// TestHandler_Builds checks every builds route, its success shape (after
// Toolforge's builds-api: no data key) and its bad input: always a JSON
// error with the messages both in messages.error and in error, a clear
// message, never a 500; the log as JSON lines in text/plain.
func TestHandler_Builds(t *testing.T) {
	t.Parallel()
	const base = "/builds/v1/tool/mytool/builds"
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
	}{
		{"BuildList", "GET", base, "", 200},
		{"BuildListEmpty", "GET", "/builds/v1/tool/other/builds", "", 200},
		{"BuildListBadTool", "GET", "/builds/v1/tool/Bad_Tool/builds", "", 422},
		{"BuildLatest", "GET", base + "/latest", "", 200},
		{"BuildLatestNone", "GET", "/builds/v1/tool/other/builds/latest", "", 404},
		{"BuildQuota", "GET", "/builds/v1/tool/mytool/quotas", "", 200},
		{"BuildGet", "GET", base + "/" + builtID, "", 200},
		{"BuildGetFailed", "GET", base + "/" + failedID, "", 200},
		{"BuildGetRunning", "GET", base + "/" + runningID, "", 200},
		{"BuildGetNotFound", "GET", base + "/ffffffffffffffff", "", 404},
		{"BuildGetOtherTool", "GET", "/builds/v1/tool/other/builds/" + builtID, "", 404},
		{"BuildGetBadID", "GET", base + "/bad%20id", "", 422},
		{"BuildGetDotDot", "GET", base + "/a..b", "", 422},
		{"BuildLogsNotFound", "GET", base + "/ffffffffffffffff/logs", "", 404},
		{"BuildLogsBadID", "GET", base + "/bad%20id/logs", "", 422},
		{"BuildLogsBadFollow", "GET", base + "/" + builtID + "/logs?follow=maybe", "", 422},
		{"BuildLogsRemoved", "GET", base + "/" + goneID + "/logs", "", 404},
		{"BuildCancelFinal", "PUT", base + "/" + builtID + "/cancel", "", 409},
		{"BuildCancelNotFound", "PUT", base + "/ffffffffffffffff/cancel", "", 404},
		{"BuildCancelBadID", "PUT", base + "/bad%20id/cancel", "", 422},
		{"BuildCancel", "PUT", base + "/" + runningID + "/cancel", "", 200},
		{"BuildDeleteRunning", "DELETE", base + "/" + runningID, "", 409},
		{"BuildDeleteNotFound", "DELETE", base + "/ffffffffffffffff", "", 404},
		{"BuildDeleteBadID", "DELETE", base + "/bad%20id", "", 422},
		{"BuildDelete", "DELETE", base + "/" + failedID, "", 200},
		{"BuildNoSuchRoute", "POST", base + "/" + builtID, "", 405},
		{"BuildStart", "POST", base, startBody, 200},
		{"BuildStartDefaults", "POST", base, `{"source_url": "https://example.org/app.git"}`, 200},
		{"BuildStartEmpty", "POST", base, "", 422},
		{"BuildStartBadJSON", "POST", base, `{"source_url": `, 400},
		{"BuildStartWrongType", "POST", base, `{"source_url": ["https://example.org/app.git"]}`, 422},
		{"BuildStartUnknownField", "POST", base, `{"source_url": "https://example.org/app.git", "branch": "main"}`, 422},
		{"BuildStartNoSourceURL", "POST", base, `{"ref": "main"}`, 422},
		{"BuildStartBadSourceURL", "POST", base, `{"source_url": "git@example.org:app.git"}`, 422},
		{"BuildStartCredentials", "POST", base, `{"source_url": "https://bob:hunter2@example.org/app.git"}`, 422},
		{"BuildStartLocalRepo", "POST", base, `{"source_url": "file:///srv/app"}`, 422},
		{"BuildStartBadRef", "POST", base, `{"source_url": "https://example.org/app.git", "ref": "-x"}`, 422},
		{"BuildStartUnknownRef", "POST", base, `{"source_url": "https://example.org/app.git", "ref": "nope"}`, 422},
		{"BuildStartBadImageName", "POST", base, `{"source_url": "https://example.org/app.git", "image_name": "Web App"}`, 422},
		{"BuildStartEnvvars", "POST", base, `{"source_url": "https://example.org/app.git", "envvars": {"NODE_ENV": "production"}}`, 422},
		{"BuildStartBadTool", "POST", "/builds/v1/tool/Bad_Tool/builds", startBody, 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupBuilds(t)
			w := b.send(t, tt.method, tt.path, tt.body)
			if w.Code != tt.wantStatus {
				t.Errorf("%s %s: status %d, want %d; body %s", tt.method, tt.path, w.Code, tt.wantStatus, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var env struct {
				Data     json.RawMessage `json:"data"`
				Messages struct {
					Error []string `json:"error"`
				} `json:"messages"`
				Error []string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if env.Data != nil {
				t.Errorf("a data key: builds-api's answers have none")
			}
			if w.Code >= 400 && (len(env.Error) == 0 || strings.Join(env.Error, "\n") != strings.Join(env.Messages.Error, "\n")) {
				t.Errorf("error %v, messages.error %v: want the same, not empty", env.Error, env.Messages.Error)
			}
			if w.Code < 400 && env.Error != nil {
				t.Errorf("an error key in a success: %s", w.Body)
			}
			golden(t, tt.name, fmt.Appendf(nil, "HTTP %d\n%s", w.Code, attemptRE.ReplaceAll(w.Body.Bytes(), []byte("$1-<attempt>"))))
			if tt.method == "POST" && w.Code == 200 {
				var got struct {
					NewBuild struct{ Name string } `json:"new_build"`
				}
				_ = json.Unmarshal(w.Body.Bytes(), &got)
				b.waitFinal(t, "mytool", got.NewBuild.Name)
			}
		})
	}
}

// Ensure a refused delete or cancel changes nothing, and a delete removes
// the record and its log.
func TestHandler_BuildsWrites(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	const base = "/builds/v1/tool/mytool/builds/"
	if w := b.do(t, "DELETE", base+runningID); w.Code != http.StatusConflict {
		t.Fatalf("delete of a running build: %d %s", w.Code, w.Body)
	}
	if w := b.do(t, "GET", base+runningID); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"status":"BUILD_RUNNING"`) {
		t.Errorf("after a refused delete: %d %s", w.Code, w.Body)
	}
	if w := b.do(t, "PUT", base+failedID+"/cancel"); w.Code != http.StatusConflict {
		t.Fatalf("cancel of a failed build: %d %s", w.Code, w.Body)
	}
	if w := b.do(t, "GET", base+failedID); !strings.Contains(w.Body.String(), `"status":"BUILD_FAILURE"`) {
		t.Errorf("after a refused cancel: %s", w.Body)
	}
	if w := b.do(t, "DELETE", base+builtID); w.Code != http.StatusOK {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if w := b.do(t, "GET", base+builtID); w.Code != http.StatusNotFound {
		t.Errorf("get after delete: %d %s", w.Code, w.Body)
	}
	// The builder removed the build's log.
	if _, err := os.Stat(filepath.Join(b.logDir, builtID+".log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log after delete: %v, want it gone", err)
	}
	// Bad start requests record nothing.
	before := b.do(t, "GET", "/builds/v1/tool/mytool/builds").Body.String()
	for _, body := range []string{`{"source_url": "https://example.org/app.git", "envvars": {"A_B": "c"}}`, `{"source_url": "https://example.org/app.git", "ref": "nope"}`, `{`} {
		if w := b.send(t, "POST", "/builds/v1/tool/mytool/builds", body); w.Code < 400 || w.Code >= 500 {
			t.Errorf("start %s: %d %s", body, w.Code, w.Body)
		}
	}
	if after := b.do(t, "GET", "/builds/v1/tool/mytool/builds").Body.String(); after != before {
		t.Errorf("bad starts changed the builds:\n%s\nwere\n%s", after, before)
	}
}

// logLine is one line of a build log answer.
type logLine struct {
	Line    *string  `json:"line"`
	Error   []string `json:"error"`
	Message *string  `json:"message"`
}

// readLogLine reads and decodes the next JSON line of a log answer.
func readLogLine(t *testing.T, r *bufio.Reader) logLine {
	t.Helper()
	raw, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read a log line: %q, %v", raw, err)
	}
	var l logLine
	if err := json.Unmarshal([]byte(raw), &l); err != nil || l.Line == nil {
		t.Fatalf("log line %q: %v, want {\"line\": …}", raw, err)
	}
	return l
}

// Ensure the logs route answers builds-api's JSON lines in text/plain: the
// whole log of a finished build, and, with follow, a running build's log
// as it grows, until the build ends.
func TestHandler_BuildLogs(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	const base = "/builds/v1/tool/mytool/builds/"
	w := b.do(t, "GET", base+builtID+"/logs")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("logs: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if got, want := w.Body.String(), `{"line":"==> checkout 9b0d44e"}`+"\n"+`{"line":"==> build of `+builtID+`"}`+"\n"; got != want {
		t.Errorf("logs = %q, want %q", got, want)
	}
	// The last lines, read from the end; a bad count is a 422 envelope.
	if w := b.do(t, "GET", base+builtID+"/logs?lines=1"); w.Code != http.StatusOK || w.Body.String() != `{"line":"==> build of `+builtID+`"}`+"\n" {
		t.Errorf("logs?lines=1: %d %q", w.Code, w.Body)
	}
	for _, q := range []string{"lines=-1", "lines=many"} {
		if w := b.do(t, "GET", base+builtID+"/logs?"+q); w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "Query parameter lines must be a number of lines") {
			t.Errorf("logs?%s: %d %s", q, w.Code, w.Body)
		}
	}

	srv := httptest.NewServer(b.handler)
	defer srv.Close()
	// Toolforge's builds CLI sends Python's capitalised booleans.
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+base+runningID+"/logs?follow=True", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("follow: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewReader(resp.Body)
	for _, want := range []string{"==> checkout 9b0d44e", "==> build of " + runningID} {
		if got := readLogLine(t, lines); *got.Line != want {
			t.Fatalf("followed line = %q, want %q", *got.Line, want)
		}
	}
	// A line appended while following arrives, a line in two writes once
	// whole; ending the build ends the response.
	f, err := os.OpenFile(filepath.Join(b.logDir, runningID+".log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("==> still building\n==> half"); err != nil {
		t.Fatal(err)
	}
	if got := readLogLine(t, lines); *got.Line != "==> still building" {
		t.Fatalf("followed line = %q", *got.Line)
	}
	if _, err := f.WriteString(" and the rest\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if got := readLogLine(t, lines); *got.Line != "==> half and the rest" {
		t.Fatalf("followed line in two writes = %q", *got.Line)
	}
	// The log rotated as a RotatingWriter does it (renamed to .1, a new
	// file): the follower goes on in the new file.
	logPath := filepath.Join(b.logDir, runningID+".log")
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, []byte("==> after the rotation\n==> no line end"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readLogLine(t, lines); *got.Line != "==> after the rotation" {
		t.Fatalf("followed line after a rotation = %q", *got.Line)
	}
	if w := b.do(t, "PUT", base+runningID+"/cancel"); w.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", w.Code, w.Body)
	}
	// The last line, without its end, comes when the build has ended.
	if got := readLogLine(t, lines); *got.Line != "==> no line end" {
		t.Fatalf("last line = %q", *got.Line)
	}
	if rest, err := io.ReadAll(lines); err != nil || len(rest) != 0 {
		t.Errorf("after the build ended: %q, %v; want the end of the response", rest, err)
	}
}

// Ensure a log line is cut at the log reader's bound rather than held
// whole: a build writing without line ends cannot grow the server's
// memory.
func TestLogLines_LongLine(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	ll := &logLines{w: &out}
	long := strings.Repeat("x", 150<<10)
	if _, err := ll.Write([]byte(long)); err != nil {
		t.Fatal(err)
	}
	if len(ll.buf) >= 64<<10 {
		t.Errorf("%d bytes held back", len(ll.buf))
	}
	if err := ll.Close(); err != nil {
		t.Fatal(err)
	}
	var total int
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Line == nil {
			t.Fatalf("line %.80q: %v", sc.Text(), err)
		}
		total += len(*l.Line)
	}
	if total != len(long) {
		t.Errorf("%d bytes in the lines, want %d", total, len(long))
	}
}

// Ensure a build started over the API runs in the background as a build of
// the tool: listed, its log followed, and cancelled (it ends cancelled);
// a second start of the same key while it runs answers that build.
func TestHandler_BuildStartCancel(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	b := setupBuildsWith(t, blockingCheckout{started: started})
	w := b.send(t, "POST", "/builds/v1/tool/mytool/builds", startBody)
	if w.Code != http.StatusOK {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	var ans struct {
		NewBuild struct {
			Name string `json:"name"`
		} `json:"new_build"`
		Messages struct {
			Info []string `json:"info"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || ans.NewBuild.Name == "" {
		t.Fatalf("start answer: %v %s", err, w.Body)
	}
	id := ans.NewBuild.Name
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatal("the build did not start")
	}
	if w := b.do(t, "GET", "/builds/v1/tool/mytool/builds/latest"); !strings.Contains(w.Body.String(), `"build_id":"`+id+`"`) || !strings.Contains(w.Body.String(), `"status":"BUILD_RUNNING"`) {
		t.Errorf("latest while it runs: %s", w.Body)
	}
	again := b.send(t, "POST", "/builds/v1/tool/mytool/builds", startBody)
	if again.Code != http.StatusOK || !strings.Contains(again.Body.String(), `"name":"`+id+`"`) || !strings.Contains(again.Body.String(), "is already under way") {
		t.Errorf("second start: %d %s", again.Code, again.Body)
	}
	if w := b.do(t, "DELETE", "/builds/v1/tool/mytool/builds/"+id); w.Code != http.StatusConflict {
		t.Errorf("delete while it runs: %d %s", w.Code, w.Body)
	}

	srv := httptest.NewServer(b.handler)
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/builds/v1/tool/mytool/builds/"+id+"/logs?follow=True", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	w = b.do(t, "PUT", "/builds/v1/tool/mytool/builds/"+id+"/cancel")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"id":"`+id+`"`) {
		t.Fatalf("cancel: %d %s", w.Code, w.Body)
	}
	if got := b.waitFinal(t, "mytool", id); got.Status != slipway.BuildCancelled || got.Error != "build cancelled by request" {
		t.Errorf("after cancel: %s %q", got.Status, got.Error)
	}
	// The follower ends with the build, every line a {"line": …}.
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Line == nil || l.Message != nil {
			t.Errorf("followed line %q: %v", sc.Text(), err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("follow: %v", err)
	}
	if w := b.do(t, "PUT", "/builds/v1/tool/mytool/builds/"+id+"/cancel"); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "cannot be cancelled again") {
		t.Errorf("cancel again: %d %s", w.Code, w.Body)
	}
	if w := b.do(t, "DELETE", "/builds/v1/tool/mytool/builds/"+id); w.Code != http.StatusOK {
		t.Errorf("delete once cancelled: %d %s", w.Code, w.Body)
	}
}

// Ensure another tool's credentials (here Toolforge's gateway naming tool
// other) act on none of mytool's builds: 403 with the error where
// Toolforge's builds CLI reads it, and nothing starts, stops or goes.
func TestHandler_BuildsOtherTool(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	before := b.do(t, "GET", "/builds/v1/tool/mytool/builds").Body.String()
	const base = "/builds/v1/tool/mytool"
	for _, c := range []struct{ method, path, body string }{
		{"GET", base + "/builds", ""},
		{"POST", base + "/builds", startBody},
		{"GET", base + "/builds/latest", ""},
		{"GET", base + "/quotas", ""},
		{"GET", base + "/builds/" + builtID, ""},
		{"DELETE", base + "/builds/" + failedID, ""},
		{"GET", base + "/builds/" + builtID + "/logs?follow=False", ""},
		{"PUT", base + "/builds/" + runningID + "/cancel", ""},
	} {
		r := httptest.NewRequestWithContext(t.Context(), c.method, c.path, strings.NewReader(c.body))
		r.RemoteAddr = proxyAddr
		r.Header.Set("X-Toolforge-Tool", "other")
		w := httptest.NewRecorder()
		b.handler.ServeHTTP(w, r)
		var env struct {
			Error []string `json:"error"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &env)
		if w.Code != http.StatusForbidden || len(env.Error) != 1 || !strings.Contains(env.Error[0], "cannot act on tool 'mytool'") {
			t.Errorf("%s %s as tool other: %d %s, want 403 with the error", c.method, c.path, w.Code, w.Body)
		}
	}
	if after := b.do(t, "GET", "/builds/v1/tool/mytool/builds").Body.String(); after != before {
		t.Errorf("another tool changed mytool's builds:\n%s\nwere\n%s", after, before)
	}
}
