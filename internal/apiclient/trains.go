package apiclient

import (
	"context"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// ReleasePlan is a release plan as the API sends it.
type ReleasePlan = oapiclient.ReleasePlan

// ReleasePlanRequest is what creating a plan sends.
type ReleasePlanRequest = oapiclient.ReleasePlanRequest

// Train is a train as the API sends it.
type Train = oapiclient.Train

// PlanStage is one stage of a plan as the API sends it.
type PlanStage = oapiclient.PlanStage

// PlanList returns the release plans.
func (c *Client) PlanList(ctx context.Context) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListPlans(ctx) })
}

// PlanPut creates or replaces a release plan.
func (c *Client) PlanPut(ctx context.Context, p ReleasePlanRequest) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.PutPlan(ctx, p) })
}

// PlanGet returns one release plan.
func (c *Client) PlanGet(ctx context.Context, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetPlan(ctx, name) })
}

// PlanDelete deletes a release plan.
func (c *Client) PlanDelete(ctx context.Context, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.DeletePlan(ctx, name) })
}

// TrainStart starts a train of plan (or, with dryRun, runs its preflight
// only); mode "" is the server's default (eligible).
func (c *Client) TrainStart(ctx context.Context, plan, mode string, dryRun bool) (Envelope, error) {
	body := oapiclient.TrainStartRequest{}
	if mode != "" {
		m := oapiclient.TrainStartRequestMode(mode)
		body.Mode = &m
	}
	if dryRun {
		body.DryRun = &dryRun
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.StartTrain(ctx, plan, body) })
}

// TrainList returns the newest trains.
func (c *Client) TrainList(ctx context.Context) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListTrains(ctx) })
}

// TrainGet returns a train with its cells.
func (c *Client) TrainGet(ctx context.Context, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetTrain(ctx, id) })
}

// TrainAnswer answers the question a train waits at: "yes" or "no".
func (c *Client) TrainAnswer(ctx context.Context, id, answer, comment string) (Envelope, error) {
	body := oapiclient.TrainAnswerRequest{Answer: oapiclient.TrainAnswerRequestAnswer(answer)}
	if comment != "" {
		body.Comment = &comment
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.AnswerTrain(ctx, id, body) })
}

// TrainCancel cancels a running train.
func (c *Client) TrainCancel(ctx context.Context, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.CancelTrain(ctx, id) })
}

// Plans decodes the data as release plans.
func (e Envelope) Plans() ([]ReleasePlan, error) { return decodeData[[]ReleasePlan](e, "plans") }

// Plan decodes the data as one release plan.
func (e Envelope) Plan() (ReleasePlan, error) { return decodeData[ReleasePlan](e, "plan") }

// Train decodes the data as one train.
func (e Envelope) Train() (Train, error) { return decodeData[Train](e, "train") }

// Trains decodes the data as trains.
func (e Envelope) Trains() ([]Train, error) { return decodeData[[]Train](e, "trains") }
