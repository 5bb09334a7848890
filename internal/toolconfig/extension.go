package toolconfig

import (
	"fmt"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"slipway.dev/slipway/internal/slipway"
)

// The tool-level Slipway extension is the top-level mapping `x-slipway:`.
// Toolforge's parser ignores unknown top-level keys, so a config with it
// stays valid there.
//
//	x-slipway:
//	  auto_rollback: {window: 5m}   # or false (the default: off)
//	  environments: {…}             # see environments.go
//	  poll: {interval: 5m}          # or {interval, components: [web]}, or false

// extensionKey is the top-level key of the tool-level extension.
const extensionKey = "x-slipway"

// Fields known in the extension and in its parts, for the unknown-field
// reports.
var (
	extensionFields    = []string{"auto_rollback", "environments", "flows", "poll"}
	autoRollbackFields = []string{"window"}
	pollFields         = []string{"interval", "components"}
)

// autoRollbackWant says what auto_rollback takes.
var autoRollbackWant = fmt.Sprintf("{window: DURATION} (e.g. 5m, between %s and %s) to turn it on, or false",
	fmtDuration(slipway.MinAutoRollbackWindow), fmtDuration(slipway.MaxAutoRollbackWindow))

// extension parses the x-slipway mapping into cfg (its policy,
// environments and flows) and returns its set fields and the nodes of
// the environments and flows, for the cross checks.
func (p *parser) extension(e entry, cfg *slipway.ToolConfig) (*object, map[string]*envNode, map[string]*flowNode) {
	raw := &object{}
	m := p.mapping(extensionKey, e.val, extensionKey+" (Slipway's tool-level settings: auto_rollback, environments, flows, poll)")
	if m == nil {
		return raw, nil, nil
	}
	var (
		nodes     map[string]*envNode
		flowNodes map[string]*flowNode
	)
	for _, f := range p.entries(extensionKey, m) {
		name := f.name()
		path := join(extensionKey, name)
		p.record(path, f.key, f.val)
		switch name {
		case "auto_rollback":
			var v any
			cfg.Policy.AutoRollback, v = p.autoRollback(path, f.val)
			if v != nil {
				raw.set(name, v)
			}
		case "poll":
			var v any
			cfg.Policy.Poll, v = p.poll(path, f.val)
			if v != nil {
				raw.set(name, v)
			}
		case "environments":
			var envs *object
			cfg.Environments, envs, nodes = p.environments(path, f)
			raw.set(name, envs)
		case "flows":
			var flows *object
			cfg.Flows, flows, flowNodes = p.flows(path, f.val)
			raw.set(name, flows)
		default:
			p.unknown(UnknownField{Path: path, Name: name, In: extensionKey}, f.key, extensionFields)
		}
	}
	return raw, nodes, flowNodes
}

// autoRollback parses auto_rollback: false (off) or {window}. It returns
// the policy (nil when off or invalid) and its set value (nil when
// invalid).
func (p *parser) autoRollback(path string, n *yamlNode) (*slipway.AutoRollback, any) {
	r := resolve(n)
	if isBool(r) {
		if on, ok := p.boolean(path, n, "auto_rollback"); ok {
			if on {
				p.problemf(path, n, "auto_rollback: true does not say for how long to watch: write %s", autoRollbackWant)
				return nil, nil
			}
			return nil, false
		}
		return nil, nil
	}
	if r == nil || r.Kind != yaml.MappingNode {
		p.problemf(path, n, "auto_rollback must be %s, got %s", autoRollbackWant, describe(n))
		return nil, nil
	}
	ar := &slipway.AutoRollback{}
	raw := &object{}
	hasWindow := false
	for _, e := range p.entries(path, r) {
		name := e.name()
		fpath := join(path, name)
		p.record(fpath, e.key, e.val)
		switch name {
		case "window":
			hasWindow = true
			if d, s, ok := p.window(fpath, e.val); ok {
				ar.Window = d
				raw.set(name, s)
			}
		default:
			p.unknown(UnknownField{Path: fpath, Name: name, In: "auto_rollback"}, e.key, autoRollbackFields)
		}
	}
	if !hasWindow {
		p.problemf(join(path, "window"), n, "auto_rollback needs a window: how long after a deployment its components are watched, e.g. {window: 5m} (between %s and %s)",
			fmtDuration(slipway.MinAutoRollbackWindow), fmtDuration(slipway.MaxAutoRollbackWindow))
		return nil, nil
	}
	if ar.Window == 0 {
		return nil, nil
	}
	return ar, raw
}

// pollWant says what poll takes.
var pollWant = fmt.Sprintf("{interval: DURATION} (between %s and %s; components: [names] to poll only some), or false",
	fmtDuration(slipway.MinPollInterval), fmtDuration(slipway.MaxPollInterval))

// poll parses poll: false (off) or {interval, components}. It returns the
// policy (nil when off or invalid) and its set value (nil when invalid).
// The component names are checked against the components later
// (checkPoll), with the nodes recorded under the poll's path.
func (p *parser) poll(path string, n *yamlNode) (*slipway.Poll, any) {
	r := resolve(n)
	if isBool(r) {
		if on, ok := p.boolean(path, n, "poll"); ok {
			if on {
				p.problemf(path, n, "poll: true does not say how often: write %s", pollWant)
				return nil, nil
			}
			return nil, false
		}
		return nil, nil
	}
	if r == nil || r.Kind != yaml.MappingNode {
		p.problemf(path, n, "poll must be %s, got %s", pollWant, describe(n))
		return nil, nil
	}
	pl := &slipway.Poll{}
	raw := &object{}
	hasInterval, bad := false, false
	for _, e := range p.entries(path, r) {
		name := e.name()
		fpath := join(path, name)
		p.record(fpath, e.key, e.val)
		switch name {
		case "interval":
			hasInterval = true
			d, s, ok := p.duration(fpath, e.val, "interval", slipway.MinPollInterval, slipway.MaxPollInterval)
			if !ok {
				bad = true
				continue
			}
			pl.Interval = d
			raw.set(name, s)
		case "components":
			nodes := map[string]*yamlNode{}
			pl.Components = p.stringList(fpath, e.val, "components", "component names", nodes)
			for i, c := range pl.Components {
				p.nodes[fmt.Sprintf("%s[%d]", fpath, i)] = nodes[fmt.Sprintf("components[%d]", i)]
				if slices.Contains(pl.Components[:i], c) {
					p.problemf(fmt.Sprintf("%s[%d]", fpath, i), nodes[fmt.Sprintf("components[%d]", i)], "poll lists component %q twice", c)
					bad = true
				}
			}
			raw.set(name, pl.Components)
		default:
			p.unknown(UnknownField{Path: fpath, Name: name, In: "poll"}, e.key, pollFields)
		}
	}
	if !hasInterval {
		p.problemf(join(path, "interval"), n, "poll needs an interval: how often the repositories are asked, e.g. {interval: 5m} (between %s and %s)",
			fmtDuration(slipway.MinPollInterval), fmtDuration(slipway.MaxPollInterval))
		return nil, nil
	}
	if bad {
		return nil, nil
	}
	return pl, raw
}

// checkPoll checks that every component poll names exists and builds
// from source (a reused build or an image has no ref to poll).
func (p *parser) checkPoll(pl *slipway.Poll, comps map[string]slipway.Component) {
	if pl == nil {
		return
	}
	path := join(join(extensionKey, "poll"), "components")
	for i, name := range pl.Components {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		c, ok := comps[name]
		switch {
		case !ok:
			p.problemf(ipath, p.nodes[ipath], "poll names component %q, which the config does not have", name)
		case c.Build.Source == nil:
			p.problemf(ipath, p.nodes[ipath], "poll names component %q, which does not build from a repository (it reuses a build or names an image): there is no ref to poll", name)
		}
	}
}

// duration parses a duration such as 90s, 5m or 1h30m within bounds.
func (p *parser) duration(path string, n *yamlNode, name string, lo, hi time.Duration) (time.Duration, string, bool) {
	want := fmt.Sprintf("a duration between %s and %s, such as 90s, 5m or 1h30m", fmtDuration(lo), fmtDuration(hi))
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || isNull(r) || r.ShortTag() != "!!str" {
		p.problemf(path, n, "%s must be %s, got %s", name, want, describe(n))
		return 0, "", false
	}
	d, err := time.ParseDuration(r.Value)
	if err != nil || d < lo || d > hi {
		p.problemf(path, n, "%s must be %s, got %q", name, want, short(r.Value))
		return 0, "", false
	}
	return d, r.Value, true
}

// window parses an auto-rollback window: a duration such as 90s, 5m or
// 1h30m, within the bounds.
func (p *parser) window(path string, n *yamlNode) (time.Duration, string, bool) {
	return p.duration(path, n, "window", slipway.MinAutoRollbackWindow, slipway.MaxAutoRollbackWindow)
}

// fmtDuration writes d the short way: 10s, 5m, 24h, 1h30m.
func fmtDuration(d time.Duration) string {
	s := d.String()
	for _, suffix := range []struct{ long, short string }{{"m0s", "m"}, {"h0m", "h"}} {
		if len(s) > len(suffix.long) && s[len(s)-len(suffix.long):] == suffix.long {
			s = s[:len(s)-len(suffix.long)] + suffix.short
		}
	}
	return s
}

// isBool reports whether r is a boolean scalar, as [parser.boolean] reads
// them (the YAML 1.1 yes/no/on/off included).
func isBool(r *yamlNode) bool {
	if r == nil || r.Kind != yaml.ScalarNode {
		return false
	}
	if r.ShortTag() == "!!bool" {
		return true
	}
	_, ok := yaml11Bools[r.Value]
	return ok && r.Style&(yaml.TaggedStyle|yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}
