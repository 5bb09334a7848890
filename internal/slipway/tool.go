package slipway

import (
	"regexp"
	"strings"
)

// MaxNameLength is the longest tool or component name (Toolforge's job name
// limit).
const MaxNameLength = 52

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidName reports whether s is a valid tool or component name: 1 to 52
// lowercase letters, digits or dashes, starting and ending with a letter or
// digit (RFC 1123 label, as Toolforge's jobs-api requires).
func ValidName(s string) bool {
	return len(s) <= MaxNameLength && nameRE.MatchString(s)
}

// ValidateToolName returns an EInvalid [Error] when name is not a valid tool
// name.
func ValidateToolName(name string) error {
	if !ValidName(name) {
		return Errorf(EInvalid, "Tool name %q must be 1-%d lowercase letters, digits or dashes, starting and ending with a letter or digit.", name, MaxNameLength)
	}
	if strings.Contains(name, "--") {
		return Errorf(EInvalid, "Tool name %q must not contain \"--\": it separates a tool from its environment (tool--staging).", name)
	}
	return nil
}
