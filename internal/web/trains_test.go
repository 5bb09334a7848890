package web_test

import (
	"net/http"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
)

// Ensure the admin sees a train as members × stages (each cell's state,
// deployment link and reason, the question's answer), and the list of
// trains; a tool's session gets 403 on both, and an unknown or malformed
// train 404.
func TestTrains_Pages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := slipway.Train{
		ID: "tr-20250601-120000-0000000a", Plan: "weekly", Members: []string{"one", "two"}, Mode: slipway.TrainEligible,
		Stages: []slipway.PlanStage{{Deploy: "staging"}, {Ask: "Promote <all>?"}, {Promote: "production"}},
		State:  slipway.TrainRunning, Stage: 2, CreatedAt: t0, CreatedBy: "admin", UpdatedAt: t0,
		Answers: []slipway.TrainAnswer{{Stage: 1, Value: "yes", By: "admin", At: t0}},
	}
	err := e.st.TrainCreate(t.Context(), tr, []slipway.TrainMember{
		{
			TrainID: tr.ID, Tool: "one", Stage: 0, State: slipway.MemberSucceeded, DeploymentID: "20250601-120000-abcdefghi0",
			Reason: "Deployment 20250601-120000-abcdefghi0 successful", StartedAt: t0, FinishedAt: t0.Add(3e9),
		},
		{TrainID: tr.ID, Tool: "two", Stage: 0, State: slipway.MemberSkipped, Reason: "Cannot: no environment staging"},
		{TrainID: tr.ID, Tool: "one", Stage: 2, State: slipway.MemberPending},
		{TrainID: tr.ID, Tool: "two", Stage: 2, State: slipway.MemberSkipped, Reason: "Cannot: no environment staging"},
	})
	if err != nil {
		t.Fatal(err)
	}
	admin := e.signin(adminToken)
	page := wantStatus(t, "train page", get(e, "/ui/trains/"+tr.ID, admin), http.StatusOK)
	for _, want := range []string{
		`<a href="/ui/t/one/d/20250601-120000-abcdefghi0">`, "✅ succeeded (3s)", "⏭️ skipped", "Cannot: no environment staging",
		"ask: Promote &lt;all&gt;?", "yes by admin", `aria-current="step">promote to production`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the train page lacks %q:\n%s", want, page)
		}
	}
	list := wantStatus(t, "trains list", get(e, "/ui/trains", admin), http.StatusOK)
	if !strings.Contains(list, `<a href="/ui/trains/`+tr.ID+`">`) || !strings.Contains(list, "2 of 3") {
		t.Errorf("the list lacks the train:\n%s", list)
	}
	wantStatus(t, "unknown train", get(e, "/ui/trains/tr-20250601-120000-0000000b", admin), http.StatusNotFound)
	wantStatus(t, "malformed train", get(e, "/ui/trains/nope", admin), http.StatusNotFound)

	tool := e.signin(e.toolToken)
	wantStatus(t, "a tool's session on the train", get(e, "/ui/trains/"+tr.ID, tool), http.StatusForbidden)
	wantStatus(t, "a tool's session on the list", get(e, "/ui/trains", tool), http.StatusForbidden)
}
