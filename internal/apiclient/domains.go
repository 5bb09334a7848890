package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// Domain is one of a tool's custom domains.
type Domain = oapiclient.Domain

// DomainList returns the tool's custom domains; decode them with
// [Envelope.Domains].
func (c *Client) DomainList(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListDomains(ctx, tool) })
}

// DomainAdd claims a custom domain for the tool; decode the answer with
// [Envelope.Domain].
func (c *Client) DomainAdd(ctx context.Context, tool, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.AddDomain(ctx, tool, oapiclient.DomainCreate{Name: name})
	})
}

// DomainRemove releases one of the tool's custom domains; the answer holds
// those left.
func (c *Client) DomainRemove(ctx context.Context, tool, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.RemoveDomain(ctx, tool, name) })
}

// Domains decodes the answer of [Client.DomainList] and
// [Client.DomainRemove].
func (e Envelope) Domains() ([]Domain, error) {
	var ds []Domain
	if err := json.Unmarshal(e.Data, &ds); err != nil {
		return nil, fmt.Errorf("decode domains: %w", err)
	}
	return ds, nil
}

// Domain decodes the answer of [Client.DomainAdd].
func (e Envelope) Domain() (Domain, error) {
	var d Domain
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return d, fmt.Errorf("decode domain: %w", err)
	}
	return d, nil
}
