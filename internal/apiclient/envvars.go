package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// EnvVar is an envvar as the envvars API sends it.
type EnvVar = oapiclient.EnvVar

// EnvVarQuota is the envvar quota of a tool.
type EnvVarQuota = oapiclient.EnvVarQuota

// EnvVarList returns the tool's envvars with their values: the envelope's
// Raw is {"envvars": [...], "messages": {...}} (the envvars API does not
// wrap in data); decode it with [Envelope.EnvVars].
func (c *Client) EnvVarList(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListEnvVars(ctx, tool) })
}

// EnvVarGet returns one envvar, {"envvar": {...}, "messages": {...}};
// decode it with [Envelope.EnvVar].
func (c *Client) EnvVarGet(ctx context.Context, tool, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetEnvVar(ctx, tool, name) })
}

// EnvVarCreate creates the envvar name with value, or overwrites it; the
// answer is the envvar as stored.
func (c *Client) EnvVarCreate(ctx context.Context, tool, name, value string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.CreateEnvVar(ctx, tool, oapiclient.CreateEnvVarJSONRequestBody{Name: name, Value: value})
	})
}

// EnvVarDelete deletes an envvar; the answer is the envvar with its last
// value.
func (c *Client) EnvVarDelete(ctx context.Context, tool, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.DeleteEnvVar(ctx, tool, name) })
}

// EnvVarQuota returns how many envvars the tool may have and has,
// {"quota": {...}, "messages": {...}}; decode it with
// [Envelope.EnvVarQuota].
func (c *Client) EnvVarQuota(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetEnvVarQuota(ctx, tool) })
}

// EnvVars decodes the answer of [Client.EnvVarList].
func (e Envelope) EnvVars() ([]EnvVar, error) {
	var v oapiclient.EnvVarListResponse
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return nil, fmt.Errorf("decode envvars: %w", err)
	}
	return v.Envvars, nil
}

// EnvVar decodes the answer of [Client.EnvVarGet], [Client.EnvVarCreate]
// and [Client.EnvVarDelete].
func (e Envelope) EnvVar() (EnvVar, error) {
	var v struct {
		Envvar *EnvVar `json:"envvar"`
	}
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return EnvVar{}, fmt.Errorf("decode envvar: %w", err)
	}
	if v.Envvar == nil {
		return EnvVar{}, errors.New("decode envvar: the answer has no envvar")
	}
	return *v.Envvar, nil
}

// EnvVarQuota decodes the answer of [Client.EnvVarQuota].
func (e Envelope) EnvVarQuota() (EnvVarQuota, error) {
	var v oapiclient.EnvVarQuotaResponse
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return EnvVarQuota{}, fmt.Errorf("decode envvar quota: %w", err)
	}
	return v.Quota, nil
}
