package storetest

import (
	"encoding/json"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

func testRestart(t *testing.T, f Factory, rf RestartFactory) {
	t.Parallel()

	t.Run("NothingLost", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		ctx := b.ctx

		// One of everything, some of it written in a transaction.
		mustDo(t, s.ToolEnsure(ctx, "tool", at(0)))
		mustDo(t, s.ToolEnsure(ctx, "other", at(0)))
		raw1 := json.RawMessage(`{"components":{"web":{}}}`)
		raw3 := json.RawMessage(`{"components":{"api":{}}}`)
		must(s.ConfigCreate(ctx, "tool", raw1, at(1)))(t)
		must(s.ConfigDelete(ctx, "tool", at(2)))(t)
		must(s.ConfigCreate(ctx, "tool", raw3, at(3)))(t)

		d1 := deployment("tool", "20250601-120100-aaaaaaaaaa", at(1).In(cet), slipway.DeploymentSuccessful)
		d2 := deployment("tool", "20250601-120200-bbbbbbbbbb", at(2), slipway.DeploymentRunning)
		mustDo(t, s.DeploymentCreate(ctx, d1))
		var events []slipway.Event
		mustDo(t, s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.DeploymentCreate(ctx, d2); err != nil {
				return err
			}
			for _, id := range []string{d1.ID, d2.ID} {
				if err := tx.StepsCreate(ctx, steps(id)); err != nil {
					return err
				}
				e := slipway.Event{
					DeploymentID: id, Time: at(5), Kind: "step", Step: "build:web",
					State: "done", Message: "built " + id,
				}
				seq, err := tx.EventAppend(ctx, e)
				if err != nil {
					return err
				}
				e.Seq = seq
				events = append(events, e)
			}
			return nil
		}))
		builds := []slipway.Build{
			build("tool", "b2", "k2", slipway.BuildFailed, at(2)),
			build("tool", "b1", "k1", slipway.BuildSuccessful, at(1).In(cet)),
		}
		for _, bu := range builds {
			mustDo(t, s.BuildCreate(ctx, bu))
		}
		runs := []slipway.LiveRun{liveRun("tool", "api", at(3)), liveRun("tool", "web", at(4).In(cet))}
		for _, r := range runs {
			mustDo(t, s.LiveRunPut(ctx, r))
		}

		tok := store.DeployToken{Tool: "tool", Hash: "h1", CreatedAt: at(5).In(cet)}
		mustDo(t, s.DeployTokenPut(ctx, tok))
		apiTok := store.APIToken{ID: "id1", Tool: "tool", Hash: "ah1", Description: "CI", CreatedAt: at(6).In(cet), LastUsedAt: at(7)}
		mustDo(t, s.APITokenCreate(ctx, apiTok))
		jr := jobRun("tool", "migrate", 8)
		mustDo(t, s.JobRunPut(ctx, jr))
		vars := []store.EnvVar{envVar("tool", "API_KEY", "sealed-a", at(8).In(cet)), envVar("tool", "DB_URL", "sealed-d", at(9))}
		for _, v := range vars {
			mustDo(t, s.EnvVarPut(ctx, v))
		}

		s2 := rf(t, s)
		if s2 == s {
			t.Fatal("RestartFactory returned the same store")
		}
		t.Cleanup(func() {
			if err := s2.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})

		diff(t, "ToolList", []string{"other", "tool"}, must(s2.ToolList(ctx))(t))
		diff(t, "ConfigGet(1)", store.StoredConfig{Tool: "tool", Version: 1, Raw: raw1, CreatedAt: at(1)},
			must(s2.ConfigGet(ctx, "tool", 1))(t))
		diff(t, "ConfigGet(2)", store.StoredConfig{Tool: "tool", Version: 2, Deleted: true, CreatedAt: at(2)},
			must(s2.ConfigGet(ctx, "tool", 2))(t))
		diff(t, "ConfigGetLatest", store.StoredConfig{Tool: "tool", Version: 3, Raw: raw3, CreatedAt: at(3)},
			must(s2.ConfigGetLatest(ctx, "tool"))(t))
		diff(t, "DeploymentList", []slipway.Deployment{d1, d2}, must(s2.DeploymentList(ctx, "tool"))(t))
		diff(t, "DeploymentListUnfinished", []slipway.Deployment{d2}, must(s2.DeploymentListUnfinished(ctx, ""))(t))
		for i, id := range []string{d1.ID, d2.ID} {
			diff(t, "StepList("+id+")", steps(id), must(s2.StepList(ctx, id))(t))
			diff(t, "EventList("+id+")", events[i:i+1], must(s2.EventList(ctx, id, 0, 0))(t))
		}
		diff(t, "BuildList", builds, must(s2.BuildList(ctx, "tool"))(t))
		diff(t, "BuildFindSuccessful", builds[1], must(s2.BuildFindSuccessful(ctx, "k1"))(t))
		diff(t, "LiveRunList", runs, must(s2.LiveRunList(ctx, "tool"))(t))

		diff(t, "DeployTokenGet", tok, must(s2.DeployTokenGet(ctx, "tool"))(t))
		diff(t, "APITokenByHash", apiTok, must(s2.APITokenByHash(ctx, "ah1"))(t))
		diff(t, "APITokenList", []store.APIToken{apiTok}, must(s2.APITokenList(ctx, "tool"))(t))
		diff(t, "JobRunList", []slipway.JobRun{jr}, must(s2.JobRunList(ctx, "tool"))(t))
		diff(t, "EnvVarList", vars, must(s2.EnvVarList(ctx, "tool"))(t))

		// Counters carry on where they were.
		if v := must(s2.ConfigCreate(ctx, "tool", raw1, at(6)))(t); v != 4 {
			t.Errorf("ConfigCreate after restart = %d, want 4", v)
		}
		if seq := must(s2.EventAppend(ctx, slipway.Event{DeploymentID: d1.ID, Kind: "log"}))(t); seq <= events[1].Seq {
			t.Errorf("EventAppend after restart = %d, want more than %d", seq, events[1].Seq)
		}
	})

	t.Run("RestartTwice", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		mustDo(t, s.ToolEnsure(b.ctx, "tool", t0))
		s2 := rf(t, s)
		t.Cleanup(func() { _ = s2.Close() })
		mustDo(t, s2.ToolEnsure(b.ctx, "second", t0))
		s3 := rf(t, s2)
		t.Cleanup(func() { _ = s3.Close() })
		diff(t, "ToolList", []string{"second", "tool"}, must(s3.ToolList(b.ctx))(t))
	})
}
