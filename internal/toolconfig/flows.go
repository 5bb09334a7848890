package toolconfig

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"slipway.dev/slipway/internal/slipway"
)

// A tool's flows are declared in its x-slipway block, each a sequence of
// steps and what starts it:
//
//	x-slipway:
//	  flows:
//	    release:
//	      on: [manual, push: main, release_cut, schedule: "0 6 * * 1"]
//	      steps:
//	        - deploy: staging
//	        - run: {component: smoke, environment: staging}
//	        - ask: {question: "Live on staging. Promote?"}   # a gate's fields
//	        - promote: production
//	        - notify: "Released to production"               # or {message: …}
//
// The environments and components the steps name are checked against
// the config's once all of it is read (checkFlows).

// flowFields are the fields of one flow.
var flowFields = []string{"on", "steps"}

// flowNode keeps the nodes the cross checks of a flow point at.
type flowNode struct {
	steps []*yamlNode // step i's value node
	envs  []*yamlNode // step i's environment node, when it has one
	comps []*yamlNode // step i's component node, when it has one
}

// flows parses x-slipway.flows.
func (p *parser) flows(path string, n *yamlNode) ([]slipway.Flow, *object, map[string]*flowNode) {
	raw := &object{}
	m := p.mapping(path, n, "flows (a mapping of flow names to {on, steps})")
	if m == nil {
		return nil, raw, nil
	}
	var out []slipway.Flow
	nodes := map[string]*flowNode{}
	for _, fe := range p.entries(path, m) {
		name := fe.name()
		fpath := join(path, name)
		p.record(fpath, fe.key, fe.val)
		if !slipway.ValidFlowName(name) {
			p.problemf(fpath, fe.key, "flow name %q is not valid: a lowercase letter then up to %d lowercase letters, digits or dashes", name, slipway.MaxFlowName-1)
		}
		f, fn, r := p.flow(fpath, name, fe)
		out = append(out, f)
		nodes[name] = fn
		raw.set(name, r)
	}
	switch {
	case len(out) == 0:
		p.problemf(path, n, "flows must name at least one flow (remove the field for none)")
	case len(out) > slipway.MaxFlows:
		p.problemf(path, n, "flows: %d is too many, at most %d", len(out), slipway.MaxFlows)
	}
	return out, raw, nodes
}

// flow parses one flow: {on, steps}.
func (p *parser) flow(path, name string, fe entry) (slipway.Flow, *flowNode, *object) {
	f := slipway.Flow{Name: name}
	fn := &flowNode{}
	raw := &object{}
	m := p.mapping(path, fe.val, "flow "+name+" ({on: [triggers], steps: [steps]})")
	if m == nil {
		return f, fn, raw
	}
	hasSteps, hasOn := false, false
	for _, e := range p.entries(path, m) {
		fpath := join(path, e.name())
		p.record(fpath, e.key, e.val)
		switch e.name() {
		case "on":
			hasOn = true
			var r []any
			f.On, r = p.flowTriggers(fpath, e.val)
			raw.set("on", r)
		case "steps":
			hasSteps = true
			var r []*object
			f.Steps, r = p.flowSteps(fpath, e.val, fn)
			raw.set("steps", r)
		default:
			p.unknown(UnknownField{Path: fpath, Name: e.name(), In: "flow " + name}, e.key, flowFields)
		}
	}
	if !hasOn {
		f.On = []slipway.FlowTrigger{{Kind: slipway.FlowManual}}
	}
	if !hasSteps {
		p.problemf(join(path, "steps"), fe.key, "flow %s needs steps: a list such as [deploy: staging, promote: production]", name)
	}
	return f, fn, raw
}

// flowTriggerWant says what an item of on: takes.
var flowTriggerWant = "manual, release_cut, release_updated, change_request_approved, {push: BRANCH} or {schedule: CRON}"

// flowTriggers parses a flow's on: list.
func (p *parser) flowTriggers(path string, n *yamlNode) ([]slipway.FlowTrigger, []any) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.SequenceNode {
		p.problemf(path, n, "on must be a list of triggers (%s), got %s", flowTriggerWant, describe(n))
		return nil, nil
	}
	if len(r.Content) > slipway.MaxFlowTriggers {
		p.problemf(path, n, "on: at most %d triggers, got %d", slipway.MaxFlowTriggers, len(r.Content))
		return nil, nil
	}
	if !p.spend(len(r.Content)) {
		return nil, nil
	}
	var (
		out  []slipway.FlowTrigger
		raws []any
	)
	for i, item := range r.Content {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		t, v, ok := p.flowTrigger(ipath, item)
		if !ok {
			continue
		}
		if slices.Contains(out, t) {
			p.problemf(ipath, item, "on lists %q twice", t.String())
			continue
		}
		out = append(out, t)
		raws = append(raws, v)
	}
	return out, raws
}

// flowTrigger parses one trigger: a name, or a one-entry mapping.
func (p *parser) flowTrigger(path string, n *yamlNode) (slipway.FlowTrigger, any, bool) {
	r := resolve(n)
	switch {
	case r != nil && r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str":
		switch k := slipway.FlowTriggerKind(r.Value); k {
		case slipway.FlowManual, slipway.FlowReleaseCut, slipway.FlowReleaseUpdated, slipway.FlowChangeRequestApproved:
			return slipway.FlowTrigger{Kind: k}, r.Value, true
		case slipway.FlowPush, slipway.FlowSchedule:
			p.problemf(path, n, "trigger %s needs a value: write {%s: %s}", k, k, map[slipway.FlowTriggerKind]string{slipway.FlowPush: "BRANCH", slipway.FlowSchedule: `"CRON"`}[k])
			return slipway.FlowTrigger{}, nil, false
		}
		p.problemf(path, n, "trigger must be one of %s, got %q", flowTriggerWant, short(r.Value))
		return slipway.FlowTrigger{}, nil, false
	case r != nil && r.Kind == yaml.MappingNode && len(r.Content) == 2:
		e := p.entries(path, r)
		if len(e) != 1 {
			break
		}
		vpath := join(path, e[0].name())
		p.record(vpath, e[0].key, e[0].val)
		switch e[0].name() {
		case string(slipway.FlowPush):
			s, ok := p.str(vpath, e[0].val, "push")
			if !ok || !p.check(vpath, e[0].val, strings.Replace(slipway.CheckRef(s), "ref must be a branch, a tag, or a full or short commit SHA", "push must name a branch", 1)) {
				return slipway.FlowTrigger{}, nil, false
			}
			raw := &object{}
			raw.set("push", s)
			return slipway.FlowTrigger{Kind: slipway.FlowPush, Branch: s}, raw, true
		case string(slipway.FlowSchedule):
			s, ok := p.schedule(vpath, e[0].val)
			if !ok {
				return slipway.FlowTrigger{}, nil, false
			}
			raw := &object{}
			raw.set("schedule", s)
			return slipway.FlowTrigger{Kind: slipway.FlowSchedule, Schedule: s}, raw, true
		}
		p.problemf(vpath, e[0].key, "trigger must be one of %s, got {%s: …}", flowTriggerWant, short(e[0].name()))
		return slipway.FlowTrigger{}, nil, false
	}
	p.problemf(path, n, "trigger must be one of %s, got %s", flowTriggerWant, describe(n))
	return slipway.FlowTrigger{}, nil, false
}

// flowStepWant says what a flow step takes.
const flowStepWant = "one of deploy: ENV, run: {component, environment}, ask: {question, …}, promote: ENV, notify: TEXT" //nolint:gosec // G101: the steps' syntax, not a credential

// flowSteps parses a flow's steps.
func (p *parser) flowSteps(path string, n *yamlNode, fn *flowNode) ([]slipway.FlowStep, []*object) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.SequenceNode {
		p.problemf(path, n, "steps must be a list of steps (%s), got %s", flowStepWant, describe(n))
		return nil, nil
	}
	switch {
	case len(r.Content) == 0:
		p.problemf(path, n, "steps must list at least one step")
		return nil, nil
	case len(r.Content) > slipway.MaxFlowSteps:
		p.problemf(path, n, "steps: at most %d, got %d", slipway.MaxFlowSteps, len(r.Content))
		return nil, nil
	}
	if !p.spend(len(r.Content)) {
		return nil, nil
	}
	var (
		out  []slipway.FlowStep
		raws []*object
	)
	for i, item := range r.Content {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		st, raw, envNode, compNode := p.flowStep(ipath, item)
		out = append(out, st)
		raws = append(raws, raw)
		fn.steps = append(fn.steps, item)
		fn.envs = append(fn.envs, envNode)
		fn.comps = append(fn.comps, compNode)
	}
	return out, raws
}

// flowStep parses one step: a mapping with one entry, its kind.
func (p *parser) flowStep(path string, n *yamlNode) (st slipway.FlowStep, raw *object, envNode, compNode *yamlNode) {
	raw = &object{}
	r := resolve(n)
	if r == nil || r.Kind != yaml.MappingNode {
		p.problemf(path, n, "a step must be %s, got %s", flowStepWant, describe(n))
		return st, raw, nil, nil
	}
	es := p.entries(path, r)
	if len(es) != 1 {
		p.problemf(path, n, "a step must be one of its kinds (%s), got a mapping of %d fields", flowStepWant, len(es))
		return st, raw, nil, nil
	}
	e := es[0]
	kpath := join(path, e.name())
	p.record(kpath, e.key, e.val)
	st.Kind = slipway.FlowStepKind(e.name())
	switch st.Kind {
	case slipway.FlowDeploy, slipway.FlowPromote:
		if s, ok := p.str(kpath, e.val, e.name()); ok {
			st.Environment, envNode = s, e.val
			raw.set(e.name(), s)
		}
	case slipway.FlowRun:
		m := p.mapping(kpath, e.val, "run ({component: ONE-OFF, environment: ENV})")
		if m == nil {
			break
		}
		o := &object{}
		for _, f := range p.entries(kpath, m) {
			fpath := join(kpath, f.name())
			p.record(fpath, f.key, f.val)
			switch f.name() {
			case "component":
				if s, ok := p.str(fpath, f.val, "component"); ok {
					st.Component, compNode = s, f.val
					o.set("component", s)
				}
			case "environment":
				if s, ok := p.str(fpath, f.val, "environment"); ok {
					st.Environment, envNode = s, f.val
					o.set("environment", s)
				}
			default:
				p.unknown(UnknownField{Path: fpath, Name: f.name(), In: "a run step"}, f.key, []string{"component", "environment"})
			}
		}
		if st.Component == "" && !p.hasProblemAt(join(kpath, "component")) {
			p.problemf(join(kpath, "component"), e.val, "run needs a component: the one-off component to run")
		}
		raw.set("run", o)
	case slipway.FlowAsk:
		var o *object
		st.Gate, o = p.gate(kpath, e.val)
		raw.set("ask", o)
	case slipway.FlowNotify:
		st.Message, raw = p.flowMessage(kpath, e.val, raw)
	default:
		p.problemf(kpath, e.key, "a step must be %s, got %q", flowStepWant, short(e.name()))
	}
	return st, raw, envNode, compNode
}

// flowMessage parses a notify step's value: TEXT or {message: TEXT}.
func (p *parser) flowMessage(path string, n *yamlNode, raw *object) (string, *object) {
	r := resolve(n)
	v := n
	if r != nil && r.Kind == yaml.MappingNode {
		v = nil
		for _, f := range p.entries(path, r) {
			fpath := join(path, f.name())
			p.record(fpath, f.key, f.val)
			if f.name() != "message" {
				p.unknown(UnknownField{Path: fpath, Name: f.name(), In: "a notify step"}, f.key, []string{"message"})
				continue
			}
			v = f.val
		}
		if v == nil {
			p.problemf(join(path, "message"), n, "notify needs a message: the text its subscriptions are sent")
			return "", raw
		}
	}
	s, ok := p.text(path, v, "notify", "\n")
	if !ok {
		return "", raw
	}
	if len(s) == 0 || len(s) > slipway.MaxFlowMessage {
		p.problemf(path, v, "notify must be between 1 and %d bytes of text, got %d", slipway.MaxFlowMessage, len(s))
		return "", raw
	}
	raw.set("notify", s)
	return s, raw
}

// checkFlows checks the steps of flows against the environments and
// components of the config.
func (p *parser) checkFlows(cfg slipway.ToolConfig, nodes map[string]*flowNode, comps map[string]slipway.Component) {
	envs := cfg.EnvironmentList()
	names := envNames(envs)
	for _, f := range cfg.Flows {
		fn := nodes[f.Name]
		if fn == nil {
			continue
		}
		for i, st := range f.Steps {
			if i >= len(fn.steps) {
				break
			}
			spath := fmt.Sprintf("x-slipway.flows.%s.steps[%d]", f.Name, i)
			if st.Kind == slipway.FlowRun && st.Environment == "" {
				// A run without an environment runs in the entry one.
				f.Steps[i].Environment = cfg.EntryEnvironment()
			}
			var env slipway.Environment
			if st.Environment != "" && fn.envs[i] != nil {
				epath := join(spath, string(st.Kind))
				if st.Kind == slipway.FlowRun {
					epath = join(epath, "environment")
				}
				var ok bool
				if env, ok = cfg.Environment(st.Environment); !ok {
					p.problemf(epath, fn.envs[i], "flow %s: %q is not an environment of this tool; declared: %s", f.Name, st.Environment, names)
					continue
				}
				switch {
				case st.Kind == slipway.FlowPromote && env.Upstream == "":
					p.problemf(epath, fn.envs[i], "flow %s promotes to %s, which has no upstream to promote from: deploy to it instead", f.Name, env.Name)
				case st.Kind == slipway.FlowDeploy && env.Production && env.Upstream != "" && !env.AllowDirect:
					p.problemf(epath, fn.envs[i], "flow %s deploys to %s, a production environment that takes only promoted builds: promote: %s instead", f.Name, env.Name, env.Name)
				}
			}
			if st.Kind != slipway.FlowRun || st.Component == "" {
				continue
			}
			cpath := join(join(spath, "run"), "component")
			c, ok := comps[st.Component]
			switch {
			case !ok:
				p.problemf(cpath, fn.comps[i], "flow %s runs component %q, which the config does not have", f.Name, st.Component)
			case c.Type != slipway.OneOff:
				p.problemf(cpath, fn.comps[i], "flow %s runs component %q, which is %s: a run step runs a one-off component", f.Name, st.Component, c.Type)
			}
		}
	}
}
