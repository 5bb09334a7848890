package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/deploy"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/toolconfig"
)

// buildsBundle is a whole engine on real parts: SQLite, River, git, the
// local builder and the local process target, as the server wires them.
type buildsBundle struct {
	deploys *deploy.Deployments
	builds  *deploy.Builds
	builder *localbuild.Builder
}

func setupBuilds(t *testing.T) *buildsBundle {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git not installed: %v", err)
	}
	h := deploy.NewHarness(t, deploy.Config{})
	return &buildsBundle{deploys: h.Deployments, builds: h.Builds, builder: h.Builder}
}

// deploy stores cfg as the tool's config, deploys it and returns the
// deployment once it is final.
func (b *buildsBundle) deploy(t *testing.T, tool, cfg string) slipway.Deployment {
	t.Helper()
	d := b.start(t, tool, cfg)
	return b.awaitDeployment(t, tool, d.ID)
}

// start stores cfg as the tool's config and starts a deployment of it.
func (b *buildsBundle) start(t *testing.T, tool, cfg string) slipway.Deployment {
	t.Helper()
	res, err := toolconfig.Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.deploys.ConfigPut(t.Context(), tool, res.Config); err != nil {
		t.Fatal(err)
	}
	d, err := b.deploys.DeploymentCreate(t.Context(), tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// poll calls ok until it is true, for at most a minute.
func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(20 * time.Millisecond)
	}
}

func (b *buildsBundle) awaitDeployment(t *testing.T, tool, id string) slipway.Deployment {
	t.Helper()
	var d slipway.Deployment
	poll(t, "deployment "+id+" to end", func() bool {
		var err error
		d, err = b.deploys.DeploymentGet(t.Context(), tool, id)
		return err == nil && d.Status.Final()
	})
	return d
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := slipway.ErrorCode(err); got != code {
		t.Errorf("%s: code %q (%v), want %q", what, got, err, code)
	}
}

const staticConfig = `components:
  web:
    component_type: one-off
    build: {repository: "%s", ref: main}
    run: {command: "cat index.html"}
`

// Ensure a deployment's build can be listed, shown and its log read; that
// the build a live component runs cannot be deleted (naming it), and that
// once another build replaced it, deleting removes the record, the log and
// the artifact.
func TestBuilds_BuildListShowLogsDelete(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "one\n"})
	cfg := strings.ReplaceAll(staticConfig, "%s", repo.URL)
	d := b.deploy(t, "site", cfg)
	if d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment %s: %s", d.Status, d.LongStatus)
	}
	first := d.Builds["web"].BuildID

	list, err := b.builds.BuildList(ctx, "site")
	if err != nil || len(list) != 1 || list[0].ID != first {
		t.Fatalf("BuildList = %+v, %v; want build %s", list, err, first)
	}
	got, err := b.builds.BuildGet(ctx, "site", first)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != slipway.BuildSuccessful || got.Component != "web" || got.Commit != repo.Head(t) || got.Repository != repo.URL {
		t.Errorf("BuildGet = %+v", got)
	}
	var log bytes.Buffer
	if err := b.builds.BuildLogs(ctx, "site", first, false, 0, &log); err != nil || !strings.Contains(log.String(), "==> built "+got.Key) {
		t.Errorf("BuildLogs = %v\n%s", err, log.String())
	}
	log.Reset()
	if err := b.builds.BuildLogs(ctx, "site", first, true, 0, &log); err != nil || !strings.Contains(log.String(), "==> built "+got.Key) {
		t.Errorf("BuildLogs(follow) of a finished build = %v\n%s", err, log.String())
	}
	log.Reset()
	if err := b.builds.BuildLogs(ctx, "site", first, false, 1, &log); err != nil || !strings.HasPrefix(log.String(), "==> built "+got.Key) || strings.Count(log.String(), "\n") != 1 {
		t.Errorf("BuildLogs(lines 1) = %v, %q", err, log.String())
	}
	err = b.builds.BuildLogs(ctx, "site", first, false, -1, &log)
	wantCode(t, "BuildLogs(lines -1)", err, slipway.EInvalid)

	_, err = b.builds.BuildDelete(ctx, "site", first)
	wantCode(t, "BuildDelete of the live build", err, slipway.EConflict)
	if !strings.Contains(slipway.ErrorMessage(err), "component web runs now") {
		t.Errorf("BuildDelete of the live build: %q does not name the component", slipway.ErrorMessage(err))
	}
	if _, err := b.builds.BuildGet(ctx, "site", first); err != nil {
		t.Errorf("the refused delete deleted: %v", err)
	}

	repo.Commit(t, map[string]string{"index.html": "two\n"}, "two")
	if d := b.deploy(t, "site", cfg); d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("second deployment %s: %s", d.Status, d.LongStatus)
	}
	list, _ = b.builds.BuildList(ctx, "site")
	if len(list) != 2 || list[1].ID != first {
		t.Fatalf("BuildList after a second build = %+v, want the first build last", list)
	}
	art, ok, _ := b.builder.Lookup(ctx, "site", got.Key)
	if !ok {
		t.Fatal("the first artifact is missing before the delete")
	}
	deleted, err := b.builds.BuildDelete(ctx, "site", first)
	if err != nil || deleted.ID != first {
		t.Fatalf("BuildDelete = %+v, %v", deleted, err)
	}
	_, err = b.builds.BuildGet(ctx, "site", first)
	wantCode(t, "BuildGet after delete", err, slipway.ENotFound)
	if _, err := os.Stat(art.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after delete: %v, want it gone", art.Dir, err)
	}
	if err := b.builder.Logs(ctx, "site", first, build.LogOptions{}, io.Discard); !errors.Is(err, build.ErrNoLog) {
		t.Errorf("the builder's log of %s after delete: %v, want ErrNoLog", first, err)
	}
	_, err = b.builds.BuildDelete(ctx, "site", first)
	wantCode(t, "BuildDelete again", err, slipway.ENotFound)
}

// Ensure a build that hangs is killed by BuildCancel: its step is
// cancelled, what needs it is skipped with the reason, the deployment
// fails saying so, and the build is final with its log kept. A final
// build cannot be cancelled again; it can be deleted.
func TestBuilds_BuildCancel(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{
		"index.html":     "slow\n",
		".slipway/build": "#!/bin/sh\necho starting the slow step\nexec sleep 3171\n",
	})
	d := b.start(t, "slow", strings.ReplaceAll(staticConfig, "%s", repo.URL))
	var id string
	poll(t, "the build to run", func() bool {
		list, err := b.builds.BuildList(ctx, "slow")
		if err != nil || len(list) == 0 || list[0].Status != slipway.BuildRunning {
			return false
		}
		id = list[0].ID
		return true
	})

	// Follow the log meanwhile: it ends when the build does.
	var (
		followed  bytes.Buffer
		followErr error
		wg        sync.WaitGroup
	)
	wg.Go(func() { followErr = b.builds.BuildLogs(ctx, "slow", id, true, 0, &followed) })
	poll(t, "the slow step to log", func() bool {
		var log bytes.Buffer
		_ = b.builds.BuildLogs(ctx, "slow", id, false, 0, &log)
		return strings.Contains(log.String(), "starting the slow step")
	})

	got, err := b.builds.BuildCancel(ctx, "slow", id)
	if err != nil {
		t.Fatalf("BuildCancel: %v", err)
	}
	final := b.awaitDeployment(t, "slow", d.ID)
	wg.Wait()
	if followErr != nil || !strings.Contains(followed.String(), "starting the slow step") {
		t.Errorf("followed log: %v\n%s", followErr, followed.String())
	}
	if got.Status != slipway.BuildCancelled {
		// It may still have been stopping when BuildCancel answered.
		got, _ = b.builds.BuildGet(ctx, "slow", id)
	}
	if got.Status != slipway.BuildCancelled || got.Error != "build cancelled by request" {
		t.Errorf("build after cancel = %s %q, want cancelled", got.Status, got.Error)
	}
	states := map[string]string{}
	for _, st := range final.Steps {
		states[st.Key] = string(st.State) + ": " + st.Detail
	}
	if states["build:web"] != "cancelled: build cancelled by request" || states["run:web"] != "skipped: skipped: build:web cancelled" {
		t.Errorf("steps = %v", states)
	}
	if final.Status != slipway.DeploymentFailed || final.LongStatus != "build web was cancelled: build cancelled by request" {
		t.Errorf("deployment = %s %q", final.Status, final.LongStatus)
	}
	if out, err := exec.CommandContext(ctx, "pgrep", "-f", "sleep 3171").Output(); err == nil {
		t.Errorf("the build's process survived the cancel: %s", out)
	}

	_, err = b.builds.BuildCancel(ctx, "slow", id)
	wantCode(t, "BuildCancel of a cancelled build", err, slipway.EConflict)
	if msg := slipway.ErrorMessage(err); msg != "Build "+id+" cannot be cancelled again. It has already been cancelled" {
		t.Errorf("BuildCancel again: %q", msg)
	}
	if _, err := b.builds.BuildDelete(ctx, "slow", id); err != nil {
		t.Errorf("BuildDelete of the cancelled build: %v", err)
	}
}

// Ensure bad input is answered with EInvalid or ENotFound and a message
// naming it, and changes nothing.
func TestBuilds_BuildBadInput(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	ctx := t.Context()
	for _, tt := range []struct {
		name, tool, id, code string
	}{
		{"BadTool", "Bad_Tool", "0123456789abcdef", slipway.EInvalid},
		{"BadID", "site", "../etc", slipway.EInvalid},
		{"LongID", "site", strings.Repeat("a", 129), slipway.EInvalid},
		{"Unknown", "site", "0123456789abcdef", slipway.ENotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			_, err := b.builds.BuildGet(ctx, tt.tool, tt.id)
			wantCode(t, "BuildGet", err, tt.code)
			_, err = b.builds.BuildCancel(ctx, tt.tool, tt.id)
			wantCode(t, "BuildCancel", err, tt.code)
			_, err = b.builds.BuildDelete(ctx, tt.tool, tt.id)
			wantCode(t, "BuildDelete", err, tt.code)
			var log bytes.Buffer
			err = b.builds.BuildLogs(ctx, tt.tool, tt.id, true, 0, &log)
			wantCode(t, "BuildLogs", err, tt.code)
			if log.Len() > 0 {
				t.Errorf("BuildLogs wrote %q", log.String())
			}
		})
	}
	_, err := b.builds.BuildList(ctx, "Bad_Tool")
	wantCode(t, "BuildList of a bad tool", err, slipway.EInvalid)
	if list, err := b.builds.BuildList(ctx, "nobody"); err != nil || list == nil || len(list) != 0 {
		t.Errorf("BuildList of a tool without builds = %#v, %v; want an empty list", list, err)
	}
}

// Ensure a build is refused while the disk check says the data directory
// is under its floor: the build record and the deployment fail with the
// check's message, and once there is room again the next deployment
// builds.
func TestBuilds_BuildRefusedUnderDiskFloor(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git not installed: %v", err)
	}
	var full atomic.Bool
	full.Store(true)
	const msg = "not enough free disk space on /srv: 80 MiB free, the floor is 1 GiB; free some space or lower --min-free-disk"
	h := deploy.NewHarness(t, deploy.Config{DiskCheck: func() error {
		if full.Load() {
			return slipway.Errorf(slipway.EUnavailable, msg)
		}
		return nil
	}})
	b := &buildsBundle{deploys: h.Deployments, builds: h.Builds}
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "one\n"})
	cfg := strings.ReplaceAll(staticConfig, "%s", repo.URL)
	d := b.deploy(t, "site", cfg)
	if d.Status != slipway.DeploymentFailed || !strings.Contains(d.LongStatus, "build refused: "+msg) {
		t.Fatalf("deployment under the floor: %s: %s", d.Status, d.LongStatus)
	}
	list, err := h.Builds.BuildList(t.Context(), "site")
	if err != nil || len(list) != 1 || list[0].Status != slipway.BuildFailed || list[0].Error != "build refused: "+msg {
		t.Fatalf("builds after the refusal: %+v, %v", list, err)
	}
	full.Store(false)
	if d := b.deploy(t, "site", cfg); d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment with room again: %s: %s", d.Status, d.LongStatus)
	}
}

// Ensure each attempt at a build key is a record of its own: a rebuild of
// the same commit (its artifact failed its digest check) gets a new build
// ID and log, the older attempt's record and log stay as they were, and a
// later deployment that reuses the build points at the attempt that made
// it.
func TestBuilds_BuildAttempts(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "one\n"})
	cfg := "components:\n  web:\n    component_type: continuous\n    build: {repository: " + repo.URL + ", ref: main}\n    run: {command: 'exec sleep 600'}\n"
	first := b.deploy(t, "attempts", cfg)
	if first.Status != slipway.DeploymentSuccessful {
		t.Fatalf("first deployment %s: %s", first.Status, first.LongStatus)
	}
	id1 := first.Builds["web"].BuildID
	b1, err := b.builds.BuildGet(ctx, "attempts", id1)
	if err != nil || id1 == b1.Key {
		t.Fatalf("first attempt %s: %+v, %v; want an attempt ID, not the key", id1, b1, err)
	}
	log1 := buildLog(t, b.builds, "attempts", id1)
	// Tamper with the artifact: the next deployment builds the key again.
	art, _, _ := b.builder.Lookup(ctx, "attempts", b1.Key)
	if err := os.WriteFile(filepath.Join(art.Dir, "index.html"), []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := b.deploy(t, "attempts", cfg)
	if second.Status != slipway.DeploymentSuccessful {
		t.Fatalf("second deployment %s: %s", second.Status, second.LongStatus)
	}
	id2 := second.Builds["web"].BuildID
	b2, err := b.builds.BuildGet(ctx, "attempts", id2)
	if err != nil || id2 == id1 || b2.Key != b1.Key {
		t.Fatalf("the rebuild: %+v, %v; want a new attempt of key %s", b2, err, b1.Key)
	}
	if log2 := buildLog(t, b.builds, "attempts", id2); !strings.Contains(log2, "rebuilding") || log2 == log1 {
		t.Errorf("the rebuild's log, want its own saying why:\n%s", log2)
	}
	if again, err := b.builds.BuildGet(ctx, "attempts", id1); err != nil || again.Status != slipway.BuildSuccessful {
		t.Errorf("the first attempt after the rebuild = %+v, %v; want it kept", again, err)
	}
	if now := buildLog(t, b.builds, "attempts", id1); now != log1 {
		t.Errorf("the first attempt's log changed:\n%s", now)
	}
	// Unchanged: the build is reused, and points at the attempt that made it.
	third := b.deploy(t, "attempts", cfg)
	if got := third.Builds["web"]; got.BuildID != id2 || got.BuildStatus != slipway.BuildSkipped {
		t.Errorf("the reusing deployment's build = %+v, want it to point at %s", got, id2)
	}
}

// buildLog returns the whole log of the tool's build id.
func buildLog(t *testing.T, s *deploy.Builds, tool, id string) string {
	t.Helper()
	var buf strings.Builder
	if err := s.BuildLogs(t.Context(), tool, id, false, 0, &buf); err != nil {
		t.Fatalf("BuildLogs(%s): %v", id, err)
	}
	return buf.String()
}
