package apiclient

import (
	"encoding/json"
	"fmt"
	"time"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
	"slipway.dev/slipway/internal/slipway"
)

// Deployment decodes the data as one deployment.
func (e Envelope) Deployment() (slipway.Deployment, error) {
	var d oapiclient.Deployment
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return slipway.Deployment{}, fmt.Errorf("decode deployment: %w", err)
	}
	return fromDeployment(d), nil
}

// Deployments decodes the data as a deployment list, oldest first.
func (e Envelope) Deployments() ([]slipway.Deployment, error) {
	var l oapiclient.DeploymentList
	if err := json.Unmarshal(e.Data, &l); err != nil {
		return nil, fmt.Errorf("decode deployment list: %w", err)
	}
	out := make([]slipway.Deployment, len(l.Deployments))
	for i, d := range l.Deployments {
		out[i] = fromDeployment(d)
	}
	return out, nil
}

// fromDeployment converts the wire form of a deployment. CreatedAt comes
// from creation_time (UTC, second precision); a missing status is pending.
func fromDeployment(d oapiclient.Deployment) slipway.Deployment {
	created, _ := time.Parse(slipway.CreationTimeFormat, d.CreationTime)
	out := slipway.Deployment{
		ID:          d.DeployId,
		CreatedAt:   created,
		Description: d.Description,
		ToolConfig:  d.ToolConfig,
		Status:      slipway.DeploymentStatus(d.Status),
		LongStatus:  d.LongStatus,
		ForceBuild:  d.ForceBuild,
		ForceRun:    d.ForceRun,
		Builds:      make(map[string]slipway.DeploymentBuild, len(d.Builds)),
		Runs:        make(map[string]slipway.DeploymentRun, len(d.Runs)),
	}
	if out.Status == "" {
		out.Status = slipway.DeploymentPending
	}
	if d.RollbackOf != nil {
		out.RollbackOf = *d.RollbackOf
	}
	if d.Environment != nil {
		out.Environment = *d.Environment
	}
	if d.PromotedFrom != nil {
		out.PromotedFrom = *d.PromotedFrom
	}
	if d.RollbackRelease != nil {
		out.RollbackRelease = *d.RollbackRelease
	}
	if d.RolledBackBy != nil {
		out.RolledBackBy = *d.RolledBackBy
	}
	if d.Trigger != nil {
		out.Trigger = *d.Trigger
	}
	if d.Actor != nil {
		out.Actor = *d.Actor
	}
	if d.Flow != nil {
		out.Flow = *d.Flow
	}
	if d.Parent != nil {
		out.Parent = *d.Parent
	}
	if d.ParentStep != nil {
		out.ParentStep = *d.ParentStep
	}
	for name, b := range d.Builds {
		out.Builds[name] = slipway.DeploymentBuild{
			BuildID:         b.BuildId,
			BuildStatus:     slipway.BuildStatus(b.BuildStatus),
			BuildImage:      b.BuildImage,
			BuildLongStatus: b.BuildLongStatus,
		}
	}
	for name, r := range d.Runs {
		out.Runs[name] = slipway.DeploymentRun{RunStatus: slipway.RunStatus(r.RunStatus), RunLongStatus: r.RunLongStatus}
	}
	for _, s := range d.Steps {
		out.Steps = append(out.Steps, slipway.Step{
			DeploymentID: d.DeployId,
			Key:          s.Key,
			Kind:         slipway.StepKind(s.Kind),
			Component:    s.Component,
			Action:       slipway.StepAction(s.Action),
			Needs:        s.Needs,
			Reason:       s.Reason,
			State:        slipway.StepState(s.State),
			Detail:       s.Detail,
			Attempt:      s.Attempt,
		})
	}
	return out
}

// fromEvent converts the wire form of an event.
func fromEvent(e oapiclient.Event) slipway.Event {
	return slipway.Event{
		Seq:          e.Seq,
		DeploymentID: e.DeployId,
		Time:         e.Time,
		Kind:         e.Kind,
		Step:         e.Step,
		State:        e.State,
		Message:      e.Message,
	}
}
