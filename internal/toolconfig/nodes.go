package toolconfig

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// This file reads yaml.Nodes: aliases, mappings with merge keys, and
// scalars of the expected types, recording a problem for anything else.

// resolve follows aliases to the node they name. It returns nil for a
// broken alias.
func resolve(n *yamlNode) *yamlNode {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i == 100 {
			return nil
		}
		n = n.Alias
	}
	return n
}

// describe names what n is, for "expected X, got Y" messages.
func describe(n *yamlNode) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := short(n.Value)
		switch t := n.ShortTag(); t {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("string %q", v)
		case "!!int", "!!float":
			return "number " + v
		case "!!bool":
			return "boolean " + v
		case "!!timestamp":
			return "timestamp " + v
		default:
			return fmt.Sprintf("%s %q", t, v)
		}
	default: // a document node; aliases were resolved above
		return "nothing"
	}
}

// short shortens a value quoted in a message.
func short(v string) string {
	if len(v) <= 60 {
		return v
	}
	cut := 57
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "..."
}

func isNull(n *yamlNode) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// entry is one key: value pair of a mapping. Key is resolved; val may be an
// alias (its position is where the user wrote it).
type entry struct {
	key, val *yamlNode
}

func (e entry) name() string { return e.key.Value }

// maxMergeDepth bounds nested merge keys (<<).
const maxMergeDepth = 10

// entries returns the pairs of mapping m in order, with merge keys (<<)
// resolved: explicit keys win over merged ones, earlier merged mappings over
// later ones. It reports duplicate and non-string keys.
func (p *parser) entries(path string, m *yamlNode) []entry {
	return p.collect(path, m, 0, nil)
}

func (p *parser) collect(path string, m *yamlNode, depth int, visiting []*yamlNode) []entry {
	if depth > maxMergeDepth || slices.Contains(visiting, m) {
		p.problemf(path, m, "merge keys (<<) are nested too deeply or merge a mapping into itself")
		return nil
	}
	visiting = append(visiting, m)
	if !p.spend(len(m.Content) / 2) {
		return nil
	}
	first := map[string]int{} // key → index in m.Content of its first explicit occurrence
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := resolve(m.Content[i])
		switch {
		case k == nil:
			p.problemf(path, m.Content[i], "a mapping key must be a string, got nothing")
		case isMerge(k):
		case k.Kind != yaml.ScalarNode:
			if !p.reported[m.Content[i]] {
				p.reported[m.Content[i]] = true
				p.problemf(path, m.Content[i], "a mapping key must be a string, got %s", describe(k))
			}
		default:
			if j, dup := first[k.Value]; dup {
				if !p.reported[m.Content[i]] {
					p.reported[m.Content[i]] = true
					fk := m.Content[j]
					p.problemf(join(path, k.Value), m.Content[i], "duplicate key %q (first at line %d, column %d)", k.Value, fk.Line, fk.Column)
				}
				continue
			}
			first[k.Value] = i
		}
	}
	var out []entry
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := resolve(m.Content[i])
		if k == nil {
			continue
		}
		if isMerge(k) {
			for _, src := range p.mergeSources(path, m.Content[i+1]) {
				for _, e := range p.collect(path, src, depth+1, visiting) {
					if _, explicit := first[e.name()]; explicit || seen[e.name()] {
						continue
					}
					seen[e.name()] = true
					out = append(out, e)
				}
			}
			continue
		}
		if k.Kind != yaml.ScalarNode || first[k.Value] != i {
			continue
		}
		seen[k.Value] = true
		out = append(out, entry{key: k, val: m.Content[i+1]})
	}
	return out
}

func isMerge(k *yamlNode) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

// mergeSources returns the mappings a merge key's value names.
func (p *parser) mergeSources(path string, v *yamlNode) []*yamlNode {
	r := resolve(v)
	switch {
	case r == nil:
	case r.Kind == yaml.MappingNode:
		return []*yamlNode{r}
	case r.Kind == yaml.SequenceNode:
		var out []*yamlNode
		for _, item := range r.Content {
			if ri := resolve(item); ri != nil && ri.Kind == yaml.MappingNode {
				out = append(out, ri)
			} else {
				p.problemf(path, item, "a merge key (<<) must merge a mapping or a list of mappings, got %s in the list", describe(item))
			}
		}
		return out
	}
	p.problemf(path, v, "a merge key (<<) must merge a mapping or a list of mappings, got %s", describe(v))
	return nil
}

// mapping returns n resolved when it is a mapping; otherwise it records a
// problem and returns nil.
func (p *parser) mapping(path string, n *yamlNode, what string) *yamlNode {
	r := resolve(n)
	if r != nil && r.Kind == yaml.MappingNode {
		return r
	}
	p.problemf(path, n, "%s must be a mapping, got %s", what, describe(n))
	return nil
}

// nullProblem records a problem for an optional scalar set to null, which
// Toolforge rejects.
func (p *parser) nullProblem(path string, n *yamlNode, name string) {
	p.problemf(path, n, "%s must not be null: remove the field to use the default", name)
}

// str returns the string value of n.
func (p *parser) str(path string, n *yamlNode, name string) (string, bool) {
	r := resolve(n)
	switch {
	case r != nil && r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str":
		return r.Value, true
	case r != nil && isNull(r):
		p.nullProblem(path, n, name)
	case r != nil && r.Kind == yaml.ScalarNode:
		p.problemf(path, n, "%s must be a string, got %s (quote it to make it a string)", name, describe(n))
	default:
		p.problemf(path, n, "%s must be a string, got %s", name, describe(n))
	}
	return "", false
}

// integer returns the integer value of n, checked against [lo, hi].
func (p *parser) integer(path string, n *yamlNode, name string, lo, hi int64, rangeText string) (int64, bool) {
	r := resolve(n)
	switch {
	case r != nil && r.Kind == yaml.ScalarNode && r.ShortTag() == "!!int":
		var v int64
		if err := r.Decode(&v); err != nil || v < lo || v > hi {
			p.problemf(path, n, "%s must be %s, got %s", name, rangeText, short(r.Value))
			return 0, false
		}
		return v, true
	case r != nil && isNull(r):
		p.nullProblem(path, n, name)
	default:
		p.problemf(path, n, "%s must be an integer (%s), got %s", name, rangeText, describe(n))
	}
	return 0, false
}

// yaml11Bools are the YAML 1.1 booleans that PyYAML, and so Toolforge's
// CLI, reads as booleans when unquoted.
var yaml11Bools = map[string]bool{
	"yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// boolean returns the boolean value of n.
func (p *parser) boolean(path string, n *yamlNode, name string) (bool, bool) {
	r := resolve(n)
	switch {
	case r != nil && r.Kind == yaml.ScalarNode && r.ShortTag() == "!!bool":
		var v bool
		if err := r.Decode(&v); err == nil {
			return v, true
		}
	case r != nil && isNull(r):
		p.nullProblem(path, n, name)
		return false, false
	case r != nil && r.Kind == yaml.ScalarNode && r.Style&(yaml.TaggedStyle|yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0:
		if v, ok := yaml11Bools[r.Value]; ok {
			return v, true
		}
	}
	p.problemf(path, n, "%s must be true or false, got %s", name, describe(n))
	return false, false
}

// enum returns the string value of n, which must be one of valid.
func (p *parser) enum(path string, n *yamlNode, name string, valid ...string) (string, bool) {
	s, ok := p.str(path, n, name)
	if !ok {
		return "", false
	}
	if slices.Contains(valid, s) {
		return s, true
	}
	p.problemf(path, n, "%s must be one of %s, got %q", name, strings.Join(valid, ", "), s)
	return "", false
}
