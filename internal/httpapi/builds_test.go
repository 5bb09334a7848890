package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// buildsBundle is a handler whose builds API is the real engine over a
// SQLite store seeded with build records and their logs.
type buildsBundle struct {
	handler http.Handler
	logDir  string
}

func setupBuilds(t *testing.T) *buildsBundle {
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
			ID: id, Tool: "mytool", Component: "web", Key: id, Repository: "https://example.org/app.git",
			Ref: "main", Commit: "9b0d44e1c0ffee", Status: status, Error: errText,
			LogPath: filepath.Join(dir, id+".log"), CreatedAt: at, UpdatedAt: at.Add(12 * time.Second),
		}
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
			if err := os.WriteFile(b.LogPath, []byte("==> checkout 9b0d44e\n==> build of "+b.ID+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	builder, err := localbuild.New(localbuild.Config{Dir: filepath.Join(dir, "builder")}, noCheckout{})
	if err != nil {
		t.Fatal(err)
	}
	svc := deploy.NewService(db, nil, builder, nil, deploy.Config{NowFunc: func() time.Time { return baseTime.Add(time.Hour) }})
	h := NewHandler(newFakeService(), Config{AdminToken: testToken, Builds: svc, ToolRate: -1, PollRate: -1})
	return &buildsBundle{handler: h, logDir: dir}
}

func (b *buildsBundle) do(t *testing.T, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	r := httptest.NewRequestWithContext(ctx, method, path, nil)
	r.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	b.handler.ServeHTTP(w, r)
	return w
}

// TestHandler_Builds checks every builds route, its success shape (after
// Toolforge's builds-api) and its bad input: always a JSON envelope with a
// clear message, never a 500; the logs as text/plain.
func TestHandler_Builds(t *testing.T) {
	t.Parallel()
	const base = "/builds/v1/tool/mytool/builds"
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
	}{
		{"BuildList", "GET", base, 200},
		{"BuildListEmpty", "GET", "/builds/v1/tool/other/builds", 200},
		{"BuildListBadTool", "GET", "/builds/v1/tool/Bad_Tool/builds", 422},
		{"BuildGet", "GET", base + "/" + builtID, 200},
		{"BuildGetFailed", "GET", base + "/" + failedID, 200},
		{"BuildGetRunning", "GET", base + "/" + runningID, 200},
		{"BuildGetNotFound", "GET", base + "/ffffffffffffffff", 404},
		{"BuildGetOtherTool", "GET", "/builds/v1/tool/other/builds/" + builtID, 404},
		{"BuildGetBadID", "GET", base + "/bad%20id", 422},
		{"BuildGetDotDot", "GET", base + "/a..b", 422},
		{"BuildLogsNotFound", "GET", base + "/ffffffffffffffff/logs", 404},
		{"BuildLogsBadID", "GET", base + "/bad%20id/logs", 422},
		{"BuildLogsBadFollow", "GET", base + "/" + builtID + "/logs?follow=maybe", 422},
		{"BuildLogsRemoved", "GET", base + "/" + goneID + "/logs", 404},
		{"BuildCancelFinal", "PUT", base + "/" + builtID + "/cancel", 409},
		{"BuildCancelNotFound", "PUT", base + "/ffffffffffffffff/cancel", 404},
		{"BuildCancelBadID", "PUT", base + "/bad%20id/cancel", 422},
		{"BuildCancel", "PUT", base + "/" + runningID + "/cancel", 200},
		{"BuildDeleteRunning", "DELETE", base + "/" + runningID, 409},
		{"BuildDeleteNotFound", "DELETE", base + "/ffffffffffffffff", 404},
		{"BuildDeleteBadID", "DELETE", base + "/bad%20id", 422},
		{"BuildDelete", "DELETE", base + "/" + failedID, 200},
		{"BuildNoSuchRoute", "POST", base + "/" + builtID, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupBuilds(t)
			w := b.do(t, tt.method, tt.path)
			if w.Code != tt.wantStatus {
				t.Errorf("%s %s: status %d, want %d; body %s", tt.method, tt.path, w.Code, tt.wantStatus, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var env map[string]json.RawMessage
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if _, hasData := env["data"]; hasData != (w.Code < 400) {
				t.Errorf("data key present = %v for status %d", hasData, w.Code)
			}
			golden(t, tt.name, fmt.Appendf(nil, "HTTP %d\n%s", w.Code, w.Body.Bytes()))
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
	// The builder removed what it keeps for the key (here nothing: these
	// records were made without it); the record's own log path is not the
	// builder's, so it stays.
	if _, err := os.Stat(filepath.Join(b.logDir, builtID+".log")); err != nil {
		t.Errorf("log: %v", err)
	}
}

// noCheckout is a source that builds nothing: these tests only delete.
type noCheckout struct{}

func (noCheckout) Checkout(context.Context, string, string, string) error {
	return errors.New("no source in this test")
}

// Ensure the logs route answers text/plain: the whole log of a finished
// build, and, with follow, a running build's log as it grows, until the
// build ends.
func TestHandler_BuildLogs(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	const base = "/builds/v1/tool/mytool/builds/"
	w := b.do(t, "GET", base+builtID+"/logs")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("logs: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if got, want := w.Body.String(), "==> checkout 9b0d44e\n==> build of "+builtID+"\n"; got != want {
		t.Errorf("logs = %q, want %q", got, want)
	}
	// The last lines, read from the end; a bad count is a 422 envelope.
	if w := b.do(t, "GET", base+builtID+"/logs?lines=1"); w.Code != http.StatusOK || w.Body.String() != "==> build of "+builtID+"\n" {
		t.Errorf("logs?lines=1: %d %q", w.Code, w.Body)
	}
	for _, q := range []string{"lines=-1", "lines=many"} {
		if w := b.do(t, "GET", base+builtID+"/logs?"+q); w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "Query parameter lines must be a number of lines") {
			t.Errorf("logs?%s: %d %s", q, w.Code, w.Body)
		}
	}

	srv := httptest.NewServer(b.handler)
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+base+runningID+"/logs?follow=true", nil)
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
	for _, want := range []string{"==> checkout 9b0d44e\n", "==> build of " + runningID + "\n"} {
		if got, err := lines.ReadString('\n'); got != want {
			t.Fatalf("followed line = %q (%v), want %q", got, err, want)
		}
	}
	// A line appended while following arrives; ending the build ends the
	// response.
	f, err := os.OpenFile(filepath.Join(b.logDir, runningID+".log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("==> still building\n"); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if got, err := lines.ReadString('\n'); got != "==> still building\n" {
		t.Fatalf("followed line = %q (%v)", got, err)
	}
	// The log rotated as a RotatingWriter does it (renamed to .1, a new
	// file): the follower goes on in the new file.
	logPath := filepath.Join(b.logDir, runningID+".log")
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, []byte("==> after the rotation\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := lines.ReadString('\n'); got != "==> after the rotation\n" {
		t.Fatalf("followed line after a rotation = %q (%v)", got, err)
	}
	if w := b.do(t, "PUT", base+runningID+"/cancel"); w.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", w.Code, w.Body)
	}
	if rest, err := io.ReadAll(lines); err != nil || len(rest) != 0 {
		t.Errorf("after the build ended: %q, %v; want the end of the response", rest, err)
	}
}
