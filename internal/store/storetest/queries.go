package storetest

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

func testTool(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("EmptyList", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		got := must(s.ToolList(b.ctx))(t)
		if len(got) != 0 {
			t.Errorf("ToolList = %q, want none", got)
		}
	})

	t.Run("EnsureIsIdempotentAndListSorts", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		for _, name := range []string{"zeta", "alpha", "mid", "alpha", "zeta"} {
			mustDo(t, s.ToolEnsure(b.ctx, name, t0))
		}
		diff(t, "ToolList", []string{"alpha", "mid", "zeta"}, must(s.ToolList(b.ctx))(t))
	})
}

func testConfig(t *testing.T, f Factory) {
	t.Parallel()

	raw := func(n int) json.RawMessage {
		return json.RawMessage(`{"config_version":"v1beta1","components":{"web":{"run":{"replicas":` +
			string(rune('0'+n)) + `}}}}`)
	}

	t.Run("CreateAndGet", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		if v := must(s.ConfigCreate(b.ctx, "tool", raw(1), at(1).In(cet)))(t); v != 1 {
			t.Errorf("first ConfigCreate = %d, want 1", v)
		}
		if v := must(s.ConfigCreate(b.ctx, "tool", raw(2), at(2)))(t); v != 2 {
			t.Errorf("second ConfigCreate = %d, want 2", v)
		}
		diff(t, "ConfigGet(1)", store.StoredConfig{Tool: "tool", Version: 1, Raw: raw(1), CreatedAt: at(1)},
			must(s.ConfigGet(b.ctx, "tool", 1))(t))
		want2 := store.StoredConfig{Tool: "tool", Version: 2, Raw: raw(2), CreatedAt: at(2)}
		diff(t, "ConfigGet(2)", want2, must(s.ConfigGet(b.ctx, "tool", 2))(t))
		diff(t, "ConfigGetLatest", want2, must(s.ConfigGetLatest(b.ctx, "tool"))(t))
	})

	t.Run("VersionsArePerTool", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		must(s.ConfigCreate(b.ctx, "a", raw(1), t0))(t)
		must(s.ConfigCreate(b.ctx, "a", raw(2), t0))(t)
		if v := must(s.ConfigCreate(b.ctx, "b", raw(3), t0))(t); v != 1 {
			t.Errorf("ConfigCreate for another tool = %d, want 1", v)
		}
		if got := must(s.ConfigGetLatest(b.ctx, "a"))(t); got.Version != 2 {
			t.Errorf("ConfigGetLatest(a).Version = %d, want 2", got.Version)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.ConfigGetLatest(b.ctx, "tool")
		wantNotFound(t, "ConfigGetLatest without configs", err)
		_, err = s.ConfigGet(b.ctx, "tool", 1)
		wantNotFound(t, "ConfigGet without configs", err)
		_, err = s.ConfigDelete(b.ctx, "tool", t0)
		wantNotFound(t, "ConfigDelete without configs", err)
		must(s.ConfigCreate(b.ctx, "tool", raw(1), t0))(t)
		_, err = s.ConfigGet(b.ctx, "tool", 2)
		wantNotFound(t, "ConfigGet of a missing version", err)
		_, err = s.ConfigGet(b.ctx, "other", 1)
		wantNotFound(t, "ConfigGet of another tool", err)
	})

	t.Run("DeleteNeverReusesVersions", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		must(s.ConfigCreate(b.ctx, "tool", raw(1), at(1)))(t)
		must(s.ConfigCreate(b.ctx, "tool", raw(2), at(2)))(t)

		deleted := must(s.ConfigDelete(b.ctx, "tool", at(3)))(t)
		diff(t, "ConfigDelete", store.StoredConfig{Tool: "tool", Version: 2, Raw: raw(2), CreatedAt: at(2)}, deleted)

		_, err := s.ConfigGetLatest(b.ctx, "tool")
		wantNotFound(t, "ConfigGetLatest after delete", err)
		_, err = s.ConfigDelete(b.ctx, "tool", at(4))
		wantNotFound(t, "second ConfigDelete", err)

		marker := must(s.ConfigGet(b.ctx, "tool", 3))(t)
		if !marker.Deleted || len(marker.Raw) != 0 || marker.Version != 3 || !marker.CreatedAt.Equal(at(3)) {
			t.Errorf("ConfigGet(3) = %+v, want a deletion marker at version 3 created %v", marker, at(3))
		}
		// Older versions stay readable: deployments point at them.
		if got := must(s.ConfigGet(b.ctx, "tool", 1))(t); got.Deleted || string(got.Raw) != string(raw(1)) {
			t.Errorf("ConfigGet(1) after delete = %+v, want version 1 intact", got)
		}

		if v := must(s.ConfigCreate(b.ctx, "tool", raw(5), at(5)))(t); v != 4 {
			t.Errorf("ConfigCreate after delete = %d, want 4", v)
		}
		if got := must(s.ConfigGetLatest(b.ctx, "tool"))(t); got.Version != 4 || got.Deleted {
			t.Errorf("ConfigGetLatest after re-create = %+v, want live version 4", got)
		}
	})
}

func testDeployment(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("CreateAndGet", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		d := deployment("tool", "20250601-120000-aaaaaaaaaa", at(1).In(cet), slipway.DeploymentSuccessful)
		mustDo(t, s.DeploymentCreate(b.ctx, d))
		diff(t, "DeploymentGet", d, must(s.DeploymentGet(b.ctx, "tool", d.ID))(t))
	})

	t.Run("ZeroValuesRoundTrip", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		d := slipway.Deployment{ID: "20250601-120000-zzzzzzzzzz", Tool: "tool", Status: slipway.DeploymentPending}
		mustDo(t, s.DeploymentCreate(b.ctx, d))
		got := must(s.DeploymentGet(b.ctx, "tool", d.ID))(t)
		d.Environment = slipway.DefaultEnvironment // what a deployment without one goes to
		diff(t, "DeploymentGet", d, got)
		if !got.CreatedAt.IsZero() || !got.UpdatedAt.IsZero() || !got.FinishedAt.IsZero() {
			t.Errorf("zero times came back as %v, %v, %v", got.CreatedAt, got.UpdatedAt, got.FinishedAt)
		}
	})

	t.Run("PromotionRoundTrip", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		d := deployment("tool", "20250601-120000-pppppppppp", at(1), slipway.DeploymentPending)
		d.Environment, d.PromotedFrom = "live", "staging"
		d.Pins = map[string]slipway.Pin{"web": {BuildKey: "k1", Commit: strings.Repeat("a", 40)}, "api": {BuildKey: "k2"}}
		mustDo(t, s.DeploymentCreate(b.ctx, d))
		diff(t, "DeploymentGet", d, must(s.DeploymentGet(b.ctx, "tool", d.ID))(t))
	})

	t.Run("CreateDuplicateFails", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		d := deployment("tool", "20250601-120000-aaaaaaaaaa", at(1), slipway.DeploymentPending)
		mustDo(t, s.DeploymentCreate(b.ctx, d))
		d2 := d
		d2.Description = "second"
		if err := s.DeploymentCreate(b.ctx, d2); err == nil {
			t.Errorf("DeploymentCreate with a used ID succeeded")
		}
		diff(t, "DeploymentGet", d, must(s.DeploymentGet(b.ctx, "tool", d.ID))(t))
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.DeploymentGet(b.ctx, "tool", "20250601-120000-aaaaaaaaaa")
		wantNotFound(t, "DeploymentGet of a missing deployment", err)
		d := deployment("tool", "20250601-120000-aaaaaaaaaa", at(1), slipway.DeploymentPending)
		mustDo(t, s.DeploymentCreate(b.ctx, d))
		_, err = s.DeploymentGet(b.ctx, "other", d.ID)
		wantNotFound(t, "DeploymentGet with another tool", err)
		_, err = s.DeploymentLatest(b.ctx, "other")
		wantNotFound(t, "DeploymentLatest without deployments", err)
	})

	t.Run("ListAndLatest", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		// Inserted out of order; two share a creation time and sort by ID.
		d3 := deployment("tool", "20250601-120300-cccccccccc", at(3), slipway.DeploymentRunning)
		d1 := deployment("tool", "20250601-120100-aaaaaaaaaa", at(1), slipway.DeploymentSuccessful)
		d2b := deployment("tool", "20250601-120200-bbbbbbbbbb", at(2), slipway.DeploymentFailed)
		d2a := deployment("tool", "20250601-120200-aaaaaaaaaa", at(2).In(cet), slipway.DeploymentFailed)
		other := deployment("other", "20250601-120900-oooooooooo", at(9), slipway.DeploymentPending)
		for _, d := range []slipway.Deployment{d3, d1, other, d2b, d2a} {
			mustDo(t, s.DeploymentCreate(b.ctx, d))
		}
		diff(t, "DeploymentList", []slipway.Deployment{d1, d2a, d2b, d3}, must(s.DeploymentList(b.ctx, "tool"))(t))
		diff(t, "DeploymentLatest", d3, must(s.DeploymentLatest(b.ctx, "tool"))(t))
		if got := must(s.DeploymentList(b.ctx, "none"))(t); len(got) != 0 {
			t.Errorf("DeploymentList of a tool without deployments = %v, want none", got)
		}
	})

	t.Run("ListUnfinished", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		var want []slipway.Deployment
		for i, st := range []slipway.DeploymentStatus{
			slipway.DeploymentCancelling, slipway.DeploymentSuccessful, slipway.DeploymentPending,
			slipway.DeploymentFailed, slipway.DeploymentRunning, slipway.DeploymentTimedOut,
			slipway.DeploymentCancelled,
		} {
			tool := []string{"b", "a"}[i%3%2] // each tool has unfinished deployments and final ones
			d := deployment(tool, "20250601-12000"+string(rune('0'+i))+"-aaaaaaaaaa", at(10-i), st)
			mustDo(t, s.DeploymentCreate(b.ctx, d))
			if !st.Final() {
				want = append([]slipway.Deployment{d}, want...) // newer first in the loop
			}
		}
		diff(t, "DeploymentListUnfinished", want, must(s.DeploymentListUnfinished(b.ctx, ""))(t))
		var wantA []slipway.Deployment
		for _, d := range want {
			if d.Tool == "a" {
				wantA = append(wantA, d)
			}
		}
		diff(t, "DeploymentListUnfinished(a)", wantA, must(s.DeploymentListUnfinished(b.ctx, "a"))(t))
		diff(t, "DeploymentListUnfinished(nope)", []slipway.Deployment{}, must(s.DeploymentListUnfinished(b.ctx, "nope"))(t))
	})

	t.Run("UpdateStatus", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		d := deployment("tool", "20250601-120000-aaaaaaaaaa", at(1), slipway.DeploymentPending)
		mustDo(t, s.DeploymentCreate(b.ctx, d))

		ok := must(s.DeploymentUpdateStatus(b.ctx, store.DeploymentStatusUpdate{
			Tool: "tool", ID: d.ID, Status: slipway.DeploymentRunning, LongStatus: "building web",
			UpdatedAt: at(2),
		}))(t)
		if !ok {
			t.Errorf("unconditional DeploymentUpdateStatus: ok = false")
		}
		d.Status, d.LongStatus, d.UpdatedAt = slipway.DeploymentRunning, "building web", at(2)
		diff(t, "after update", d, must(s.DeploymentGet(b.ctx, "tool", d.ID))(t))

		// A condition that does not match changes nothing.
		ok = must(s.DeploymentUpdateStatus(b.ctx, store.DeploymentStatusUpdate{
			Tool: "tool", ID: d.ID, Status: slipway.DeploymentCancelled, LongStatus: "cancelled",
			UpdatedAt: at(3), FinishedAt: at(3),
			IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentPending, slipway.DeploymentCancelling},
		}))(t)
		if ok {
			t.Errorf("DeploymentUpdateStatus with a non-matching IfStatusIn: ok = true")
		}
		diff(t, "after non-matching update", d, must(s.DeploymentGet(b.ctx, "tool", d.ID))(t))

		ok = must(s.DeploymentUpdateStatus(b.ctx, store.DeploymentStatusUpdate{
			Tool: "tool", ID: d.ID, Status: slipway.DeploymentSuccessful, LongStatus: "done",
			UpdatedAt: at(4), FinishedAt: at(4).In(cet),
			IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentPending, slipway.DeploymentRunning},
		}))(t)
		if !ok {
			t.Errorf("DeploymentUpdateStatus with a matching IfStatusIn: ok = false")
		}
		d.Status, d.LongStatus, d.UpdatedAt, d.FinishedAt = slipway.DeploymentSuccessful, "done", at(4), at(4)
		diff(t, "after matching update", d, must(s.DeploymentGet(b.ctx, "tool", d.ID))(t))

		_, err := s.DeploymentUpdateStatus(b.ctx, store.DeploymentStatusUpdate{
			Tool: "tool", ID: "20250601-120000-missingggg", Status: slipway.DeploymentFailed,
		})
		wantNotFound(t, "DeploymentUpdateStatus of a missing deployment", err)
		_, err = s.DeploymentUpdateStatus(b.ctx, store.DeploymentStatusUpdate{
			Tool: "other", ID: d.ID, Status: slipway.DeploymentFailed,
			IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentSuccessful},
		})
		wantNotFound(t, "conditional DeploymentUpdateStatus with another tool", err)
	})

	t.Run("DeleteCascades", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		d := deployment("tool", "20250601-120000-aaaaaaaaaa", at(1), slipway.DeploymentFailed)
		keep := deployment("tool", "20250601-120000-bbbbbbbbbb", at(2), slipway.DeploymentFailed)
		for _, d := range []slipway.Deployment{d, keep} {
			mustDo(t, s.DeploymentCreate(b.ctx, d))
			mustDo(t, s.StepsCreate(b.ctx, steps(d.ID)))
			must(s.EventAppend(b.ctx, slipway.Event{DeploymentID: d.ID, Time: at(1), Kind: "deployment"}))(t)
		}

		wantNotFound(t, "DeploymentDelete with another tool", s.DeploymentDelete(b.ctx, "other", d.ID))
		must(s.DeploymentGet(b.ctx, "tool", d.ID))(t) // still there
		mustDo(t, s.DeploymentDelete(b.ctx, "tool", d.ID))

		_, err := s.DeploymentGet(b.ctx, "tool", d.ID)
		wantNotFound(t, "DeploymentGet after delete", err)
		if got := must(s.StepList(b.ctx, d.ID))(t); len(got) != 0 {
			t.Errorf("StepList after delete = %v, want none", got)
		}
		_, err = s.StepGet(b.ctx, d.ID, "build:web")
		wantNotFound(t, "StepGet after delete", err)
		if got := must(s.EventList(b.ctx, d.ID, 0, 0))(t); len(got) != 0 {
			t.Errorf("EventList after delete = %v, want none", got)
		}
		wantNotFound(t, "second DeploymentDelete", s.DeploymentDelete(b.ctx, "tool", d.ID))

		// The other deployment keeps everything.
		if got := must(s.StepList(b.ctx, keep.ID))(t); len(got) != len(steps(keep.ID)) {
			t.Errorf("StepList of the other deployment has %d steps, want %d", len(got), len(steps(keep.ID)))
		}
		if got := must(s.EventList(b.ctx, keep.ID, 0, 0))(t); len(got) != 1 {
			t.Errorf("EventList of the other deployment has %d events, want 1", len(got))
		}
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		statuses := []slipway.DeploymentStatus{
			slipway.DeploymentSuccessful, // 0: pruned
			slipway.DeploymentRunning,    // 1: unfinished, kept
			slipway.DeploymentFailed,     // 2: pruned
			slipway.DeploymentCancelled,  // 3: pruned
			slipway.DeploymentTimedOut,   // 4: pruned
			slipway.DeploymentSuccessful, // 5: newest 2, kept
			slipway.DeploymentPending,    // 6: newest 2, kept
		}
		var ds []slipway.Deployment
		for i, st := range statuses {
			d := deployment("tool", "20250601-12000"+string(rune('0'+i))+"-aaaaaaaaaa", at(i), st)
			ds = append(ds, d)
		}
		// Inserted newest first, so that insertion order is not the answer.
		for _, d := range slices.Backward(ds) {
			mustDo(t, s.DeploymentCreate(b.ctx, d))
			mustDo(t, s.StepsCreate(b.ctx, steps(d.ID)))
			must(s.EventAppend(b.ctx, slipway.Event{DeploymentID: d.ID, Time: at(1), Kind: "deployment"}))(t)
		}
		otherTool := deployment("other", "20250601-110000-oooooooooo", at(-60), slipway.DeploymentFailed)
		mustDo(t, s.DeploymentCreate(b.ctx, otherTool))

		if got := must(s.DeploymentPrune(b.ctx, "tool", 10))(t); len(got) != 0 {
			t.Errorf("DeploymentPrune(keep 10) of 7 deleted %q, want none", got)
		}
		got := must(s.DeploymentPrune(b.ctx, "tool", 2))(t)
		diff(t, "DeploymentPrune(keep 2)", []string{ds[0].ID, ds[2].ID, ds[3].ID, ds[4].ID}, got)
		diff(t, "DeploymentList after prune", []slipway.Deployment{ds[1], ds[5], ds[6]},
			must(s.DeploymentList(b.ctx, "tool"))(t))
		for _, i := range []int{0, 2, 3, 4} {
			if got := must(s.StepList(b.ctx, ds[i].ID))(t); len(got) != 0 {
				t.Errorf("StepList of pruned %s = %d steps, want none", ds[i].ID, len(got))
			}
			if got := must(s.EventList(b.ctx, ds[i].ID, 0, 0))(t); len(got) != 0 {
				t.Errorf("EventList of pruned %s = %d events, want none", ds[i].ID, len(got))
			}
		}
		must(s.DeploymentGet(b.ctx, "other", otherTool.ID))(t)

		// keep 0 deletes every final deployment, never an unfinished one.
		got = must(s.DeploymentPrune(b.ctx, "tool", 0))(t)
		diff(t, "DeploymentPrune(keep 0)", []string{ds[5].ID}, got)
		diff(t, "DeploymentList after prune to 0", []slipway.Deployment{ds[1], ds[6]},
			must(s.DeploymentList(b.ctx, "tool"))(t))
		if got := must(s.DeploymentPrune(b.ctx, "none", 0))(t); len(got) != 0 {
			t.Errorf("DeploymentPrune of a tool without deployments = %q, want none", got)
		}
	})
}

func testStep(t *testing.T, f Factory) {
	t.Parallel()

	// newDeployment creates a deployment to hang steps on.
	newDeployment := func(t *testing.T, b *testBundle, id string) {
		t.Helper()
		mustDo(t, b.s.DeploymentCreate(b.ctx, deployment("tool", id, at(0), slipway.DeploymentRunning)))
	}
	const id = "20250601-120000-aaaaaaaaaa"

	t.Run("CreateKeepsOrder", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		newDeployment(t, b, id)
		if got := must(s.StepList(b.ctx, id))(t); len(got) != 0 {
			t.Errorf("StepList before the plan = %v, want none", got)
		}
		want := steps(id)
		mustDo(t, s.StepsCreate(b.ctx, want))
		diff(t, "StepList", want, must(s.StepList(b.ctx, id))(t))
		for _, st := range want {
			diff(t, "StepGet("+st.Key+")", st, must(s.StepGet(b.ctx, id, st.Key))(t))
		}
	})

	// Ensure StepListToolBrief returns the tool's deployments' steps, each
	// in plan order without their commit, spec hash and times, and nothing
	// of another tool's or of a deployment without steps.
	t.Run("ListTool", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const id2, other, empty = "20250601-120000-bbbbbbbbbb", "20250601-120000-cccccccccc", "20250601-120000-dddddddddd"
		newDeployment(t, b, id)
		newDeployment(t, b, id2)
		newDeployment(t, b, empty)
		mustDo(t, s.DeploymentCreate(b.ctx, deployment("other", other, at(0), slipway.DeploymentRunning)))
		mustDo(t, s.StepsCreate(b.ctx, steps(id2)))
		mustDo(t, s.StepsCreate(b.ctx, steps(id)[:2]))
		mustDo(t, s.StepsCreate(b.ctx, steps(other)))
		brief := func(ss []slipway.Step) []slipway.Step {
			for i := range ss {
				ss[i].Commit, ss[i].SpecHash, ss[i].StartedAt, ss[i].FinishedAt = "", "", time.Time{}, time.Time{}
			}
			return ss
		}
		diff(t, "StepListToolBrief", map[string][]slipway.Step{id: brief(steps(id)[:2]), id2: brief(steps(id2))}, must(s.StepListToolBrief(b.ctx, "tool"))(t))
		diff(t, "StepListToolBrief of a tool without deployments", map[string][]slipway.Step{}, must(s.StepListToolBrief(b.ctx, "nope"))(t))
	})

	t.Run("StepsOfDeploymentsAreSeparate", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const id2 = "20250601-120000-bbbbbbbbbb"
		newDeployment(t, b, id)
		newDeployment(t, b, id2)
		mustDo(t, s.StepsCreate(b.ctx, steps(id2)))
		mustDo(t, s.StepsCreate(b.ctx, steps(id)[:2]))
		diff(t, "StepList", steps(id)[:2], must(s.StepList(b.ctx, id))(t))
		diff(t, "StepList of the other", steps(id2), must(s.StepList(b.ctx, id2))(t))
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.StepGet(b.ctx, id, "build:web")
		wantNotFound(t, "StepGet without a deployment", err)
		if got := must(s.StepList(b.ctx, id))(t); len(got) != 0 {
			t.Errorf("StepList of a missing deployment = %v, want none", got)
		}
		wantNotFound(t, "StepsCreate for a missing deployment", s.StepsCreate(b.ctx, steps(id)))
		newDeployment(t, b, id)
		mustDo(t, s.StepsCreate(b.ctx, steps(id)))
		_, err = s.StepGet(b.ctx, id, "build:nope")
		wantNotFound(t, "StepGet of a missing key", err)
		_, err = s.StepUpdate(b.ctx, store.StepUpdate{DeploymentID: id, Key: "build:nope", State: slipway.StepDone})
		wantNotFound(t, "StepUpdate of a missing key", err)
		_, err = s.StepUpdate(b.ctx, store.StepUpdate{
			DeploymentID: id, Key: "build:nope", State: slipway.StepDone,
			IfStateIn: []slipway.StepState{slipway.StepPending},
		})
		wantNotFound(t, "conditional StepUpdate of a missing key", err)
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		newDeployment(t, b, id)
		mustDo(t, s.StepsCreate(b.ctx, steps(id)))
		want := steps(id)[0] // build:web: attempt 2, build key and commit set, both times set

		// Zero Attempt, BuildKey and Commit keep the stored ones; State,
		// Detail and the times are always written.
		ok := must(s.StepUpdate(b.ctx, store.StepUpdate{
			DeploymentID: id, Key: want.Key, State: slipway.StepRunning, Detail: "", StartedAt: at(7),
		}))(t)
		if !ok {
			t.Errorf("unconditional StepUpdate: ok = false")
		}
		want.State, want.Detail, want.StartedAt, want.FinishedAt = slipway.StepRunning, "", at(7), time.Time{}
		diff(t, "after update with zero optional fields", want, must(s.StepGet(b.ctx, id, want.Key))(t))

		ok = must(s.StepUpdate(b.ctx, store.StepUpdate{
			DeploymentID: id, Key: want.Key, State: slipway.StepDone, Detail: "built", Attempt: 3,
			BuildKey: "key-new", Commit: "abcdef", StartedAt: at(7), FinishedAt: at(8).In(cet),
			IfStateIn: []slipway.StepState{slipway.StepPending, slipway.StepRunning},
		}))(t)
		if !ok {
			t.Errorf("StepUpdate with a matching IfStateIn: ok = false")
		}
		want.State, want.Detail, want.Attempt, want.BuildKey, want.Commit, want.FinishedAt =
			slipway.StepDone, "built", 3, "key-new", "abcdef", at(8)
		diff(t, "after matching update", want, must(s.StepGet(b.ctx, id, want.Key))(t))

		ok = must(s.StepUpdate(b.ctx, store.StepUpdate{
			DeploymentID: id, Key: want.Key, State: slipway.StepFailed, Detail: "late", Attempt: 9,
			BuildKey: "key-late", Commit: "late", StartedAt: at(9), FinishedAt: at(9),
			IfStateIn: []slipway.StepState{slipway.StepPending, slipway.StepRunning},
		}))(t)
		if ok {
			t.Errorf("StepUpdate with a non-matching IfStateIn: ok = true")
		}
		diff(t, "after non-matching update", want, must(s.StepGet(b.ctx, id, want.Key))(t))

		// The other steps are untouched, and the order too.
		wantAll := steps(id)
		wantAll[0] = want
		diff(t, "StepList", wantAll, must(s.StepList(b.ctx, id))(t))
	})
}

func testBuild(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("CreateGetUpdate", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		bu := build("tool", "b1", "key", slipway.BuildRunning, at(1).In(cet))
		bu.Commit = ""
		mustDo(t, s.BuildCreate(b.ctx, bu))
		diff(t, "BuildGet", bu, must(s.BuildGet(b.ctx, "tool", "b1"))(t))

		upd := bu
		upd.Status, upd.Commit, upd.Artifact, upd.Error, upd.UpdatedAt =
			slipway.BuildFailed, "abc123", "/new/artifact", "exit status 1", at(5)
		// Not mutable: BuildUpdate must leave them.
		upd.Component, upd.Key, upd.Repository, upd.Ref, upd.CreatedAt = "changed", "changed", "changed", "changed", at(9)
		mustDo(t, s.BuildUpdate(b.ctx, upd))
		want := bu
		want.Status, want.Commit, want.Artifact, want.Error, want.UpdatedAt =
			slipway.BuildFailed, "abc123", "/new/artifact", "exit status 1", at(5)
		diff(t, "BuildGet after update", want, must(s.BuildGet(b.ctx, "tool", "b1"))(t))
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.BuildGet(b.ctx, "tool", "b1")
		wantNotFound(t, "BuildGet of a missing build", err)
		_, err = s.BuildFindSuccessful(b.ctx, "key")
		wantNotFound(t, "BuildFindSuccessful without builds", err)
		wantNotFound(t, "BuildUpdate of a missing build",
			s.BuildUpdate(b.ctx, build("tool", "b1", "key", slipway.BuildSuccessful, at(1))))
		mustDo(t, s.BuildCreate(b.ctx, build("tool", "b1", "key", slipway.BuildRunning, at(1))))
		_, err = s.BuildGet(b.ctx, "other", "b1")
		wantNotFound(t, "BuildGet with another tool", err)
	})

	t.Run("FindSuccessful", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		old := build("a", "b-old", "key", slipway.BuildSuccessful, at(1))
		newest := build("b", "b-new", "key", slipway.BuildSuccessful, at(3))
		newest.Component = "api"
		for _, bu := range []slipway.Build{
			newest,
			build("a", "b-failed", "key", slipway.BuildFailed, at(5)),
			build("a", "b-running", "key", slipway.BuildRunning, at(6)),
			old,
			build("a", "b-otherkey", "other", slipway.BuildSuccessful, at(7)),
			build("a", "b-onlyfailed", "failedkey", slipway.BuildFailed, at(7)),
		} {
			mustDo(t, s.BuildCreate(b.ctx, bu))
		}
		diff(t, "BuildFindSuccessful", newest, must(s.BuildFindSuccessful(b.ctx, "key"))(t))
		_, err := s.BuildFindSuccessful(b.ctx, "failedkey")
		wantNotFound(t, "BuildFindSuccessful with only failed builds", err)

		// A build that succeeds later is found.
		late := build("a", "b-failed", "key", slipway.BuildSuccessful, at(5))
		mustDo(t, s.BuildUpdate(b.ctx, late))
		diff(t, "BuildFindSuccessful after update", late, must(s.BuildFindSuccessful(b.ctx, "key"))(t))
	})

	// Ensure two tools building the same commit (the same ID: the build
	// key) each keep their own record, and a second create of one is an
	// error that changes nothing.
	t.Run("SameIDInTwoTools", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		one := build("one", "k1", "k1", slipway.BuildSuccessful, at(1))
		two := build("two", "k1", "k1", slipway.BuildRunning, at(2))
		mustDo(t, s.BuildCreate(b.ctx, one))
		mustDo(t, s.BuildCreate(b.ctx, two))
		diff(t, "BuildGet(one)", one, must(s.BuildGet(b.ctx, "one", "k1"))(t))
		diff(t, "BuildGet(two)", two, must(s.BuildGet(b.ctx, "two", "k1"))(t))
		again := build("one", "k1", "k1", slipway.BuildFailed, at(3))
		if err := s.BuildCreate(b.ctx, again); err == nil {
			t.Errorf("BuildCreate of an existing (tool, ID) succeeded, want an error")
		}
		diff(t, "BuildGet(one) after the refused create", one, must(s.BuildGet(b.ctx, "one", "k1"))(t))
	})

	t.Run("ListNewestFirst", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		b1 := build("tool", "b1", "k1", slipway.BuildSuccessful, at(1))
		b2 := build("tool", "b2", "k2", slipway.BuildFailed, at(2))
		b3 := build("tool", "b3", "k3", slipway.BuildRunning, at(3))
		for _, bu := range []slipway.Build{b2, b3, build("other", "o1", "k1", slipway.BuildSuccessful, at(9)), b1} {
			mustDo(t, s.BuildCreate(b.ctx, bu))
		}
		diff(t, "BuildList", []slipway.Build{b3, b2, b1}, must(s.BuildList(b.ctx, "tool"))(t))
		if got := must(s.BuildList(b.ctx, "none"))(t); len(got) != 0 {
			t.Errorf("BuildList of a tool without builds = %v, want none", got)
		}
	})
}

func testLiveRun(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("PutListDelete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		if got := must(s.LiveRunListAll(b.ctx))(t); len(got) != 0 {
			t.Errorf("LiveRunListAll of an empty store = %v, want none", got)
		}
		web := liveRun("tool", "web", at(1).In(cet))
		api := liveRun("tool", "api", at(2))
		api.EnvFingerprints = map[string]string{} // recorded: no envvars (not the same as nil: not recorded)
		other := liveRun("other", "web", at(3))
		bare := slipway.LiveRun{
			Tool: "tool", Component: "bare", Type: slipway.OneOff,
			Spec: slipway.Component{Name: "bare", Type: slipway.OneOff},
		}
		for _, r := range []slipway.LiveRun{web, other, api, bare} {
			mustDo(t, s.LiveRunPut(b.ctx, r))
		}
		diff(t, "LiveRunList", []slipway.LiveRun{api, bare, web}, must(s.LiveRunList(b.ctx, "tool"))(t))
		all := must(s.LiveRunListAll(b.ctx))(t)
		slices.SortFunc(all, compareLiveRuns)
		diff(t, "LiveRunListAll", []slipway.LiveRun{other, api, bare, web}, all)

		// Put replaces.
		web2 := liveRun("tool", "web", at(4))
		web2.SpecHash, web2.BuildKey, web2.Artifact, web2.DeploymentID = "h2", "k2", "/a2", "d2"
		web2.Spec.Run.Replicas = 5
		web2.Spec.Build.Source = nil
		web2.Spec.WaitFor = nil
		mustDo(t, s.LiveRunPut(b.ctx, web2))
		diff(t, "LiveRunList after replace", []slipway.LiveRun{api, bare, web2}, must(s.LiveRunList(b.ctx, "tool"))(t))

		mustDo(t, s.LiveRunDelete(b.ctx, "tool", "web"))
		mustDo(t, s.LiveRunDelete(b.ctx, "tool", "web"))
		mustDo(t, s.LiveRunDelete(b.ctx, "nope", "nope"))
		diff(t, "LiveRunList after delete", []slipway.LiveRun{api, bare}, must(s.LiveRunList(b.ctx, "tool"))(t))
		diff(t, "LiveRunList of the other tool", []slipway.LiveRun{other}, must(s.LiveRunList(b.ctx, "other"))(t))
	})
}

func compareLiveRuns(a, b slipway.LiveRun) int {
	return cmp.Or(strings.Compare(a.Tool, b.Tool), strings.Compare(a.Component, b.Component))
}

func testEvent(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("AppendAndList", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const d1, d2 = "20250601-120000-aaaaaaaaaa", "20250601-120000-bbbbbbbbbb"
		for _, id := range []string{d1, d2} {
			mustDo(t, s.DeploymentCreate(b.ctx, deployment("tool", id, at(0), slipway.DeploymentRunning)))
		}
		want := map[string][]slipway.Event{}
		for i := range 10 {
			id := []string{d1, d2}[i%3%2] // d1, d2, d1, d1, d2, d1, …
			e := slipway.Event{
				DeploymentID: id, Time: at(i).In(cet), Kind: "step", Step: "build:web",
				State: "running", Message: "event " + string(rune('a'+i)),
			}
			seq := must(s.EventAppend(b.ctx, e))(t)
			if n := int64(len(want[id]) + 1); seq != n {
				t.Fatalf("EventAppend #%d to %s = %d, want %d (numbers count per deployment)", i, id, seq, n)
			}
			e.Seq = seq
			want[id] = append(want[id], e)
		}
		diff(t, "EventList(d1)", want[d1], must(s.EventList(b.ctx, d1, 0, 0))(t))
		diff(t, "EventList(d2)", want[d2], must(s.EventList(b.ctx, d2, 0, 0))(t))
		diff(t, "EventList(d1, after 2nd, limit 2)", want[d1][2:4],
			must(s.EventList(b.ctx, d1, want[d1][1].Seq, 2))(t))
		diff(t, "EventList(d1, after 2nd, limit 100)", want[d1][2:],
			must(s.EventList(b.ctx, d1, want[d1][1].Seq, 100))(t))
		if got := must(s.EventList(b.ctx, d1, want[d1][len(want[d1])-1].Seq, 0))(t); len(got) != 0 {
			t.Errorf("EventList after the last = %v, want none", got)
		}
		if got := must(s.EventList(b.ctx, "nope", 0, 0))(t); len(got) != 0 {
			t.Errorf("EventList of a missing deployment = %v, want none", got)
		}
	})

	t.Run("SeqInTransaction", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const d1 = "20250601-120000-aaaaaaaaaa"
		mustDo(t, s.DeploymentCreate(b.ctx, deployment("tool", d1, at(0), slipway.DeploymentRunning)))
		var got []int64
		mustDo(t, s.InTx(b.ctx, func(tx store.Tx) error {
			got = got[:0]
			for range 3 {
				seq, err := tx.EventAppend(b.ctx, slipway.Event{DeploymentID: d1, Kind: "deployment"})
				if err != nil {
					return err
				}
				got = append(got, seq)
			}
			return nil
		}))
		diff(t, "EventAppend in one transaction", []int64{1, 2, 3}, got)
		// A rolled-back append leaves no gap.
		_ = s.InTx(b.ctx, func(tx store.Tx) error {
			_, _ = tx.EventAppend(b.ctx, slipway.Event{DeploymentID: d1, Kind: "deployment"})
			return errRollback
		})
		if seq := must(s.EventAppend(b.ctx, slipway.Event{DeploymentID: d1, Kind: "deployment"}))(t); seq != 4 {
			t.Errorf("EventAppend after a rolled-back one = %d, want 4", seq)
		}
	})

	t.Run("MissingDeployment", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.EventAppend(b.ctx, slipway.Event{DeploymentID: "nope", Kind: "deployment"})
		wantNotFound(t, "EventAppend to a missing deployment", err)
	})
}
