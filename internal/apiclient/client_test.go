package apiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
)

// recorded is what the test server saw of one request.
type recorded struct {
	method, path, query, auth, ctype, body, lastEventID string
}

// newServer starts a server that records requests and answers with h.
func newServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) (*Client, *[]recorded) {
	t.Helper()
	var mu sync.Mutex
	var reqs []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b), r.Header.Get("Last-Event-ID")})
		mu.Unlock()
		w.Header().Set("X-Request-Id", "rid-1")
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/components/", "tok")
	if err != nil {
		t.Fatal(err)
	}
	c.retryDelay = time.Millisecond
	return c, &reqs
}

func jsonReply(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestClient_ConfigCreate(t *testing.T) {
	t.Parallel()
	body := `{"data":{"components":{"b":{},"a":{}}},"messages":{"info":["Configuration for t updated successfully."],"warning":["Unknown field x, skipped"],"error":[]}}`
	c, reqs := newServer(t, jsonReply(200, body))
	env, err := c.ConfigCreate(t.Context(), "t", []byte(`{"components":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := recorded{"POST", "/components/v1/tool/t/config", "", "Bearer tok", "application/json", `{"components":{}}`, ""}
	if diff := cmp.Diff(want, (*reqs)[0], cmp.AllowUnexported(recorded{})); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if string(env.Raw) != body || string(env.Data) != `{"components":{"b":{},"a":{}}}` || env.RequestID != "rid-1" {
		t.Errorf("envelope = %+v", env)
	}
	if !slices.Equal(env.Messages.Warning, []string{"Unknown field x, skipped"}) {
		t.Errorf("warnings = %q", env.Messages.Warning)
	}
}

func TestClient_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		body     string
		wantCode string
		wantMsg  string
	}{
		{404, `{"messages":{"info":[],"warning":[],"error":["No configuration found for tool: t"]}}`, slipway.ENotFound, "No configuration found for tool: t"},
		{409, `{"messages":{"error":["busy"]}}`, slipway.EConflict, "busy"},
		{401, `{"messages":{"error":["Authentication required"]}}`, slipway.EUnauthorized, "Authentication required"},
		{403, `{}`, slipway.EForbidden, "Forbidden"},
		{422, `{"messages":{"error":["a","b"]}}`, slipway.EInvalid, "a"},
		{400, `not json`, slipway.EInvalid, "Bad Request"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			c, _ := newServer(t, jsonReply(tt.status, tt.body))
			_, err := c.ConfigGet(t.Context(), "t")
			if slipway.ErrorCode(err) != tt.wantCode || slipway.ErrorMessage(err) != tt.wantMsg {
				t.Errorf("err = %v (code %q), want code %q message %q", err, slipway.ErrorCode(err), tt.wantCode, tt.wantMsg)
			}
		})
	}
	t.Run("ServerError", func(t *testing.T) {
		t.Parallel()
		c, _ := newServer(t, jsonReply(500, `{"messages":{"info":[],"warning":[],"error":["Internal error."]}}`))
		_, err := c.DeploymentList(t.Context(), "t")
		var se *ServerError
		if !errors.As(err, &se) || se.Message != "Internal error." || se.RequestID != "rid-1" || se.Status != 500 {
			t.Errorf("err = %#v, want a ServerError", err)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c, err := New(url, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.DeploymentGet(t.Context(), "t", "latest")
		if !errors.Is(err, ErrUnreachable) {
			t.Errorf("err = %v, want ErrUnreachable", err)
		}
	})
}

func TestClient_DeploymentCreate(t *testing.T) {
	t.Parallel()
	c, reqs := newServer(t, jsonReply(200, `{"data":{"deploy_id":"20261122-130049-x5ucaa3ign","creation_time":"20261122-130049","status":"pending","long_status":"","builds":{"web":{"build_id":"no-id-yet","build_status":"pending","build_image":"no-image-yet","build_long_status":""}},"runs":{},"steps":[{"key":"build:web","kind":"build","component":"web","action":"build","needs":[],"reason":"new","state":"pending","detail":"","attempt":0}]},"messages":{"info":["Deployment for t created successfully."]}}`))
	env, err := c.DeploymentCreate(t.Context(), "t", true, true, "v1.2")
	if err != nil {
		t.Fatal(err)
	}
	r := (*reqs)[0]
	if r.path != "/components/v1/tool/t/deployment" || r.query != "force-build=true&force-run=true" || r.body != `{"description":"v1.2"}` {
		t.Errorf("request = %+v", r)
	}
	d, err := env.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "20261122-130049-x5ucaa3ign" || !d.CreatedAt.Equal(time.Date(2026, 11, 22, 13, 0, 49, 0, time.UTC)) ||
		d.Builds["web"].BuildStatus != slipway.BuildPending || len(d.Steps) != 1 || d.Steps[0].Key != "build:web" {
		t.Errorf("deployment = %+v", d)
	}

	if _, err := c.DeploymentCreate(t.Context(), "t", false, false, ""); err != nil {
		t.Fatal(err)
	}
	if r := (*reqs)[1]; r.query != "" || r.body != "" {
		t.Errorf("plain create = %+v", r)
	}
}

func TestClient_DeploymentPlan(t *testing.T) {
	t.Parallel()
	c, reqs := newServer(t, jsonReply(200, `{"data":{"deploy_id":"","creation_time":"20261122-130049","status":"pending","long_status":"Plan only, nothing was changed: 1 to build, 0 to run, 0 to remove, 1 unchanged","builds":{},"runs":{},"steps":[{"key":"build:web","kind":"build","component":"web","action":"build","needs":[],"reason":"commit 3f2a1c7→9b0d44e","state":"pending","detail":"","attempt":0},{"key":"run:web","kind":"run","component":"web","action":"none","needs":["build:web"],"reason":"unchanged","state":"unchanged","detail":"","attempt":0}]},"messages":{"info":["Plan for t: nothing was changed."]}}`))
	env, err := c.DeploymentPlan(t.Context(), "t", true, false, "v1.2")
	if err != nil {
		t.Fatal(err)
	}
	if r := (*reqs)[0]; r.method != "POST" || r.path != "/components/v1/tool/t/deployment" || r.query != "force-build=true&dry_run=true" || r.body != `{"description":"v1.2"}` {
		t.Errorf("request = %+v", r)
	}
	d, err := env.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "" || len(d.Steps) != 2 || d.Steps[0].Reason != "commit 3f2a1c7→9b0d44e" || d.Steps[1].State != slipway.StepUnchanged {
		t.Errorf("plan = %+v", d)
	}
	if !slices.Equal(env.Messages.Info, []string{"Plan for t: nothing was changed."}) {
		t.Errorf("info = %q", env.Messages.Info)
	}

	if _, err := c.DeploymentPlan(t.Context(), "t", false, false, ""); err != nil {
		t.Fatal(err)
	}
	if r := (*reqs)[1]; r.query != "dry_run=true" || r.body != "" {
		t.Errorf("plain plan = %+v", r)
	}

	cfg := []byte("{\"components\": {\"web\": {}}}\n")
	if _, err := c.DeploymentPlanConfig(t.Context(), "t", cfg, false, true, ""); err != nil {
		t.Fatal(err)
	}
	if r := (*reqs)[2]; r.query != "force-run=true&dry_run=true" || r.ctype != "application/json" || r.body != `{"tool_config":{"components":{"web":{}}}}` {
		t.Errorf("plan of a config = %+v", r)
	}
	if _, err := c.DeploymentPlanConfig(t.Context(), "t", nil, false, false, ""); err == nil || len(*reqs) != 3 {
		t.Errorf("plan of no config: err %v, %d requests", err, len(*reqs))
	}
}

// TestClient_DeploymentCancel checks the paths of an ID and of latest, and
// that a 409 is an EConflict with the server's message.
func TestClient_DeploymentCancel(t *testing.T) {
	t.Parallel()
	const info = "Deployment flagged for cancellation, might take a moment to cancel."
	c, reqs := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/components/v1/tool/t/deployment/20261122-130049-x5ucaa3ign/cancel" {
			jsonReply(409, `{"messages":{"info":[],"warning":[],"error":["Deployment can't be cancelled, its status is successful"]}}`)(w, r)
			return
		}
		jsonReply(200, `{"data":{"deploy_id":"20261122-130050-aaaaaaaaaa","creation_time":"20261122-130050","status":"cancelling","long_status":"Cancelling: stopping the running steps","builds":{},"runs":{},"steps":[]},"messages":{"info":["`+info+`"],"warning":[],"error":[]}}`)(w, r)
	})
	for _, id := range []string{"", "latest"} {
		env, err := c.DeploymentCancel(t.Context(), "t", id)
		if err != nil {
			t.Fatal(err)
		}
		d, err := env.Deployment()
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != slipway.DeploymentCancelling || !slices.Equal(env.Messages.Info, []string{info}) {
			t.Errorf("cancel %q: deployment %+v, info %q", id, d, env.Messages.Info)
		}
	}
	_, err := c.DeploymentCancel(t.Context(), "t", "20261122-130049-x5ucaa3ign")
	if slipway.ErrorCode(err) != slipway.EConflict || slipway.ErrorMessage(err) != "Deployment can't be cancelled, its status is successful" {
		t.Errorf("err = %v (code %q), want EConflict", err, slipway.ErrorCode(err))
	}
	var got []string
	for _, r := range *reqs {
		got = append(got, r.method+" "+r.path)
	}
	want := []string{
		"PUT /components/v1/tool/t/deployment/latest/cancel",
		"PUT /components/v1/tool/t/deployment/latest/cancel",
		"PUT /components/v1/tool/t/deployment/20261122-130049-x5ucaa3ign/cancel",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestClient_DeploymentEvents drops the connection after two events and
// checks that the client reconnects with Last-Event-ID and ends after the
// final event.
func TestClient_DeploymentEvents(t *testing.T) {
	t.Parallel()
	frame := func(seq int, kind, step, state string) string {
		return fmt.Sprintf("id: %d\nevent: %s\ndata: {\"seq\":%d,\"deploy_id\":\"d1\",\"time\":\"2026-11-22T13:00:49Z\",\"kind\":%q,\"step\":%q,\"state\":%q,\"message\":\"m\"}\n\n", seq, kind, seq, kind, step, state)
	}
	var calls int
	c, reqs := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "text/event-stream")
		switch calls {
		case 1:
			_, _ = io.WriteString(w, ": keep-alive\n\n"+frame(1, "deployment", "", "running")+frame(2, "step", "build:web", "done"))
			// the handler returns: the stream ends without a final event
		case 2: // the client checks the deployment
			jsonReply(200, `{"data":{"deploy_id":"d1","status":"running"}}`)(w, r)
		default:
			_, _ = io.WriteString(w, frame(2, "step", "build:web", "done")+frame(3, "deployment", "", "successful")+frame(4, "log", "", ""))
		}
	})
	var got []int64
	err := c.DeploymentEvents(t.Context(), "t", "latest", 0, func(ev Event) error {
		got = append(got, ev.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("seqs = %v, want [1 2 3]", got)
	}
	if r := (*reqs)[2]; r.path != "/components/v1/tool/t/deployment/d1/events" || r.lastEventID != "2" || r.query != "after=2" {
		t.Errorf("reconnection = %+v", r)
	}
}

func TestClient_DeploymentEventsFinalAlready(t *testing.T) {
	t.Parallel()
	c, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/components/v1/tool/t/deployment/d1/events" {
			w.Header().Set("Content-Type", "text/event-stream")
			return
		}
		jsonReply(200, `{"data":{"deploy_id":"d1","status":"failed"}}`)(w, r)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.DeploymentEvents(ctx, "t", "d1", 7, func(Event) error { return errors.New("no events expected") }); err != nil {
		t.Fatal(err)
	}
}

func TestClient_Health(t *testing.T) {
	t.Parallel()
	c, _ := newServer(t, jsonReply(503, `{"data":{"status":"ERROR","checks":{"store":"locked"}},"messages":{}}`))
	h, err := c.Health(t.Context())
	if err != nil || h.Status != "ERROR" || h.Checks["store"] != "locked" {
		t.Errorf("Health = %+v, %v", h, err)
	}
}
