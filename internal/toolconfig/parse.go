package toolconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"slipway.dev/slipway/internal/slipway"
)

type yamlNode = yaml.Node

// parser collects the problems and warnings of one Parse call.
type parser struct {
	problems []Problem
	warnings []string
	// unknowns are the unknown fields of the warnings, in their order.
	unknowns []UnknownField
	// reported marks the keys already reported as duplicates, so that a
	// mapping merged in several places is reported once.
	reported map[*yamlNode]bool
	// budget is how many more mapping entries and list items the walk may
	// visit. Aliases let a small document name the same large mapping many
	// times; the budget keeps the work linear in the size of the input.
	budget    int
	overspent bool
	// strict turns on the rules that configs stored by an older Slipway
	// may break (see ParseStored).
	strict bool
	// nodes records the node of each field path: the value of a scalar
	// field, the key of a mapping (see Locate and validate).
	nodes map[string]*yamlNode
	// rewrite, when set, replaces the value of each URL field (source_url
	// and the build repositories) before it is stored (see RewriteURLs).
	rewrite func(path, value string) (string, error)
	// unknownKeys are the unknown keys of each mapping, by its path, for
	// the hints of the problems of fields that are missing.
	unknownKeys map[string][]string
}

// noteUnknown notes that the mapping at path has the unknown key name.
func (p *parser) noteUnknown(path, name string) {
	p.unknownKeys[path] = append(p.unknownKeys[path], name)
}

// record notes where the field at path is, for Locate.
func (p *parser) record(path string, key, val *yamlNode) {
	if r := resolve(val); r != nil && r.Kind == yaml.ScalarNode {
		p.nodes[path] = val
	} else {
		p.nodes[path] = key
	}
}

// rewriteURL applies p.rewrite to the URL field at path, recording its
// error as a problem without a position (the document parsed is a stored
// one, not the user's).
func (p *parser) rewriteURL(path, v string) (string, bool) {
	if p.rewrite == nil {
		return v, true
	}
	nv, err := p.rewrite(path, v)
	if err != nil {
		p.problemf(path, nil, "%s", err.Error())
		return v, false
	}
	return nv, true
}

const overspentMessage = "the config is too large: YAML aliases expand it to too many fields"

// spend takes n from the budget and reports whether there was enough.
func (p *parser) spend(n int) bool {
	p.budget -= n
	if p.budget >= 0 {
		return true
	}
	if !p.overspent {
		p.overspent = true
		p.problemf("", nil, overspentMessage)
	}
	return false
}

// problemf records a problem at node n (which may be nil).
func (p *parser) problemf(path string, n *yamlNode, format string, args ...any) {
	pr := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line, pr.Column = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
}

// join returns the path of field name under path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// decode reads the single YAML document in data. It returns nil after
// recording a problem when there is none, more than one, or the input is not
// YAML.
func (p *parser) decode(data []byte) (doc *yamlNode) {
	defer func() {
		// yaml.v3 is third-party code: never let a bug in it crash a
		// server that parses configs posted by users.
		if r := recover(); r != nil {
			doc = nil
			p.problemf("", nil, "not valid YAML: the YAML decoder failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var d yamlNode
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			p.problemf("", nil, "the document is empty: a tool config is a mapping with at least a components field")
			return nil
		}
		p.yamlProblem(err, data)
		return nil
	}
	var extra yamlNode
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.yamlProblem(err, data)
		return nil
	case len(extra.Content) > 0 && !isEmptyNull(extra.Content[0]):
		p.problemf("", &extra, "the input holds more than one YAML document (separated by ---): put the whole tool config in one document")
		return nil
	}
	return &d
}

// isEmptyNull reports whether n is an empty document's content.
func isEmptyNull(n *yamlNode) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && n.Value == ""
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserErrors are the messages of yaml.v3's parser (as opposed to its
// scanner), with a hint to add.
var parserErrors = map[string]string{
	"did not find expected ',' or ']'":       " (is a [ not closed?)",
	"did not find expected ',' or '}'":       " (is a { not closed?)",
	"did not find expected '-' indicator":    " (check the indentation)",
	"did not find expected <document start>": "",
	"did not find expected <stream-start>":   "",
	"did not find expected key":              " (check the indentation)",
	"did not find expected node content":     "",
	"found duplicate %TAG directive":         "",
	"found duplicate %YAML directive":        "",
	"found incompatible YAML document":       "",
	"found undefined tag handle":             "",
}

// yamlProblem records a YAML syntax error, with its line when yaml.v3 gives
// one (it never gives a column).
func (p *parser) yamlProblem(err error, data []byte) {
	msg := err.Error()
	pr := Problem{}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		pr.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if hint, ok := parserErrors[msg]; ok {
			// yaml.v3 gives the 0-based line of the construct the parser
			// was in for parser (not scanner) errors.
			pr.Line++
			msg += hint
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	pr.Message = "not valid YAML: " + msg
	if pr.Line > 0 {
		lines := bytes.Split(data, []byte("\n"))
		if pr.Line <= len(lines) && bytes.HasPrefix(bytes.TrimLeft(lines[pr.Line-1], " "), []byte("\t")) {
			pr.Message += " (YAML does not allow tabs for indentation: use spaces)"
		}
	}
	p.problems = append(p.problems, pr)
}

// parse walks the whole document.
func (p *parser) parse(data []byte) slipway.ToolConfig {
	doc := p.decode(data)
	if doc == nil {
		return slipway.ToolConfig{}
	}
	var top *yamlNode
	if len(doc.Content) > 0 {
		top = doc.Content[0]
	}
	if top == nil || isEmptyNull(top) {
		p.problemf("", nil, "the document is empty: a tool config is a mapping with at least a components field")
		return slipway.ToolConfig{}
	}
	if r := resolve(top); r == nil || r.Kind != yaml.MappingNode {
		p.problemf("", top, "a tool config must be a mapping with the fields config_version, source_url and components, got %s", describe(top))
		return slipway.ToolConfig{}
	}
	top = resolve(top)

	var cfg slipway.ToolConfig
	raw := &object{}
	var comps *componentSet
	var (
		envNodes  map[string]*envNode
		flowNodes map[string]*flowNode
	)
	var unknownKeys []string
	for _, e := range p.entries("", top) {
		p.record(e.name(), e.key, e.val)
		switch e.name() {
		case "config_version":
			r := resolve(e.val)
			if r != nil && isNull(r) {
				// Toolforge accepts null here (and only here).
				raw.set("config_version", nil)
				continue
			}
			if v, ok := p.str("config_version", e.val, "config_version"); ok {
				if v != slipway.ConfigVersionV1Beta1 {
					p.problemf("config_version", e.val, "config_version must be %q (or absent), got %q", slipway.ConfigVersionV1Beta1, v)
					continue
				}
				cfg.ConfigVersion = v
				raw.set("config_version", v)
			}
		case "source_url":
			if v, ok := p.text("source_url", e.val, "source_url", ""); ok {
				if msg := checkSourceURL(v); msg != "" {
					p.problemf("source_url", e.val, "%s", msg)
					continue
				}
				if v, ok = p.rewriteURL("source_url", v); !ok {
					continue
				}
				cfg.SourceURL = v
				raw.set("source_url", v)
			}
		case "components":
			comps = p.components(e)
			if comps != nil {
				raw.set("components", comps.raw)
			}
		case extensionKey:
			var x *object
			x, envNodes, flowNodes = p.extension(e, &cfg)
			raw.set(extensionKey, x)
		default:
			unknownKeys = append(unknownKeys, e.name())
			p.unknown(UnknownField{Path: e.name(), Name: e.name(), In: "the tool config"}, e.key, topFields)
		}
	}
	if comps == nil {
		if !p.hasProblemAt("components") {
			p.problemf("components", top, "components is required: a mapping of component names to components%s", didYouMean("components", unknownKeys))
		}
		return slipway.ToolConfig{}
	}
	p.crossCheck(comps)
	p.checkEnvironments(cfg.Environments, envNodes, comps.byName)
	p.checkPoll(cfg.Policy.Poll, comps.byName)
	p.checkFlows(cfg, flowNodes, comps.byName)
	if len(p.problems) > 0 {
		return slipway.ToolConfig{}
	}
	cfg.Components = comps.byName
	cfg.Order = comps.order
	cfg.Raw = raw.marshal()
	return cfg
}

// hasProblemAt reports whether a problem was recorded for path.
func (p *parser) hasProblemAt(path string) bool {
	for _, pr := range p.problems {
		if pr.Path == path {
			return true
		}
	}
	return false
}

// componentSet is the parsed components field.
type componentSet struct {
	byName map[string]slipway.Component
	order  []string
	info   map[string]*componentInfo
	raw    *object
}

// buildKind is which variant of build a component uses.
type buildKind int

const (
	buildInvalid buildKind = iota
	buildSource
	buildReuse
	buildImage
)

// componentInfo holds the nodes the cross-component checks point at.
type componentInfo struct {
	key       *yamlNode
	build     buildKind
	reuseNode *yamlNode
	waitNode  *yamlNode   // the wait_for value
	waitItems []*yamlNode // its items, parallel to Component.WaitFor
	waitIdx   []int       // their indexes in the list the user wrote
}

// components parses the components field; it returns nil after recording a
// problem when there are none.
func (p *parser) components(e entry) *componentSet {
	m := resolve(e.val)
	if m != nil && isNull(m) {
		p.problemf("components", e.val, "components must be a mapping of component names to components, got null")
		return nil
	}
	m = p.mapping("components", e.val, "components")
	if m == nil {
		return nil
	}
	set := &componentSet{
		byName: map[string]slipway.Component{},
		info:   map[string]*componentInfo{},
		raw:    &object{},
	}
	for _, ce := range p.entries("components", m) {
		name := ce.name()
		path := join("components", name)
		p.record(path, ce.key, ce.val)
		c, info, raw := p.component(path, name, ce)
		set.byName[name] = c
		set.order = append(set.order, name)
		set.info[name] = info
		set.raw.set(name, raw)
	}
	if len(set.order) == 0 {
		p.problemf("components", e.val, "components must have at least 1 component")
		return nil
	}
	return set
}

// component parses one component, returning it, the nodes the cross checks
// need, and its set fields.
func (p *parser) component(path, name string, ce entry) (slipway.Component, *componentInfo, *object) {
	c := slipway.Component{Name: name}
	info := &componentInfo{key: ce.key}
	raw := &object{}
	from := len(p.problems)
	m := p.mapping(path, ce.val, "component "+strconv.Quote(name)+" (with build and run)")
	if m == nil {
		p.validate(path, ce.key, c, nil, from, "component_type", "build", "run")
		return c, info, raw
	}
	entries := p.entries(path, m)

	// component_type decides which run fields are known, so find the type
	// (and the run mapping, for the default) before the walk in order.
	var typeOK bool
	var runMap *yamlNode
	var runEntries []entry
	for _, e := range entries {
		switch e.name() {
		case "component_type":
			s, ok := p.str(join(path, "component_type"), e.val, "component_type")
			if !ok {
				break
			}
			for _, t := range slipway.ComponentTypes {
				if s == string(t) {
					c.Type, typeOK = t, true
				}
			}
			if !typeOK {
				p.problemf(join(path, "component_type"), e.val, "component_type must be one of continuous, scheduled, one-off, got %q", s)
			}
		case "run":
			runMap = p.mapping(join(path, "run"), e.val, "run")
			if runMap != nil {
				runEntries = p.entries(join(path, "run"), runMap)
			}
		}
	}
	if !typeOK {
		c.Type = slipway.Continuous
		for _, e := range runEntries {
			if e.name() == "schedule" {
				c.Type = slipway.Scheduled
			}
		}
	}

	var hasBuild, hasRun bool
	var unknownKeys []string
	given := map[string]bool{}
	var buildRaw *object
	for _, e := range entries {
		p.record(join(path, e.name()), e.key, e.val)
		switch e.name() {
		case "component_type":
			if typeOK {
				raw.set("component_type", string(c.Type))
			}
		case "build":
			hasBuild = true
			var b *object
			c.Build, info.build, info.reuseNode, b = p.build(join(path, "build"), name, e, given)
			raw.set("build", b)
			buildRaw = b
		case "run":
			hasRun = true
			if runMap != nil {
				var r *object
				c.Run, r = p.run(join(path, "run"), name, c.Type, runEntries, given)
				raw.set("run", r)
			}
		case "wait_for":
			c.WaitFor, info.waitItems, info.waitIdx = p.waitFor(join(path, "wait_for"), e.val)
			info.waitNode = e.val
			w := c.WaitFor
			if w == nil {
				w = []string{}
			}
			raw.set("wait_for", w)
		case "gate":
			var g *object
			c.Gate, g = p.gate(join(path, "gate"), e.val)
			raw.set("gate", g)
		default:
			unknownKeys = append(unknownKeys, e.name())
			p.unknown(UnknownField{Path: join(path, e.name()), Name: e.name(), In: componentIn("", name)}, e.key, componentFields)
		}
	}
	var skip []string
	if !hasBuild {
		skip = append(skip, "build")
	}
	if runMap == nil {
		skip = append(skip, "run")
	}
	p.validate(path, ce.key, c, given, from, skip...)
	p.settleBuild(path, &c, info, buildRaw)
	if !hasBuild {
		p.problemf(join(path, "build"), ce.key, "build is required: {repository, ref}, {reuse_from} or {image}%s", didYouMean("build", unknownKeys))
	}
	if !hasRun {
		p.problemf(join(path, "run"), ce.key, "run is required: at least {command}%s", didYouMean("run", unknownKeys))
	}
	return c, info, raw
}

// build parses the build of component comp: the variant, its spec, the
// reuse_from node when there is one, and its set fields.
//
// It checks the shape of the build; the domain checks its values (see
// validate), and settleBuild finishes it.
func (p *parser) build(path, comp string, be entry, given map[string]bool) (slipway.BuildSpec, buildKind, *yamlNode, *object) {
	var spec slipway.BuildSpec
	raw := &object{}
	m := p.mapping(path, be.val, "build")
	if m == nil {
		return spec, buildInvalid, nil, raw
	}
	entries := p.entries(path, m)
	has := map[string]bool{}
	for _, e := range entries {
		has[e.name()] = true
	}
	// Like Toolforge's union, the first variant that fits wins and the
	// fields of the others are unknown.
	var kind buildKind
	var known []string
	switch {
	case has["repository"] || has["ref"]:
		kind, known = buildSource, []string{"repository", "ref", "use_latest_versions", "use_deprecated_versions"}
		spec.Source = &slipway.SourceBuild{}
	case has["reuse_from"]:
		kind, known = buildReuse, []string{"reuse_from"}
	case has["image"]:
		kind, known = buildImage, []string{"image"}
	}
	var reuseNode *yamlNode
	for _, e := range entries {
		name := e.name()
		fpath := join(path, name)
		p.record(fpath, e.key, e.val)
		if !slices.Contains(known, name) {
			p.noteUnknown(path, name)
			u := UnknownField{Path: fpath, Name: name, In: componentIn("build", comp)}
			valid := known
			if kind == buildInvalid {
				valid = allBuildFields
			} else if slices.Contains(allBuildFields, name) {
				u.Note = "a build has repository and ref, or reuse_from, or image"
			}
			p.unknown(u, e.key, valid)
			continue
		}
		given["build."+name] = true
		switch name {
		case "repository", "ref", "reuse_from", "image":
			v, good := p.str(fpath, e.val, name)
			if !good {
				continue
			}
			switch name {
			case "repository":
				spec.Source.Repository = v
			case "ref":
				spec.Source.Ref = v
			case "reuse_from":
				spec.ReuseFrom = v
				reuseNode = e.val
			case "image":
				spec.Image = v
			}
			raw.set(name, v)
		case "use_latest_versions", "use_deprecated_versions":
			v, good := p.boolean(fpath, e.val, name)
			if !good {
				continue
			}
			if name == "use_latest_versions" {
				spec.Source.UseLatestVersions = v
			} else {
				spec.Source.UseDeprecatedVersions = v
			}
			raw.set(name, v)
		}
	}
	return spec, kind, reuseNode, raw
}

// settleBuild finishes the build of the component at path once validate
// has checked it: a build whose defining field is wrong is invalid (and so
// left out of the reuse_from checks), and a good repository is rewritten
// (see RewriteURLs), after the checks, which are of the user's value.
func (p *parser) settleBuild(path string, c *slipway.Component, info *componentInfo, raw *object) {
	bpath := join(path, "build")
	for _, f := range []string{"repository", "ref", "reuse_from", "image"} {
		if p.hasProblemAt(join(bpath, f)) {
			info.build = buildInvalid
		}
	}
	src := c.Build.Source
	if src == nil || p.hasProblemAt(join(bpath, "repository")) || p.hasProblemAt(bpath) {
		return
	}
	v, ok := p.rewriteURL(join(bpath, "repository"), src.Repository)
	if !ok {
		info.build = buildInvalid
		return
	}
	src.Repository = v
	raw.set("repository", v)
}

// Component type masks for run fields.
const (
	forContinuous = 1 << iota
	forScheduled
	forOneOff
	forAll = forContinuous | forScheduled | forOneOff
)

// runFields maps each run field to the component types that have it.
var runFields = map[string]int{
	"command":             forAll,
	"cpu":                 forAll,
	"memory":              forAll,
	"emails":              forAll,
	"filelog":             forAll,
	"filelog_stdout":      forAll,
	"filelog_stderr":      forAll,
	"mount":               forAll,
	"port":                forContinuous,
	"port_protocol":       forContinuous,
	"publish":             forContinuous,
	"replicas":            forContinuous,
	"health_check_script": forContinuous,
	"health_check_http":   forContinuous,
	"schedule":            forScheduled,
	"retry":               forScheduled | forOneOff,
	"timeout":             forScheduled | forOneOff,
	"stop_grace_period":   forContinuous,
}

func typeMask(t slipway.ComponentType) int {
	switch t {
	case slipway.Continuous:
		return forContinuous
	case slipway.Scheduled:
		return forScheduled
	case slipway.OneOff:
		return forOneOff
	}
	return 0
}

// The run fields an environment may override too: each parses and checks
// one value, recording the problem.

func (p *parser) cpu(path string, n *yamlNode) (string, bool) {
	s, ok := p.str(path, n, "cpu")
	return s, ok && p.check(path, n, slipway.CheckCPU(s, !p.strict))
}

func (p *parser) memory(path string, n *yamlNode) (string, bool) {
	s, ok := p.str(path, n, "memory")
	return s, ok && p.check(path, n, slipway.CheckMemory(s, !p.strict))
}

func (p *parser) replicas(path string, n *yamlNode) (int64, bool) {
	r := slipway.ReplicasRange
	return p.integer(path, n, "replicas", r.Min, r.Max, r.Text)
}

func (p *parser) schedule(path string, n *yamlNode) (string, bool) {
	s, ok := p.text(path, n, "schedule", slipway.ScheduleText)
	return s, ok && p.check(path, n, slipway.CheckSchedule(s))
}

func (p *parser) publish(path string, n *yamlNode) (string, bool) {
	s, ok := p.str(path, n, "publish")
	return s, ok && p.check(path, n, slipway.CheckPublish(s))
}

// check records msg as the problem at n, unless it is "", and reports
// whether it is.
func (p *parser) check(path string, n *yamlNode, msg string) bool {
	if msg != "" {
		p.problemf(path, n, "%s", msg)
	}
	return msg == ""
}

// runInts are the ranges of the integer run fields.
var runInts = map[string]slipway.IntRange{
	"port":              slipway.PortRange,
	"replicas":          slipway.ReplicasRange,
	"retry":             slipway.RetryRange,
	"timeout":           slipway.TimeoutRange,
	"stop_grace_period": slipway.StopGracePeriodRange,
}

// run parses the entries of the run mapping of component comp, of type t,
// noting the fields it has in given. It checks their shape; the domain
// checks their values and how they go together (see validate).
func (p *parser) run(path, comp string, t slipway.ComponentType, entries []entry, given map[string]bool) (slipway.RunSpec, *object) {
	var r slipway.RunSpec
	raw := &object{}
	mask := typeMask(t)
	for _, e := range entries {
		name := e.name()
		fpath := join(path, name)
		p.record(fpath, e.key, e.val)
		if runFields[name]&mask == 0 {
			p.noteUnknown(path, name)
			p.unknownRun(fpath, name, e.key, comp, t)
			continue
		}
		given["run."+name] = true
		var v any
		var ok bool
		switch name {
		case "filelog":
			var b bool
			if b, ok = p.boolean(fpath, e.val, name); ok {
				r.Filelog = &b
			}
			v = b
		case "port", "replicas", "retry", "timeout", "stop_grace_period":
			var n int64
			n, ok = p.runInt(fpath, e.val, name)
			v = n
			switch name {
			case "port":
				r.Port = int(n)
			case "replicas":
				r.Replicas = int(n)
			case "retry":
				r.Retry = int(n)
			case "timeout":
				r.Timeout = int(n)
			case "stop_grace_period":
				r.StopGracePeriod = int(n)
			}
		default:
			var s string
			s, ok = p.str(fpath, e.val, name)
			v = s
			*runString(&r, name) = s
		}
		if ok {
			raw.set(name, v)
		}
	}
	return r, raw
}

// runString returns the string field name of r.
func runString(r *slipway.RunSpec, name string) *string {
	switch name {
	case "command":
		return &r.Command
	case "cpu":
		return &r.CPU
	case "memory":
		return &r.Memory
	case "emails":
		return &r.Emails
	case "filelog_stdout":
		return &r.FilelogStdout
	case "filelog_stderr":
		return &r.FilelogStderr
	case "mount":
		return &r.Mount
	case "port_protocol":
		return &r.PortProtocol
	case "publish":
		return &r.Publish
	case "health_check_script":
		return &r.HealthCheckScript
	case "health_check_http":
		return &r.HealthCheckHTTP
	case "schedule":
		return &r.Schedule
	}
	panic("toolconfig: no run field " + name)
}

// runInt returns the value of the integer run field name when it is an
// integer that fits; the domain checks its range.
func (p *parser) runInt(path string, n *yamlNode, name string) (int64, bool) {
	rng := runInts[name]
	r := resolve(n)
	switch {
	case r != nil && r.Kind == yaml.ScalarNode && r.ShortTag() == "!!int":
		var v int
		if err := r.Decode(&v); err != nil {
			p.problemf(path, n, "%s must be %s, got %s", name, rng.Text, short(r.Value))
			return 0, false
		}
		return int64(v), true
	case r != nil && isNull(r):
		p.nullProblem(path, n, name)
	default:
		p.problemf(path, n, "%s must be an integer (%s), got %s", name, rng.Text, describe(n))
	}
	return 0, false
}

// validate checks component c, at path, with the domain's rules and
// records their problems at the nodes of their fields. given holds the
// fields the document gave (paths relative to the component), whatever
// their values; the shape problems recorded since index from win over the
// domain's at the same field, and the domain's under skip (a part that is
// missing or not a mapping) are dropped. A problem of a missing field is
// put at the mapping that lacks it, with a hint when an unknown key there
// looks like it.
func (p *parser) validate(path string, key *yamlNode, c slipway.Component, given map[string]bool, from int, skip ...string) {
	shape := map[string]bool{}
	for _, pr := range p.problems[from:] {
		shape[pr.Path] = true
	}
	opts := slipway.ValidateOptions{Given: func(f string) bool { return given[f] }, Stored: !p.strict}
problems:
	for _, vp := range c.ValidateWith(opts) {
		for _, s := range skip {
			if vp.Path == s || strings.HasPrefix(vp.Path, s+".") {
				continue problems
			}
		}
		if vp.Path == "" {
			p.problemf(path, key, "%s", vp.Message)
			continue
		}
		fpath := join(path, vp.Path)
		if shape[fpath] {
			continue
		}
		if vp.Message == slipway.BothHealthChecks {
			fpath = p.later(join(path, "run.health_check_script"), join(path, "run.health_check_http"))
		}
		if n, ok := p.nodes[fpath]; ok {
			p.problemf(fpath, n, "%s", vp.Message)
			continue
		}
		parent := parentPath(fpath)
		last := fpath[len(parent)+1:]
		n := key
		for q := parent; q != path && q != ""; q = parentPath(q) {
			if qn, ok := p.nodes[q]; ok {
				n = qn
				break
			}
		}
		p.problemf(fpath, n, "%s%s", vp.Message, didYouMean(last, p.unknownKeys[parent]))
	}
}

// later returns whichever of the fields at paths a and b comes later in
// the document.
func (p *parser) later(a, b string) string {
	na, nb := p.nodes[a], p.nodes[b]
	if na != nil && nb != nil && (na.Line > nb.Line || (na.Line == nb.Line && na.Column > nb.Column)) {
		return a
	}
	return b
}

// waitFor parses a wait_for list.
func (p *parser) waitFor(path string, n *yamlNode) ([]string, []*yamlNode, []int) {
	r := resolve(n)
	switch {
	case r != nil && isNull(r):
		p.nullProblem(path, n, "wait_for")
		return nil, nil, nil
	case r == nil || r.Kind != yaml.SequenceNode:
		p.problemf(path, n, "wait_for must be a list of component names, got %s", describe(n))
		return nil, nil, nil
	}
	if !p.spend(len(r.Content)) {
		return nil, nil, nil
	}
	var names []string
	var nodes []*yamlNode
	var idx []int
	for i, item := range r.Content {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		s, ok := p.str(ipath, item, "a wait_for item")
		if !ok {
			continue
		}
		if slices.Contains(names, s) {
			p.problemf(ipath, item, "wait_for lists %q more than once", s)
			continue
		}
		names = append(names, s)
		nodes = append(nodes, item)
		idx = append(idx, i)
	}
	return names, nodes, idx
}
