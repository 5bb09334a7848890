package slipway

import (
	"fmt"
	"strings"
	"unicode"
)

// Text fields (commands, health check scripts, paths, URLs, names) may not
// hold control characters: a NUL cuts a command short where the process
// starts (execve takes C strings), and escape sequences or bidirectional
// formatting characters (Trojan Source, CVE-2021-42574) make a command
// show differently from what it runs in logs, plans and terminals. Tab and
// newline are fine in commands and scripts, which are shell text.

// ShellText are the control characters a command or a script may hold
// (see [CheckText]).
const ShellText = "\t\n"

// IsBidi reports whether r is a bidirectional formatting character
// (embeddings, overrides, isolates and marks).
func IsBidi(r rune) bool {
	switch {
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// IsUnsafeRune reports whether r is a control character (C0, DEL, C1) or a
// bidirectional formatting character.
func IsUnsafeRune(r rune) bool {
	return unicode.IsControl(r) || IsBidi(r)
}

// CheckText returns what is wrong with the text field name, or "": it may
// hold no control characters but those in allowed, and no bidirectional
// formatting characters. The message gives the character's position
// (counting characters from 1) and code point, since the character itself
// does not show.
func CheckText(name, s, allowed string) string {
	i := 0
	for _, r := range s {
		i++
		switch {
		case IsBidi(r):
			return fmt.Sprintf("%s must not contain bidirectional formatting characters, which make text show otherwise than it runs: character %d is %U", name, i, r)
		case unicode.IsControl(r) && !strings.ContainsRune(allowed, r):
			also := ""
			if allowed == ShellText {
				also = " (tab and newline are fine)"
			}
			return fmt.Sprintf("%s must not contain control characters%s: character %d is %U", name, also, i, r)
		}
	}
	return ""
}
