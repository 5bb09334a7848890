package deploy

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// TestDeployments_AskEnv runs a real deployment and checks who gets the
// environment of `slipway ask`: the build of the build step and the
// one-off run get the API's URL and a token naming their own step, the
// continuous and scheduled components get neither; and the token is in
// no record, log or state file the server keeps, nor in the deployment.
func TestDeployments_AskEnv(t *testing.T) {
	t.Parallel()
	const tool = "asker"
	tokens := auth.NewAskTokens(bytes.Repeat([]byte{7}, 32))
	h := newHarness(t, Config{AskTokens: tokens, AskURL: "http://127.0.0.1:8700"}, true)
	ctx := t.Context()
	// Each process writes what it got into a file of its own home (the
	// build's is its cache's); the test reads the files and removes them
	// before looking for the tokens everywhere else.
	dump := `printf '%s\n%s\n' "${SLIPWAY_URL:-none}" "${SLIPWAY_ASK_TOKEN:-none}" > "$HOME/ask-`
	repo := slipwaytest.GitRepo(t, map[string]string{
		"README":         "nothing to build\n",
		".slipway/build": "#!/bin/sh\n" + dump + "build\"\necho built\n",
	})
	cfg := mustParse(t, "components:\n"+
		"  web:\n    component_type: continuous\n    build: {repository: "+repo.Dir+", ref: main}\n"+
		"    run: {command: '"+strings.ReplaceAll(dump, "'", "''")+"web\"; exec sleep 600'}\n"+
		"  cron:\n    component_type: scheduled\n    build: {reuse_from: web}\n    run: {command: 'echo tick', schedule: '@daily'}\n"+
		"  migrate:\n    component_type: one-off\n    build: {reuse_from: web}\n    run: {command: '"+strings.ReplaceAll(dump, "'", "''")+"migrate\"; echo migrated'}\n")
	if _, _, err := h.deploys.ConfigPut(ctx, tool, cfg); err != nil {
		t.Fatal(err)
	}
	d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment %s: %s", d.Status, d.LongStatus)
	}
	var found []string
	_ = filepath.WalkDir(h.dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(e.Name(), "ask-") {
			found = append(found, p)
		}
		return nil
	})
	got := map[string][]string{}
	for _, p := range found {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got[strings.TrimPrefix(filepath.Base(p), "ask-")] = strings.Fields(string(b))
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if w := got["web"]; len(w) != 2 || w[0] != "none" || w[1] != "none" {
		t.Errorf("the continuous component got %q, want no URL and no token", w)
	}
	var secrets []string
	for who, step := range map[string]string{"build": "build:web", "migrate": "run:migrate"} {
		v := got[who]
		if len(v) != 2 || v[0] != "http://127.0.0.1:8700" {
			t.Errorf("%s got %q, want the URL and a token", who, v)
			continue
		}
		scope, ok := tokens.Parse(v[1])
		if want := (slipway.AskScope{Tool: tool, DeploymentID: d.ID, Step: step}); !ok || scope != want {
			t.Errorf("%s's token names %+v (valid %v), want %+v", who, scope, ok, want)
		}
		secrets = append(secrets, v[1])
	}
	// The tokens are nowhere the server keeps things: database, build logs
	// and records (artifact.json), run logs and state files; nor in the
	// deployment as the API answers it.
	rec, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(rec, []byte(s)) {
			t.Errorf("the deployment record holds an ask token")
		}
		_ = filepath.WalkDir(h.dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return nil //nolint:nilerr // a file that went away holds nothing
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds an ask token", p)
			}
			return nil
		})
	}
}
