package apiclient

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
)

// Ensure the builds calls send builds-api's requests and decode its
// answers, which are not wrapped in data.
func TestClient_Builds(t *testing.T) {
	t.Parallel()
	const build = `{"build_id":"0a1b","status":"BUILD_SUCCESS","parameters":{"source_url":"https://example.org/app.git","ref":"main","image_name":"web","envvars":{}}}`
	c, reqs := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "GET /builds/v1/tool/t/builds":
			jsonReply(200, `{"builds":[`+build+`],"messages":{"info":[],"warning":[],"error":[]}}`)(w, r)
		case "GET /builds/v1/tool/t/builds/latest", "GET /builds/v1/tool/t/builds/0a1b":
			jsonReply(200, `{"build":`+build+`,"messages":{}}`)(w, r)
		case "POST /builds/v1/tool/t/builds":
			jsonReply(200, `{"new_build":{"name":"0a1b","resolved_ref":"9b0d","parameters":{"source_url":"https://example.org/app.git","ref":"HEAD","image_name":"tool-t","envvars":{}}},"messages":{"info":["started"]}}`)(w, r)
		case "PUT /builds/v1/tool/t/builds/0a1b/cancel":
			jsonReply(200, `{"id":"0a1b","build":`+build+`,"messages":{}}`)(w, r)
		default:
			jsonReply(404, `{"messages":{"error":["Build nope not found for tool t"]},"error":["Build nope not found for tool t"]}`)(w, r)
		}
	})
	ctx := t.Context()
	env, err := c.BuildList(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if bs, err := env.Builds(); err != nil || len(bs) != 1 || bs[0].BuildId != "0a1b" || bs[0].Parameters.ImageName != "web" {
		t.Errorf("Builds = %+v, %v", bs, err)
	}
	for _, id := range []string{"", "latest", "0a1b"} {
		env, err := c.BuildGet(ctx, "t", id)
		if b, derr := env.Build(); err != nil || derr != nil || b.Status != "BUILD_SUCCESS" {
			t.Errorf("BuildGet(%q) = %+v, %v, %v", id, b, err, derr)
		}
	}
	env, err = c.BuildStart(ctx, "t", BuildStartRequest{SourceUrl: "https://example.org/app.git"})
	if nb, derr := env.NewBuild(); err != nil || derr != nil || nb.Name != "0a1b" || nb.ResolvedRef != "9b0d" || env.Messages.Info[0] != "started" {
		t.Errorf("BuildStart = %+v, %v, %v", nb, err, derr)
	}
	env, err = c.BuildCancel(ctx, "t", "0a1b")
	if b, derr := env.Build(); err != nil || derr != nil || b.BuildId != "0a1b" {
		t.Errorf("BuildCancel = %+v, %v, %v", b, err, derr)
	}
	_, err = c.BuildGet(ctx, "t", "nope")
	if slipway.ErrorCode(err) != slipway.ENotFound || slipway.ErrorMessage(err) != "Build nope not found for tool t" {
		t.Errorf("BuildGet of a missing build: %v", err)
	}
	var paths []string
	for _, r := range *reqs {
		paths = append(paths, r.method+" "+r.path)
		if r.method == "POST" && (r.ctype != "application/json" || r.body != `{"source_url":"https://example.org/app.git"}`) {
			t.Errorf("start sent %q %q, want only the fields set", r.ctype, r.body)
		}
	}
	if !slices.Contains(paths, "GET /builds/v1/tool/t/builds/latest") {
		t.Errorf("requests %q: no latest", paths)
	}
}

// Ensure BuildLogs hands over each {"line": …} of the log, and returns
// the error of a line that ends the stream with one.
func TestClient_BuildLogs(t *testing.T) {
	t.Parallel()
	c, reqs := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, `{"line":"==> checkout 9b0d44e"}`+"\n"+`{"line":"tab\there \u001b[2J"}`+"\n")
		if strings.Contains(r.URL.Path, "/broken/") {
			_, _ = io.WriteString(w, `{"error":["Internal error."],"message":"Internal error."}`+"\n")
		}
	})
	var got []string
	add := func(l string) error { got = append(got, l); return nil }
	if err := c.BuildLogs(t.Context(), "t", "0a1b", true, 2, add); err != nil {
		t.Fatal(err)
	}
	if want := []string{"==> checkout 9b0d44e", "tab\there \x1b[2J"}; !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
	if q := (*reqs)[0].query; q != "follow=true&lines=2" {
		t.Errorf("query %q", q)
	}
	got = nil
	err := c.BuildLogs(t.Context(), "t", "broken", false, 0, add)
	var se *ServerError
	if !errors.As(err, &se) || se.Message != "Internal error." || len(got) != 2 {
		t.Errorf("a log that broke off: %v after %q", err, got)
	}
}
