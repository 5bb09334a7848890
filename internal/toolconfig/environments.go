package toolconfig

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// The tool-level Slipway extension of Toolforge's config is one top-level
// mapping, x-slipway (Toolforge's parser skips unknown top-level fields,
// so the config stays valid there):
//
//	x-slipway:
//	  environments:
//	    staging:
//	      env: {MODE: staging}
//	      overrides:
//	        web: {replicas: 1}
//	    production:
//	      kind: production
//	      upstream: staging
//
// Environments are listed in promotion order.

// environmentFields are the fields of one environment.
var environmentFields = []string{"kind", "upstream", "allow_direct", "env", "overrides"}

// overrideFields are the run fields an environment may override.
var overrideFields = []string{"replicas", "cpu", "memory", "schedule", "publish", "gate"}

// maxEnvironments bounds how many environments a tool declares.
const maxEnvironments = 8

// envNode keeps the nodes the cross checks of an environment point at.
type envNode struct {
	key       *yamlNode
	upstream  *yamlNode
	overrides map[string]*yamlNode // component name → its key
}

// environments parses x-slipway.environments.
func (p *parser) environments(path string, e entry) ([]slipway.Environment, *object, map[string]*envNode) {
	raw := &object{}
	m := p.mapping(path, e.val, "environments (a mapping of environment names, in promotion order)")
	if m == nil {
		return nil, raw, nil
	}
	var envs []slipway.Environment
	nodes := map[string]*envNode{}
	for _, ee := range p.entries(path, m) {
		name := ee.name()
		epath := join(path, name)
		p.record(epath, ee.key, ee.val)
		if !slipway.ValidEnvironmentName(name) {
			p.problemf(epath, ee.key, "environment name %q is not valid: a lowercase letter then up to %d lowercase letters or digits (no dashes)", name, slipway.MaxEnvironmentName-1)
		}
		env, n, r := p.environment(epath, name, ee)
		envs = append(envs, env)
		nodes[name] = n
		raw.set(name, r)
	}
	switch {
	case len(envs) == 0:
		p.problemf(path, e.val, "environments must name at least one environment (remove the field for a tool with one, %s)", slipway.DefaultEnvironment)
	case len(envs) > maxEnvironments:
		p.problemf(path, e.val, "environments: %d is too many, at most %d", len(envs), maxEnvironments)
	}
	if len(envs) > 0 && !slices.ContainsFunc(envs, func(e slipway.Environment) bool { return e.Name == slipway.DefaultEnvironment }) {
		p.problemf(path, e.val, "environments must include %q: it runs as the tool itself (the jobs API and the tool's own URL serve it)", slipway.DefaultEnvironment)
	}
	// An upstream is an environment declared before: promotion goes one
	// way, and there are no cycles.
	for i, env := range envs {
		if env.Upstream == "" {
			continue
		}
		j := slices.IndexFunc(envs, func(e slipway.Environment) bool { return e.Name == env.Upstream })
		switch {
		case j < 0:
			p.problemf(join(join(path, env.Name), "upstream"), nodes[env.Name].upstream, "upstream %q is not an environment of this tool; declared: %s", env.Upstream, envNames(envs))
		case j >= i:
			p.problemf(join(join(path, env.Name), "upstream"), nodes[env.Name].upstream, "upstream %q must be declared before %q: environments are listed in promotion order", env.Upstream, env.Name)
		}
	}
	return envs, raw, nodes
}

// envNames lists the names of envs, comma-separated.
func envNames(envs []slipway.Environment) string {
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.Name
	}
	return strings.Join(names, ", ")
}

// environment parses one environment.
func (p *parser) environment(path, name string, ee entry) (slipway.Environment, *envNode, *object) {
	env := slipway.Environment{Name: name}
	n := &envNode{key: ee.key, overrides: map[string]*yamlNode{}}
	raw := &object{}
	r := resolve(ee.val)
	if r != nil && isNull(r) {
		return env, n, raw // "staging:" with nothing set
	}
	m := p.mapping(path, ee.val, "environment "+name)
	if m == nil {
		return env, n, raw
	}
	for _, f := range p.entries(path, m) {
		fpath := join(path, f.name())
		p.record(fpath, f.key, f.val)
		switch f.name() {
		case "kind":
			if v, ok := p.enum(fpath, f.val, "kind", "production", "test"); ok {
				env.Production = v == "production"
				raw.set("kind", v)
			}
		case "upstream":
			if v, ok := p.str(fpath, f.val, "upstream"); ok {
				env.Upstream, n.upstream = v, f.val
				raw.set("upstream", v)
				if v == name {
					p.problemf(fpath, f.val, "environment %q cannot be its own upstream", name)
				}
			}
		case "allow_direct":
			if v, ok := p.boolean(fpath, f.val, "allow_direct"); ok {
				env.AllowDirect = v
				raw.set("allow_direct", v)
			}
		case "env":
			var o *object
			env.Env, o = p.envMap(fpath, f.val)
			raw.set("env", o)
		case "overrides":
			var o *object
			env.Overrides, o = p.overrides(fpath, f.val, n)
			raw.set("overrides", o)
		default:
			p.unknown(UnknownField{Path: fpath, Name: f.name(), In: "environment " + name}, f.key, environmentFields)
		}
	}
	return env, n, raw
}

// envMap parses an environment's variables: NAME: value.
func (p *parser) envMap(path string, n *yamlNode) (map[string]string, *object) {
	raw := &object{}
	m := p.mapping(path, n, "env (a mapping of variable names to values)")
	if m == nil {
		return nil, raw
	}
	out := map[string]string{}
	for _, e := range p.entries(path, m) {
		vpath := join(path, e.name())
		p.record(vpath, e.key, e.val)
		if err := slipway.ValidateEnvVarName(e.name()); err != nil {
			p.problemf(vpath, e.key, "%s", err.Error())
			continue
		}
		if v, ok := p.text(vpath, e.val, e.name(), "\t"); ok {
			out[e.name()] = v
			raw.set(e.name(), v)
		}
	}
	return out, raw
}

// overrides parses an environment's overrides: component: {run fields,
// gate}.
// The components are checked against the config's in checkEnvironments.
func (p *parser) overrides(path string, n *yamlNode, en *envNode) (map[string]slipway.RunOverride, *object) {
	raw := &object{}
	m := p.mapping(path, n, "overrides (a mapping of component names to the run fields this environment changes)")
	if m == nil {
		return nil, raw
	}
	out := map[string]slipway.RunOverride{}
	for _, ce := range p.entries(path, m) {
		comp := ce.name()
		cpath := join(path, comp)
		p.record(cpath, ce.key, ce.val)
		en.overrides[comp] = ce.key
		cm := p.mapping(cpath, ce.val, "the overrides of "+comp+" (run fields: "+strings.Join(overrideFields, ", ")+")")
		if cm == nil {
			continue
		}
		var o slipway.RunOverride
		craw := &object{}
		for _, f := range p.entries(cpath, cm) {
			fpath := join(cpath, f.name())
			p.record(fpath, f.key, f.val)
			var v any
			var ok bool
			switch f.name() {
			case "replicas":
				var i int64
				i, ok = p.replicas(fpath, f.val)
				o.Replicas, v = int(i), i
			case "cpu":
				o.CPU, ok = p.cpu(fpath, f.val)
				v = o.CPU
			case "memory":
				o.Memory, ok = p.memory(fpath, f.val)
				v = o.Memory
			case "schedule":
				o.Schedule, ok = p.schedule(fpath, f.val)
				v = o.Schedule
			case "publish":
				o.Publish, ok = p.publish(fpath, f.val)
				v = o.Publish
			case "gate":
				var g *object
				o.Gate, g = p.gate(fpath, f.val)
				v, ok = g, o.Gate != nil
			default:
				p.unknown(UnknownField{Path: fpath, Name: f.name(), In: "the overrides of " + comp}, f.key, overrideFields)
				continue
			}
			if ok {
				craw.set(f.name(), v)
			}
		}
		out[comp] = o
		raw.set(comp, craw)
	}
	return out, raw
}

// checkEnvironments checks the environments against the components:
// overrides name components of the config, and fit their types.
func (p *parser) checkEnvironments(envs []slipway.Environment, nodes map[string]*envNode, comps map[string]slipway.Component) {
	for _, env := range envs {
		n := nodes[env.Name]
		if n == nil {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(env.Overrides)) {
			o := env.Overrides[name]
			path := fmt.Sprintf("x-slipway.environments.%s.overrides.%s", env.Name, name)
			c, ok := comps[name]
			switch {
			case !ok:
				p.problemf(path, n.overrides[name], "environment %s overrides component %q, which the config does not have", env.Name, name)
			case o.Schedule != "" && c.Type != slipway.Scheduled:
				p.problemf(path, n.overrides[name], "environment %s sets a schedule for %q, which is %s: only scheduled components have one", env.Name, name, c.Type)
			case (o.Replicas != 0 || o.Publish != "") && c.Type != slipway.Continuous:
				p.problemf(path, n.overrides[name], "environment %s sets replicas or publish for %q, which is %s: only continuous components have them", env.Name, name, c.Type)
			}
		}
	}
}
