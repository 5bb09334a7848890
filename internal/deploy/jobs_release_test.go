package deploy

import (
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// Ensure a change the jobs API makes to what is live (an upsert that
// applies another spec, a delete, a flush) appends a release with it, with
// no deployment and the caller as its actor; that a restart (the same
// version again) appends none; and that is-live and when stay coherent
// with those records. On both stores.
func TestJobs_ReleasesOutsideDeployments(t *testing.T) {
	t.Parallel()
	for _, es := range engineStores {
		t.Run(es.name, func(t *testing.T) {
			t.Parallel()
			const tool = "jobsrel"
			h := newHarnessOn(t, es, Config{}, true)
			rel := NewReleases(h.eng)
			ctx := t.Context()
			repo := slipwaytest.GitRepo(t, map[string]string{"README": "nothing to build\n"})
			cfg := "components:\n  cron:\n    component_type: scheduled\n    build: {repository: " + repo.Dir + ", ref: main}\n" +
				"    run: {command: 'echo tick', schedule: '@daily'}\n"
			if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
				t.Fatal(err)
			}
			deploy := func() slipway.Deployment {
				t.Helper()
				d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli", Actor: "admin"})
				if err != nil {
					t.Fatal(err)
				}
				if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
					t.Fatalf("deployment = %s (%s)", d.Status, d.LongStatus)
				}
				return d
			}
			releases := func() []slipway.Release {
				t.Helper()
				rs, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool})
				if err != nil {
					t.Fatal(err)
				}
				return rs
			}
			head := repo.Head(t)
			d1 := deploy()
			first := releases()
			if len(first) != 1 {
				t.Fatalf("releases after the deployment = %+v, want 1", first)
			}

			jctx := slipway.WithActor(ctx, slipway.Actor{Name: "tool-token:jobs", Tool: tool})
			hourly := slipway.Job{ImageName: "cron", Component: slipway.Component{
				Name: "cron", Type: slipway.Scheduled, Run: slipway.RunSpec{Command: "echo tick", Schedule: "@hourly"},
			}}
			if changed, msg, err := h.jobs.JobUpsert(jctx, tool, hourly); err != nil || !changed {
				t.Fatalf("JobUpsert = %v, %q, %v; want a change", changed, msg, err)
			}
			rs := releases()
			if len(rs) != 2 {
				t.Fatalf("releases after the upsert = %+v, want 2", rs)
			}
			up := rs[0]
			live, err := h.db.LiveRunList(ctx, tool)
			if err != nil || len(live) != 1 {
				t.Fatalf("live = %+v, %v", live, err)
			}
			if up.DeploymentID != "" || up.Actor != "tool-token:jobs" || up.Outcome != slipway.ReleaseApplied ||
				up.SpecHash != live[0].SpecHash || up.SpecHash == first[0].SpecHash || up.BuildKey != first[0].BuildKey ||
				up.Commit != head || up.ConfigVersion != first[0].ConfigVersion || up.Environment != slipway.DefaultEnvironment {
				t.Errorf("upsert's release = %+v, want the new spec live, no deployment, by tool-token:jobs (first: %+v)", up, first[0])
			}
			// Sending the same definition again changes nothing, and
			// appends nothing; nor does a restart (the same version).
			if changed, _, err := h.jobs.JobUpsert(jctx, tool, hourly); err != nil || changed {
				t.Fatalf("JobUpsert again = %v, %v; want no change", changed, err)
			}
			if _, err := h.jobs.JobRestart(jctx, tool, "cron"); err != nil {
				t.Fatal(err)
			}
			if n := len(releases()); n != 2 {
				t.Errorf("%d releases after an unchanged upsert and a restart, want still 2", n)
			}
			// is-live: the jobs API's release ran the same commit, so the
			// commit has been live since the deployment without a break.
			lcs, err := rel.IsLive(ctx, tool, head)
			if err != nil || len(lcs) != 1 || lcs[0].State != slipway.LiveExact || lcs[0].DeploymentID != d1.ID {
				t.Errorf("IsLive after the upsert = %+v, %v; want exact since %s", lcs, err, d1.ID)
			}

			if _, err := h.jobs.JobDelete(jctx, tool, "cron"); err != nil {
				t.Fatal(err)
			}
			rs = releases()
			if len(rs) != 3 || rs[0].Outcome != slipway.ReleaseRemoved || rs[0].DeploymentID != "" || rs[0].Actor != "tool-token:jobs" ||
				rs[0].Component != "cron" {
				t.Fatalf("releases after the delete = %+v, want cron removed by tool-token:jobs", rs)
			}
			if lcs, err := rel.IsLive(ctx, tool, head); err != nil || len(lcs) != 0 {
				t.Errorf("IsLive after the delete = %+v, %v; want nothing live", lcs, err)
			}
			// Deleting it again (nothing live) appends nothing.
			if _, err := h.jobs.JobDelete(jctx, tool, "cron"); slipway.ErrorCode(err) != slipway.ENotFound {
				t.Errorf("delete again: %v, want ENotFound", err)
			}

			d2 := deploy()
			if lcs, err := rel.IsLive(ctx, tool, head); err != nil || len(lcs) != 1 || lcs[0].DeploymentID != d2.ID {
				t.Errorf("IsLive after the redeploy = %+v, %v; want exact since %s (the delete broke the chain)", lcs, err, d2.ID)
			}
			frs, err := rel.When(ctx, tool, head)
			if err != nil || len(frs) != 1 || frs[0].Release.DeploymentID != d1.ID || !frs[0].Exact {
				t.Errorf("When = %+v, %v; want first in %s", frs, err, d1.ID)
			}
			if _, err := h.jobs.JobFlush(jctx, tool); err != nil {
				t.Fatal(err)
			}
			rs = releases()
			if len(rs) != 5 || rs[0].Outcome != slipway.ReleaseRemoved || rs[0].DeploymentID != "" || rs[1].DeploymentID != d2.ID {
				t.Errorf("releases after the flush = %+v, want the redeploy's, then cron removed", rs)
			}
		})
	}
}
