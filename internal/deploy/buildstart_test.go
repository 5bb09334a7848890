package deploy_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// awaitBuild waits until the tool's build is final and returns it.
func (b *buildsBundle) awaitBuild(t *testing.T, tool, id string) slipway.Build {
	t.Helper()
	var got slipway.Build
	poll(t, "build "+id+" to end", func() bool {
		var err error
		got, err = b.builds.BuildGet(t.Context(), tool, id)
		return err == nil && got.Status != slipway.BuildPending && got.Status != slipway.BuildRunning
	})
	return got
}

// Ensure a build started outside any deployment runs to its end as a
// build of the tool: listed with its image name, its log kept; starting
// it again answers the same build without building; and a deployment of
// the same commit with the same settings reuses it.
func TestBuilds_BuildStart(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "one\n"})
	got, started, err := b.builds.BuildStart(ctx, "site", slipway.BuildStart{Repository: repo.URL, Ref: "main", ImageName: "web"})
	if err != nil || !started {
		t.Fatalf("BuildStart = %+v, %v, %v", got, started, err)
	}
	if got.Status != slipway.BuildPending || got.Commit != repo.Head(t) || got.Component != "web" || got.Ref != "main" || got.Repository != repo.URL {
		t.Errorf("the started build = %+v", got)
	}
	done := b.awaitBuild(t, "site", got.ID)
	if done.Status != slipway.BuildSuccessful || done.Artifact == "" || done.Error != "" {
		t.Fatalf("the build ended %+v", done)
	}
	var log bytes.Buffer
	if err := b.builds.BuildLogs(ctx, "site", got.ID, false, 0, &log); err != nil || !strings.Contains(log.String(), "==> built "+got.Key) {
		t.Errorf("its log: %v\n%s", err, log.String())
	}
	if list, err := b.builds.BuildList(ctx, "site"); err != nil || len(list) != 1 || list[0].ID != got.ID {
		t.Errorf("BuildList = %+v, %v", list, err)
	}

	again, started, err := b.builds.BuildStart(ctx, "site", slipway.BuildStart{Repository: repo.URL, Ref: "main", ImageName: "web"})
	if err != nil || started || again.ID != got.ID || again.Status != slipway.BuildSuccessful {
		t.Errorf("BuildStart again = %+v, started %v, %v; want the same build, not started", again, started, err)
	}

	// A deployment building that commit with the same settings finds it
	// built.
	d := b.deploy(t, "site", strings.ReplaceAll(staticConfig, "%s", repo.URL))
	if d.Status != slipway.DeploymentSuccessful || d.Builds["web"].BuildID != got.ID {
		t.Errorf("deployment %s (%s): build %+v, want %s reused", d.Status, d.LongStatus, d.Builds["web"], got.ID)
	}

	// Another settings make another build; the image name defaults to
	// tool-<tool>, the ref to HEAD.
	latest, started, err := b.builds.BuildStart(ctx, "site", slipway.BuildStart{Repository: repo.URL, UseLatestVersions: true})
	if err != nil || !started || latest.ID == got.ID || latest.Component != "tool-site" || latest.Ref != "HEAD" {
		t.Fatalf("BuildStart with use_latest_versions = %+v, started %v, %v", latest, started, err)
	}
	if done := b.awaitBuild(t, "site", latest.ID); done.Status != slipway.BuildSuccessful {
		t.Errorf("the second build ended %+v", done)
	}
}

// Ensure a started build that hangs is killed by BuildCancel: it ends
// cancelled with its log kept, its process gone, a follower of its log
// ends; it cannot be cancelled again, and can be deleted.
func TestBuilds_BuildStartCancel(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{
		"index.html":     "slow\n",
		".slipway/build": "#!/bin/sh\necho starting the slow step\nexec sleep 3187\n",
	})
	got, started, err := b.builds.BuildStart(ctx, "slow", slipway.BuildStart{Repository: repo.URL})
	if err != nil || !started {
		t.Fatalf("BuildStart = %+v, %v, %v", got, started, err)
	}
	id := got.ID
	poll(t, "the slow step to log", func() bool {
		var log bytes.Buffer
		_ = b.builds.BuildLogs(ctx, "slow", id, false, 0, &log)
		return strings.Contains(log.String(), "starting the slow step")
	})
	if cur, _ := b.builds.BuildGet(ctx, "slow", id); cur.Status != slipway.BuildRunning {
		t.Errorf("while it runs: %s", cur.Status)
	}
	_, err = b.builds.BuildDelete(ctx, "slow", id)
	wantCode(t, "BuildDelete while it runs", err, slipway.EConflict)

	var (
		followed  bytes.Buffer
		followErr error
		wg        sync.WaitGroup
	)
	wg.Go(func() { followErr = b.builds.BuildLogs(ctx, "slow", id, true, 0, &followed) })
	if _, err := b.builds.BuildCancel(ctx, "slow", id); err != nil {
		t.Fatalf("BuildCancel: %v", err)
	}
	final := b.awaitBuild(t, "slow", id)
	wg.Wait()
	if final.Status != slipway.BuildCancelled || final.Error != "build cancelled by request" {
		t.Errorf("after the cancel: %s %q", final.Status, final.Error)
	}
	if followErr != nil || !strings.Contains(followed.String(), "starting the slow step") {
		t.Errorf("followed log: %v\n%s", followErr, followed.String())
	}
	if out, err := exec.CommandContext(ctx, "pgrep", "-f", "sleep 3187").Output(); err == nil {
		t.Errorf("the build's process survived the cancel: %s", out)
	}
	_, err = b.builds.BuildCancel(ctx, "slow", id)
	wantCode(t, "BuildCancel again", err, slipway.EConflict)
	if msg := slipway.ErrorMessage(err); msg != "Build "+id+" cannot be cancelled again. It has already been cancelled" {
		t.Errorf("BuildCancel again: %q", msg)
	}
	if _, err := b.builds.BuildDelete(ctx, "slow", id); err != nil {
		t.Errorf("BuildDelete once cancelled: %v", err)
	}
}

// Ensure a tool cannot have more than four builds pending or running when
// it starts another (builds-api's limit and words), and that its quota
// says so; pending builds (waiting for a slot) cancel as running ones do.
func TestBuilds_BuildStartTooMany(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{
		"index.html":     "slow\n",
		".slipway/build": "#!/bin/sh\nexec sleep 3191\n",
	})
	var ids []string
	for _, ref := range []string{"b1", "b2", "b3", "b4"} {
		repo.Commit(t, map[string]string{"index.html": ref + "\n"}, ref)
		repo.Branch(t, ref)
		got, started, err := b.builds.BuildStart(ctx, "busy", slipway.BuildStart{Repository: repo.URL, Ref: ref})
		if err != nil || !started {
			t.Fatalf("BuildStart %s = %+v, %v, %v", ref, got, started, err)
		}
		ids = append(ids, got.ID)
	}
	// The same key as one under way would answer that build: another
	// commit.
	repo.Commit(t, map[string]string{"index.html": "b5\n"}, "b5")
	_, _, err := b.builds.BuildStart(ctx, "busy", slipway.BuildStart{Repository: repo.URL, Ref: "main"})
	wantCode(t, "a fifth BuildStart", err, slipway.EConflict)
	if msg := slipway.ErrorMessage(err); msg != "Got too many builds running (4 out of 4 max), cancel some or wait for them to finish" {
		t.Errorf("a fifth BuildStart: %q", msg)
	}
	quota, err := b.builds.BuildQuota(ctx, "busy")
	if err != nil || len(quota) != 1 || quota[0].Items[0].Used != "4" || quota[0].Items[0].Limit != "4" {
		t.Errorf("BuildQuota = %+v, %v", quota, err)
	}
	for _, id := range ids {
		if _, err := b.builds.BuildCancel(ctx, "busy", id); err != nil {
			t.Errorf("BuildCancel %s: %v", id, err)
		}
	}
	for _, id := range ids {
		if got := b.awaitBuild(t, "busy", id); got.Status != slipway.BuildCancelled {
			t.Errorf("build %s after the cancel: %s %q", id, got.Status, got.Error)
		}
	}
	if out, err := exec.CommandContext(ctx, "pgrep", "-f", "sleep 3191").Output(); err == nil {
		t.Errorf("a build's process survived the cancel: %s", out)
	}
}

// Ensure a bad start request is refused with a message naming the
// problem, and records nothing.
func TestBuilds_BuildStartBadInput(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "one\n"})
	tool := slipway.Actor{Name: "tool-token:0f3c9a1b2d4e5f60"}
	for _, tt := range []struct {
		name  string
		tool  string
		req   slipway.BuildStart
		actor *slipway.Actor
		code  string
		msg   string
	}{
		{"BadTool", "Bad_Tool", slipway.BuildStart{Repository: repo.URL}, nil, slipway.EInvalid, "Tool name"},
		{"NoSourceURL", "site", slipway.BuildStart{Ref: "main"}, nil, slipway.EInvalid, "source_url is required"},
		{"SSH", "site", slipway.BuildStart{Repository: "git@example.org:app.git"}, nil, slipway.EInvalid, "SSH addresses are not supported"},
		{"Credentials", "site", slipway.BuildStart{Repository: "https://bob:hunter2@example.org/app.git"}, nil, slipway.EInvalid, "carries credentials"},
		{"BadRef", "site", slipway.BuildStart{Repository: repo.URL, Ref: "--upload-pack=x"}, nil, slipway.EInvalid, `it must not start with "-"`},
		{"UnknownRef", "site", slipway.BuildStart{Repository: repo.URL, Ref: "nope"}, nil, slipway.EInvalid, "Failed to resolve ref nope, maybe the repository " + repo.URL + " is not public? Error: "},
		{"BadImageName", "site", slipway.BuildStart{Repository: repo.URL, ImageName: "../web"}, nil, slipway.EInvalid, "image_name must be"},
		{"Envvars", "site", slipway.BuildStart{Repository: repo.URL, Envvars: map[string]string{"NODE_ENV": "production"}}, nil, slipway.EInvalid, "take no build-time environment variables, got NODE_ENV"},
		{"LocalRepoForATool", "site", slipway.BuildStart{Repository: repo.URL}, &tool, slipway.EForbidden, "local repositories need the admin token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			if tt.actor != nil {
				ctx = slipway.WithActor(ctx, *tt.actor)
			}
			_, _, err := b.builds.BuildStart(ctx, tt.tool, tt.req)
			wantCode(t, "BuildStart", err, tt.code)
			if !strings.Contains(slipway.ErrorMessage(err), tt.msg) {
				t.Errorf("BuildStart: %q does not say %q", slipway.ErrorMessage(err), tt.msg)
			}
		})
	}
	t.Cleanup(func() {
		if list, err := b.builds.BuildList(context.Background(), "site"); err != nil || len(list) != 0 {
			t.Errorf("bad starts recorded builds: %+v, %v", list, err)
		}
	})
}
