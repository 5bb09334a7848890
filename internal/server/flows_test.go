package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// Ensure a flow runs over HTTP on a real server (201 with the run, whose
// deploy step's deployment names it, and which ends successful), that the
// list shows it with its triggers and last run, and that bad input and
// other credentials are refused with nothing created: another tool's API
// token (403 on the list and the run), the deploy token (401, no
// credential there, as for a promotion: a flow may promote), an unknown flow (404 naming the flows) and a malformed name
// (422 naming the field).
func TestFlows_HTTP(t *testing.T) {
	t.Parallel()
	const tool = "flowy"
	srv := servertest.StartEmpty(t, nil)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n"})
	cfg := `{"components": {"job": {"component_type": "one-off", "build": {"repository": "` + repo.URL + `", "ref": "main"}, "run": {"command": "job"}}},
		"x-slipway": {"flows": {"ship": {"on": ["manual", {"push": "main"}], "steps": [{"deploy": "production"}, {"run": {"component": "job"}}, {"notify": "shipped"}]}}}}`
	if _, err := srv.Client.ConfigCreate(ctx, tool, []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	env, err := srv.Client.APITokenCreate(ctx, "other", "flows test")
	if err != nil {
		t.Fatal(err)
	}
	_, otherToken, err := env.APITokenCreated()
	if err != nil {
		t.Fatal(err)
	}
	denv, err := srv.Client.DeployTokenCreate(ctx, tool)
	if err != nil {
		t.Fatal(err)
	}
	var dt struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(denv.Data, &dt); err != nil || dt.Token == "" {
		t.Fatalf("deploy token: %s, %v", denv.Data, err)
	}
	send := func(method, path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL()+"/components/v1/tool/"+tool+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		name, method, path, token string
		status                    int
		want                      string
	}{
		{"another tool lists", "GET", "/flow", otherToken, 403, ""},
		{"another tool runs", "POST", "/flow/ship/run", otherToken, 403, ""},
		{"the deploy token runs", "POST", "/flow/ship/run", dt.Token, 401, ""},
		{"unknown flow", "POST", "/flow/nightly/run", srv.AdminToken(), 404, "its flows: ship"},
		{"malformed flow", "POST", "/flow/Bad_Flow/run", srv.AdminToken(), 422, "flow:"},
	} {
		if status, body := send(tt.method, tt.path, tt.token); status != tt.status || !strings.Contains(body, tt.want) || strings.Contains(body, `"deploy_id"`) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, status, body, tt.status, tt.want)
		}
	}
	if env, err := srv.Client.DeploymentList(ctx, tool); err != nil {
		t.Fatal(err)
	} else if ds, _ := env.Deployments(); len(ds) != 0 {
		t.Fatalf("%d deployments after the refusals, want none", len(ds))
	}

	status, body := send("POST", "/flow/ship/run", srv.AdminToken())
	if status != 201 || !strings.Contains(body, `"flow":"ship"`) || !strings.Contains(body, "Flow ship run ") {
		t.Fatalf("run: %d %s", status, body)
	}
	var created struct {
		Data struct {
			ID string `json:"deploy_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	run := srv.AwaitFinal(t, tool, slipway.Deployment{ID: created.Data.ID})
	if run.Status != slipway.DeploymentSuccessful || run.Flow != "ship" || run.Trigger != "manual" {
		t.Fatalf("run = %s %q (flow %q, trigger %q)", run.Status, run.LongStatus, run.Flow, run.Trigger)
	}
	lenv, err := srv.Client.DeploymentList(ctx, tool)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := lenv.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].ID != run.ID || ds[1].Parent != run.ID || ds[1].ParentStep != "1-deploy" || ds[1].Status != slipway.DeploymentSuccessful {
		t.Errorf("%d deployments, want the run then its deploy step's, successful", len(ds))
		for _, d := range ds {
			t.Logf("%s %s flow %q parent %s/%s", d.ID, d.Status, d.Flow, d.Parent, d.ParentStep)
		}
	}
	fenv, err := srv.Client.FlowList(ctx, tool)
	if err != nil {
		t.Fatal(err)
	}
	flows, err := fenv.Flows()
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 1 || flows[0].Name != "ship" || len(flows[0].On) != 2 || flows[0].On[1].Branch == nil || *flows[0].On[1].Branch != "main" ||
		len(flows[0].Steps) != 3 || flows[0].Steps[1].Key != "2-run" || len(flows[0].Runs) != 1 || flows[0].Runs[0].DeployId != run.ID {
		t.Errorf("flows = %+v", flows)
	}
}
