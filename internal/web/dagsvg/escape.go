package dagsvg

import "unicode/utf8"

// appendEscaped appends s as XML character data that is also safe in a
// double- or single-quoted attribute and in HTML: the markup characters
// and tab, newline and carriage return become references (so attribute
// values keep them), and what XML 1.0 does not allow at all (other control
// characters, invalid UTF-8, U+FFFE, U+FFFF) becomes U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '&' && c != '<' && c != '>' && c != '"' && c != '\'' {
			i++
			continue
		}
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
			if (r != utf8.RuneError || size > 1) && isXMLChar(r) {
				i += size
				continue
			}
		}
		b = append(b, s[start:i]...)
		b = append(b, escapeOf(r)...)
		i += size
		start = i
	}
	return append(b, s[start:]...)
}

func escapeOf(r rune) string {
	switch r {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	case '"':
		return "&#34;"
	case '\'':
		return "&#39;"
	case '\t':
		return "&#9;"
	case '\n':
		return "&#10;"
	case '\r':
		return "&#13;"
	}
	return "\uFFFD" // a control character, invalid UTF-8 (size 1) or a non-character
}

// isXMLChar reports whether r may appear in an XML 1.0 document, from its
// Char production, less the C0 controls handled by the caller.
func isXMLChar(r rune) bool {
	return r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= utf8.MaxRune
}

// truncate cuts s to at most n runes, the last an ellipsis when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	k := 0
	for i := range s {
		if k == n-1 {
			return s[:i] + "…"
		}
		k++
	}
	return s
}
