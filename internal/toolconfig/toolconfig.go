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

var lineBreaks = strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`)

// oneLine escapes line breaks so that s fits on one line.
func oneLine(s string) string { return lineBreaks.Replace(s) }

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
	return parse(data, nil)
}

// parse is [Parse] with the URL rewrite of [RewriteURLs].
func parse(data []byte, rewrite func(path, value string) (string, error)) (Result, error) {
	p := &parser{reported: map[*yamlNode]bool{}, budget: 10_000 + 4*len(data), rewrite: rewrite}
	cfg := p.parse(data)
	if len(p.problems) == 0 {
		return Result{Config: cfg, Warnings: p.warnings}, nil
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
	lines := make([]string, len(p.problems))
	for i, pr := range p.problems {
		lines[i] = pr.String()
	}
	return Result{Warnings: p.warnings}, &slipway.Error{
		Code:    slipway.EInvalid,
		Message: strings.Join(lines, "\n"),
		Err:     &ParseError{Problems: p.problems},
	}
}
