package toolconfig

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// Result is a successfully parsed tool config and the warnings found on the
// way.
type Result struct {
	// Config is the parsed config. Config.Raw holds the fields the user set
	// (unknown ones dropped) as compact JSON, keys in the user's order.
	Config slipway.ToolConfig
	// Warnings are Toolforge's "Unknown field <path>, skipped" texts, with
	// dotted paths, in the user's order.
	Warnings []string
	// Unknown are the same fields with their positions, and what may have
	// been meant, for people: Unknown[i] is the field of Warnings[i].
	Unknown []UnknownField
}

// ParseError lists everything wrong with a tool config. [Parse] returns it
// as the Err of a [slipway.Error] with code [slipway.EInvalid].
type ParseError struct {
	// Problems are sorted by line, then column.
	Problems []Problem
}

// Error returns the problems joined by "; ".
func (e *ParseError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// Problem is one thing wrong with a tool config.
type Problem struct {
	// Path is the dotted path of the field at fault, with [i] for list
	// items, e.g. "components.web.run.port"; "" for the document itself.
	Path string
	// Line and Column are the 1-based position of the offending node in the
	// input, or 0 when unknown.
	Line, Column int
	// Message says what is wrong and what would be valid.
	Message string
}

// String returns the problem on one line, e.g.
// "components.web.run.port (line 7, column 13): port must be between 1 and 65535, got 70000".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(oneLine(p.Path))
	if p.Line > 0 {
		if p.Path != "" {
			b.WriteString(" (")
		}
		fmt.Fprintf(&b, "line %d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ", column %d", p.Column)
		}
		if p.Path != "" {
			b.WriteString(")")
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(oneLine(p.Message))
	return b.String()
}

// oneLine escapes line breaks so that s fits on one line (CRLF and LF as
// \n, CR as \r), and the other control and bidirectional formatting
// characters so that s cannot steer a terminal or reorder what it shows
// (\x1b, \u202e).
func oneLine(s string) string {
	if !strings.ContainsFunc(s, isUnsafeRune) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\r' && strings.HasPrefix(s[i:], "\r\n"):
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && isUnsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case isUnsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MaxProblems is the most problems a [ParseError] lists; when there are
// more, a last problem says how many were left out.
const MaxProblems = 100

// Parse parses and validates a tool config from YAML or JSON (JSON is
// YAML).
//
// On bad input it returns a [slipway.Error] with code [slipway.EInvalid],
// whose Message lists every problem, one per line, and whose Err is a
// [*ParseError]. The returned Result then has a zero Config but still holds
// the warnings found, which may explain a problem (a misspelt field is both
// unknown and missing).
func Parse(data []byte) (Result, error) {
	return parse(data, true, nil)
}

// ParseStored parses a config that Slipway stored, maybe an older Slipway
// that did not have every rule Parse has now: it accepts control
// characters in text fields and the cpu and memory values that older
// versions took ("512K", "0"), so that such a config can still be shown,
// listed and compared. Deploying it checks it with Parse again.
func ParseStored(data []byte) (Result, error) {
	return parse(data, false, nil)
}

// parse parses data, with the rules of Parse when strict, else those of
// ParseStored, and with the URL rewrite of [RewriteURLs] when rewrite is
// set.
func parse(data []byte, strict bool, rewrite func(path, value string) (string, error)) (Result, error) {
	p := newParser(data)
	p.strict, p.rewrite = strict, rewrite
	cfg := p.parse(data)
	if len(p.problems) == 0 {
		return Result{Config: cfg, Warnings: p.warnings, Unknown: p.unknowns}, nil
	}
	if p.overspent {
		// Everything else is noise from the walk cut short.
		p.problems = []Problem{{Message: overspentMessage}}
	}
	slices.SortStableFunc(p.problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	if n := len(p.problems); n > MaxProblems {
		p.problems = append(p.problems[:MaxProblems], Problem{Message: fmt.Sprintf("and %d more problems", n-MaxProblems)})
	}
	return Result{Warnings: p.warnings, Unknown: p.unknowns}, p.problemsError()
}

func newParser(data []byte) *parser {
	return &parser{
		reported:    map[*yamlNode]bool{},
		budget:      10_000 + 4*len(data),
		nodes:       map[string]*yamlNode{},
		unknownKeys: map[string][]string{},
	}
}

// problemsError returns the EInvalid error listing problems, one a line.
func problemsError(problems []Problem) error {
	lines := make([]string, len(problems))
	for i, pr := range problems {
		lines[i] = pr.String()
	}
	return &slipway.Error{
		Code:    slipway.EInvalid,
		Message: strings.Join(lines, "\n"),
		Err:     &ParseError{Problems: problems},
	}
}

func (p *parser) problemsError() error { return problemsError(p.problems) }
