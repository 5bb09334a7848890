package httpapi

import (
	"context"
	"net/http"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// Domains serves the /components/v1/tool/{tool}/domains routes (a tool's
// custom domains); internal/edge implements it, deciding who may claim
// which name. Errors are [*slipway.Error] values as for [Service].
type Domains interface {
	// List returns the tool's custom domains.
	List(ctx context.Context, tool string) ([]slipway.Domain, error)
	// Add claims a name for the tool as the actor in ctx.
	Add(ctx context.Context, tool, name string) (slipway.Domain, error)
	// Remove releases one of the tool's names.
	Remove(ctx context.Context, tool, name string) error
	// URL returns where the tool answers at a name.
	URL(name string) string
}

// domainsRequest returns the domains and the {tool} of r, or answers the
// error and returns ok false.
func (a *api) domainsRequest(w http.ResponseWriter, r *http.Request) (Domains, string, bool) {
	tool, err := toolName(r)
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", false
	}
	if a.cfg.Domains == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Custom domains are not enabled on this server."))
		return nil, "", false
	}
	return a.cfg.Domains, tool, true
}

func toDomains(svc Domains, ds []slipway.Domain) []oapi.Domain {
	out := make([]oapi.Domain, len(ds))
	for i, d := range ds {
		out[i] = toDomain(svc, d)
	}
	return out
}

func toDomain(svc Domains, d slipway.Domain) oapi.Domain {
	return oapi.Domain{Name: d.Name, Tool: d.Tool, Url: svc.URL(d.Name), CreatedAt: d.CreatedAt.UTC(), CreatedBy: optional(d.CreatedBy)}
}

// handleDomainList serves GET /components/v1/tool/{tool}/domains.
func (a *api) handleDomainList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.domainsRequest(w, r)
		if !ok {
			return
		}
		ds, err := svc.List(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.DomainListEnvelope{Data: toDomains(svc, ds), Messages: messages(nil, nil, nil)})
	})
}

// handleDomainAdd serves POST /components/v1/tool/{tool}/domains.
func (a *api) handleDomainAdd() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.domainsRequest(w, r)
		if !ok {
			return
		}
		body, err := a.readBody(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req oapi.DomainCreate
		if err := decodeJSON(body, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		d, err := svc.Add(r.Context(), tool, req.Name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, oapi.DomainEnvelope{
			Data:     toDomain(svc, d),
			Messages: messages([]string{"Point " + d.Name + "'s DNS at this server's proxy."}, nil, nil),
		})
	})
}

// handleDomainRemove serves DELETE /components/v1/tool/{tool}/domains/{domain}.
func (a *api) handleDomainRemove() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.domainsRequest(w, r)
		if !ok {
			return
		}
		name := r.PathValue("domain")
		if err := svc.Remove(r.Context(), tool, name); err != nil {
			a.writeError(w, r, err)
			return
		}
		ds, err := svc.List(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.DomainListEnvelope{
			Data: toDomains(svc, ds), Messages: messages([]string{"Tool " + tool + " is no longer served at " + name + "."}, nil, nil),
		})
	})
}
