package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// MaxDomainsPerTool is how many custom domains a tool may have.
const MaxDomainsPerTool = 20

// msgTaken is the answer to a claim of a name that is, or overlaps, another
// tool's: it never says which tool has it.
const msgTaken = "name: %q is not available: it is, or is under or above, a domain another tool uses"

// Domains is the tools' custom domains: who may claim which name, and
// which instance a request's Host reaches (a [Hosts] over the apps domain
// and the custom domains, from a snapshot reloaded on every change made
// here and every Refresh for changes other servers of the store made).
type Domains struct {
	st      store.Store
	apps    string
	allowed []string
	now     func() time.Time
	logger  *slog.Logger

	// byName is the snapshot: custom domain → tool.
	byName atomic.Pointer[map[string]string]
	mu     sync.Mutex // serializes reloads
	// URLOf returns where an app answers at a host name (the server's
	// scheme and port); default http on port 80.
	URLOf func(host string) string
	// changed is called after a claim or a removal changed the names (the
	// ACME manager drops or fetches certificates); nil for nothing.
	changed func()
}

// NewDomains returns the custom domains of st under cfg's rules, loaded.
func NewDomains(ctx context.Context, st store.Store, cfg DomainConfig, now func() time.Time, logger *slog.Logger) (*Domains, error) {
	d := &Domains{st: st, apps: cfg.Apps(), allowed: cfg.AllowedDomains, now: now, logger: logger}
	if err := d.Reload(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Reload reads the custom domains again.
func (d *Domains) Reload(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	all, err := d.st.DomainList(ctx, "")
	if err != nil {
		return fmt.Errorf("edge: load domains: %w", err)
	}
	m := make(map[string]string, len(all))
	for _, dom := range all {
		m[dom.Name] = dom.Tool
	}
	d.byName.Store(&m)
	return nil
}

// Refresh reloads the custom domains every interval until ctx ends, for
// the claims other servers of a shared store make.
func (d *Domains) Refresh(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.Reload(ctx); err != nil && ctx.Err() == nil {
				d.logger.WarnContext(ctx, "reload custom domains", "err", err)
			}
		}
	}
}

// Lookup returns the instance a host names: <instance>.<apps domain>, or a
// tool's custom domain (served by the tool's default environment).
func (d *Domains) Lookup(host string) (string, bool) {
	host = NormalizeHost(host)
	if tool, ok := (*d.byName.Load())[host]; ok {
		return tool, true
	}
	return AppsHosts{Domain: d.apps}.Lookup(host)
}

// Owner returns the tool a custom domain is claimed by.
func (d *Domains) Owner(name string) (string, bool) {
	tool, ok := (*d.byName.Load())[name]
	return tool, ok
}

// URL returns where the tool claiming name answers at it.
func (d *Domains) URL(name string) string {
	if d.URLOf == nil {
		return PublicURL("http", name, 80)
	}
	return d.URLOf(name)
}

// List returns a tool's custom domains, by name.
func (d *Domains) List(ctx context.Context, tool string) ([]slipway.Domain, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	out, err := d.st.DomainList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	return out, nil
}

// Add claims name for tool as the actor in ctx. The rules, in order:
//
//   - name is a plain lowercase ASCII domain name (EInvalid);
//   - under the apps domain, only names under the tool's own
//     <tool>.<apps domain> (EForbidden);
//   - a tool's own credential claims only names under the allowed
//     domains (EForbidden); the admin may claim any other name;
//   - the name is not another tool's, nor under or above one (EConflict,
//     without naming the other tool); a tool has at most
//     [MaxDomainsPerTool] (EConflict).
func (d *Domains) Add(ctx context.Context, tool, name string) (slipway.Domain, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Domain{}, err
	}
	if err := slipway.ValidateDomainName("name", name); err != nil {
		return slipway.Domain{}, err
	}
	actor := slipway.ActorFrom(ctx)
	if !actor.MayActOn(tool) {
		return slipway.Domain{}, slipway.Errorf(slipway.EForbidden, "Tool %s's domains are not yours to change.", tool)
	}
	if err := d.mayClaim(actor, tool, name); err != nil {
		return slipway.Domain{}, err
	}
	dom := slipway.Domain{Name: name, Tool: tool, CreatedBy: actor.Name, CreatedAt: d.now().UTC()}
	err := d.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.NamedLock(ctx, store.DomainsLock); err != nil {
			return err
		}
		all, err := tx.DomainList(ctx, "")
		if err != nil {
			return err
		}
		mine := 0
		for _, o := range all {
			switch {
			case o.Tool == tool && o.Name == name:
				return slipway.Errorf(slipway.EConflict, "name: %q is already one of tool %s's domains", name, tool)
			case o.Tool == tool:
				mine++
			case slipway.DomainUnder(name, o.Name) || slipway.DomainUnder(o.Name, name):
				return slipway.Errorf(slipway.EConflict, msgTaken, name)
			}
		}
		if mine >= MaxDomainsPerTool {
			return slipway.Errorf(slipway.EConflict, "Tool %s has %d custom domains, the most a tool may have: remove one first.", tool, mine)
		}
		return tx.DomainAdd(ctx, dom)
	})
	if err != nil {
		if _, ok := errors.AsType[*slipway.Error](err); ok {
			return slipway.Domain{}, err
		}
		return slipway.Domain{}, fmt.Errorf("edge: claim %s for %s: %w", name, tool, err)
	}
	d.after(ctx)
	return dom, nil
}

// mayClaim applies the rules that need no store: the apps domain's names
// and the allowed domains.
func (d *Domains) mayClaim(actor slipway.Actor, tool, name string) error {
	if slipway.DomainUnder(name, d.apps) {
		own := tool + "." + d.apps
		if name != own && slipway.DomainUnder(name, own) {
			return nil
		}
		return slipway.Errorf(slipway.EForbidden, "name: %q is under the apps domain %s: a tool may claim only names under its own %s (which it already has)", name, d.apps, own)
	}
	if actor.Admin {
		return nil
	}
	if slices.ContainsFunc(d.allowed, func(a string) bool { return slipway.DomainUnder(name, a) }) {
		return nil
	}
	if len(d.allowed) == 0 {
		return slipway.Errorf(slipway.EForbidden, "name: %q: this server lets only its admin add custom domains; ask them", name)
	}
	return slipway.Errorf(slipway.EForbidden, "name: %q is not under a domain tools may claim here (%s); ask the admin for others", name, strings.Join(d.allowed, ", "))
}

// Remove releases a tool's custom domain; ENotFound when the tool has no
// such name (whoever else may have it).
func (d *Domains) Remove(ctx context.Context, tool, name string) error {
	if err := slipway.ValidateToolName(tool); err != nil {
		return err
	}
	if err := slipway.ValidateDomainName("name", name); err != nil {
		return err
	}
	if !slipway.ActorFrom(ctx).MayActOn(tool) {
		return slipway.Errorf(slipway.EForbidden, "Tool %s's domains are not yours to change.", tool)
	}
	if err := d.st.DomainDelete(ctx, tool, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return slipway.Errorf(slipway.ENotFound, "name: %q is not one of tool %s's domains", name, tool)
		}
		return fmt.Errorf("edge: %w", err)
	}
	d.after(ctx)
	return nil
}

// after reloads the snapshot after a change made here.
func (d *Domains) after(ctx context.Context) {
	if err := d.Reload(context.WithoutCancel(ctx)); err != nil {
		d.logger.WarnContext(ctx, "reload custom domains", "err", err)
	}
	if d.changed != nil {
		d.changed()
	}
}
