package deploy

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"slipway.dev/slipway/internal/remoteconfig"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/toolconfig"
)

// remote serves files over HTTP on 127.0.0.1, as a tool's git host serves
// its config; a missing file is 404.
type remote struct {
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string]string
	hits  atomic.Int32
}

func newRemote(t *testing.T) *remote {
	t.Helper()
	r := &remote{files: map[string]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		r.mu.Lock()
		body, ok := r.files[req.URL.Path]
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *remote) set(path, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if body == "" {
		delete(r.files, path)
		return
	}
	r.files[path] = body
}

func (r *remote) url(path string) string { return r.srv.URL + path }

// mustParse parses a config the test wrote.
func mustParse(t testing.TB, yaml string) slipway.ToolConfig {
	t.Helper()
	res, err := toolconfig.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("parse %q: %v", yaml, err)
	}
	return res.Config
}

func TestDeployments_SourceURL(t *testing.T) {
	t.Parallel()
	const tool = "tool"

	type testBundle struct {
		h      *harness
		remote *remote
		// posted is what a user posts: a pointer to the remote config,
		// with a placeholder component (Toolforge requires one).
		posted slipway.ToolConfig
		// remoteConfig returns the remote config running command, with
		// source_url pointing at itself.
		remoteConfig func(command string) string
	}
	setup := func(t *testing.T, fetcher ConfigFetcher) *testBundle {
		t.Helper()
		repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "hello\n"})
		rm := newRemote(t)
		if fetcher == nil {
			fetcher = remoteconfig.New(remoteconfig.Config{AllowPrivate: true})
		}
		b := &testBundle{h: newHarness(t, Config{ConfigFetcher: fetcher}, false), remote: rm}
		b.remoteConfig = func(command string) string {
			return "source_url: " + rm.url("/tool.yaml") + "\ncomponents:\n  job:\n    component_type: one-off\n" +
				"    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: " + command + "}\n"
		}
		b.posted = mustParse(t, "source_url: "+rm.url("/tool.yaml")+"\ncomponents:\n  placeholder:\n"+
			"    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: placeholder}\n")
		return b
	}
	storedVersion := func(t *testing.T, b *testBundle) (int, string) {
		t.Helper()
		sc, err := b.h.db.ConfigGetLatest(t.Context(), tool)
		if err != nil {
			return 0, ""
		}
		return sc.Version, string(sc.Raw)
	}

	// Ensure config create stores the remote config, not the posted one.
	t.Run("ConfigPutStoresRemote", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.remote.set("/tool.yaml", b.remoteConfig("v1"))
		got, warnings, err := b.h.deploys.ConfigPut(t.Context(), tool, b.posted)
		if err != nil {
			t.Fatal(err)
		}
		want := mustParse(t, b.remoteConfig("v1"))
		if string(got.Raw) != string(want.Raw) {
			t.Errorf("ConfigPut returned %s, want the remote config %s", got.Raw, want.Raw)
		}
		if len(warnings) != 0 {
			t.Errorf("warnings = %q, want none", warnings)
		}
		if v, raw := storedVersion(t, b); v != 1 || raw != string(want.Raw) {
			t.Errorf("stored version %d %s, want 1 %s", v, raw, want.Raw)
		}
	})

	// Ensure a remote config over the server's limits is refused as every
	// other remote failure (400, naming the URL), its problems at their
	// line:col in the remote file, and nothing is stored.
	t.Run("RemoteOverLimits", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.remote.set("/tool.yaml", b.remoteConfig("v1")+"  web:\n    build: {reuse_from: job}\n    run: {command: web, replicas: 11}\n")
		_, _, err := b.h.deploys.ConfigPut(t.Context(), tool, b.posted)
		want := "Unable to retrieve config from source url " + b.remote.url("/tool.yaml") +
			": the config there is over this server's limits: components.web.run.replicas (line 9, column 35): replicas must be at most 10 (the tool's replica quota), got 11"
		if !errors.Is(err, slipway.ErrSourceURL) || slipway.ErrorMessage(err) != want {
			t.Errorf("ConfigPut = %q (source URL error: %v), want %q", slipway.ErrorMessage(err), errors.Is(err, slipway.ErrSourceURL), want)
		}
		if v, _ := storedVersion(t, b); v != 0 {
			t.Errorf("stored version %d after a refused remote config", v)
		}
	})

	// Ensure a remote config without source_url is stored, with a warning
	// that it will not be fetched again.
	t.Run("RemoteWithoutSourceURL", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		pinned := strings.Replace(b.remoteConfig("v1"), "source_url: "+b.remote.url("/tool.yaml")+"\n", "", 1)
		b.remote.set("/tool.yaml", pinned+"extra: field\n")
		got, warnings, err := b.h.deploys.ConfigPut(t.Context(), tool, b.posted)
		if err != nil {
			t.Fatal(err)
		}
		if got.SourceURL != "" {
			t.Errorf("stored source_url %q, want none", got.SourceURL)
		}
		if len(warnings) != 2 || warnings[0] != "Unknown field extra, skipped (in "+b.remote.url("/tool.yaml")+")" ||
			!strings.Contains(warnings[1], "later deployments will not fetch it again") {
			t.Errorf("warnings = %q, want the unknown field and the not-live warning", warnings)
		}
	})

	// Ensure a failed fetch, or a remote config that is not valid, stores
	// nothing and says why, with the remote file's line and column.
	t.Run("ConfigPutFailureStoresNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, _, err := b.h.deploys.ConfigPut(t.Context(), tool, b.posted) // 404
		if !errors.Is(err, slipway.ErrSourceURL) || slipway.ErrorCode(err) != slipway.EInvalid {
			t.Fatalf("ConfigPut(404) error = %v, want EInvalid wrapping ErrSourceURL", err)
		}
		if se, ok := errors.AsType[*remoteconfig.StatusError](err); !ok || se.StatusCode != http.StatusNotFound {
			t.Errorf("ConfigPut(404) error = %v, want the 404 in its chain", err)
		}
		if v, _ := storedVersion(t, b); v != 0 {
			t.Errorf("a config was stored (version %d)", v)
		}

		b.remote.set("/tool.yaml", b.remoteConfig("v1"))
		if _, _, err := b.h.deploys.ConfigPut(t.Context(), tool, b.posted); err != nil {
			t.Fatal(err)
		}
		_, before := storedVersion(t, b)
		b.remote.set("/tool.yaml", strings.Replace(b.remoteConfig("v2"), "one-off", "sometimes", 1))
		_, _, err = b.h.deploys.ConfigPut(t.Context(), tool, b.posted)
		if !errors.Is(err, slipway.ErrSourceURL) {
			t.Fatalf("ConfigPut(invalid remote) error = %v, want ErrSourceURL", err)
		}
		msg := slipway.ErrorMessage(err)
		wantPrefix := "Unable to retrieve config from source url " + b.remote.url("/tool.yaml") + ": the config there is not valid: components.job.component_type (line 4, column 21): "
		if !strings.HasPrefix(msg, wantPrefix) {
			t.Errorf("message = %q, want it to start with %q", msg, wantPrefix)
		}
		if v, raw := storedVersion(t, b); v != 1 || raw != before {
			t.Errorf("stored version %d %s, want 1 unchanged", v, raw)
		}
	})

	// Ensure a deployment fetches the config again, stores it only when it
	// changed, and deploys it.
	t.Run("DeploymentCreateFetchesAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.remote.set("/tool.yaml", b.remoteConfig("v1"))
		if _, _, err := b.h.deploys.ConfigPut(t.Context(), tool, b.posted); err != nil {
			t.Fatal(err)
		}
		b.remote.set("/tool.yaml", b.remoteConfig("v2"))
		d, err := b.h.deploys.DeploymentCreate(t.Context(), tool, slipway.DeployOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := mustParse(t, b.remoteConfig("v2"))
		if d.ConfigVersion != 2 || string(d.ToolConfig) != string(want.Raw) {
			t.Errorf("deployed version %d %s, want 2 %s", d.ConfigVersion, d.ToolConfig, want.Raw)
		}
		d2, err := b.h.deploys.DeploymentCreate(t.Context(), tool, slipway.DeployOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d2.ConfigVersion != 2 {
			t.Errorf("unchanged remote deployed as version %d, want 2 (no new version)", d2.ConfigVersion)
		}
		if v, _ := storedVersion(t, b); v != 2 {
			t.Errorf("stored version %d, want 2", v)
		}
	})

	// Ensure a deployment whose fetch fails is not created and changes
	// nothing.
	t.Run("DeploymentCreateFetchFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.remote.set("/tool.yaml", b.remoteConfig("v1"))
		if _, _, err := b.h.deploys.ConfigPut(t.Context(), tool, b.posted); err != nil {
			t.Fatal(err)
		}
		b.remote.set("/tool.yaml", "")
		_, err := b.h.deploys.DeploymentCreate(t.Context(), tool, slipway.DeployOptions{})
		if !errors.Is(err, slipway.ErrSourceURL) || slipway.ErrorCode(err) != slipway.EInvalid {
			t.Fatalf("DeploymentCreate(404) error = %v, want EInvalid wrapping ErrSourceURL", err)
		}
		ds, err := b.h.deploys.DeploymentList(t.Context(), tool)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 0 {
			t.Errorf("%d deployments were created, want none", len(ds))
		}
		if v, _ := storedVersion(t, b); v != 1 {
			t.Errorf("stored version %d, want 1", v)
		}
	})

	// Ensure a plan uses the remote config and stores nothing.
	t.Run("PlanDoesNotStore", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.remote.set("/tool.yaml", b.remoteConfig("v1"))
		if _, _, err := b.h.deploys.ConfigPut(t.Context(), tool, b.posted); err != nil {
			t.Fatal(err)
		}
		b.remote.set("/tool.yaml", b.remoteConfig("v2"))
		d, err := b.h.deploys.DeploymentPlan(t.Context(), tool, slipway.DeployOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := mustParse(t, b.remoteConfig("v2")); d.ConfigVersion != 0 || string(d.ToolConfig) != string(want.Raw) {
			t.Errorf("planned version %d %s, want 0 (not stored) %s", d.ConfigVersion, d.ToolConfig, want.Raw)
		}
		if v, _ := storedVersion(t, b); v != 1 {
			t.Errorf("stored version %d, want 1", v)
		}
	})

	// Ensure the server's fetcher, by default, never reaches a loopback
	// address.
	t.Run("GuardRefusesLoopback", func(t *testing.T) {
		t.Parallel()
		b := setup(t, remoteconfig.New(remoteconfig.Config{}))
		b.remote.set("/tool.yaml", b.remoteConfig("v1"))
		_, _, err := b.h.deploys.ConfigPut(t.Context(), tool, b.posted)
		if _, ok := errors.AsType[*remoteconfig.BlockedError](err); !ok || !errors.Is(err, slipway.ErrSourceURL) {
			t.Fatalf("ConfigPut(loopback) error = %v, want a BlockedError wrapped in ErrSourceURL", err)
		}
		if n := b.remote.hits.Load(); n != 0 {
			t.Errorf("the remote got %d requests, want 0", n)
		}
		if v, _ := storedVersion(t, b); v != 0 {
			t.Errorf("a config was stored (version %d)", v)
		}
	})
}
