package web

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Ensure clipHTML never exceeds its bound (plus the ellipsis), never cuts
// a character or an entity, and leaves short text as it is.
func TestClipHTML(t *testing.T) {
	t.Parallel()
	if got := clipHTML(`a<b>&"c"`, 100); got != "a&lt;b&gt;&amp;&#34;c&#34;" {
		t.Errorf("short text: %q", got)
	}
	for _, s := range []string{strings.Repeat("<é\"&", 100), strings.Repeat("日本", 100), strings.Repeat("x&", 100)} {
		for n := 1; n < 60; n++ {
			got := string(clipHTML(s, n))
			body := strings.TrimSuffix(got, "…")
			if len(body) > n || !utf8.ValidString(got) {
				t.Errorf("clipHTML(%.10q…, %d) = %q: over the bound or invalid UTF-8", s, n, got)
			}
			if amp := strings.LastIndexByte(body, '&'); amp >= 0 && !strings.Contains(body[amp:], ";") {
				t.Errorf("clipHTML(%.10q…, %d) = %q cuts an entity", s, n, got)
			}
		}
	}
}
