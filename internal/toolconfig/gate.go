package toolconfig

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"slipway.dev/slipway/internal/slipway"
)

// A component's gate is a Slipway extension of Toolforge's config: a
// question the deployment asks before it changes the component.
// Toolforge's parser skips unknown fields, so a config with a gate stays
// valid there.
//
//	gate:
//	  question: "Staging is live. Deploy to **production**?"
//	  options:                       # or fields:, or neither: Continue / Stop
//	    - {label: Ship it, value: ship}
//	    - {label: Stop, value: stop, stop: true}
//	  answerers: [tool, admin]       # who may answer (default: tool)
//	  required_answers: 1
//	  forbid_initiator: true         # not the identity that started the deployment
//	  timeout: 86400                 # seconds (default 1 day, at most 7 days)
//	  on_timeout: fail               # or default
//	  default: stop

// gateFields are the fields of a gate.
var gateFields = []string{"question", "options", "fields", "answerers", "required_answers", "forbid_initiator", "timeout", "on_timeout", "default"}

// gate parses a component's gate and returns it with its set fields.
func (p *parser) gate(path string, n *yamlNode) (*slipway.Gate, *object) {
	raw := &object{}
	m := p.mapping(path, n, "gate (with question, and options or fields)")
	if m == nil {
		return nil, raw
	}
	g := &slipway.Gate{}
	nodes := map[string]*yamlNode{"": n}
	hasQuestion := false
	for _, e := range p.entries(path, m) {
		name := e.name()
		fpath := join(path, name)
		p.record(fpath, e.key, e.val)
		nodes[name] = e.val
		switch name {
		case "question":
			if s, ok := p.text(fpath, e.val, "question", shellText); ok {
				g.Question, hasQuestion = s, true
				raw.set(name, s)
			}
		case "options":
			var o []*object
			g.Options, o = p.gateOptions(fpath, e.val, nodes)
			raw.set(name, o)
		case "fields":
			var o []*object
			g.Fields, o = p.gateFields(fpath, e.val, nodes)
			raw.set(name, o)
		case "answerers":
			g.Policy.Answerers = p.stringList(fpath, e.val, "answerers", `"tool", "admin" or credential names`, nodes)
			raw.set(name, g.Policy.Answerers)
		case "required_answers":
			if v, ok := p.integer(fpath, e.val, name, 1, slipway.MaxRequiredAnswers, fmt.Sprintf("between 1 and %d", slipway.MaxRequiredAnswers)); ok {
				g.Policy.Required = int(v)
				raw.set(name, v)
			}
		case "forbid_initiator":
			if v, ok := p.boolean(fpath, e.val, name); ok {
				g.Policy.ForbidInitiator = v
				raw.set(name, v)
			}
		case "timeout":
			maxSecs := int64(slipway.MaxQuestionTimeout / time.Second)
			if v, ok := p.integer(fpath, e.val, name, 60, maxSecs, fmt.Sprintf("a number of seconds between 60 and %d (7 days)", maxSecs)); ok {
				g.Timeout = time.Duration(v) * time.Second
				raw.set(name, v)
			}
		case "on_timeout":
			if v, ok := p.enum(fpath, e.val, name, string(slipway.DeadlineFail), string(slipway.DeadlineDefault)); ok {
				g.OnTimeout = slipway.DeadlinePolicy(v)
				raw.set(name, v)
			}
		case "default":
			if v, ok := p.text(fpath, e.val, name, ""); ok {
				g.Default = v
				raw.set(name, v)
			}
		default:
			p.unknown(UnknownField{Path: fpath, Name: name, In: "gate"}, e.key, gateFields)
		}
	}
	if !hasQuestion && !p.hasProblemAt(join(path, "question")) {
		p.problemf(join(path, "question"), n, "gate needs a question: the text (markdown) people answer")
	}
	// The checks the API's questions share, each at the node it names.
	for _, prob := range slipway.ValidateQuestion(g.QuestionOf()) {
		field, msg, _ := strings.Cut(prob, ": ")
		if field == "question" && !hasQuestion {
			continue
		}
		node := nearestNode(nodes, field)
		if node == nil {
			node = n
		}
		if !p.hasProblemAt(join(path, field)) {
			p.problemf(join(path, field), node, "%s", msg)
		}
	}
	return g, raw
}

// nearestNode returns the node recorded for path, or for the nearest
// path above it ("fields[1].options", "fields[1]", "fields").
func nearestNode(nodes map[string]*yamlNode, path string) *yamlNode {
	for path != "" {
		if n, ok := nodes[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return nil
}

// gateOptions parses a gate's options: a list of {label, value, stop}.
func (p *parser) gateOptions(path string, n *yamlNode, nodes map[string]*yamlNode) ([]slipway.QuestionOption, []*object) {
	items := p.list(path, n, "options", "a list of {label, value} (and stop: true for an answer that stops)")
	var (
		opts []slipway.QuestionOption
		raws []*object
	)
	for i, item := range items {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		nodes[fmt.Sprintf("options[%d]", i)] = item
		m := p.mapping(ipath, item, "an option ({label, value})")
		if m == nil {
			continue
		}
		var o slipway.QuestionOption
		raw := &object{}
		for _, e := range p.entries(ipath, m) {
			fpath := join(ipath, e.name())
			nodes[fmt.Sprintf("options[%d].%s", i, e.name())] = e.val
			switch e.name() {
			case "label", "value":
				s, ok := p.scalarText(fpath, e.val, e.name())
				if !ok {
					continue
				}
				if e.name() == "label" {
					o.Label = s
				} else {
					o.Value = s
				}
				raw.set(e.name(), s)
			case "stop":
				if v, ok := p.boolean(fpath, e.val, "stop"); ok {
					o.Stop = v
					raw.set("stop", v)
				}
			default:
				p.unknown(UnknownField{Path: fpath, Name: e.name(), In: "a gate's option"}, e.key, []string{"label", "value", "stop"})
			}
		}
		if o.Label == "" {
			o.Label = o.Value
		}
		opts = append(opts, o)
		raws = append(raws, raw)
	}
	return opts, raws
}

// gateFields parses a gate's fields: a list of {key, type, label,
// options, required, default}.
func (p *parser) gateFields(path string, n *yamlNode, nodes map[string]*yamlNode) ([]slipway.QuestionField, []*object) {
	items := p.list(path, n, "fields", "a list of {key, type: text|select|boolean}")
	var (
		fields []slipway.QuestionField
		raws   []*object
	)
	for i, item := range items {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		prefix := fmt.Sprintf("fields[%d]", i)
		nodes[prefix] = item
		m := p.mapping(ipath, item, "a field ({key, type})")
		if m == nil {
			continue
		}
		f := slipway.QuestionField{Type: slipway.FieldText}
		raw := &object{}
		for _, e := range p.entries(ipath, m) {
			name := e.name()
			fpath := join(ipath, name)
			nodes[prefix+"."+name] = e.val
			switch name {
			case "key", "label", "default":
				s, ok := p.scalarText(fpath, e.val, name)
				if !ok {
					continue
				}
				switch name {
				case "key":
					f.Key = s
				case "label":
					f.Label = s
				default:
					f.Default = s
				}
				raw.set(name, s)
			case "type":
				if v, ok := p.enum(fpath, e.val, "type", string(slipway.FieldText), string(slipway.FieldSelect), string(slipway.FieldBoolean)); ok {
					f.Type = slipway.FieldType(v)
					raw.set(name, v)
				}
			case "options":
				f.Options = p.stringList(fpath, e.val, "options", "the values to choose from", nodes)
				raw.set(name, f.Options)
			case "required":
				if v, ok := p.boolean(fpath, e.val, name); ok {
					f.Required = v
					raw.set(name, v)
				}
			default:
				p.unknown(UnknownField{Path: fpath, Name: name, In: "a gate's field"}, e.key, []string{"key", "type", "label", "options", "required", "default"})
			}
		}
		fields = append(fields, f)
		raws = append(raws, raw)
	}
	return fields, raws
}

// list returns the items of the sequence n, or records a problem.
func (p *parser) list(path string, n *yamlNode, name, want string) []*yamlNode {
	r := resolve(n)
	if r == nil || r.Kind != yaml.SequenceNode {
		p.problemf(path, n, "%s must be %s, got %s", name, want, describe(n))
		return nil
	}
	if len(r.Content) > slipway.MaxQuestionChoices {
		p.problemf(path, n, "%s: at most %d, got %d", name, slipway.MaxQuestionChoices, len(r.Content))
		return nil
	}
	if !p.spend(len(r.Content)) {
		return nil
	}
	return r.Content
}

// stringList parses a list of strings.
func (p *parser) stringList(path string, n *yamlNode, name, want string, nodes map[string]*yamlNode) []string {
	var out []string
	for i, item := range p.list(path, n, name, "a list of "+want) {
		nodes[fmt.Sprintf("%s[%d]", name, i)] = item
		if s, ok := p.scalarText(fmt.Sprintf("%s[%d]", path, i), item, "an item of "+name); ok {
			out = append(out, s)
		}
	}
	return out
}

// scalarText returns a scalar as text: YAML reads `yes`, `1` or `true` as
// other types, but an option's value or a field's default is text.
func (p *parser) scalarText(path string, n *yamlNode, name string) (string, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || isNull(r) {
		p.problemf(path, n, "%s must be text, got %s", name, describe(n))
		return "", false
	}
	if msg := checkText(name, r.Value, ""); msg != "" {
		p.problemf(path, n, "%s", msg)
		return "", false
	}
	return r.Value, true
}
