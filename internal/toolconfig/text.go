package toolconfig

import (
	"slipway.dev/slipway/internal/slipway"
)

// Text fields may not hold control characters (see slipway.CheckText).

// shellText are the control characters a command or a script may hold.
const shellText = slipway.ShellText

// isUnsafeRune reports whether r is a control or bidirectional formatting
// character.
func isUnsafeRune(r rune) bool { return slipway.IsUnsafeRune(r) }

// checkText returns what is wrong with the text field name, or "" (see
// slipway.CheckText).
func checkText(name, s, allowed string) string { return slipway.CheckText(name, s, allowed) }

// text returns the string value of n, checked by checkText in strict mode.
func (p *parser) text(path string, n *yamlNode, name, allowed string) (string, bool) {
	s, ok := p.str(path, n, name)
	if !ok {
		return "", false
	}
	if p.strict {
		if msg := checkText(name, s, allowed); msg != "" {
			p.problemf(path, n, "%s", msg)
			return "", false
		}
	}
	return s, true
}
