package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/envvars"
	"slipway.dev/slipway/internal/httpapi"
	"slipway.dev/slipway/internal/notify"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
	"slipway.dev/slipway/internal/trigger"
	"slipway.dev/slipway/internal/web"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const adminToken = "admin-secret-token"

// t0 is the tests' fixed time.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a whole API handler with the UI mounted, over fake services and
// a real SQLite store (sessions, tools, API tokens).
type env struct {
	t         testing.TB
	h         http.Handler
	st        store.Store
	clock     *clock
	svc       *fakeService
	tokens    *auth.APITokens
	toolToken string // an API token of tool "one"
	toolID    string
	envvars   *envvars.Vars
	deploy    *auth.DeployTokens
	// deployToken is tool one's deploy token, made at t0.
	deployToken string
	// notify, hooks and cuts serve the notifications, push webhook and
	// named releases pages (notify and hooks for real, over the store).
	notify *notify.Service
	hooks  *trigger.Hooks
	cuts   *fakeCuts
}

// envVarQuota is the tests' quota of envvars per tool.
const envVarQuota = 5

// Envvars of tool one: their values are secrets the pages must not show
// but on the envvar's own page.
const (
	apiKeyValue = "s3cret-api-key-value"
	dbURLValue  = "postgres://app:pa55word@db/app"
)

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c := &clock{t: t0}
	svc := newFakeService()
	for _, tool := range []string{"one", "two"} {
		if err := st.ToolEnsure(t.Context(), tool, t0); err != nil {
			t.Fatal(err)
		}
	}
	tokens := auth.NewAPITokens(st, c.now)
	id, tok, err := tokens.Create(t.Context(), "one", "test")
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, auth.KeySize)
	sealer, err := auth.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	vars := envvars.New(st, sealer, envvars.Config{Quota: envVarQuota, Now: c.now})
	deploy, err := auth.New(st, key, c.now)
	if err != nil {
		t.Fatal(err)
	}
	dt, err := deploy.Create(t.Context(), "one")
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{"API_KEY": apiKeyValue, "DB_URL": dbURLValue} {
		if _, _, err := vars.Put(t.Context(), "one", name, value); err != nil {
			t.Fatal(err)
		}
	}
	notifications := notify.New(st, sealer, notify.Config{
		AllowPrivate: true, SMTP: notify.SMTP{Addr: "127.0.0.1:1"}, Now: c.now, PublicURL: "https://slipway.example.org",
	})
	hooks := trigger.New(st, sealer, svc, trigger.Config{Now: c.now})
	cuts := newFakeCuts()
	h := httpapi.NewHandler(apiService{f: svc}, httpapi.Config{
		AdminToken: adminToken, APITokens: tokens, NowFunc: c.now, ToolRate: -1, PollRate: -1,
		EnvVars: vars, DeployTokens: deploy,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")},
		UI: &web.Config{
			Deployments: svc, Builds: svc, Jobs: svc, Tools: st, Sessions: st, Questions: svc,
			EnvVars: vars, DeployTokens: deploy, APITokens: tokens, Releases: svc, Environments: svc, Trains: st,
			Notifications: notifications, Webhooks: hooks, Cuts: cuts, Polls: st,
			Now: c.now, Rand: rand.NewChaCha8([32]byte{1}), KeepAlive: time.Hour, InboxPoll: 5 * time.Millisecond,
		},
	})
	return &env{
		t: t, h: h, st: st, clock: c, svc: svc, tokens: tokens, toolToken: tok, toolID: id,
		envvars: vars, deploy: deploy, deployToken: dt.Token,
		notify: notifications, hooks: hooks, cuts: cuts,
	}
}

// req describes a request: the method and path, a form (POSTed urlencoded),
// cookies and headers.
type req struct {
	method, path string
	form         url.Values
	bodyRaw      string // sent as it is when there is no form
	cookies      []*http.Cookie
	header       map[string]string
	remote       string
}

// response is what a request got, read whole.
type response struct {
	StatusCode int
	Header     http.Header
	Body       string
	cookies    []*http.Cookie
}

// Cookies returns the cookies the response sets.
func (r *response) Cookies() []*http.Cookie { return r.cookies }

// record reads rec's response whole.
func record(t testing.TB, rec *httptest.ResponseRecorder) *response {
	t.Helper()
	res := rec.Result()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{StatusCode: res.StatusCode, Header: res.Header, Body: string(b), cookies: res.Cookies()}
}

func (e *env) do(r req) *response {
	e.t.Helper()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	} else if r.bodyRaw != "" {
		body = strings.NewReader(r.bodyRaw)
	}
	hr := httptest.NewRequestWithContext(e.t.Context(), r.method, r.path, body)
	if r.form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	for _, c := range r.cookies {
		hr.AddCookie(c)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	return record(e.t, rec)
}

func get(e *env, path string, cookies ...*http.Cookie) *response {
	e.t.Helper()
	return e.do(req{method: "GET", path: path, cookies: cookies})
}

func bodyOf(t testing.TB, res *response) string {
	t.Helper()
	return res.Body
}

func cookieNamed(res *response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// signin signs in with token from remote (default the recorder's
// address) and returns the session cookie; it fails the test unless the
// sign-in succeeds.
func (e *env) signin(token string) *http.Cookie {
	e.t.Helper()
	res := e.trySignin(token, "")
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in: status %d, body %s", res.StatusCode, bodyOf(e.t, res))
	}
	c := cookieNamed(res, "slipway_session")
	if c == nil {
		e.t.Fatal("sign in: no session cookie")
	}
	return c
}

// trySignin posts the sign-in form with token from remote.
func (e *env) trySignin(token, remote string) *response {
	e.t.Helper()
	page := e.do(req{method: "GET", path: "/ui/signin", remote: remote})
	form := cookieNamed(page, "slipway_signin")
	if form == nil {
		e.t.Fatal("sign-in page: no form cookie")
	}
	return e.do(req{
		method: "POST", path: "/ui/signin", remote: remote, cookies: []*http.Cookie{form},
		form: url.Values{"csrf": {form.Value}, "token": {token}},
	})
}

// csrfOf returns the CSRF token of a page's forms.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `<meta name="csrf-token" content="`)
	if !ok {
		t.Fatalf("no csrf-token meta in the page:\n%s", page)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

// wantStatus fails the test unless res has status want.
func wantStatus(t *testing.T, what string, res *response, want int) string {
	t.Helper()
	body := bodyOf(t, res)
	if res.StatusCode != want {
		t.Errorf("%s: status %d, want %d; body:\n%s", what, res.StatusCode, want, body)
	}
	return body
}

// wantRedirect fails the test unless res is a 303 to a location starting
// with prefix.
func wantRedirect(t *testing.T, what string, res *response, prefix string) string {
	t.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Errorf("%s: status %d to %q, want 303 to %s…", what, res.StatusCode, loc, prefix)
	}
	return loc
}

// golden compares got with testdata/golden/name.html, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".html")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs from %s (-want +got; go test -update rewrites it):\n%s", name, path, d)
	}
}

// apiService is the JSON API's service over the fake: only DeploymentGet
// (the benchmark's baseline); other methods are not called.
type apiService struct {
	httpapi.Service
	f *fakeService
}

func (a apiService) DeploymentGet(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	return a.f.DeploymentGet(ctx, tool, id)
}

// fakeService is every service the UI uses, in memory.
type fakeService struct {
	mu          sync.Mutex
	configs     map[string]slipway.ToolConfig
	deployments map[string][]slipway.Deployment
	events      map[string][]slipway.Event
	jobs        map[string][]slipway.Job
	builds      map[string][]slipway.Build
	logs        map[string]string
	created     []slipway.DeployOptions
	cancelled   []string
	// after records the after argument of each DeploymentEvents call.
	after []int64
	// block, when set, makes DeploymentEvents wait for its context after
	// delivering the events.
	block bool
	// panicOn makes the named method panic.
	panicOn string
	// questions are every tool's, by ID; qlog their logs.
	questions map[string]*slipway.Question
	qlog      map[string][]slipway.QuestionLogEntry
	// answers records the answers taken, with their actors.
	answers []fakeAnswer
	// releases are every tool's, newest first; live and when the answers
	// about a commit (releases_fake_test.go).
	releases map[string][]slipway.Release
	live     map[string][]slipway.LiveCommit
	when     map[string][]slipway.FirstRelease
	// environments are every tool's (environments_fake_test.go);
	// promoted records the promotions made, promoteConflict, when set,
	// refuses them with that message.
	environments    map[string][]slipway.EnvironmentStatus
	promoted        []slipway.DeployOptions
	promoteConflict string
}

// fakeAnswer is an answer the fake took.
type fakeAnswer struct {
	Actor  slipway.Actor
	ID     string
	Answer slipway.Answer
}

func newFakeService() *fakeService {
	webCfg := slipway.ToolConfig{
		Components: map[string]slipway.Component{
			"web":     {Name: "web", Type: slipway.Continuous, Build: slipway.BuildSpec{Source: &slipway.SourceBuild{Repository: "https://user:secret@example.org/one.git", Ref: "main"}}, Run: slipway.RunSpec{Command: "web --port $PORT"}},
			"migrate": {Name: "migrate", Type: slipway.OneOff, Build: slipway.BuildSpec{ReuseFrom: "web"}, Run: slipway.RunSpec{Command: "migrate <all> & \"more\""}},
		},
		Order: []string{"web", "migrate"},
		Raw:   json.RawMessage(`{"components":{"web":{"component_type":"continuous","build":{"repository":"https://user:secret@example.org/one.git","ref":"main"},"run":{"command":"web --port $PORT"}},"migrate":{"component_type":"one-off","build":{"reuse_from":"web"},"run":{"command":"migrate <all> & \"more\""}}}}`),
	}
	healthy := true
	running := slipway.Deployment{
		ID: "20250601-115000-runningaaa", Tool: "one", CreatedAt: t0.Add(-10 * time.Minute), Status: slipway.DeploymentRunning,
		LongStatus: "Running 1 of 3 steps", Trigger: "ui", Actor: "admin", Description: "deploy <b>it</b>",
		Steps: []slipway.Step{
			{Key: "build:web", Kind: slipway.StepBuild, Component: "web", Action: slipway.ActionBuild, Reason: "commit 3f2a1c→9b0d44", State: slipway.StepDone, Detail: "built in 12s", Attempt: 1, StartedAt: t0.Add(-9 * time.Minute), FinishedAt: t0.Add(-8 * time.Minute)},
			{Key: "run:web", Kind: slipway.StepRun, Component: "web", Action: slipway.ActionApply, Needs: []string{"build:web"}, Reason: "new build", State: slipway.StepRunning, Detail: "waiting until healthy", Attempt: 1, StartedAt: t0.Add(-8 * time.Minute)},
			{Key: "gate:migrate", Kind: slipway.StepGate, Component: "migrate", Action: slipway.ActionAsk, Needs: []string{"run:web"}, Reason: "asks before run of migrate", State: slipway.StepWaiting, Detail: "waiting for an answer"},
			{Key: "run:migrate", Kind: slipway.StepRun, Component: "migrate", Action: slipway.ActionRunJob, Needs: []string{"gate:migrate"}, Reason: "one-off runs on every deployment", State: slipway.StepPending},
		},
	}
	asking := slipway.Deployment{
		ID: "20250601-114000-askingcccc", Tool: "one", CreatedAt: t0.Add(-20 * time.Minute), Status: slipway.DeploymentRunning,
		LongStatus: "Running 1 of 1 steps", Trigger: "cli", Actor: "tool-token:ci",
		Steps: []slipway.Step{{Key: "run:migrate", Kind: slipway.StepRun, Component: "migrate", Action: slipway.ActionRunJob, Reason: "one-off runs on every deployment", State: slipway.StepRunning, Attempt: 1, StartedAt: t0.Add(-19 * time.Minute)}},
	}
	done := slipway.Deployment{
		ID: "20250601-100000-finishedbb", Tool: "one", CreatedAt: t0.Add(-2 * time.Hour), Status: slipway.DeploymentFailed,
		LongStatus: "Step build:web failed", Trigger: "cli", Actor: "admin", FinishedAt: t0.Add(-110 * time.Minute),
		Steps: []slipway.Step{{Key: "build:web", Action: slipway.ActionBuild, Reason: "first build", State: slipway.StepFailed, Detail: "exit status 1", Attempt: 2}},
	}
	return &fakeService{
		configs:      map[string]slipway.ToolConfig{"one": webCfg},
		deployments:  map[string][]slipway.Deployment{"one": {done, asking, running}},
		questions:    fakeQuestions(running, asking),
		releases:     fakeReleases(done, running),
		live:         fakeLive(done),
		when:         fakeWhen(done, running),
		environments: fakeEnvironments(),
		qlog:         fakeQuestionLog(),
		events: map[string][]slipway.Event{running.ID: {
			{Seq: 1, DeploymentID: running.ID, Kind: "deployment", State: "pending", Message: "created"},
			{Seq: 2, DeploymentID: running.ID, Kind: "plan", State: "running", Message: "planned"},
			{Seq: 3, DeploymentID: running.ID, Kind: "step", Step: "build:web", State: "done"},
			{Seq: 4, DeploymentID: running.ID, Kind: "step", Step: "run:web", State: "running"},
			{Seq: 5, DeploymentID: running.ID, Kind: "question", Step: "gate:migrate", State: "open", Message: qGate + ": Web is live. Run migrate now?"},
		}},
		jobs: map[string][]slipway.Job{"one": {{
			Component: slipway.Component{Name: "web", Type: slipway.Continuous}, ImageName: "web", Image: "builds/9b0d44aa11223344",
			Status: slipway.JobStatus{Short: slipway.JobRunning, Long: "Running 2 of 2 replicas", Commit: "9b0d44aa11223344556677", Healthy: &healthy, URL: "http://one.localhost:8701/"},
		}}},
		builds: map[string][]slipway.Build{"one": {
			{ID: "9b0d44aa-1a2b3c4d", Tool: "one", Component: "web", Status: slipway.BuildSuccessful, Commit: "9b0d44aa11223344556677", CreatedAt: t0.Add(-9 * time.Minute)},
		}},
		logs: map[string]string{
			"build/9b0d44aa-1a2b3c4d": "Cloning…\nBuilding <web> & friends\n\x1b[31mred\x1b[0m done\n",
			"job/web":                 "listening on :8080\n",
		},
	}
}

func (f *fakeService) maybePanic(method string) {
	if f.panicOn == method {
		panic("fake panic in " + method)
	}
}

func (f *fakeService) ConfigGet(_ context.Context, tool string) (slipway.ToolConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.maybePanic("ConfigGet")
	c, ok := f.configs[tool]
	if !ok {
		return slipway.ToolConfig{}, slipway.Errorf(slipway.ENotFound, "No configuration found for tool: %s", tool)
	}
	return c, nil
}

func (f *fakeService) DeploymentListBrief(_ context.Context, tool string) ([]slipway.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]slipway.Deployment, 0, len(f.deployments[tool]))
	for _, d := range f.deployments[tool] {
		d.Steps, d.Builds, d.Runs = nil, nil, nil
		out = append(out, d)
	}
	return out, nil
}

func (f *fakeService) DeploymentGet(_ context.Context, tool, id string) (slipway.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.maybePanic("DeploymentGet")
	ds := f.deployments[tool]
	if id == slipway.DeploymentIDLatest {
		if len(ds) == 0 {
			return slipway.Deployment{}, slipway.Errorf(slipway.ENotFound, "No deployments found for tool: %s", tool)
		}
		return ds[len(ds)-1], nil
	}
	for _, d := range ds {
		if d.ID == id {
			return d, nil
		}
	}
	return slipway.Deployment{}, slipway.Errorf(slipway.ENotFound, "Deployment %s not found for tool %s", id, tool)
}

func (f *fakeService) DeploymentEvents(ctx context.Context, _, id string, after int64, fn func(slipway.Event) error) error {
	f.mu.Lock()
	f.after = append(f.after, after)
	evs := append([]slipway.Event(nil), f.events[id]...)
	block := f.block
	f.mu.Unlock()
	for _, ev := range evs {
		if ev.Seq <= after {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeService) DeploymentPlan(_ context.Context, tool string, _ slipway.DeployOptions) (slipway.Deployment, error) {
	if _, err := f.ConfigGet(context.Background(), tool); err != nil {
		return slipway.Deployment{}, err
	}
	return slipway.Deployment{
		Tool: tool, Status: slipway.DeploymentPending, LongStatus: "Plan only, nothing was changed: 2 steps",
		Steps: []slipway.Step{
			{Key: "build:web", Action: slipway.ActionReuse, Reason: "build 9b0d44 exists"},
			{Key: "run:web", Action: slipway.ActionNone, Needs: []string{"build:web"}, Reason: "unchanged"},
		},
	}, nil
}

func (f *fakeService) DeploymentCreate(_ context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.configs[tool]; !ok {
		return slipway.Deployment{}, slipway.Errorf(slipway.ENotFound, "No configuration found for tool: %s", tool)
	}
	f.created = append(f.created, opts)
	d := slipway.Deployment{ID: fmt.Sprintf("20250601-120000-created%03d", len(f.created)), Tool: tool, CreatedAt: t0, Status: slipway.DeploymentPending}
	f.deployments[tool] = append(f.deployments[tool], d)
	return d, nil
}

func (f *fakeService) DeploymentCancel(_ context.Context, tool, id string) (slipway.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, d := range f.deployments[tool] {
		if d.ID == id {
			if d.Status.Final() {
				return d, slipway.Errorf(slipway.EConflict, "Deployment can't be cancelled, its status is %s", d.Status)
			}
			f.cancelled = append(f.cancelled, id)
			f.deployments[tool][i].Status = slipway.DeploymentCancelling
			return f.deployments[tool][i], nil
		}
	}
	return slipway.Deployment{}, slipway.Errorf(slipway.ENotFound, "Deployment %s not found for tool %s", id, tool)
}

func (f *fakeService) BuildList(_ context.Context, tool string) ([]slipway.Build, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.builds[tool], nil
}

func (f *fakeService) BuildLogs(ctx context.Context, _, id string, follow bool, _ int, w io.Writer) error {
	return f.writeLog(ctx, "build/"+id, follow, w)
}

func (f *fakeService) JobList(_ context.Context, tool string) ([]slipway.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jobs[tool], nil
}

func (f *fakeService) JobLogs(ctx context.Context, _, name string, follow bool, _ int, w io.Writer) error {
	return f.writeLog(ctx, "job/"+name, follow, w)
}

func (f *fakeService) writeLog(ctx context.Context, key string, follow bool, w io.Writer) error {
	f.mu.Lock()
	text, ok := f.logs[key]
	block := f.block
	f.mu.Unlock()
	if !ok {
		return slipway.Errorf(slipway.ENotFound, "No log: %s", key)
	}
	if _, err := io.WriteString(w, text); err != nil {
		return err
	}
	if follow && block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}
