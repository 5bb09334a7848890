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
	"unicode"

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
	// nodes records, when not nil, the node of each field path: the value
	// of a scalar field, the key of a mapping (see Locate).
	nodes map[string]*yamlNode
	// rewrite, when set, replaces the value of each URL field (source_url
	// and the build repositories) before it is stored (see RewriteURLs).
	rewrite func(path, value string) (string, error)
}

// record notes where the field at path is, for Locate.
func (p *parser) record(path string, key, val *yamlNode) {
	if p.nodes == nil {
		return
	}
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
	var envNodes map[string]*envNode
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
			x, envNodes = p.extension(e, &cfg)
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
		if !slipway.ValidName(name) {
			p.problemf(path, ce.key, "component name %q is not valid: use 1 to %d lowercase letters, digits or dashes, starting and ending with a letter or digit", name, slipway.MaxNameLength)
		}
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
	m := p.mapping(path, ce.val, "component "+strconv.Quote(name)+" (with build and run)")
	if m == nil {
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
			c.Build, info.build, info.reuseNode, b = p.build(join(path, "build"), name, e)
			raw.set("build", b)
		case "run":
			hasRun = true
			if runMap != nil {
				var r *object
				c.Run, r = p.run(join(path, "run"), name, e.key, c.Type, runEntries)
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
func (p *parser) build(path, comp string, be entry) (slipway.BuildSpec, buildKind, *yamlNode, *object) {
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
	var unknownKeys []string
	ok := kind != buildInvalid
	for _, e := range entries {
		name := e.name()
		fpath := join(path, name)
		p.record(fpath, e.key, e.val)
		if !slices.Contains(known, name) {
			unknownKeys = append(unknownKeys, name)
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
		switch name {
		case "repository":
			v, good := p.text(fpath, e.val, name, "")
			if good {
				if msg := checkRepository(v); msg != "" {
					p.problemf(fpath, e.val, "%s", msg)
					good = false
				}
			}
			if good {
				v, good = p.rewriteURL(fpath, v)
			}
			if !good {
				ok = false
				continue
			}
			spec.Source.Repository = v
			raw.set(name, v)
		case "ref":
			v, good := p.str(fpath, e.val, name)
			if good {
				if msg := checkRef(v); msg != "" {
					p.problemf(fpath, e.val, "%s", msg)
					good = false
				}
			}
			if !good {
				ok = false
				continue
			}
			spec.Source.Ref = v
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
		case "reuse_from":
			v, good := p.text(fpath, e.val, name, "")
			if good && v == "" {
				p.problemf(fpath, e.val, "reuse_from must name another component of this config, whose build this one uses")
				good = false
			}
			if !good {
				ok = false
				continue
			}
			spec.ReuseFrom = v
			reuseNode = e.val
			raw.set(name, v)
		case "image":
			v, good := p.str(fpath, e.val, name)
			if good && (v == "" || strings.ContainsFunc(v, isSpaceOrControl)) {
				p.problemf(fpath, e.val, "image must be an image reference such as \"registry.example.org/team/app:1.2\" or \"…@sha256:<digest>\", got %q", v)
				good = false
			}
			if !good {
				ok = false
				continue
			}
			spec.Image = v
			raw.set(name, v)
		}
	}
	switch kind {
	case buildInvalid:
		p.problemf(path, be.key, "build must have repository and ref (build from source), reuse_from (use another component's build) or image (a prebuilt image)")
	case buildSource:
		if !has["repository"] {
			p.problemf(join(path, "repository"), be.key, "repository is required with ref: an http, https, git or file URL, or an absolute path%s", didYouMean("repository", unknownKeys))
			ok = false
		}
		if !has["ref"] {
			p.problemf(join(path, "ref"), be.key, "ref is required: a branch, a tag, or a full or short commit SHA%s", didYouMean("ref", unknownKeys))
			ok = false
		}
	case buildReuse, buildImage:
		// The one field that chose the variant is there, and was checked
		// in the loop above.
	}
	if !ok {
		kind = buildInvalid
	}
	return spec, kind, reuseNode, raw
}

func isSpaceOrControl(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r)
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

// maxStopGracePeriod bounds stop_grace_period (seconds): a stop, a
// replacement and a server shutdown wait that long at most for a process.
const maxStopGracePeriod = 3600

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

// legacyCPURE and legacyMemoryRE are what Slipway accepted as cpu and
// memory before they were parsed as quantities; ParseStored accepts them.
var (
	legacyCPURE    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?m?$`)
	legacyMemoryRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$`)
)

// quantity checks a cpu or memory value with parse (slipway.ParseCPU or
// slipway.ParseMemory, whose errors name the field); outside strict mode
// what legacy matches is accepted too.
func (p *parser) quantity(path string, n *yamlNode, s string, parse func(string) (int64, error), legacy *regexp.Regexp) bool {
	_, err := parse(s)
	if err == nil || (!p.strict && legacy.MatchString(s)) {
		return true
	}
	p.problemf(path, n, "%v", err)
	return false
}

// The run fields an environment may override too: each parses and checks
// one value, recording the problem.

func (p *parser) cpu(path string, n *yamlNode) (string, bool) {
	s, ok := p.str(path, n, "cpu")
	return s, ok && p.quantity(path, n, s, slipway.ParseCPU, legacyCPURE)
}

func (p *parser) memory(path string, n *yamlNode) (string, bool) {
	s, ok := p.str(path, n, "memory")
	return s, ok && p.quantity(path, n, s, slipway.ParseMemory, legacyMemoryRE)
}

func (p *parser) replicas(path string, n *yamlNode) (int64, bool) {
	return p.integer(path, n, "replicas", 1, 1<<31-1, "at least 1")
}

func (p *parser) schedule(path string, n *yamlNode) (string, bool) {
	s, ok := p.text(path, n, "schedule", "\t")
	if !ok {
		return s, false
	}
	if msg := checkSchedule(s); msg != "" {
		p.problemf(path, n, "%s", msg)
		return s, false
	}
	return s, true
}

func (p *parser) publish(path string, n *yamlNode) (string, bool) {
	s, ok := p.str(path, n, "publish")
	if ok && s != "/" {
		p.problemf(path, n, "publish must be \"/\" (serve the component at the root of the tool's URL), got %q", s)
		return s, false
	}
	return s, ok
}

// run parses the entries of the run mapping of component comp, of type t,
// and runs the checks that tie run fields together.
func (p *parser) run(path, comp string, runKey *yamlNode, t slipway.ComponentType, entries []entry) (slipway.RunSpec, *object) {
	var r slipway.RunSpec
	raw := &object{}
	mask := typeMask(t)
	// Nodes of set fields, for the checks that involve several fields;
	// a field whose value is wrong is in bad instead.
	nodes := map[string]*yamlNode{}
	bad := map[string]bool{}
	var unknownKeys []string
	for _, e := range entries {
		name := e.name()
		fpath := join(path, name)
		p.record(fpath, e.key, e.val)
		if runFields[name]&mask == 0 {
			unknownKeys = append(unknownKeys, name)
			p.unknownRun(fpath, name, e.key, comp, t)
			continue
		}
		var v any
		var ok bool
		switch name {
		case "command":
			var s string
			if s, ok = p.text(fpath, e.val, name, shellText); ok && strings.TrimSpace(s) == "" {
				p.problemf(fpath, e.val, "command must not be empty")
				ok = false
			}
			r.Command, v = s, s
		case "cpu":
			r.CPU, ok = p.cpu(fpath, e.val)
			v = r.CPU
		case "memory":
			r.Memory, ok = p.memory(fpath, e.val)
			v = r.Memory
		case "emails":
			r.Emails, ok = p.enum(fpath, e.val, name, "none", "all", "onfinish", "onfailure")
			v = r.Emails
		case "filelog":
			var b bool
			if b, ok = p.boolean(fpath, e.val, name); ok {
				r.Filelog = &b
			}
			v = b
		case "filelog_stdout":
			r.FilelogStdout, ok = p.text(fpath, e.val, name, "")
			v = r.FilelogStdout
		case "filelog_stderr":
			r.FilelogStderr, ok = p.text(fpath, e.val, name, "")
			v = r.FilelogStderr
		case "mount":
			r.Mount, ok = p.enum(fpath, e.val, name, "all", "none")
			v = r.Mount
		case "port":
			var n int64
			n, ok = p.integer(fpath, e.val, name, 1, 65535, "between 1 and 65535")
			r.Port, v = int(n), n
		case "port_protocol":
			r.PortProtocol, ok = p.enum(fpath, e.val, name, "tcp", "udp")
			v = r.PortProtocol
		case "publish":
			r.Publish, ok = p.publish(fpath, e.val)
			v = r.Publish
		case "replicas":
			var n int64
			n, ok = p.replicas(fpath, e.val)
			r.Replicas, v = int(n), n
		case "health_check_script":
			var s string
			if s, ok = p.text(fpath, e.val, name, shellText); ok && strings.TrimSpace(s) == "" {
				p.problemf(fpath, e.val, "health_check_script must not be empty")
				ok = false
			}
			r.HealthCheckScript, v = s, s
		case "health_check_http":
			var s string
			if s, ok = p.str(fpath, e.val, name); ok && (!strings.HasPrefix(s, "/") || strings.ContainsFunc(s, isSpaceOrControl)) {
				p.problemf(fpath, e.val, "health_check_http must be a URL path starting with \"/\", such as \"/healthz\", got %q", s)
				ok = false
			}
			r.HealthCheckHTTP, v = s, s
		case "schedule":
			r.Schedule, ok = p.schedule(fpath, e.val)
			v = r.Schedule
		case "retry":
			var n int64
			n, ok = p.integer(fpath, e.val, name, 0, 5, "between 0 and 5")
			r.Retry, v = int(n), n
		case "timeout":
			var n int64
			n, ok = p.integer(fpath, e.val, name, 0, 1<<31-1, "a number of seconds, at least 0 (0 means no timeout)")
			r.Timeout, v = int(n), n
		case "stop_grace_period":
			var n int64
			n, ok = p.integer(fpath, e.val, name, 1, maxStopGracePeriod, fmt.Sprintf("a number of seconds between 1 and %d", maxStopGracePeriod))
			r.StopGracePeriod, v = int(n), n
		}
		if !ok {
			bad[name] = true
			continue
		}
		nodes[name] = e.val
		raw.set(name, v)
	}

	if _, set := nodes["command"]; !set && !bad["command"] {
		p.problemf(join(path, "command"), runKey, "command is required: the command line that starts the component%s", didYouMean("command", unknownKeys))
	}
	if t == slipway.Scheduled {
		if _, set := nodes["schedule"]; !set && !bad["schedule"] {
			p.problemf(join(path, "schedule"), runKey, "schedule is required for a scheduled component: %s%s", scheduleForms, didYouMean("schedule", unknownKeys))
		}
	}
	if t != slipway.Continuous {
		return r, raw
	}
	script, scriptSet := nodes["health_check_script"]
	httpNode, httpSet := nodes["health_check_http"]
	if scriptSet && httpSet {
		later, lpath := httpNode, join(path, "health_check_http")
		if script.Line > httpNode.Line || (script.Line == httpNode.Line && script.Column > httpNode.Column) {
			later, lpath = script, join(path, "health_check_script")
		}
		p.problemf(lpath, later, "Cannot specify both health_check_script and health_check_http")
	}
	_, portSet := nodes["port"]
	portOK := portSet || bad["port"] // a bad port is reported already
	tcp := r.PortProtocol != "udp"
	if httpSet && (!portOK || !tcp) {
		p.problemf(join(path, "health_check_http"), httpNode, "A tcp port must be set for health_check_http")
	}
	if pub, set := nodes["publish"]; set {
		switch {
		case !portOK:
			p.problemf(join(path, "publish"), pub, "publish requires port to be set")
		case !tcp:
			p.problemf(join(path, "publish"), pub, "publish requires port_protocol set to tcp")
		}
	}
	return r, raw
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
