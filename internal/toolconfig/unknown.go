package toolconfig

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// UnknownField is a field the parser does not know and dropped (the one
// Toolforge's warning in [Result.Warnings] names), with what helps to fix
// it: where it is, the field it may be a misspelling of, and the fields
// valid there when they are few.
type UnknownField struct {
	// Path is the field's dotted path, as in its warning, e.g.
	// "components.web.run.healthcheck_http".
	Path string
	// Name is the field's name as written.
	Name string
	// In says where it is: "the tool config", `component "web"`,
	// `build of component "web"`, `run of component "web"`.
	In string
	// Line and Column are the 1-based position of the field's key.
	Line, Column int
	// Suggestion is the field it may be a misspelling of, or "".
	Suggestion string
	// Valid are the fields valid where it is, when there are at most
	// [MaxValidListed]; nil when there are more.
	Valid []string
	// Note explains why a field known elsewhere does not apply here, e.g.
	// `schedule is for scheduled components, and "web" is continuous`; or "".
	Note string
}

// MaxValidListed is the most valid fields an [UnknownField] lists.
const MaxValidListed = 6

// String returns the field's position and [UnknownField.Message], e.g.
// `line 5:7: unknown field "healthcheck_http" in run of component "web"; did you mean "health_check_http"?`.
func (u UnknownField) String() string {
	if u.Line == 0 {
		return u.Message()
	}
	return fmt.Sprintf("line %d:%d: %s", u.Line, u.Column, u.Message())
}

// Message says what is unknown where, why when it is known elsewhere,
// what may have been meant, and the valid fields when they are few.
func (u UnknownField) Message() string {
	var b strings.Builder
	fmt.Fprintf(&b, "unknown field %s in %s", strconv.Quote(u.Name), u.In)
	switch {
	case u.Suggestion != "" && u.Note != "":
		fmt.Fprintf(&b, "; did you mean %s? (%s)", strconv.Quote(u.Suggestion), u.Note)
	case u.Suggestion != "":
		fmt.Fprintf(&b, "; did you mean %s?", strconv.Quote(u.Suggestion))
	case u.Note != "":
		b.WriteString(": " + u.Note)
	}
	if len(u.Valid) > 0 {
		if u.Suggestion != "" {
			b.WriteString(" Valid fields")
		} else {
			b.WriteString("; valid fields")
		}
		b.WriteString(": " + strings.Join(u.Valid, ", "))
	}
	return oneLine(b.String())
}

// unknown records a field that is dropped: Toolforge's warning, and u
// with key's position, the field of valid it may mean (unless u has a
// suggestion already) and valid itself when it is short.
func (p *parser) unknown(u UnknownField, key *yamlNode, valid []string) {
	p.warnings = append(p.warnings, "Unknown field "+oneLine(u.Path)+", skipped")
	if key != nil {
		u.Line, u.Column = key.Line, key.Column
	}
	if u.Suggestion == "" {
		u.Suggestion = suggest(u.Name, valid)
	}
	if len(valid) <= MaxValidListed {
		u.Valid = slices.Clone(valid)
	}
	p.unknowns = append(p.unknowns, u)
}

// Fields valid where they are, for the suggestions and lists of unknown
// fields.
var (
	topFields         = []string{"config_version", "source_url", "components", extensionKey}
	componentFields   = []string{"component_type", "build", "run", "wait_for", "gate"}
	sourceBuildFields = []string{"repository", "ref", "use_latest_versions", "use_deprecated_versions"}
	allBuildFields    = append(slices.Clone(sourceBuildFields), "reuse_from", "image")
	allRunFields      = slices.Sorted(maps.Keys(runFields))
)

// componentIn is where a field of component name's part (build, run) is.
func componentIn(part, name string) string {
	s := "component " + strconv.Quote(name)
	if part != "" {
		s = part + " of " + s
	}
	return s
}

// unknownRun records an unknown run field of component name of type t:
// one that other component types have is explained, and a misspelling of
// one of them is suggested when no field of t is near.
func (p *parser) unknownRun(path, name string, key *yamlNode, comp string, t slipway.ComponentType) {
	mask := typeMask(t)
	var valid, others []string
	for _, f := range allRunFields {
		if runFields[f]&mask != 0 {
			valid = append(valid, f)
		} else {
			others = append(others, f)
		}
	}
	u := UnknownField{Path: path, Name: name, In: componentIn("run", comp)}
	field := name
	if runFields[name] == 0 {
		if s := suggest(name, valid); s == "" {
			field = suggest(name, others)
			u.Suggestion = field
		}
	}
	if m := runFields[field]; m != 0 && m&mask == 0 {
		u.Note = fmt.Sprintf("%s is for %s components, and %s is %s", field, typeNames(m), strconv.Quote(comp), t)
	}
	p.unknown(u, key, valid)
}

// typeNames names the component types of a mask: "scheduled and one-off".
func typeNames(mask int) string {
	var names []string
	for _, t := range slipway.ComponentTypes {
		if typeMask(t)&mask != 0 {
			names = append(names, string(t))
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// aliases are the names other formats give fields: Toolforge's jobs.yaml
// says cmd and mem.
var aliases = map[string]string{"cmd": "command", "mem": "memory"}

// suggest returns the field of valid that name looks like a misspelling
// of, or "": one written with other case, dashes or no underscores
// (healthCheckHttp, health-check-http, healthcheck_http), else the nearest
// within an edit distance of 2 (and under half the field's length), else
// the only one name is a prefix of (repo for repository), else the field
// name is another format's name of (aliases).
func suggest(name string, valid []string) string {
	lower := strings.ToLower(name)
	if a, ok := aliases[lower]; ok && slices.Contains(valid, a) {
		return a
	}
	squash := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	best, bestDist := "", 3
	var prefixed []string
	for _, f := range valid {
		if squash(name) == squash(f) {
			return f
		}
		if d := levenshtein(lower, f); d < bestDist && 2*d < len(f) {
			best, bestDist = f, d
		}
		if len(lower) >= 3 && strings.HasPrefix(f, lower) {
			prefixed = append(prefixed, f)
		}
	}
	if best == "" && len(prefixed) == 1 {
		best = prefixed[0]
	}
	return best
}
